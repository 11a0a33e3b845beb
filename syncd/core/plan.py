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
    Unidentified,
    decide,
    dedup_keys,
    identity,
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
    seen: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Dedup keys of every article planned → (item key, where its first record is): pass them
    as ``seen_in_run`` to the next :func:`plan` of the same run."""

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

    Records sharing a PMID or DOI are one article. The title fingerprint stands in only for
    records with neither: such a record joins the others with its fingerprint and, when some
    identified article has that fingerprint too, the one with the smallest identity. Letting
    the fingerprint join identified records to each other would make grouping depend on the
    order of the records (A and C agree, B and C agree, A and B do not), and with it what is
    created.
    """
    groups = _Groups(len(candidates))
    strong_kinds = tuple(k for k in options.match if k != "title")
    first_with: dict[str, int] = {}
    titled: list[tuple[str, int]] = []
    for i, c in enumerate(candidates):
        if c.error is not None:
            continue
        strong = dedup_keys(c.ids, strong_kinds)
        for dk in strong:
            groups.union(i, first_with.setdefault(dk, i))
        if "title" in options.match and c.ids.fingerprint:
            titled.append((c.ids.fingerprint, i))
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
    new_seen: dict[str, tuple[str, str]] = {}
    taken = {key for key, _ in seen.values()}
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
        for one in ids:
            for dk in dedup_keys(one, options.match):
                seen.setdefault(dk, (key, head.where))
                new_seen.setdefault(dk, (key, head.where))
        for m in members:
            actions[m] = _action(m, members, head.where, decision, options)
    assert all(a is not None for a in actions)
    return Plan([a for a in actions if a is not None], new_seen)


def _action(
    m: int,
    members: list[int],
    first_where: str,
    decision: New | Duplicate | Deleted,
    options: DedupOptions,
) -> Action:
    if isinstance(decision, New):
        if m == members[0]:
            return Create(m, decision.key, decision.identity, decision.adopted, tuple(members))
        return Skip(m, decision.key, f"same article as {first_where}", "run")
    if isinstance(decision, Deleted):
        return Skip(m, decision.key, decision.reason, "deleted")
    if decision.origin == "run":
        return Skip(m, decision.key, decision.reason, "run")
    if options.on_duplicate == "merge":
        return Merge(m, decision.key, decision.reason, decision.origin)
    return Skip(m, decision.key, decision.reason, decision.origin)
