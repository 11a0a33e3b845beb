"""The pure core of syncd: MEDLINE reading, mapping to Zotero items, identifiers, dedup, planning.

Nothing in this package touches a file, socket, database, clock or logging handler; it takes
values and returns values. The edges around it (``syncd.config``, ``syncd.state``,
``syncd.zotero``, ``syncd.engine``, ``syncd.cli`` ...) do the I/O. ``tests/test_architecture.py``
keeps it that way.
"""
