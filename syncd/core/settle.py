"""Settling a row an interrupted run left pending: what became of its write.

A pending row names the key syncd chose for an article before sending it. The run that sent it
may have died before, during or after the write; what the library says now decides (pure: the
engine hands in the index and the server's deleted keys, and executes the answer):

* the key was deleted (and is not in the library): the write was applied, since only syncd
  makes that key for that article, and the user removed the item since: respect that;
* the item under the key is this article: the write was applied, or another syncd made the
  same article under the same derived key at the same moment (no way to tell: *uncertain*);
* another item is this article now: a duplicate of it;
* else the row is sent again with the item it carries (or, without one, fails).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Literal

from syncd.core.dedup import DedupOptions, Duplicate, Lookup, decide, share_a_key
from syncd.core.identity import Identifiers


@dataclass(frozen=True, slots=True)
class Settled:
    """What to do with the row: set ``status`` (``resend``: send its item again) under
    ``key``; ``outcome`` and ``reason`` are for the report (no outcome while it is resent)."""

    status: Literal["pushed", "duplicate", "failed", "resend"]
    key: str
    reason: str = ""
    outcome: Literal["created", "duplicate", "failed", ""] = ""
    uncertain: bool = False


def settle(
    key: str,
    ids: Identifiers,
    has_item: bool,
    index: Lookup,
    deleted: Container[str],
    options: DedupOptions,
    *,
    library: str,
) -> Settled:
    """Settle the pending row of the article ``ids`` planned under ``key`` (``has_item``: the
    row carries the item to send again). See the module docstring."""
    held = index.get(key)
    if held is None and key in deleted:
        return Settled(
            "pushed", key, "was created, then deleted in Zotero; not created again", "created"
        )
    if held is not None and share_a_key(held.ids, ids):
        return Settled(
            "pushed",
            key,
            "in the library under its planned key (created by the interrupted run, or by "
            "another writer at the same moment)",
            "created",
            uncertain=True,
        )
    d = decide(ids, index, {}, {}, options, library=library)
    if isinstance(d, Duplicate):
        return Settled("duplicate", d.key, d.reason, "duplicate")
    if not has_item:
        return Settled("failed", key, "pending without its item; import again", "failed")
    return Settled("resend", key)
