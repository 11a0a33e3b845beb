"""The dedup decision, one article at a time."""

from __future__ import annotations

from syncd.core.dedup import (
    DedupOptions,
    Deleted,
    Duplicate,
    Index,
    KnownItem,
    New,
    Unidentified,
    decide,
    dedup_keys,
    identity,
)
from syncd.core.identity import Identifiers
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
    seen = {"pmid:1": ("CCCCCCCC", "a.nbib:10")}
    d = run(ids("1"), seen=seen)
    assert d == Duplicate("CCCCCCCC", "same article as a.nbib:10", "run")
    own = {"pmid:2": ("DDDDDDDD", "pending"), "pmid:3": ("EEEEEEEE", "pushed")}
    assert run(ids("2"), own=own) == New("DDDDDDDD", "pmid:2", adopted=True)
    d = run(ids("3"), own=own)
    assert isinstance(d, Duplicate) and d.origin == "syncd" and d.key == "EEEEEEEE"


def test_deleted_own_is_respected_unless_recreate() -> None:
    deleted = {"pmid:5": "FFFFFFFF"}
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
    d = run(ids("2"), index, own={"pmid:2": (key, "pending")})
    assert d == New(item_key(LIB, "pmid:2", 1), "pmid:2")
    # Held by the same article: it is in the library already.
    index = Index([KnownItem(key, ids("2"))])
    assert isinstance(run(ids("2"), index, own={"pmid:2": (key, "pending")}), Duplicate)
