"""Merging a duplicate into the item it matched (``on_duplicate = "merge"``), and completing an
item syncd created when a later version of its record arrives (issue 14 §2).

One guarded write per item: a PATCH with the item's version of the tags it lacks, the
collection, and (for an item syncd created, same PMID) the fields
:func:`syncd.core.complete.complete` allows: a field only where the item still holds what
syncd wrote (the digests in the state database, :mod:`syncd.state_written`) or nothing, the
creators when unchanged and a prefix of the new ones. When the item changed meanwhile
(:class:`VersionConflict`) it is read again and everything decided again. The item's own data
is read only when the record offers something syncd did not write
(:func:`syncd.core.complete.worth_reading`): a rerun of the same export costs no request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from syncd.core.complete import complete, worth_reading
from syncd.core.dedup import KnownItem
from syncd.core.identity import item_identifiers
from syncd.errors import RemoteError
from syncd.index import to_row
from syncd.state import utc_stamp
from syncd.targets.base import VersionConflict

if TYPE_CHECKING:
    from syncd.engine import Importer

logger = logging.getLogger(__name__)

MAX_TRIES = 4


@dataclass(frozen=True)
class Merged:
    """What a merge wrote: whether it added tags or the collection, and the fields it
    completed (empty: none)."""

    changed: bool = False
    completed: list[str] = field(default_factory=list)


def _written(
    imp: Importer, key: str, new: Mapping[str, Any] | None, pmid: str | None
) -> dict[str, str] | None:
    """The digests of what syncd wrote to ``key``, when ``new`` may complete it (else None)."""
    if new is None or not pmid:
        return None
    written = imp.store.written(imp.library, [key]).get(key)
    if written is not None and not worth_reading(written, new):
        return None  # the record offers nothing syncd did not write already
    return written


def would_complete(
    imp: Importer, key: str, new: Mapping[str, Any] | None, pmid: str | None
) -> list[str]:
    """The fields :func:`merge_item` would complete (a dry run: reads, never writes)."""
    written = _written(imp, key, new, pmid)
    item = imp.gw.known_items([key]).get(key) if written is not None else None
    if new is None or written is None or item is None or item.data is None:
        return []
    done = complete(item.data, written, new) if item.ids.pmid == pmid else None
    return done.fields if done else []


def merge_item(
    imp: Importer,
    key: str,
    tags: list[dict[str, Any]],
    new: Mapping[str, Any] | None = None,
    pmid: str | None = None,
) -> Merged:
    """Add the missing ``tags`` and the collection to item ``key`` and, when syncd created it
    and ``new`` (the item mapped from the record with PMID ``pmid``) completes it, the fields
    that completes."""
    item = imp.index.get(key)
    written = _written(imp, key, new, pmid)
    for _ in range(MAX_TRIES):
        if item is not None and written is not None and item.data is None:
            item = imp.gw.known_items([key]).get(key)  # the item as it is now
        if item is None:
            logger.info("item %s is gone from the library; nothing to merge into", key)
            return Merged()
        have = {name for name, _ in item.tags}
        missing = [t for t in tags if t["tag"] not in have]
        missing = list({t["tag"]: t for t in missing}.values())
        need_collection = bool(imp.collection) and imp.collection not in item.collections
        completion = None
        # Only the same article (same PMID), not one that merely shares a DOI or a title.
        if (
            written is not None
            and new is not None
            and item.data is not None
            and item.ids.pmid == pmid
        ):
            completion = complete(item.data, written, new)
        if not missing and not need_collection and completion is None:
            return Merged()
        patch: dict[str, Any] = dict(completion.patch) if completion else {}
        if missing:
            patch["tags"] = [
                {"tag": n, "type": t} if t else {"tag": n} for n, t in item.tags
            ] + missing
        if need_collection:
            patch["collections"] = [*item.collections, imp.collection]
        try:
            version = imp.gw.update_item(key, item.version, patch)
        except VersionConflict:
            logger.info("item %s changed meanwhile; reading it again", key)
            item = imp.gw.known_items([key]).get(key)
            continue
        _wrote(imp, item, version, patch, missing)
        if completion is not None:
            imp.store.put_written(imp.library, {key: completion.digests}, utc_stamp(), add=True)
            logger.info("item %s completed: %s", key, ", ".join(completion.fields))
        return Merged(bool(missing or need_collection), completion.fields if completion else [])
    raise RemoteError(
        f"item {key} in {imp.library} kept changing while syncd merged into it",
        hint="run the import again",
        status=412,
        transient=True,
    )


def _wrote(
    imp: Importer,
    item: KnownItem,
    version: int,
    patch: Mapping[str, Any],
    missing: list[dict[str, Any]],
) -> None:
    """Bring the index up to the PATCH just accepted."""
    merged_tags = item.tags + tuple((t["tag"], int(t.get("type", 0))) for t in missing)
    data = {**item.data, **patch, "version": version} if item.data is not None else None
    after = KnownItem(
        item.key,
        item_identifiers(data) if data is not None else item.ids,  # a DOI may be completed
        version,
        item.trashed,
        merged_tags,
        tuple(patch.get("collections", item.collections)),
        data,
    )
    imp.index.add(after)
    # When only this PATCH changed the library since the index's version, the index holds all
    # of it: the next guarded write is not refused for our own change.
    ours = version == imp.version + 1
    imp.version = version if ours else imp.version
    imp.store.update_index(imp.library, [to_row(after)], version=version if ours else None)
