"""Zotero item JSON, read into the values syncd decides on.

Every target hands the engine :class:`~syncd.core.dedup.KnownItem` values, never the JSON a
server sent; this is the one reading of an item object (``{"key", "version", "data"}`` as the
Web API sends it, or its ``data`` alone) into one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.core.dedup import KnownItem
from syncd.core.identity import item_identifiers

NOT_INDEXED = frozenset({"note", "attachment", "annotation"})
"""Item types that are never an article (child items): not in the index."""


def known_item(obj: Mapping[str, Any]) -> KnownItem | None:
    """The index entry for an item JSON object (None for notes, attachments, annotations)."""
    data: Mapping[str, Any] = obj.get("data", obj)
    if data.get("itemType") in NOT_INDEXED:
        return None
    tags = tuple((str(t.get("tag", "")), int(t.get("type", 0) or 0)) for t in data.get("tags", []))
    return KnownItem(
        key=str(obj.get("key") or data.get("key")),
        ids=item_identifiers(data),
        version=int(obj.get("version") or data.get("version") or 0),
        trashed=bool(data.get("deleted")),
        tags=tags,
        collections=tuple(data.get("collections", [])),
        data=data,
    )
