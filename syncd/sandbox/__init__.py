"""A local Zotero Web API v3 server for tests and first runs (``syncd sandbox``).

It behaves like the recorded dataserver where syncd depends on it (version arithmetic,
preconditions, write tokens, validation, reads) and keeps its libraries in SQLite. See
``docs/sandbox.md``.
"""

from __future__ import annotations

from syncd.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
