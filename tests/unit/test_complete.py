"""The completion of an item syncd created (syncd.core.complete): what a later record may fill."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.complete import complete, worth_reading, written_digests


def _author(last: str, first: str = "A") -> dict[str, str]:
    return {"creatorType": "author", "lastName": last, "firstName": first}


FULL: dict[str, Any] = {
    "itemType": "journalArticle",
    "title": "A study",
    "creators": [_author("One"), _author("Two"), _author("Three")],
    "publicationTitle": "J Test",
    "volume": "12",
    "issue": "3",
    "pages": "100-110",
    "DOI": "10.1/x",
    "PMID": "123",
    "tags": [{"tag": "x"}],
    "collections": [],
    "relations": {},
}
TRUNCATED = {
    **{k: v for k, v in FULL.items() if k not in ("volume", "issue", "pages")},
    "creators": FULL["creators"][:2],
}


def _server_copy(payload: dict[str, Any]) -> dict[str, Any]:
    """The item as the server sends it back: every field of the type, empty ones as ""."""
    out = {k: "" for k in ("title", "volume", "issue", "pages", "abstractNote", "DOI", "extra")}
    out.update({k: v for k, v in payload.items()})
    out["key"], out["version"] = "ABCD2345", 7
    return out


def test_a_truncated_item_gets_the_missing_author_and_fields() -> None:
    done = complete(_server_copy(TRUNCATED), written_digests(TRUNCATED), FULL)
    assert done is not None
    assert done.patch == {
        "creators": FULL["creators"],
        "volume": "12",
        "issue": "3",
        "pages": "100-110",
    }
    assert done.fields == ["creators", "issue", "pages", "volume"]


def test_the_same_record_again_completes_nothing_and_needs_no_read() -> None:
    assert complete(_server_copy(FULL), written_digests(FULL), FULL) is None
    assert not worth_reading(written_digests(FULL), FULL)
    assert worth_reading(written_digests(TRUNCATED), FULL)
    # An older, shorter record offers nothing that syncd did not write.
    assert not worth_reading(written_digests(FULL), TRUNCATED)


def test_a_field_the_user_edited_or_cleared_stays() -> None:
    item = _server_copy(TRUNCATED)
    item["title"] = "My own title"
    item["pages"] = "e5"  # the user filled in pages syncd never wrote
    new = {**FULL, "title": "A study (corrected)"}
    done = complete(item, written_digests(TRUNCATED), new)
    assert done is not None
    assert "title" not in done.patch and "pages" not in done.patch
    assert done.patch["volume"] == "12"
    cleared = {**_server_copy(TRUNCATED), "DOI": ""}
    done = complete(cleared, written_digests(TRUNCATED), {**FULL, "DOI": "10.1/y"})
    assert done is not None and "DOI" not in done.patch


def test_a_value_still_as_syncd_wrote_it_takes_the_later_one() -> None:
    new = {**TRUNCATED, "abstractNote": "Full abstract."}
    old = {**TRUNCATED, "abstractNote": "Full"}
    done = complete(_server_copy(old), written_digests(old), new)
    assert done is not None and done.patch == {"abstractNote": "Full abstract."}


def test_creators_the_user_changed_are_not_touched() -> None:
    item = _server_copy(TRUNCATED)
    item["creators"] = [_author("One"), _author("Two", "B")]  # a first name corrected
    done = complete(item, written_digests(TRUNCATED), FULL)
    assert done is not None and "creators" not in done.patch
    # Not a prefix of the new list: left alone too.
    reordered = {**FULL, "creators": [_author("Two"), _author("One"), _author("Three")]}
    done = complete(_server_copy(TRUNCATED), written_digests(TRUNCATED), reordered)
    assert done is not None and "creators" not in done.patch
    # The server's key order and empty parts do not count as a change.
    item = _server_copy(TRUNCATED)
    item["creators"] = [{**dict(reversed(list(c.items()))), "name": ""} for c in item["creators"]]
    done = complete(item, written_digests(TRUNCATED), FULL)
    assert done is not None and done.patch["creators"] == FULL["creators"]


def test_another_item_type_tags_and_collections_are_never_completed() -> None:
    item = {**_server_copy(TRUNCATED), "itemType": "preprint"}
    assert complete(item, written_digests(TRUNCATED), FULL) is None
    new = {**TRUNCATED, "tags": [{"tag": "y"}], "collections": ["COLL1234"]}
    assert complete(_server_copy(TRUNCATED), written_digests(TRUNCATED), new) is None


# ---- the property: a field the user changed is never overwritten ----------------------------

FIELDS = ("title", "volume", "issue", "pages", "abstractNote", "DOI", "extra", "creators")
values = st.one_of(st.just(""), st.text(max_size=4))
creator_lists = st.lists(
    st.builds(_author, st.sampled_from(["One", "Two", "Three", "Four"])), max_size=4
)


def _value(name: str) -> st.SearchStrategy[Any]:
    return creator_lists if name == "creators" else values


items = st.fixed_dictionaries(
    {"itemType": st.just("journalArticle")}, optional={f: _value(f) for f in FIELDS}
)


@given(written=items, new=items, edits=st.dictionaries(st.sampled_from(FIELDS), values))
def test_a_field_the_user_changed_is_never_overwritten(
    written: dict[str, Any], new: dict[str, Any], edits: dict[str, Any]
) -> None:
    current = _server_copy(written)
    changed = set()
    for name, value in edits.items():
        if name == "creators":
            value = [_author(value)] if value else []
        if (value or "") != (current.get(name) or ""):  # empty is empty, whatever its type
            current[name] = value
            changed.add(name)
    done = complete(current, written_digests(written), new)
    if not worth_reading(written_digests(written), new):
        assert done is None  # so skipping the read of such an item loses nothing
    if done is None:
        return
    for name in done.patch:
        assert name not in changed, (name, current.get(name), written.get(name))
        assert done.patch[name] == new[name]
    # Applying it leaves nothing more to do with the same record.
    after = {**current, **done.patch}
    digests = {**written_digests(written), **done.digests}
    assert complete(after, digests, new) is None
