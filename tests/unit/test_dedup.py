"""The dedup decision, one article at a time."""

from __future__ import annotations

from syncd.core.dedup import (
    DedupOptions,
    Deleted,
    Duplicate,
    Index,
    KnownItem,
    New,
    Own,
    Possible,
    Seen,
    Unidentified,
    decide,
    dedup_keys,
    identity,
    memory_keys,
    titles_agree,
    unmatched_identities,
    verdict,
)
from syncd.core.identity import Identifiers, fingerprint
from syncd.core.keys import item_key

LIB = "users/1"
OPTS = DedupOptions()


def ids(pmid: str | None = None, doi: str | None = None, fp: str | None = None) -> Identifiers:
    return Identifiers(pmid=pmid, doi=doi, fingerprint=fp)


def run(i: Identifiers, index: Index | None = None, opts: DedupOptions = OPTS, **kw):  # type: ignore[no-untyped-def]
    return decide(
        i,
        index or Index(),
        kw.pop("seen", {}),
        kw.pop("deleted_own", {}),
        opts,
        library=LIB,
        **kw,
    )


def test_new_article_gets_the_derived_key() -> None:
    assert run(ids("123")) == New(item_key(LIB, "pmid:123"), "pmid:123")
    assert run(ids(doi="10.1/x")) == New(item_key(LIB, "doi:10.1/x"), "doi:10.1/x")
    assert run(ids(fp="t|2020|a")).key == item_key(LIB, "title:t|2020|a")  # type: ignore[union-attr]


def test_identity_prefers_pmid_then_doi_then_fingerprint() -> None:
    assert identity(ids("1", "10.1/x", "f")) == "pmid:1"
    assert identity(ids(None, "10.1/x", "f")) == "doi:10.1/x"
    assert identity(ids()) is None
    assert dedup_keys(ids("1", "10.1/x", "f"), ("doi", "pmid")) == ["pmid:1", "doi:10.1/x"]


def test_match_by_pmid_or_doi_in_the_index() -> None:
    index = Index([KnownItem("AAAAAAAA", ids("1")), KnownItem("BBBBBBBB", ids(doi="10.1/x"))])
    d = run(ids("1", "10.9/other"), index)
    assert isinstance(d, Duplicate) and d.key == "AAAAAAAA" and "PMID 1" in d.reason
    d = run(ids("2", "10.1/x"), index)
    assert isinstance(d, Duplicate) and d.key == "BBBBBBBB" and "DOI 10.1/x" in d.reason
    # PMID wins over DOI when both match different items.
    assert run(ids("1", "10.1/x"), index).key == "AAAAAAAA"  # type: ignore[union-attr]


def test_match_kinds_follow_the_options() -> None:
    index = Index([KnownItem("BBBBBBBB", ids(doi="10.1/x"))])
    assert isinstance(run(ids("2", "10.1/x"), index, DedupOptions(match=("pmid",))), New)


def test_trash_counts_unless_turned_off_and_then_the_key_moves_on() -> None:
    own_key = item_key(LIB, "pmid:1")
    index = Index([KnownItem(own_key, ids("1"), trashed=True)])
    d = run(ids("1"), index)
    assert isinstance(d, Duplicate) and "in the trash" in d.reason
    d = run(ids("1"), index, DedupOptions(include_trash=False))
    # The derived key belongs to the trashed item, so the new one takes the next key.
    assert d == New(item_key(LIB, "pmid:1", 1), "pmid:1")


def test_title_fingerprint_only_when_nothing_disagrees() -> None:
    index = Index([KnownItem("AAAAAAAA", ids("7", fp="t|2020|a"))])
    opts = DedupOptions(match=("pmid", "doi", "title"))
    assert run(ids(fp="t|2020|a"), index, opts).key == "AAAAAAAA"  # type: ignore[union-attr]
    assert isinstance(run(ids("8", fp="t|2020|a"), index, opts), New)
    assert isinstance(run(ids(fp="t|2020|a"), index), New)  # title not in match


def test_seen_in_run_and_own_records() -> None:
    seen = {"pmid:1": Seen("CCCCCCCC", "a.nbib:10")}
    d = run(ids("1"), seen=seen)
    assert d == Duplicate("CCCCCCCC", "same article as a.nbib:10", "run")
    own = {"pmid:2": Own("DDDDDDDD", "pending"), "pmid:3": Own("EEEEEEEE", "pushed")}
    assert run(ids("2"), own=own) == New("DDDDDDDD", "pmid:2", adopted=True)
    d = run(ids("3"), own=own)
    assert isinstance(d, Duplicate) and d.origin == "syncd" and d.key == "EEEEEEEE"


def test_deleted_own_is_respected_unless_recreate() -> None:
    deleted = {"pmid:5": Own("FFFFFFFF", "pushed")}
    d = run(ids("5"), deleted_own=deleted)
    assert isinstance(d, Deleted) and "recreate_deleted" in d.reason
    d = run(ids("5"), deleted_own=deleted, opts=DedupOptions(recreate_deleted=True))
    assert d == New("FFFFFFFF", "pmid:5", adopted=True)


def test_unidentified() -> None:
    assert isinstance(run(ids()), Unidentified)


def test_taken_keys_are_skipped() -> None:
    key = item_key(LIB, "pmid:9")
    assert run(ids("9"), taken={key}) == New(item_key(LIB, "pmid:9", 1), "pmid:9")


def test_index_add_remove_lookup() -> None:
    index = Index()
    index.add(KnownItem("AAAAAAAA", ids("1", "10.1/x")))
    index.add(KnownItem("AAAAAAAA", ids("2")))  # replaced: old identifiers are forgotten
    assert index.lookup("pmid:1") == [] and [i.key for i in index.lookup("pmid:2")] == ["AAAAAAAA"]
    index.remove("AAAAAAAA")
    assert len(index) == 0 and index.lookup("pmid:2") == [] and "AAAAAAAA" not in index


def test_a_pending_key_taken_by_another_article_is_not_adopted() -> None:
    key = item_key(LIB, "pmid:2")
    index = Index([KnownItem(key, ids("999"))])
    d = run(ids("2"), index, own={"pmid:2": Own(key, "pending")})
    assert d == New(item_key(LIB, "pmid:2", 1), "pmid:2")
    # Held by the same article: it is in the library already.
    index = Index([KnownItem(key, ids("2"))])
    assert isinstance(run(ids("2"), index, own={"pmid:2": Own(key, "pending")}), Duplicate)


# --- issue 18: a PMID that differs vetoes a DOI match ----------------------------------------

SUPP = "10.1093/eurheartj/ehac544"


def art(
    pmid: str | None = None, doi: str | None = SUPP, title: str = "", pmcid: str | None = None
) -> Identifiers:
    fp = fingerprint(title, "2022", "Smith") if title else None
    return Identifiers(pmid=pmid, doi=doi, pmcid=pmcid, fingerprint=fp)


def test_titles_agree_equal_prefix_most_words_or_missing() -> None:
    assert titles_agree("heart failure in the young", "heart failure in the young")
    assert titles_agree("heart failure", "heart failure in the young: a cohort")  # prefix
    # A corrected typo still agrees: 4 of 5 words shared.
    assert titles_agree("heart failure in teh young", "heart failure in the young")
    assert titles_agree(None, "anything")
    assert not titles_agree("heart failure in the young", "atrial fibrillation after surgery")
    # Words shared below 70 % of the shorter title.
    assert not titles_agree("ketamine for depression in adults", "ketamine for pain in children")


def test_verdict_pmid_or_pmcid_that_differs_is_another_article() -> None:
    one = art("36000001", title="Heart failure registry")
    assert verdict("doi", [one], art("36000002", title="Heart failure registry")) == "different"
    assert verdict("doi", [one], art("36000001", title="Something else")) == "same"
    a = art(None, title="Heart failure registry", pmcid="PMC1")
    assert verdict("doi", [a], art(None, title="Heart failure registry", pmcid="PMC2")) == (
        "different"
    )
    # Both without PMID: the titles decide.
    b = art(None, title="Heart failure registry")
    assert verdict("doi", [b], art(None, title="Heart failure registry 2022")) == "same"
    assert verdict("doi", [b], art(None, title="Atrial fibrillation in athletes")) == "possible"
    # One side without PMID.
    assert verdict("doi", [one], art(None, title="Atrial fibrillation in athletes")) == "possible"
    assert verdict("doi", [one], art(None, title="Heart failure registry")) == "same"
    assert verdict("doi", [one], art(None)) == "same"  # no title cannot disagree


def test_record_vs_item_with_another_pmid_sharing_the_doi_is_new() -> None:
    index = Index([KnownItem("AAAAAAAA", art("36000001", title="Heart failure registry"))])
    d = run(art("36000002", title="Atrial fibrillation in athletes"), index)
    assert isinstance(d, New)
    assert d.possible == ()  # different PMIDs: surely another article, nothing to flag
    assert d.key == item_key(LIB, "pmid:36000002")


def test_record_vs_item_one_side_without_pmid() -> None:
    index = Index([KnownItem("AAAAAAAA", art(None, title="Heart failure registry"))])
    # Titles agree: the same article.
    d = run(art("36000002", title="Heart failure registry."), index)
    assert isinstance(d, Duplicate) and d.key == "AAAAAAAA"
    # Title a prefix: the same article.
    d = run(art("36000002", title="Heart failure registry: first results"), index)
    assert isinstance(d, Duplicate) and d.key == "AAAAAAAA"
    # Titles disagree: imported, and flagged as a possible duplicate of the item.
    d = run(art("36000002", title="Atrial fibrillation in athletes"), index)
    assert isinstance(d, New)
    assert d.possible == (Possible("doi", SUPP, "AAAAAAAA"),)
    assert d.possible[0].describe() == (
        f"shares DOI {SUPP} with item AAAAAAAA, whose title differs: imported as a separate article"
    )


def test_record_vs_item_neither_with_pmid() -> None:
    index = Index([KnownItem("AAAAAAAA", art(None, title="Heart failure registry"))])
    assert isinstance(run(art(None, title="HEART failure registry"), index), Duplicate)
    d = run(art(None, title="Atrial fibrillation in athletes"), index)
    assert isinstance(d, New) and [p.key for p in d.possible] == ["AAAAAAAA"]


def test_a_trashed_item_sharing_the_doi() -> None:
    trashed = KnownItem("AAAAAAAA", art(None, title="Heart failure registry"), trashed=True)
    index = Index([trashed])
    other = art("36000002", title="Atrial fibrillation in athletes")
    # Ignored with the trash left out; a possible duplicate when the trash counts.
    d = run(other, index, DedupOptions(include_trash=False))
    assert isinstance(d, New) and d.possible == ()
    d = run(other, index, DedupOptions(include_trash=True))
    assert isinstance(d, New) and [p.key for p in d.possible] == ["AAAAAAAA"]
    d = run(
        art("36000002", title="Heart failure registry"), index, DedupOptions(include_trash=True)
    )
    assert isinstance(d, Duplicate) and d.key == "AAAAAAAA"


def test_seen_in_run_and_own_rows_are_vetoed_by_a_pmid_that_differs() -> None:
    first = art("36000001", title="Heart failure registry")
    seen = {f"doi:{SUPP}": Seen("CCCCCCCC", "supp.nbib:1", first)}
    d = run(art("36000002", title="Atrial fibrillation in athletes"), seen=seen)
    assert isinstance(d, New) and d.possible == ()
    d = run(art(None, title="Atrial fibrillation in athletes"), seen=seen)
    assert isinstance(d, New)
    assert d.possible == (Possible("doi", SUPP, "CCCCCCCC", "supp.nbib:1"),)
    assert "with supp.nbib:1 (item CCCCCCCC)" in d.possible[0].describe()
    d = run(art(None, title="Heart failure registry"), seen=seen)
    assert isinstance(d, Duplicate) and d.reason == "same article as supp.nbib:1"
    own = {f"doi:{SUPP}": Own("DDDDDDDD", "pushed", first)}
    assert isinstance(run(art("36000002"), own=own), New)
    assert isinstance(run(art("36000001"), own=own), Duplicate)
    deleted = {f"doi:{SUPP}": Own("EEEEEEEE", "pushed", first)}
    assert isinstance(run(art("36000002"), deleted_own=deleted), New)
    assert isinstance(run(art(None, title="Heart failure registry"), deleted_own=deleted), Deleted)


def test_a_record_without_a_title_does_not_vouch_for_its_article() -> None:
    # One article (PMID 1) read as two records, one with a title, one without; another record
    # without a PMID shares its DOI but not its title: it stays another article, whichever
    # record of the article is compared first (found by the order property of test_plan).
    titled = Identifiers(pmid="1", doi="10.1/a", fingerprint="t1|2020|a")
    untitled = Identifiers(pmid="1", doi="10.1/b")
    other = Identifiers(doi="10.1/a", fingerprint="t2|2021|b")
    assert verdict("doi", [untitled, titled], other) == "possible"
    assert verdict("doi", [titled, untitled], other) == "possible"
    assert verdict("doi", [untitled], other) == "same"  # nothing says they differ


def test_a_pmcid_is_matched_with_the_pmid() -> None:
    # An item that knows only its PMCID (in Extra) is the article a record names by PMID and
    # PMCID; under match = ["doi"] alone it is not looked at.
    item = KnownItem("PMCITEM2", Identifiers(pmcid="PMC123", fingerprint="t1|2020|a"))
    record = Identifiers(pmid="9", pmcid="PMC123", fingerprint="t1|2020|a")
    found = decide(record, Index([item]), {}, {}, DedupOptions(), library=LIB)
    assert isinstance(found, Duplicate) and found.key == "PMCITEM2"
    assert "PMCID PMC123" in found.reason
    only_doi = DedupOptions(match=("doi",))
    assert not isinstance(decide(record, Index([item]), {}, {}, only_doi, library=LIB), Duplicate)
    # A PMCID shared with a differing title is a possible duplicate, imported apart.
    other = Identifiers(pmid="9", pmcid="PMC123", fingerprint="another paper|2020|a")
    assert verdict("pmcid", [other], item.ids) == "possible"


def test_memory_keys_add_the_identity_that_match_leaves_out() -> None:
    doi_only = Identifiers(doi="10.1/x", fingerprint="f")
    assert memory_keys(doi_only, ["pmid"]) == ["doi:10.1/x"]
    assert memory_keys(doi_only, ["pmid", "doi"]) == ["doi:10.1/x"]
    with_pmid = Identifiers(pmid="1", doi="10.1/y")
    assert memory_keys(with_pmid, ["pmid"]) == ["pmid:1"]
    assert memory_keys(Identifiers(), ["pmid"]) == []


def test_unmatched_identities_name_the_state_column_to_look_them_up_by() -> None:
    doi_only = Identifiers(doi="10.1/x", fingerprint="f")
    title_only = Identifiers(fingerprint="t")
    with_pmid = Identifiers(pmid="1", doi="10.1/y")
    found = unmatched_identities([doi_only, title_only, with_pmid], ["pmid"])
    assert found == {"doi": [doi_only], "fingerprint": [title_only]}
    assert unmatched_identities([doi_only, title_only], ["pmid", "doi", "title"]) == {}


def test_an_earlier_record_with_the_same_identity_is_this_article_whatever_match_says() -> None:
    ids = Identifiers(doi="10.1/x", fingerprint="f")
    seen = {"doi:10.1/x": Seen("KEY00001", "a.nbib:1", ids)}
    options = DedupOptions(match=("pmid",))
    got = decide(ids, Index([]), seen, {}, options, library=LIB)
    assert isinstance(got, Duplicate) and got.key == "KEY00001"
