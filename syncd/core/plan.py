"""The import plan: which records to create (and under which key), merge, skip or fail.

:func:`plan` is pure. It takes the run's records as :class:`Candidate` values (identifiers and
where they came from), groups records that are the same article (they share a PMID or a DOI,
or a title fingerprint when ``match`` includes it), decides once per article with
:func:`syncd.core.dedup.decide`, and returns one action per candidate, in input order:

* :class:`Create`: send this record's item under ``key``; the first record of an article,
* :class:`Merge`: the library holds the article as ``key``; add the missing tags and the
  collection (``on_duplicate = "merge"``),
* :class:`Skip`: leave it (a repeat of an article of this run, ``on_duplicate = "skip"``, or an
  article syncd created that the user deleted),
* :class:`Fail`: the record cannot be imported (unmappable, or nothing to recognise it by).

Grouping first makes the outcome independent of the order of the records: however they are
ordered, the same articles are created, once each, under the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from syncd.core.dedup import (
    DedupOptions,
    Deleted,
    Duplicate,
    Lookup,
    Memory,
    New,
    Possible,
    Seen,
    Unidentified,
    decide,
    dedup_keys,
    identity,
    memory_keys,
    verdict,
)
from syncd.core.identity import Identifiers


@dataclass(frozen=True, slots=True)
class Candidate:
    """One record to import: its identifiers, ``where`` it is (``file:line``) and, when it
    could not be mapped to a Zotero item, ``error``."""

    ids: Identifiers
    where: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Create:
    ref: int
    key: str
    identity: str
    adopted: bool = False  # the key was recorded before (a pending row): re-sent as it was
    members: tuple[int, ...] = ()  # every candidate that is this article (ref included)
    possible: tuple[Possible, ...] = ()  # items sharing its DOI whose titles differ


@dataclass(frozen=True, slots=True)
class Merge:
    ref: int
    key: str
    reason: str
    origin: str = "library"


@dataclass(frozen=True, slots=True)
class Skip:
    ref: int
    key: str
    reason: str
    origin: str = "run"  # run | library | syncd | deleted


@dataclass(frozen=True, slots=True)
class Fail:
    ref: int
    reason: str


Action = Create | Merge | Skip | Fail


@dataclass
class Plan:
    actions: list[Action]
    """One action per candidate, in input order."""
    seen: dict[str, Seen] = field(default_factory=dict)
    """Dedup keys of every article planned → :class:`Seen` (item key, where its first record
    is, identifiers): pass them as ``seen_in_run`` to the next :func:`plan` of the same run."""

    @property
    def creates(self) -> list[Create]:
        return [a for a in self.actions if isinstance(a, Create)]


class _Groups:
    """Union-find over candidate positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller position is the root, so a group's root is its first record.
            self.parent[max(ra, rb)] = min(ra, rb)


def group(candidates: Sequence[Candidate], options: DedupOptions) -> list[list[int]]:
    """Positions of the candidates that are the same article, each group in input order,
    groups ordered by their first record. Failed candidates stay alone.

    Records sharing a PMID are one article. A shared DOI joins records only when
    :func:`syncd.core.dedup.verdict` says they are the same article: never two records whose
    PMIDs differ, and a record without a PMID only when the titles agree. Records without a
    PMID are joined among themselves first; each such group then joins the article with a PMID
    it agrees with that has the smallest identity. The title fingerprint stands in only for
    records with neither PMID nor DOI: such a record joins the others with its fingerprint
    and, when some identified article has that fingerprint too, the one with the smallest
    identity. Every tie is broken by identity, never by position, so that the grouping (and
    with it what is created) does not depend on the order of the records.
    """
    groups = _Groups(len(candidates))
    strong_kinds = tuple(k for k in options.match if k != "title")
    # A shared PMID always joins (the PMID is the article's identity, whatever ``match`` says):
    # otherwise a record with only the PMID and one with the PMID and a DOI the library holds
    # would be one article in one order and two in the other.
    joining = (*strong_kinds, "pmid")
    by_key: dict[str, list[int]] = {}
    titled: list[tuple[str, int]] = []
    for i, c in enumerate(candidates):
        if c.error is not None:
            continue
        # The identity too (what the key is derived from): records of one identity that agree
        # are one article even where ``match`` does not compare it (see decide).
        for dk in memory_keys(c.ids, joining):
            by_key.setdefault(dk, []).append(i)
        if "title" in options.match and c.ids.fingerprint:
            titled.append((c.ids.fingerprint, i))
    # Records with a PMID: one article per PMID (also under a shared DOI, when ``match`` leaves
    # PMIDs out); records whose PMIDs differ are never joined.
    for members in by_key.values():
        first_of: dict[str, int] = {}
        for i in members:
            if pmid := candidates[i].ids.pmid:
                groups.union(i, first_of.setdefault(pmid, i))
    # Records without a PMID that share a DOI and agree, among themselves. A record with a
    # PMID stands for its whole article (every record with that PMID), as in decide(): a
    # record that agrees with any of them is that article, in whatever order they come.
    article: dict[int, list[Identifiers]] = {}
    for i, c in enumerate(candidates):
        if c.error is None and c.ids.pmid:
            article.setdefault(groups.find(i), []).append(c.ids)
    attach: dict[int, list[int]] = {}  # record without PMID -> agreeing records with one
    for dk, members in by_key.items():
        kind = dk.split(":", 1)[0]
        if kind == "pmid":
            continue
        bare = [i for i in members if not candidates[i].ids.pmid]
        for n, i in enumerate(bare):
            for j in bare[n + 1 :]:
                if verdict(kind, [candidates[i].ids], candidates[j].ids) == "same":
                    groups.union(i, j)
            for j in members:
                if candidates[j].ids.pmid and (
                    verdict(kind, article[groups.find(j)], candidates[i].ids) == "same"
                ):
                    attach.setdefault(i, []).append(j)
    if attach:
        # Each group of records without a PMID joins one article with a PMID: the agreeing
        # one with the smallest identity (decided on the groups as they stand, so in no order).
        choice: dict[int, tuple[str, int]] = {}
        for i, targets in attach.items():
            root = groups.find(i)
            for j in targets:
                ident = identity(candidates[j].ids) or ""
                if root not in choice or ident < choice[root][0]:
                    choice[root] = (ident, j)
        for root, (_, j) in choice.items():
            groups.union(root, j)
    if titled:
        weak_first: dict[str, int] = {}
        strong_best: dict[str, tuple[str, int]] = {}
        for fp, i in titled:
            ids = candidates[i].ids
            if dedup_keys(ids, strong_kinds):
                ident = identity(ids) or ""
                if fp not in strong_best or ident < strong_best[fp][0]:
                    strong_best[fp] = (ident, i)
            else:
                groups.union(i, weak_first.setdefault(fp, i))
        for fp, i in weak_first.items():
            if fp in strong_best:
                groups.union(i, strong_best[fp][1])
    out: dict[int, list[int]] = {}
    for i in range(len(candidates)):
        out.setdefault(groups.find(i), []).append(i)
    return [out[root] for root in sorted(out)]


def plan(
    candidates: Sequence[Candidate],
    index: Lookup,
    memory: Memory,
    options: DedupOptions,
    *,
    library: str,
) -> Plan:
    """Plan the import of ``candidates`` into ``library`` (see the module docstring)."""
    actions: list[Action | None] = [None] * len(candidates)
    seen = dict(memory.seen_in_run)
    new_seen: dict[str, Seen] = {}
    taken = {s.key for s in seen.values()}
    for members in group(candidates, options):
        first = members[0]
        head = candidates[first]
        if head.error is not None:
            actions[first] = Fail(first, head.error)
            continue
        ids = [candidates[m].ids for m in members]
        decision = decide(
            ids,
            index,
            seen,
            memory.deleted_own,
            options,
            library=library,
            own=memory.own,
            taken=taken,
        )
        if isinstance(decision, Unidentified):
            for m in members:
                actions[m] = Fail(m, decision.reason)
            continue
        key = decision.key
        taken.add(key)
        article = _article(ids)
        if isinstance(decision, Duplicate) and (holder := index.get(key)) is not None:
            # The run remembers the article as the item it matched: a later record that
            # shares only its DOI must meet the item's PMID (and title), not merely this
            # record's, or an article with another PMID would be taken for it.
            article = Identifiers(
                pmid=article.pmid or holder.ids.pmid,
                pmcid=article.pmcid or holder.ids.pmcid,
                fingerprint=article.fingerprint or holder.ids.fingerprint,
            )
        for one in ids:
            known = Identifiers(
                pmid=one.pmid or article.pmid,
                doi=one.doi,
                pmcid=one.pmcid or article.pmcid,
                fingerprint=one.fingerprint or article.fingerprint,
            )
            for dk in memory_keys(one, options.match):  # its identity too (see decide)
                seen.setdefault(dk, Seen(key, head.where, known))
                new_seen.setdefault(dk, Seen(key, head.where, known))
        for m in members:
            actions[m] = _action(m, members, head.where, decision, options)
    assert all(a is not None for a in actions)
    return Plan([a for a in actions if a is not None], new_seen)


def _article(ids: Sequence[Identifiers]) -> Identifiers:
    """The first PMID, PMCID and fingerprint among an article's records."""
    return Identifiers(
        pmid=next((x.pmid for x in ids if x.pmid), None),
        pmcid=next((x.pmcid for x in ids if x.pmcid), None),
        fingerprint=next((x.fingerprint for x in ids if x.fingerprint), None),
    )


def _action(
    m: int,
    members: list[int],
    first_where: str,
    decision: New | Duplicate | Deleted,
    options: DedupOptions,
) -> Action:
    if isinstance(decision, New):
        if m == members[0]:
            return Create(
                m,
                decision.key,
                decision.identity,
                decision.adopted,
                tuple(members),
                decision.possible,
            )
        return Skip(m, decision.key, f"same article as {first_where}", "run")
    if isinstance(decision, Deleted):
        return Skip(m, decision.key, decision.reason, "deleted")
    if decision.origin == "run":
        return Skip(m, decision.key, decision.reason, "run")
    if options.on_duplicate == "merge":
        return Merge(m, decision.key, decision.reason, decision.origin)
    return Skip(m, decision.key, decision.reason, decision.origin)
