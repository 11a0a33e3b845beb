"""The dedup decision: is this article already in the library, and if not, under which key?

Everything here is pure. The edges hand in what they know as plain values:

* the library index, through the small :class:`Lookup` interface (items by key, items by
  dedup key): :class:`Index` holds it in memory (the core's tests); the engine's
  :class:`syncd.index.LibraryIndex` queries the state database, batch by batch,
* ``seen_in_run``: dedup keys of articles met earlier in this run → :class:`Seen` (item key,
  ``file:line``, identifiers),
* ``own``: articles syncd recorded before (pending or pushed) → :class:`Own`,
* ``deleted_own``: articles syncd created that the user has since deleted → :class:`Own`,

and :func:`decide` answers with a :class:`Decision`: :class:`New` (create under ``key``),
:class:`Duplicate` (the library already holds it as ``key``; ``reason`` says why) or
:class:`Deleted` (syncd created it once, the user deleted it, leave it).

A *dedup key* is an identifier with its kind, ``pmid:123``, ``doi:10.1/x`` or ``title:<fp>``;
``DedupOptions.match`` decides which kinds count. Two sides that share a dedup key are the
same article by :func:`verdict`:

* a PMID is PubMed's identity: two sides whose PMIDs (or PMCIDs) differ are different articles,
  whatever DOI they share (congress supplements share one DOI, publishers reuse DOIs by mistake);
* a shared DOI where a side has no PMID is the same article only when the titles agree
  (:func:`titles_agree`); when they do not, the record is imported and reported as a
  :class:`Possible` duplicate;
* a title fingerprint only matches when neither a PMID nor a DOI on the two sides disagrees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

from syncd.core.identity import Identifiers
from syncd.core.keys import item_key

MATCH_KINDS = ("pmid", "doi", "title")
# Kinds of dedup key, strongest first. A PMCID is PubMed Central's id for the article a PMID
# names, so it is matched under ``match = "pmid"``, just after the PMID.
_RANK = {kind: n for n, kind in enumerate(("pmid", "pmcid", "doi", "title"))}
_NAMES = {"pmid": "PMID", "pmcid": "PMCID", "doi": "DOI", "title": "title, year and first author"}


@dataclass(frozen=True, slots=True)
class DedupOptions:
    """The ``[dedup]`` section of the config."""

    match: tuple[str, ...] = ("pmid", "doi")
    include_trash: bool = True
    recreate_deleted: bool = False
    on_duplicate: str = "merge"  # merge | skip


@dataclass(frozen=True, slots=True)
class KnownItem:
    """An item of the library as the index knows it."""

    key: str
    ids: Identifiers
    version: int = 0
    trashed: bool = False
    tags: tuple[tuple[str, int], ...] = ()
    collections: tuple[str, ...] = ()
    data: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The item's fields as the server sent them, when read from the server just now (not
    kept in the index): what a completion decides on (:mod:`syncd.core.complete`)."""


def dedup_keys(ids: Identifiers, match: Iterable[str] = MATCH_KINDS) -> list[str]:
    """The dedup keys of ``ids`` for the kinds in ``match``, strongest first: ``pmid:…`` and
    ``pmcid:…`` (both under ``"pmid"``), ``doi:…``, ``title:…``. The one definition: the
    library index, the run's grouping and syncd's memory of its rows all match on these."""
    kinds = set(match)
    out = []
    if "pmid" in kinds and ids.pmid:
        out.append(f"pmid:{ids.pmid}")
    if "pmid" in kinds and ids.pmcid:
        out.append(f"pmcid:{ids.pmcid}")
    if "doi" in kinds and ids.doi:
        out.append(f"doi:{ids.doi}")
    if "title" in kinds and ids.fingerprint:
        out.append(f"title:{ids.fingerprint}")
    return out


def identity(ids: Identifiers) -> str | None:
    """What an article's key is derived from: its PMID, else its DOI, else its fingerprint
    (whatever ``match`` says, so that the key does not change with the configuration)."""
    if ids.pmid:
        return f"pmid:{ids.pmid}"
    if ids.doi:
        return f"doi:{ids.doi}"
    if ids.fingerprint:
        return f"title:{ids.fingerprint}"
    return None


def memory_keys(ids: Identifiers, match: Iterable[str] = MATCH_KINDS) -> list[str]:
    """What syncd's memory of an article (its earlier records of a run, its rows) is found
    under: the dedup keys for ``match``, and its identity, which the item key is derived from
    whatever ``match`` says (an article syncd created stays syncd's under any ``match``)."""
    keys = dedup_keys(ids, match)
    ident = identity(ids)
    return keys if ident is None or ident in keys else [*keys, ident]


def unmatched_identities(
    ids: Iterable[Identifiers], match: Iterable[str]
) -> dict[str, list[Identifiers]]:
    """The articles whose identity is of a kind ``match`` leaves out (a DOI-only article
    under ``match = ["pmid"]``), by the state column their rows are found by: syncd's memory
    of them is found by identity too (see :func:`memory_keys`)."""
    kinds = set(match)
    out: dict[str, list[Identifiers]] = {}
    for one in ids:
        kind = (identity(one) or ":").split(":", 1)[0]
        if kind and kind not in kinds:
            out.setdefault("fingerprint" if kind == "title" else kind, []).append(one)
    return out


def disagree(a: Identifiers, b: Identifiers) -> bool:
    """Whether two articles have different PMIDs or different DOIs."""
    return bool((a.pmid and b.pmid and a.pmid != b.pmid) or (a.doi and b.doi and a.doi != b.doi))


def title_of(ids: Identifiers) -> str | None:
    """The normalised title (Zotero's folding: case, accents, punctuation, spacing), taken
    from the fingerprint, or None."""
    if not ids.fingerprint:
        return None
    return ids.fingerprint.rsplit("|", 2)[0] or None


# Of the shorter title's words, this share must be in the other title too (a corrected typo,
# an added subtitle word or a changed article still agree; another paper does not).
AGREEING_WORDS = 0.7


def titles_agree(a: str | None, b: str | None) -> bool:
    """Whether two normalised titles name the same article: equal, one the other's leading
    words, or at least :data:`AGREEING_WORDS` of the shorter one's words in the other. A
    missing title cannot disagree."""
    if not a or not b or a == b:
        return True
    wa, wb = a.split(), b.split()
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if long_[: len(short)] == short:
        return True
    shared = sum((Counter(short) & Counter(long_)).values())
    return shared >= AGREEING_WORDS * len(short)


Verdict = Literal["same", "different", "possible"]


def _differ(values: set[str], value: str | None) -> bool:
    return bool(value and values and value not in values)


def verdict(kind: str, article: Sequence[Identifiers], other: Identifiers) -> Verdict:
    """Whether ``other`` is the same article as ``article`` (the identifiers of its records),
    given that they share a dedup key of ``kind``.

    ``different``: their PMIDs or PMCIDs differ, or (``kind`` title) a DOI differs.
    ``possible``: they share a DOI or PMCID, one side has no PMID and the titles disagree: a
    possible duplicate, imported as a separate article. ``same`` otherwise.
    """
    pmids = {x.pmid for x in article if x.pmid}
    if _differ(pmids, other.pmid) or _differ({x.pmcid for x in article if x.pmcid}, other.pmcid):
        return "different"
    if kind == "pmid":
        return "same"
    if kind == "title":
        return "different" if any(disagree(x, other) for x in article) else "same"
    if other.pmid and other.pmid in pmids:
        return "same"
    theirs = title_of(other)
    # The article's titles, of the records that have one: a record without a title cannot
    # vouch for its article when another record of it has a title that disagrees.
    ours: list[str | None] = [t for x in article if (t := title_of(x))] or [None]
    if any(titles_agree(t, theirs) for t in ours):
        return "same"
    return "possible"


class Lookup(Protocol):
    """What :func:`decide` asks of the library index."""

    def get(self, key: str) -> KnownItem | None:
        """The item with this key, or None."""
        ...

    def lookup(self, dedup_key: str) -> list[KnownItem]:
        """Items with this dedup key (``pmid:…``, ``doi:…``, ``title:…``), in key order."""
        ...


class Index:
    """The library index in memory (a :class:`Lookup`): items by key and by dedup key. Pure,
    mutable as one learns about the library; the core's tests use it."""

    def __init__(self, items: Iterable[KnownItem] = ()) -> None:
        self._items: dict[str, KnownItem] = {}
        self._by: dict[str, set[str]] = {}
        for item in items:
            self.add(item)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[KnownItem]:
        return iter(list(self._items.values()))

    def get(self, key: str) -> KnownItem | None:
        return self._items.get(key)

    def add(self, item: KnownItem) -> None:
        """Add or replace the item with ``item.key``."""
        self.remove(item.key)
        self._items[item.key] = item
        for dk in dedup_keys(item.ids):
            self._by.setdefault(dk, set()).add(item.key)

    def remove(self, key: str) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            for dk in dedup_keys(old.ids):
                keys = self._by.get(dk)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by[dk]

    def lookup(self, dedup_key: str) -> list[KnownItem]:
        """Items with this dedup key, in key order (so that choices are deterministic)."""
        return [self._items[k] for k in sorted(self._by.get(dedup_key, ()))]


@dataclass(frozen=True, slots=True)
class Possible:
    """A possible duplicate: the article shares ``kind`` ``value`` with item ``key`` (``where``:
    the record of this run it was created from, when it was), but their titles differ, so it is
    imported as a separate article and the report says so."""

    kind: str
    value: str
    key: str
    where: str = ""

    def describe(self) -> str:
        other = f"{self.where} (item {self.key})" if self.where else f"item {self.key}"
        return (
            f"shares {_NAMES[self.kind]} {self.value} with {other}, whose title differs: "
            "imported as a separate article"
        )


@dataclass(frozen=True, slots=True)
class New:
    """Create the article under ``key`` (``adopted``: a key recorded earlier, re-sent;
    ``possible``: items it shares a DOI with whose titles differ)."""

    key: str
    identity: str
    adopted: bool = False
    possible: tuple[Possible, ...] = ()


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The library already holds the article as ``key``. ``origin`` is ``library`` (found in
    the index), ``run`` (an earlier record of this run) or ``syncd`` (imported before)."""

    key: str
    reason: str
    origin: str = "library"


@dataclass(frozen=True, slots=True)
class Deleted:
    """syncd created the article as ``key`` before; the user has deleted it since."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unidentified:
    """Neither a PMID, a DOI nor a title: there is no way to tell whether it is held."""

    reason: str = "no PMID, DOI or title to recognise the article by"


Decision = New | Duplicate | Deleted | Unidentified


class Seen(NamedTuple):
    """An article met earlier in this run: its item ``key``, ``where`` its first record is, and
    its identifiers (to tell a different article that shares a DOI)."""

    key: str
    where: str
    ids: Identifiers = Identifiers()


class Own(NamedTuple):
    """An article syncd recorded before: its item ``key``, the row's ``status`` (pending or
    pushed) and its identifiers."""

    key: str
    status: str
    ids: Identifiers = Identifiers()


@dataclass(frozen=True, slots=True)
class Memory:
    """What the run and the state database remember (see the module docstring)."""

    seen_in_run: Mapping[str, Seen] = field(default_factory=dict)
    own: Mapping[str, Own] = field(default_factory=dict)
    deleted_own: Mapping[str, Own] = field(default_factory=dict)


def _kind(dedup_key: str) -> str:
    return dedup_key.split(":", 1)[0]


def _match_index(
    ids: Sequence[Identifiers], index: Lookup, options: DedupOptions
) -> tuple[tuple[KnownItem, str, str] | None, list[Possible]]:
    """The best index match of the article: (item, kind, value), strongest kind first, then
    lowest key, so that the answer does not depend on the order of ``ids``; and the items it
    shares a DOI or PMCID with whose titles differ (possible duplicates)."""
    best: tuple[int, str, KnownItem, str, str] | None = None
    possible: dict[str, Possible] = {}
    for one in ids:
        for dk in dedup_keys(one, options.match):
            kind, value = dk.split(":", 1)
            for item in index.lookup(dk):
                if item.trashed and not options.include_trash:
                    continue
                said = verdict(kind, ids, item.ids)
                if said == "possible":
                    possible.setdefault(item.key, Possible(kind, value, item.key))
                if said != "same":
                    continue
                rank = (_RANK[kind], item.key, item, kind, value)
                if best is None or rank[:2] < best[:2]:
                    best = rank
    found = None if best is None else (best[2], best[3], best[4])
    return found, [possible[k] for k in sorted(possible)]


def _describe(kind: str, value: str, item: KnownItem) -> str:
    shown = value if kind != "title" else "match"
    where = " (in the trash)" if item.trashed else ""
    return f"{_NAMES[kind]} {shown} is item {item.key}{where}"


def decide(
    identifiers: Identifiers | Sequence[Identifiers],
    index: Lookup,
    seen_in_run: Mapping[str, Seen],
    deleted_own: Mapping[str, Own],
    options: DedupOptions,
    *,
    library: str,
    own: Mapping[str, Own] | None = None,
    taken: Container[str] = (),
) -> Decision:
    """Decide for one article (the identifiers of all its records, when several records of
    one run are the same article).

    In order: a match in the library index (trash included unless ``include_trash`` is
    off) → :class:`Duplicate`; an earlier record of this run → :class:`Duplicate`; an article
    syncd pushed before → :class:`Duplicate`, or one it recorded as pending → :class:`New`
    with that key (re-sending it is safe); an article syncd created and the user deleted →
    :class:`Deleted` (or :class:`New` under the same key with ``recreate_deleted``); else
    :class:`New` under the key derived from ``library`` and the article's identity, skipping
    keys in the index or in ``taken`` (keys other articles of this run use).

    Every match by a DOI or PMCID passes :func:`verdict` first: a side whose PMID differs is
    another article; one whose title differs is another article too, and a :class:`Possible`
    duplicate of the answer.
    """
    ids = [identifiers] if isinstance(identifiers, Identifiers) else list(identifiers)
    own = own or {}
    found, possible = _match_index(ids, index, options)
    if found is not None:
        item, kind, value = found
        return Duplicate(item.key, _describe(kind, value, item), "library")

    keys = sorted({dk for one in ids for dk in dedup_keys(one, options.match)}, key=_strength)
    # The fingerprint stands in for records with neither PMID nor DOI. An article that has one
    # is never the same as an earlier record of the run by title alone: two articles with
    # different PMIDs can share a title, year and first author (errata, series), and which of
    # them came first must not decide what is created.
    strong = any(one.pmid or one.doi for one in ids)
    for dk in keys:
        if strong and dk.startswith("title:"):
            continue
        if dk in seen_in_run:
            key, where, earlier = seen_in_run[dk]
            said = verdict(_kind(dk), ids, earlier)
            if said == "possible":
                possible.append(Possible(_kind(dk), dk.split(":", 1)[1], key, where))
            if said == "same":
                return Duplicate(key, f"same article as {where}", "run")
    # An earlier record of the run with the same identity (what the key is derived from) is
    # this article even where ``match`` does not compare that identifier: a later run would
    # find its item under the derived key as "imported by syncd before" (below), so this run
    # must not create a second one beside it.
    ident = _identity_of(ids)
    if ident is not None and ident not in keys and ident in seen_in_run:
        key, where, earlier = seen_in_run[ident]
        if identity(earlier) == ident and verdict(_kind(ident), ids, earlier) == "same":
            return Duplicate(key, f"same article as {where}", "run")
    # syncd's own rows likewise (see memory_keys).
    lookup = keys if ident is None or ident in keys else [*keys, ident]
    for dk in lookup:
        if dk in own:
            key, status, recorded = own[dk]
            if verdict(_kind(dk), ids, recorded) != "same":
                continue
            existing = index.get(key)
            if existing is not None and existing.trashed and not options.include_trash:
                continue
            if status == "pending":
                holder = index.get(key)
                if holder is not None and not any(share_a_key(x, holder.ids) for x in ids):
                    continue  # another article took the key meanwhile: derive the next one
                return New(key, _identity_of(ids) or dk, adopted=True, possible=tuple(possible))
            return Duplicate(key, f"imported by syncd before as item {key}", "syncd")
    for dk in lookup:
        if dk in deleted_own:
            key, _, recorded = deleted_own[dk]
            if verdict(_kind(dk), ids, recorded) != "same":
                continue
            if options.recreate_deleted:
                return New(key, _identity_of(ids) or dk, adopted=True, possible=tuple(possible))
            return Deleted(
                key,
                f"imported by syncd before as item {key} and deleted in Zotero since "
                "(dedup.recreate_deleted = true creates it again)",
            )

    if ident is None:
        return Unidentified()
    attempt = 0
    while True:
        key = item_key(library, ident, attempt)
        held = index.get(key)
        # The item under the derived key may be this article (syncd created it before, maybe
        # from a record whose identifiers ``match`` does not consider).
        # Not when it is another article with the same identity (a DOI two articles share).
        mine = (
            held is not None
            and identity(held.ids) == ident
            and verdict(_kind(ident), ids, held.ids) == "same"
        )
        if held is not None and mine and (not held.trashed or options.include_trash):
            trash = " (in the trash)" if held.trashed else ""
            return Duplicate(key, f"imported by syncd before as item {key}{trash}", "syncd")
        if held is None and key not in taken:
            return New(key, ident, possible=tuple(possible))
        attempt += 1


def share_a_key(a: Identifiers, b: Identifiers) -> bool:
    """Whether ``a`` and ``b`` have a dedup key in common (of any kind): the check that the
    item under a key syncd planned is the article it planned it for."""
    return bool(set(dedup_keys(a)) & set(dedup_keys(b)))


def _strength(dedup_key: str) -> tuple[int, str]:
    return (_RANK[dedup_key.split(":", 1)[0]], dedup_key)


def _identity_of(ids: Sequence[Identifiers]) -> str | None:
    """The article's identity: the smallest identity of its strongest kind, so that every
    order of the same records gives the same key."""
    found = [i for i in (identity(x) for x in ids) if i is not None]
    return min(found, key=_strength) if found else None
