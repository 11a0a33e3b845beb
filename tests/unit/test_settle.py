"""Settling a row an interrupted run left pending (syncd.core.settle), case by case."""

from __future__ import annotations

from syncd.core.dedup import DedupOptions, Index, KnownItem
from syncd.core.identity import Identifiers
from syncd.core.settle import Settled, settle

LIB = "users/1"
KEY = "ABCD2345"
ART = Identifiers(pmid="1", doi="10.1/x")


def run(index: Index, deleted: set[str] = frozenset(), has_item: bool = True) -> Settled:  # type: ignore[assignment]
    return settle(KEY, ART, has_item, index, deleted, DedupOptions(), library=LIB)


def test_the_item_under_its_key_is_this_article_created_uncertain() -> None:
    s = run(Index([KnownItem(KEY, Identifiers(pmid="1"))]))
    assert (s.status, s.key, s.outcome, s.uncertain) == ("pushed", KEY, "created", True)


def test_its_key_deleted_means_created_then_deleted_by_the_user() -> None:
    s = run(Index(), {KEY})
    assert (s.status, s.outcome, s.uncertain) == ("pushed", "created", False)
    assert "deleted in Zotero" in s.reason


def test_another_item_holds_the_article_a_duplicate_of_it() -> None:
    s = run(Index([KnownItem("OTHER234", Identifiers(doi="10.1/x"))]))
    assert (s.status, s.key, s.outcome) == ("duplicate", "OTHER234", "duplicate")
    assert s.reason == "DOI 10.1/x is item OTHER234"


def test_another_article_under_its_key_is_not_this_one() -> None:
    # The key is taken by an item with another PMID: not this article's write.
    s = run(Index([KnownItem(KEY, Identifiers(pmid="2"))]))
    assert s.status == "resend"


def test_nothing_known_resend_or_fail_without_the_item() -> None:
    assert run(Index()).status == "resend"
    s = run(Index(), has_item=False)
    assert (s.status, s.outcome) == ("failed", "failed")
