"""The import plan: properties over many batches, and the cases by name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.dedup import DedupOptions, Index, KnownItem, Memory, Seen, dedup_keys, verdict
from syncd.core.identity import Identifiers
from syncd.core.keys import item_key
from syncd.core.plan import Candidate, Create, Fail, Merge, Skip, plan

LIB = "users/1"

# Small pools so that batches are full of shared identifiers.
pmids = st.one_of(st.none(), st.sampled_from([str(n) for n in range(1, 9)]))
dois = st.one_of(st.none(), st.sampled_from([f"10.1/{c}" for c in "abcdef"]))
fps = st.one_of(st.none(), st.sampled_from(["t1|2020|a", "t2|2021|b"]))
identifiers = st.builds(Identifiers, pmid=pmids, doi=dois, fingerprint=fps)
candidates = st.lists(
    st.builds(
        Candidate,
        ids=identifiers,
        where=st.sampled_from(["a.nbib:1", "b.nbib:9", "c.txt:40"]),
        error=st.sampled_from([None, None, None, "unmappable"]),
    ),
    max_size=25,
)
index_items = st.lists(
    st.builds(
        KnownItem,
        key=st.sampled_from(["AAAAAAAA", "BBBBBBBB", "CCCCCCCC", "DDDDDDDD"]),
        ids=identifiers,
        trashed=st.booleans(),
    ),
    max_size=4,
)
options = st.builds(
    DedupOptions,
    match=st.sampled_from([("pmid", "doi"), ("pmid",), ("doi",), ("pmid", "doi", "title")]),
    include_trash=st.booleans(),
    on_duplicate=st.sampled_from(["merge", "skip"]),
)


def _index(items: list[KnownItem]) -> Index:
    return Index(items)


def _pmids(cands: list[Candidate], c: Create) -> set[str]:
    return {p for m in c.members if (p := cands[m].ids.pmid)}


def _dois(c: Candidate) -> set[str]:
    return {c.ids.doi} if c.ids.doi else set()


@given(candidates, index_items, options)
def test_records_with_different_pmids_are_never_one_article(
    cands: list[Candidate], items: list[KnownItem], opts: DedupOptions
) -> None:
    # Whatever DOI, PMCID or title they share: not grouped together, not matched to a library
    # item with another PMID, not matched to an earlier article of the run with another PMID.
    items = list({i.key: i for i in items}.values())  # one item per key, as in a library
    index = _index(items)
    half = len(cands) // 2
    first = plan(cands[:half], index, Memory(), opts, library=LIB)
    second = plan(cands[half:], index, Memory(seen_in_run=first.seen), opts, library=LIB)
    pmid_of_key: dict[str, set[str]] = {}
    for i in items:
        if i.ids.pmid:
            pmid_of_key.setdefault(i.key, set()).add(i.ids.pmid)
    for batch, part in ((first, cands[:half]), (second, cands[half:])):
        for c in batch.creates:
            pmid_of_key.setdefault(c.key, set()).update(_pmids(part, c))
    for batch, part in ((first, cands[:half]), (second, cands[half:])):
        for a in batch.actions:
            if isinstance(a, Fail) or not part[a.ref].ids.pmid:
                continue
            other = pmid_of_key.get(a.key, set()) - {part[a.ref].ids.pmid}
            assert not other, (a, part[a.ref].ids, other)


@given(candidates, index_items, options)
def test_one_action_per_record_and_never_two_creates_for_one_article(
    cands: list[Candidate], items: list[KnownItem], opts: DedupOptions
) -> None:
    index = _index(items)
    p = plan(cands, index, Memory(), opts, library=LIB)
    assert [a.ref for a in p.actions] == list(range(len(cands)))
    creates = p.creates
    # Keys are unique and never one the library already uses.
    assert len({c.key for c in creates}) == len(creates)
    assert not any(c.key in index for c in creates)
    # No PMID is claimed by two creates, and an article has at most one PMID.
    claimed: dict[str, str] = {}
    for c in creates:
        assert len(_pmids(cands, c)) <= 1
        for m in c.members:
            if cands[m].ids.pmid and "pmid" in opts.match:
                assert claimed.setdefault(cands[m].ids.pmid, c.key) == c.key
    # Two creates share a DOI only as different articles: their PMIDs differ, or the records
    # of one without a PMID are not the other article, judged on all the other's records as
    # decide() judges them (duplicates collapsed; a record without a title does not vouch for
    # an article another record of which has a title that disagrees).
    for c in creates:
        for d in creates:
            if c is d or _pmids(cands, c):
                continue
            other = [cands[n].ids for n in d.members]
            for m in c.members:
                shared = _dois(cands[m]) & {x for n in d.members for x in _dois(cands[n])}
                if shared and "doi" in opts.match:
                    assert verdict("doi", other, cands[m].ids) != "same"
    # An article that matches the library by PMID, or by DOI as the same article (judged on
    # all its records: a record without a title does not vouch for one whose title
    # disagrees), is never created.
    for a in p.actions:
        if isinstance(a, Create):
            article = [cands[m].ids for m in a.members]
            for dk in dedup_keys(cands[a.ref].ids, opts.match):
                if not dk.startswith("title:"):
                    held = [i for i in index.lookup(dk) if opts.include_trash or not i.trashed]
                    kind = dk.split(":", 1)[0]
                    assert all(verdict(kind, article, i.ids) != "same" for i in held)
    # Failed records stay failed; merge only when asked for.
    for a, c in zip(p.actions, cands, strict=True):
        if c.error is not None:
            assert isinstance(a, Fail)
        if isinstance(a, Merge):
            assert opts.on_duplicate == "merge"


@given(candidates, index_items, options, st.randoms(use_true_random=False))
def test_order_does_not_change_what_is_created(
    cands: list[Candidate], items: list[KnownItem], opts: DedupOptions, rnd
) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    a = plan(cands, _index(items), Memory(), opts, library=LIB)
    b = plan(shuffled, _index(items), Memory(), opts, library=LIB)
    assert {(c.key, c.identity) for c in a.creates} == {(c.key, c.identity) for c in b.creates}
    merged_a = {x.key for x in a.actions if isinstance(x, Merge)}
    merged_b = {x.key for x in b.actions if isinstance(x, Merge)}
    assert merged_a == merged_b
    assert sum(isinstance(x, Fail) for x in a.actions) == sum(
        isinstance(x, Fail) for x in b.actions
    )


@given(candidates, index_items, options)
def test_a_second_run_creates_nothing(
    cands: list[Candidate], items: list[KnownItem], opts: DedupOptions
) -> None:
    index = _index(items)
    first = plan(cands, index, Memory(), opts, library=LIB)
    for c in first.creates:
        index.add(KnownItem(c.key, cands[c.ref].ids))
    again = plan(cands, index, Memory(), opts, library=LIB)
    assert again.creates == []
    # Planned in two batches (seen carried over), no identifier is created twice either.
    half = len(cands) // 2
    p1 = plan(cands[:half], _index(items), Memory(), opts, library=LIB)
    p2 = plan(cands[half:], _index(items), Memory(seen_in_run=p1.seen), opts, library=LIB)
    claimed: dict[str, str] = {}
    for batch, part in ((p1, cands[:half]), (p2, cands[half:])):
        for c in batch.creates:
            assert c.key not in claimed.values()
            for dk in dedup_keys(part[c.ref].ids, opts.match):
                if dk.startswith("pmid:"):
                    assert dk not in claimed
                    claimed[dk] = c.key


def test_cases_by_name() -> None:
    index = Index([KnownItem("AAAAAAAA", Identifiers(pmid="1"))])
    cands = [
        Candidate(Identifiers(pmid="1"), "a:1"),  # in the library
        Candidate(Identifiers(pmid="2", doi="10.1/b"), "a:5"),  # new
        Candidate(Identifiers(doi="10.1/b"), "b:3"),  # same article as a:5, by DOI
        Candidate(Identifiers(pmid="1", doi="10.1/z"), "b:8"),  # in the library again
        Candidate(Identifiers(), "b:12"),  # nothing to recognise it by
        Candidate(Identifiers(pmid="3"), "b:20", error="no title"),
    ]
    p = plan(cands, index, Memory(), DedupOptions(), library=LIB)
    k2 = item_key(LIB, "pmid:2")
    assert p.actions == [
        Merge(0, "AAAAAAAA", "PMID 1 is item AAAAAAAA", "library"),
        Create(1, k2, "pmid:2", False, (1, 2)),
        Skip(2, k2, "same article as a:5", "run"),
        Merge(3, "AAAAAAAA", "PMID 1 is item AAAAAAAA", "library"),
        Fail(4, "no PMID, DOI or title to recognise the article by"),
        Fail(5, "no title"),
    ]
    assert p.seen["doi:10.1/b"] == Seen(k2, "a:5", Identifiers(pmid="2", doi="10.1/b"))
    # The next batch of the same run sees the article of a:5.
    p2 = plan(
        [Candidate(Identifiers(pmid="2"), "c:1")],
        index,
        Memory(seen_in_run=p.seen),
        DedupOptions(on_duplicate="skip"),
        library=LIB,
    )
    assert p2.actions == [Skip(0, k2, "same article as a:5", "run")]


def test_two_pmids_sharing_a_doi_are_two_articles_in_any_order() -> None:
    a = Candidate(Identifiers(pmid="5", doi="10.1/x"), "a:1")
    b = Candidate(Identifiers(pmid="4", doi="10.1/x"), "b:1")
    k1 = plan([a, b], Index(), Memory(), DedupOptions(), library=LIB).creates
    k2 = plan([b, a], Index(), Memory(), DedupOptions(), library=LIB).creates
    want = {item_key(LIB, "pmid:4"), item_key(LIB, "pmid:5")}
    assert {c.key for c in k1} == {c.key for c in k2} == want


def test_a_fingerprint_never_joins_two_identified_articles_in_any_order() -> None:
    # Found by hypothesis: a record known only by its title fingerprint, and two articles with
    # different PMIDs and the same fingerprint. Whichever order they come in, both articles
    # are created and the title-only record goes with one of them.
    weak = Candidate(Identifiers(fingerprint="t|2021|b"), "a.nbib:1")
    one = Candidate(Identifiers(pmid="1", fingerprint="t|2021|b"), "a.nbib:9")
    two = Candidate(Identifiers(pmid="2", fingerprint="t|2021|b"), "a.nbib:20")
    opts = DedupOptions(match=("pmid", "doi", "title"))
    results = set()
    for order in ([weak, one, two], [one, two, weak], [two, weak, one], [one, weak, two]):
        p = plan(order, _index([]), Memory(), opts, library=LIB)
        results.add(frozenset(c.identity for c in p.creates))
        assert len(p.actions) == 3
    assert results == {frozenset({"pmid:1", "pmid:2"})}


def test_an_article_is_created_in_every_order_of_its_records() -> None:
    # Found by the property above: a record without a PMID that shares a DOI with one record
    # of the article (PMID 1) but not its title once made the article vanish when it came
    # first, because a title-less record of the article "agreed" with it.
    import itertools

    cands = [
        Candidate(Identifiers(doi="10.1/b"), "a.nbib:1"),
        Candidate(Identifiers(doi="10.1/a", fingerprint="t2|2021|b"), "a.nbib:2"),
        Candidate(Identifiers(pmid="1", doi="10.1/a", fingerprint="t1|2020|a"), "a.nbib:3"),
        Candidate(Identifiers(pmid="1", doi="10.1/b"), "a.nbib:4"),
    ]
    opts = DedupOptions(match=("pmid", "doi"))
    for order in itertools.permutations(cands):
        p = plan(list(order), _index([]), Memory(), opts, library=LIB)
        assert sorted(c.identity for c in p.creates) == ["doi:10.1/a", "pmid:1"], order


def test_records_sharing_a_pmcid_are_one_article() -> None:
    cands = [
        Candidate(Identifiers(pmid="7", pmcid="PMC7", fingerprint="t|2020|a"), "a.nbib:1"),
        Candidate(Identifiers(pmcid="PMC7", fingerprint="t|2020|a"), "a.nbib:9"),
        Candidate(Identifiers(pmid="8", pmcid="PMC7", fingerprint="t|2020|a"), "a.nbib:20"),
    ]
    p = plan(cands, _index([]), Memory(), DedupOptions(), library=LIB)
    # The record without a PMID joins PMID 7; PMID 8 is another article (PMIDs differ).
    assert sorted(c.identity for c in p.creates) == ["pmid:7", "pmid:8"]
    (seven,) = [c for c in p.creates if c.identity == "pmid:7"]
    assert seven.members == (0, 1)


def test_a_record_matched_to_an_item_carries_the_items_pmid_into_the_run() -> None:
    # Found by the PMID property: a record without a PMID matched item K (PMID 2) by DOI; a
    # later batch's record with PMID 1 and that DOI was then "the same article as" it, and
    # article 1 was never created.
    index = _index([KnownItem("AAAAAAAA", Identifiers(pmid="2", doi="10.1/a"))])
    opts = DedupOptions(match=("pmid", "doi"))
    first = plan(
        [Candidate(Identifiers(doi="10.1/a"), "a.nbib:1")], index, Memory(), opts, library=LIB
    )
    second = plan(
        [Candidate(Identifiers(pmid="1", doi="10.1/a"), "a.nbib:9")],
        index,
        Memory(seen_in_run=first.seen),
        opts,
        library=LIB,
    )
    assert [c.identity for c in second.creates] == ["pmid:1"]


def test_a_shared_pmid_is_one_article_in_either_order_whatever_match_says() -> None:
    # Found by the property above: with match = ["doi"], a record with only PMID 1 and one
    # with PMID 1 and the DOI of an item the library holds were two articles in one order.
    only_pmid = Candidate(ids=Identifiers(pmid="1"), where="a.nbib:1")
    with_doi = Candidate(ids=Identifiers(pmid="1", doi="10.1/d"), where="a.nbib:2")
    index = Index([KnownItem(key="AAAAAAAA", ids=Identifiers(doi="10.1/d"), version=0)])
    opts = DedupOptions(match=("doi",), on_duplicate="merge")
    for order in ([only_pmid, with_doi], [with_doi, only_pmid]):
        p = plan(order, index, Memory(), opts, library="users/1")
        assert not p.creates, order
        assert all(isinstance(a, Merge) and a.key == "AAAAAAAA" for a in p.actions)


def test_a_record_agreeing_with_any_record_of_an_article_joins_it_in_every_order() -> None:
    # Found by the order property: a DOI-only record sharing its DOI with one record of PMID 2
    # (another title) and its title with another record of PMID 2 was a separate article in
    # some orders, and in the others the PMID article was dropped as its duplicate.
    import itertools

    title_only = Candidate(ids=Identifiers(fingerprint="t1|2020|a"), where="a.nbib:1")
    with_doi = Candidate(
        ids=Identifiers(pmid="2", doi="10.1/d", fingerprint="t2|2021|b"), where="a.nbib:2"
    )
    doi_only = Candidate(ids=Identifiers(doi="10.1/d", fingerprint="t1|2020|a"), where="a.nbib:3")
    same_pmid = Candidate(ids=Identifiers(pmid="2", fingerprint="t1|2020|a"), where="a.nbib:4")
    opts = DedupOptions(match=("pmid", "doi", "title"), include_trash=False)
    outcomes = {
        tuple(
            sorted(
                c.identity
                for c in plan(list(order), Index([]), Memory(), opts, library=LIB).creates
            )
        )
        for order in itertools.permutations([title_only, with_doi, doi_only, same_pmid])
    }
    assert outcomes == {("pmid:2",)}
