"""Completing an item syncd created when a later version of its record arrives (issue 14 §2).

A record read while its export was still being written gives a truncated item (2 of 3
authors, no pages), and PubMed's own later version of an ahead-of-print record gains volume,
issue and pages. When such a record arrives for an item syncd created (same PMID) and
``on_duplicate = "merge"``, the item is completed, never at the cost of the user's edits:

* a field syncd wrote is replaced only while the item still holds exactly what syncd wrote;
* a field syncd did not write is filled only while the item holds nothing there;
* the creators are replaced only while they are unchanged since syncd wrote them and are a
  prefix of the new ones (the new list adds names at the end, as a cut export lacks them);
* the item type, tags, collections and relations are never touched here (tags and the
  collection are what a merge adds; see :mod:`syncd.engine_merge`).

What syncd wrote is kept as one short digest per field (:func:`written_digests`, stored in the
state database when the item is created and again when it is completed): enough to tell
"unchanged since syncd wrote it" without keeping the item. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CREATORS = "creators"
NEVER_COMPLETED = frozenset(
    {
        "key",
        "version",
        "itemType",
        "tags",
        "collections",
        "relations",
        "dateAdded",
        "dateModified",
        "deleted",
        "parentItem",
    }
)
"""Fields that completion leaves alone: the item's identity and type, what a merge adds, and
what the server keeps itself."""


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _creators(value: Any) -> list[dict[str, Any]]:
    """Creators compared as the server may send them back: key order and empty parts dropped."""
    if not isinstance(value, list):
        return []
    return [
        {k: v for k, v in sorted(c.items()) if not _empty(v)} for c in value if isinstance(c, dict)
    ]


def digest(value: Any) -> str:
    """A short digest of a field's value (16 hex digits of SHA-256 over canonical JSON)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _field_digest(name: str, value: Any) -> str:
    """A field's digest; the creators' begins with their number (``3:…``), so that a record
    with no more creators than syncd wrote is known to add none without reading the item."""
    if name == CREATORS:
        creators = _creators(value)
        return f"{len(creators)}:{digest(creators)}"
    return digest(value)


def _adds(name: str, written: str | None, value: Any) -> bool:
    count = (written or "").partition(":")[0]
    if name == CREATORS and count.isdigit():
        return len(_creators(value)) > int(count)
    return written != _field_digest(name, value)


def offered(item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``item`` that completion may write: set, and not among
    :data:`NEVER_COMPLETED`."""
    return {k: v for k, v in item.items() if k not in NEVER_COMPLETED and not _empty(v)}


def written_digests(payload: Mapping[str, Any]) -> dict[str, str]:
    """The digest of each field syncd writes when it creates ``payload`` (fields left empty
    are not listed: syncd wrote nothing there)."""
    return {k: _field_digest(k, v) for k, v in offered(payload).items()}


def worth_reading(written: Mapping[str, str], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` holds anything that differs from what syncd wrote: only then can the
    item be completed, so only then is it worth reading from the server (a rerun of the same
    export costs no request)."""
    return any(_adds(k, written.get(k), v) for k, v in offered(new).items())


@dataclass(frozen=True)
class Completion:
    """What to write to complete an item: the ``patch`` (fields to set) and the digests of
    what it writes (to keep as syncd's write)."""

    patch: dict[str, Any]
    digests: dict[str, str]

    @property
    def fields(self) -> list[str]:
        """The fields filled, creators first, then by name."""
        return sorted(self.patch, key=lambda k: (k != CREATORS, k))


def _may_write(name: str, have: Any, written: Mapping[str, str]) -> bool:
    """Whether the item's ``have`` in field ``name`` is still syncd's: what syncd wrote, or
    nothing where syncd wrote nothing."""
    if name in written:
        return not _empty(have) and _field_digest(name, have) == written[name]
    return _empty(have)


def complete(
    current: Mapping[str, Any], written: Mapping[str, str], new: Mapping[str, Any]
) -> Completion | None:
    """The patch that completes ``current`` (the item's data as the library holds it now)
    with ``new`` (the item mapped from the later record), given the digests of what syncd
    ``written``; None when there is nothing to write. Never writes a field whose value the
    user changed since syncd wrote it (see the module doc)."""
    if current.get("itemType") != new.get("itemType"):
        return None  # the user changed the type (or PubMed did): not the item syncd made
    patch: dict[str, Any] = {}
    for name, value in offered(new).items():
        have = current.get(name)
        if name == CREATORS or _field_digest(name, have) == _field_digest(name, value):
            continue
        if _may_write(name, have, written):
            patch[name] = value
    if CREATORS in new:
        have_c, new_c = _creators(current.get(CREATORS)), _creators(new[CREATORS])
        if (
            len(new_c) > len(have_c)
            and new_c[: len(have_c)] == have_c
            and _may_write(CREATORS, current.get(CREATORS), written)
        ):
            patch[CREATORS] = new[CREATORS]
    if not patch:
        return None
    return Completion(patch, {k: _field_digest(k, v) for k, v in patch.items()})
