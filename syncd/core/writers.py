"""Other writers on the library: whether a refused create may go again without its guard.

syncd sends each create with ``If-Unmodified-Since-Version`` (the library version its index is
at), so that a *foreign* writer (Zotero, a colleague, another tool) that adds the same article
under another key between syncd's index refresh and its write is caught: the write is refused,
the index refreshed, the batch planned again. Among syncd processes that guard adds nothing:
each article's key is derived from the library and the article (:func:`~syncd.core.keys.item_key`)
and sent with ``"version": 0``, so a second syncd creating the same article gets "exists", never
a twin. And against the real server the guard starves a second syncd: the server commits a
50-item write one object at a time over 0.6-2 s, so a guarded write of another syncd is refused
whenever the first is mid-request, and a writer that follows its last answer by 30 ms is nearly
always mid-request.

So after a refused write, when every item that changed the library meanwhile carries the key
syncd derives for its own article (another syncd's work), the same creates go again without the
guard, and are exact among syncd writers by their keys. When anything else changed, the guard
stays. What is given up: a foreign writer adding the same article in the instant between that
refresh and the unguarded write is not caught by it; the next refresh finds the two items and
the run reports the pair as a possible duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncd.core.backoff import backoff
from syncd.core.dedup import KnownItem, identity
from syncd.core.keys import item_key

# The n-th wait in a row after a refused write is a random time between half and all of
# min(CONFLICT_MAX_DELAY, CONFLICT_BASE_DELAY * 2 ** (n - 1)) seconds, so that writers that
# collided do not come back together.
CONFLICT_BASE_DELAY = 0.25
CONFLICT_MAX_DELAY = 15.0

KEY_ATTEMPTS = 4
"""Derived keys of one article considered (the plan moves to the next when one is taken)."""


def made_by_syncd(library: str, item: KnownItem) -> bool:
    """Whether ``item`` carries a key syncd derives for the article it holds in ``library``:
    only a syncd process gives an item that key."""
    ident = identity(item.ids)
    if ident is None:
        return False
    return any(item.key == item_key(library, ident, n) for n in range(KEY_ATTEMPTS))


def keep_guard(library: str, changed: Sequence[KnownItem]) -> bool:
    """After a create was refused because the library changed, and the index was refreshed
    with the items that ``changed``: whether the next try still sends the version guard. False
    only when there were changes and every one is another syncd's item."""
    return not changed or not all(made_by_syncd(library, item) for item in changed)


def conflict_delay(n: int, u: float) -> float:
    """Seconds to wait before trying again after the ``n``-th refused write in a row (``u``: a
    uniform random number in [0, 1))."""
    return backoff(n, CONFLICT_BASE_DELAY, CONFLICT_MAX_DELAY, u)
