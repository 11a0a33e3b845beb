"""keep_guard: a refused create goes again unguarded only when other syncd writers moved the
library."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.dedup import KnownItem
from syncd.core.identity import Identifiers
from syncd.core.keys import item_key
from syncd.core.writers import keep_guard, made_by_syncd

LIB = "groups/7"


def _syncd_item(pmid: str, attempt: int = 0, library: str = LIB) -> KnownItem:
    return KnownItem(item_key(library, f"pmid:{pmid}", attempt), Identifiers(pmid=pmid))


def test_an_item_under_its_derived_key_is_syncds() -> None:
    assert made_by_syncd(LIB, _syncd_item("123"))
    assert made_by_syncd(LIB, _syncd_item("123", attempt=2))  # the key after a collision


def test_an_item_under_any_other_key_is_someone_elses() -> None:
    assert not made_by_syncd(LIB, KnownItem("ABCD2345", Identifiers(pmid="123")))
    # The key syncd derives in another library, or for another article.
    assert not made_by_syncd(LIB, _syncd_item("123", library="users/1"))
    assert not made_by_syncd(LIB, KnownItem(_syncd_item("124").key, Identifiers(pmid="123")))
    # No identity at all: nothing syncd could have derived its key from.
    assert not made_by_syncd(LIB, KnownItem("ABCD2345", Identifiers()))


def test_the_guard_goes_only_when_every_change_is_another_syncds() -> None:
    assert not keep_guard(LIB, [_syncd_item("1"), _syncd_item("2")])
    assert keep_guard(LIB, [_syncd_item("1"), KnownItem("ABCD2345", Identifiers(pmid="2"))])
    # The version moved with no item changed (a collection, a deletion): who knows; keep it.
    assert keep_guard(LIB, [])


@given(st.lists(st.integers(1, 10**8).map(str), min_size=1, max_size=20), st.integers(0, 19))
def test_one_foreign_item_among_any_number_of_syncds_keeps_the_guard(
    pmids: list[str], where: int
) -> None:
    items = [_syncd_item(p) for p in pmids]
    items.insert(where % (len(items) + 1), KnownItem("ZZZZ2345", Identifiers(pmid="99")))
    assert keep_guard(LIB, items)
