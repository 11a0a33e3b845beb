"""The library index in the state database, seen through the core's :class:`Lookup`.

The index of a library (every item's key, version, identifiers, trash flag, tags and
collections) lives in the state database's ``items`` table, indexed by key, PMID, PMCID, DOI
and title fingerprint. :class:`LibraryIndex` answers :func:`syncd.core.dedup.decide`'s two
questions (items by key, items by dedup key) from a small cache filled batch by batch: before
a batch of records is planned, :meth:`LibraryIndex.prefetch` reads the items that share any
identifier with the batch (and the keys the batch's articles would get) in a few indexed
queries, and :meth:`LibraryIndex.clear` drops them afterwards. A question the cache cannot
answer goes to the database. So memory follows the batch, never the library.

What the engine learns from the server while a batch runs (items it created, merged or
refreshed) is written to the database by the engine and put in the cache with
:meth:`LibraryIndex.add` / :meth:`LibraryIndex.remove`, so that the batch sees it at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncd.core.dedup import MATCH_KINDS, KnownItem, dedup_keys
from syncd.core.identity import Identifiers
from syncd.state import IndexedItem, StateStore

_COLUMNS = {"pmid": "pmids", "pmcid": "pmcids", "doi": "dois", "title": "fingerprints"}


def to_row(item: KnownItem) -> IndexedItem:
    return IndexedItem(
        key=item.key,
        version=item.version,
        pmid=item.ids.pmid,
        pmcid=item.ids.pmcid,
        doi=item.ids.doi,
        fingerprint=item.ids.fingerprint,
        trashed=item.trashed,
        tags=item.tags,
        collections=item.collections,
    )


def from_row(row: IndexedItem) -> KnownItem:
    ids = Identifiers(pmid=row.pmid, doi=row.doi, pmcid=row.pmcid, fingerprint=row.fingerprint)
    return KnownItem(row.key, ids, row.version, row.trashed, row.tags, row.collections)


class LibraryIndex:
    """One library's index in ``store`` (a :class:`syncd.core.dedup.Lookup`)."""

    def __init__(self, store: StateStore, library: str) -> None:
        self.store = store
        self.library = library
        self._items: dict[str, KnownItem | None] = {}  # None: known not to be in the index
        self._by: dict[str, set[str]] = {}  # loaded dedup key -> item keys
        self._added: set[str] = set()  # keys put in by add() since the last clear()

    # ---- the Lookup interface ---------------------------------------------------------------

    def get(self, key: str) -> KnownItem | None:
        if key not in self._items:
            self._load(keys=[key])
            self._items.setdefault(key, None)
        return self._items[key]

    def lookup(self, dedup_key: str) -> list[KnownItem]:
        if dedup_key not in self._by:
            self._load_dedup([dedup_key])
        out = []
        for key in sorted(self._by.get(dedup_key, ())):
            item = self._items.get(key)
            if item is not None:
                out.append(item)
        return out

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        return self.store.index_size(self.library)

    # ---- batches ----------------------------------------------------------------------------

    def prefetch(
        self,
        ids: Iterable[Identifiers],
        keys: Iterable[str] = (),
        match: Iterable[str] = MATCH_KINDS,
    ) -> None:
        """Read every indexed item sharing an identifier of the kinds in ``match`` with
        ``ids``, and the items with ``keys``, in a few queries; later questions about them
        cost nothing."""
        match = tuple(match)
        wanted: set[str] = set()
        for one in ids:
            wanted.update(dedup_keys(one, match))
        keys = [k for k in keys if k not in self._items]
        self._load_dedup(sorted(wanted - self._by.keys()), keys)
        for key in keys:
            self._items.setdefault(key, None)

    def clear(self) -> None:
        """Forget the cache (what the engine learnt is in the database by now)."""
        self._items.clear()
        self._by.clear()
        self._added.clear()

    def add(self, item: KnownItem) -> None:
        """Add or replace ``item`` in the cache (the caller writes it to the database)."""
        self.remove(item.key)
        self._items[item.key] = item
        self._added.add(item.key)
        for dk in dedup_keys(item.ids):
            if dk in self._by:
                self._by[dk].add(item.key)

    def remove(self, key: str) -> None:
        old = self._items.get(key)
        if old is not None:
            for dk in dedup_keys(old.ids):
                self._by.get(dk, set()).discard(key)
        self._items[key] = None
        self._added.add(key)

    # ---- loading ----------------------------------------------------------------------------

    def _load_dedup(self, dedup: Iterable[str], keys: Iterable[str] = ()) -> None:
        by_kind: dict[str, list[str]] = {"pmids": [], "pmcids": [], "dois": [], "fingerprints": []}
        dedup = list(dedup)
        for dk in dedup:
            kind, _, value = dk.partition(":")
            by_kind[_COLUMNS[kind]].append(value)
        for dk in dedup:
            self._by.setdefault(dk, set())
        self._load(keys=keys, **by_kind)
        # Items the engine added (not read from the database) may carry these keys too.
        for key in self._added:
            item = self._items.get(key)
            if item is not None:
                for dk in dedup_keys(item.ids):
                    if dk in self._by:
                        self._by[dk].add(key)

    def _load(
        self,
        *,
        keys: Iterable[str] = (),
        pmids: Iterable[str] = (),
        pmcids: Iterable[str] = (),
        dois: Iterable[str] = (),
        fingerprints: Iterable[str] = (),
    ) -> None:
        rows = self.store.index_items(
            self.library,
            keys=keys,
            pmids=pmids,
            pmcids=pmcids,
            dois=dois,
            fingerprints=fingerprints,
        )
        for row in rows:
            if row.key in self._added:
                continue  # the engine's copy is newer than the database's
            item = self._items.get(row.key)
            if item is None:
                item = self._items[row.key] = from_row(row)
            for dk in dedup_keys(item.ids):
                if dk in self._by:
                    self._by[dk].add(row.key)


class WithoutRun:
    """``index`` without the items this run created (``created``): the run's own memory of
    them (``seen_in_run``) decides a later record of the same article, which is then "the
    same article as" its first record, as if the two had been planned together."""

    def __init__(self, index: LibraryIndex, created: set[str]) -> None:
        self.index = index
        self.created = created

    def get(self, key: str) -> KnownItem | None:
        # Such a key is also among the run's taken keys, so it is never given out again.
        return None if key in self.created else self.index.get(key)

    def lookup(self, dedup_key: str) -> list[KnownItem]:
        return [i for i in self.index.lookup(dedup_key) if i.key not in self.created]
