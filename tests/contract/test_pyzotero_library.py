"""Contract: pyzotero 1.16 reads and writes a sandbox library as it does the real server.

Each test drives pyzotero over real HTTP and compares what comes back with the real exchanges in
../shared/zotero-recorded (cited by file name) or, where no recording covers a case, with
../shared/docs/zotero-api.md (cited by section).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pyzotero import zotero_errors as ze
from pyzotero.zotero import Zotero

from syncd.sandbox import SandboxServer
from tests.contract.conftest import (
    GROUP_ID,
    GROUP_NAME,
    KEY,
    USER_ID,
    USERNAME,
    article,
    create_ok,
    last_modified,
    no_proxy,
    populate,
    recording,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ITEM_KEY = re.compile(r"^[23456789ABCDEFGHIJKLMNPQRSTUVWXYZ]{8}$")


def _without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in names}


# --- keys and templates -----------------------------------------------------------------------


def test_key_info_has_the_recorded_shape(zot: Zotero) -> None:
    # 01b_key_info: GET /keys/<key>, same body as /keys/current.
    expected = recording("01b_key_info")["response"]["body_json"]
    expected["key"] = KEY
    assert zot.key_info() == expected
    assert zot.request is not None
    assert zot.request.headers["zotero-api-version"] == "3"
    assert zot.request.headers["zotero-schema-version"].isdigit()


def test_key_info_lists_per_group_permissions(
    sandbox: SandboxServer, make_zot: Callable[..., Zotero]
) -> None:
    # zotero-api.md 2.5: access.groups has one entry per group id, {library, write}.
    reader = "ReadOnlyGroupKey12345678"
    sandbox.add_key(reader, USER_ID, write=False, groups={GROUP_ID: (True, False)})
    info = make_zot(key=reader).key_info()
    assert info["userID"] == USER_ID
    assert info["access"]["groups"] == {str(GROUP_ID): {"library": True, "write": False}}
    assert info["access"]["user"]["library"] is True
    assert info["access"]["user"].get("write", False) is False


def test_item_template_is_the_recorded_journal_article_template(zot: Zotero) -> None:
    # 02b_item_template: every journalArticle field of schema 41, in schema order.
    expected = recording("02b_item_template")["response"]["body_json"]
    template = zot.item_template("journalArticle")
    assert template == expected
    assert list(template) == list(expected)


def test_empty_library_reads_as_empty(zot: Zotero) -> None:
    # 02a_get_items_empty: [] with Total-Results 0 and a Last-Modified-Version.
    assert zot.items() == []
    assert zot.request is not None
    assert zot.request.headers["total-results"] == "0"
    assert zot.request.headers["last-modified-version"].isdigit()


# --- create and read --------------------------------------------------------------------------


def test_create_two_items_matches_the_recording(zot: Zotero) -> None:
    # 03_create_two_items: one version per object, full objects in `successful`.
    exchange = recording("03_create_two_items")
    before = zot.last_modified_version()
    report = zot.create_items(exchange["request"]["body"])
    recorded = exchange["response"]["body_json"]

    assert set(report) == {"successful", "success", "unchanged", "failed"}
    assert report["unchanged"] == {} and report["failed"] == {}
    assert sorted(report["success"]) == ["0", "1"]
    assert last_modified(zot) == before + 2
    for index, version in (("0", before + 1), ("1", before + 2)):
        got, want = report["successful"][index], recorded["successful"][index]
        key = report["success"][index]
        assert ITEM_KEY.match(key)
        assert got["key"] == got["data"]["key"] == key
        assert got["version"] == got["data"]["version"] == version
        assert got["meta"] == want["meta"]
        assert got["library"]["type"] == "user"
        assert got["library"]["id"] == USER_ID
        assert got["library"]["name"] == USERNAME
        assert got["links"]["self"]["href"] == f"{zot.endpoint}/users/{USER_ID}/items/{key}"
        volatile = ("key", "version", "dateAdded", "dateModified")
        assert _without(got["data"], *volatile) == _without(want["data"], *volatile)
        assert list(got["data"]) == list(want["data"])
        assert TIMESTAMP.match(got["data"]["dateAdded"])
        assert got["data"]["dateModified"] == got["data"]["dateAdded"]


def test_item_reads_back_with_its_own_version(zot: Zotero) -> None:
    # 04b/04c_get_item_N: a single-item GET carries the item's version, not the library's.
    first, second = create_ok(zot, [article("First"), article("Second")])
    item = zot.item(first)
    assert item["key"] == first
    assert item["data"]["title"] == "First"
    assert last_modified(zot) == item["version"]
    assert item["version"] < zot.item(second)["version"] == zot.last_modified_version()


def test_items_lists_everything_with_total_results(zot: Zotero) -> None:
    # 04a_get_items and 04d_get_items_by_keys.
    keys = create_ok(zot, [article(f"Article {n}") for n in range(3)])
    listed = zot.items()
    assert sorted(i["key"] for i in listed) == sorted(keys)
    assert zot.request is not None
    assert zot.request.headers["total-results"] == "3"
    picked = zot.items(itemKey=f"{keys[0]},{keys[2]}")
    assert sorted(i["key"] for i in picked) == sorted([keys[0], keys[2]])


def test_posting_a_client_key_with_version_zero_creates_that_key(zot: Zotero) -> None:
    # zotero-api.md 1.3 step 4-5 and 7.1: the daemon's idempotent create.
    report = zot.create_items([article("Keyed", key="ABCD2345", version=0)])
    assert report["success"] == {"0": "ABCD2345"}
    assert zot.item("ABCD2345")["data"]["title"] == "Keyed"


def test_strings_are_trimmed_and_empty_tags_dropped(zot: Zotero) -> None:
    # zotero-api.md 1.5 and 6.7 (normalisation).
    (key,) = create_ok(
        zot, [article("  Padded title  ", tags=[{"tag": " spaced "}, {"tag": "   "}])]
    )
    data = zot.item(key)["data"]
    assert data["title"] == "Padded title"
    assert data["tags"] == [{"tag": "spaced"}]


# --- tags -------------------------------------------------------------------------------------


def test_tags_and_tag_filters_match_the_recordings(zot: Zotero) -> None:
    # 04e_get_items_top_tag_beta, 04f_get_tags; zotero-api.md 2.1 (case-insensitive, boolean).
    one, two = create_ok(zot, recording("03_create_two_items")["request"]["body"])
    assert sorted(zot.tags()) == ["alpha", "beta", "beta", "gamma"]
    assert sorted(i["key"] for i in zot.items(tag="beta")) == sorted([one, two])
    assert sorted(i["key"] for i in zot.items(tag="BETA")) == sorted([one, two])
    assert [i["key"] for i in zot.items(tag="alpha")] == [one]
    assert sorted(i["key"] for i in zot.items(tag="alpha || gamma")) == sorted([one, two])
    assert [i["key"] for i in zot.items(tag="-alpha")] == [two]
    assert zot.items(tag="delta") == []


# --- update and delete ------------------------------------------------------------------------


def test_update_item_patches_and_bumps_the_version(zot: Zotero) -> None:
    # 10a_update_item_1/_2: /itemFields first, then PATCH with If-Unmodified-Since-Version: 204.
    (key,) = create_ok(zot, [article("Before", DOI="10.1234/x", tags=[{"tag": "kept"}])])
    item = zot.item(key)
    item["data"]["title"] = "After"
    assert zot.update_item(item) is True
    assert zot.request is not None
    assert zot.request.status_code == 204
    new_version = last_modified(zot)
    assert new_version > item["version"]
    again = zot.item(key)
    assert again["version"] == new_version
    assert again["data"]["title"] == "After"
    assert again["data"]["DOI"] == "10.1234/x"
    assert again["data"]["tags"] == [{"tag": "kept"}]


def test_stale_update_raises_precondition_failed(zot: Zotero) -> None:
    # 10b_update_item_stale: 412 with the found version in the message and the header.
    (key,) = create_ok(zot, [article("Original")])
    stale = zot.item(key)
    fresh = zot.item(key)
    fresh["data"]["title"] = "Changed elsewhere"
    zot.update_item(fresh)
    found = last_modified(zot)
    stale["data"]["title"] = "Lost update"
    with pytest.raises(ze.PreConditionFailedError) as exc:
        zot.update_item(stale)
    assert (
        f"Item has been modified since specified version (expected {stale['version']}, "
        f"found {found})" in str(exc.value)
    )
    assert zot.request is not None
    assert zot.request.headers["last-modified-version"] == str(found)
    assert zot.item(key)["data"]["title"] == "Changed elsewhere"


def test_delete_item_removes_it_and_logs_it_in_deleted(zot: Zotero) -> None:
    # 10c_delete_item and 10d_get_deleted (deleting an item lists no tags).
    one, two = create_ok(zot, recording("03_create_two_items")["request"]["body"])
    before = zot.last_modified_version()
    assert zot.delete_item(zot.item(two)) is True
    deleted_at = last_modified(zot)
    assert deleted_at == before + 1
    with pytest.raises(ze.ResourceNotFoundError):
        zot.item(two)
    assert [i["key"] for i in zot.items()] == [one]
    expected = {"collections": [], "items": [two], "searches": [], "tags": [], "settings": []}
    assert zot.deleted(since=0) == expected
    assert zot.deleted(since=before) == expected
    assert zot.deleted(since=deleted_at)["items"] == []
    assert two not in zot.item_versions()


def test_recreating_a_deleted_key_removes_it_from_deleted(zot: Zotero) -> None:
    # Addendum: "after the item is deleted, the same POST creates it again and removes the key
    # from /deleted".
    zot.create_items([article("Phoenix", key="PHNX2345", version=0)])
    zot.delete_item(zot.item("PHNX2345"))
    assert zot.deleted(since=0)["items"] == ["PHNX2345"]
    report = zot.create_items([article("Phoenix", key="PHNX2345", version=0)])
    assert report["success"] == {"0": "PHNX2345"}
    assert zot.deleted(since=0)["items"] == []


# --- versions, since, paging ------------------------------------------------------------------


def test_versions_and_since(zot: Zotero) -> None:
    # 09a_get_items_versions, 09d_get_items_since_version; `since` is strict (zotero-api.md 2.1).
    a, b, c = create_ok(zot, [article("A"), article("B"), article("C")])
    versions = zot.item_versions()
    assert set(versions) == {a, b, c}
    assert versions[a] < versions[b] < versions[c] == zot.last_modified_version()
    assert zot.item_versions(since=versions[a]) == {b: versions[b], c: versions[c]}
    assert [i["key"] for i in zot.items(since=versions[b])] == [c]
    assert zot.item_versions(since=versions[c]) == {}
    assert zot.items(since=versions[c]) == []


def test_last_modified_version_follows_every_write(zot: Zotero) -> None:
    start = zot.last_modified_version()
    create_ok(zot, [article("One")])
    assert zot.last_modified_version() == start + 1
    create_ok(zot, [article("Two"), article("Three"), article("Four")])
    assert zot.last_modified_version() == start + 4 == last_modified(zot)


def test_fifty_items_get_fifty_consecutive_versions(zot: Zotero) -> None:
    # 08b_create_50_items: 50 successes, versions 6..55 (one per object).
    before = zot.last_modified_version()
    report = zot.create_items([article(f"Bulk {n}") for n in range(50)])
    assert len(report["success"]) == 50
    versions = [report["successful"][str(n)]["version"] for n in range(50)]
    assert versions == list(range(before + 1, before + 51))
    assert last_modified(zot) == before + 50


def test_everything_follows_next_links_past_one_hundred(
    sandbox: SandboxServer, zot: Zotero
) -> None:
    # zotero-api.md 4.5: everything() follows Link rel="next" until there is none.
    keys: list[str] = []
    for start in range(0, 130, 50):
        keys += create_ok(zot, [article(f"Paged {n}") for n in range(start, min(start + 50, 130))])
    sandbox.clear_requests()
    everything = zot.everything(zot.items())
    assert sorted(i["key"] for i in everything) == sorted(keys)
    reads = [r for r in sandbox.requests() if r["path"] == f"/users/{USER_ID}/items"]
    assert [r["query"].get("start", "0") for r in reads] == ["0", "100"]
    assert all(r["query"].get("limit") == "100" for r in reads)


def test_paging_link_header_matches_the_recording(zot: Zotero) -> None:
    # 10f_get_items_limit_paging: first/prev/next/last/alternate, only non-default parameters.
    create_ok(zot, [article(f"Page {n}") for n in range(12)])
    page = zot.items(limit=5, start=5)
    assert len(page) == 5
    assert zot.request is not None
    base = f"{zot.endpoint}/users/{USER_ID}/items"
    assert zot.request.headers["total-results"] == "12"
    assert zot.request.headers["link"] == (
        f'<{base}?limit=5>; rel="first", <{base}?limit=5>; rel="prev", '
        f'<{base}?limit=5&start=10>; rel="next", <{base}?limit=5&start=10>; rel="last", '
        f'<{base}>; rel="alternate"'
    )


def test_limit_is_clamped_to_one_hundred(zot: Zotero) -> None:
    # zotero-api.md 2.1: larger limits are silently clamped to 100.
    for start in range(0, 120, 40):
        create_ok(zot, [article(f"Clamp {n}") for n in range(start, start + 40)])
    assert len(zot.items(limit=500)) == 100


# --- collections ------------------------------------------------------------------------------


def test_collections_create_list_and_hold_items(zot: Zotero) -> None:
    # zotero-api.md 3.6.
    report = zot.create_collections([{"name": "Reading"}])
    assert report["failed"] == {}
    ckey = report["success"]["0"]
    created = report["successful"]["0"]
    assert created["data"] == {
        "key": ckey,
        "version": created["version"],
        "name": "Reading",
        "parentCollection": False,
        "relations": {},
    }
    child = zot.create_collections([{"name": "Sub", "parentCollection": ckey}])
    sub_key = child["success"]["0"]
    listed = {c["key"]: c for c in zot.collections()}
    assert set(listed) == {ckey, sub_key}
    assert listed[sub_key]["data"]["parentCollection"] == ckey

    (item_key,) = create_ok(zot, [article("Collected")])
    assert zot.addto_collection(ckey, zot.item(item_key)) is True
    assert zot.item(item_key)["data"]["collections"] == [ckey]
    assert [i["key"] for i in zot.collection_items(ckey)] == [item_key]
    assert zot.collection_items(sub_key) == []
    assert zot.collection(ckey)["meta"]["numItems"] == 1


def test_item_created_in_a_collection(zot: Zotero) -> None:
    ckey = zot.create_collections([{"name": "Inbox"}])["success"]["0"]
    (key,) = create_ok(zot, [article("Filed", collections=[ckey])])
    assert [i["key"] for i in zot.collection_items(ckey)] == [key]


def test_missing_collection_fails_the_object_with_409(zot: Zotero) -> None:
    # zotero-api.md 1.5 "Collections on items" (409 with data.collection); addendum: no `key`.
    before = zot.last_modified_version()
    report = zot.create_items([article("Orphan", collections=["ZZZZ2345"])])
    assert report["failed"] == {
        "0": {
            "code": 409,
            "message": "Collection ZZZZ2345 not found",
            "data": {"collection": "ZZZZ2345"},
        }
    }
    assert zot.last_modified_version() == before


# --- group libraries --------------------------------------------------------------------------


def test_group_library_is_separate_from_the_user_library(zot: Zotero, group_zot: Zotero) -> None:
    user_before = zot.last_modified_version()
    report = group_zot.create_items([article("In the group")])
    key = report["success"]["0"]
    library = report["successful"]["0"]["library"]
    assert library["type"] == "group"
    assert library["id"] == GROUP_ID
    assert library["name"] == GROUP_NAME
    assert [i["key"] for i in group_zot.items()] == [key]
    assert zot.items() == []
    assert zot.last_modified_version() == user_before
    assert group_zot.item(key)["data"]["title"] == "In the group"
    assert group_zot.item_versions() == {key: last_modified(group_zot)}


def test_group_read_only_key_can_read_but_not_write(
    sandbox: SandboxServer, group_zot: Zotero, make_zot: Callable[..., Zotero]
) -> None:
    # zotero-api.md 1.1 step 7 / Emulator contract 2: 403 `Write access denied`.
    (key,) = create_ok(group_zot, [article("Shared")])
    reader = "GroupReaderKey0123456789"
    sandbox.add_key(reader, USER_ID, groups={GROUP_ID: (True, False)})
    read_only = make_zot(GROUP_ID, "group", reader)
    assert [i["key"] for i in read_only.items()] == [key]
    with pytest.raises(ze.UserNotAuthorisedError, match="Write access denied"):
        read_only.create_items([article("Not allowed")])


def test_key_without_group_access_is_forbidden(
    sandbox: SandboxServer, make_zot: Callable[..., Zotero]
) -> None:
    # Emulator contract 2: 403 `Forbidden` without library access.
    outsider = "NoGroupAccessKey01234567"
    sandbox.add_key(outsider, USER_ID, groups={})
    with pytest.raises(ze.UserNotAuthorisedError):
        make_zot(GROUP_ID, "group", outsider).items()


def test_unknown_group_is_not_found(make_zot: Callable[..., Zotero]) -> None:
    # zotero-api.md 1.1 step 6: missing group → 404.
    with pytest.raises(ze.ResourceNotFoundError):
        make_zot(999, "group").items()


# --- legacy version mode ----------------------------------------------------------------------


def test_per_request_mode_gives_a_batch_one_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # zotero-api.md 6.1 / Emulator contract 10: the pre-2026-03 behaviour behind a switch.
    no_proxy(monkeypatch)
    with SandboxServer(version_mode="per-request") as server:
        populate(server)
        zot = Zotero(USER_ID, "user", KEY)
        zot.endpoint = server.url
        before = zot.last_modified_version()
        report = zot.create_items([article("x"), article("y"), article("z")])
        versions = {report["successful"][str(n)]["version"] for n in range(3)}
        assert versions == {before + 1}
        assert last_modified(zot) == before + 1 == server.library_version(f"users/{USER_ID}")


def test_everything_keeps_since_in_the_next_links(sandbox: SandboxServer, zot: Zotero) -> None:
    # zotero-api.md 2.2: `since` and `limit` are repeated in the next link.
    first = create_ok(zot, [article("Before the mark")])
    mark = last_modified(zot)
    keys: list[str] = []
    for start in range(0, 110, 50):
        keys += create_ok(zot, [article(f"After {n}") for n in range(start, min(start + 50, 110))])
    sandbox.clear_requests()
    changed = zot.everything(zot.items(since=mark))
    assert sorted(i["key"] for i in changed) == sorted(keys)
    assert first[0] not in {i["key"] for i in changed}
    follow_up = sandbox.requests()[-1]
    assert follow_up["query"]["since"] == str(mark)
    assert follow_up["query"]["start"] == "100"


def test_everything_pages_collections_and_tags(zot: Zotero) -> None:
    names = [f"Collection {n:03}" for n in range(105)]
    for start in range(0, 105, 50):
        report = zot.create_collections([{"name": n} for n in names[start : start + 50]])
        assert report["failed"] == {}
    assert sorted(c["data"]["name"] for c in zot.everything(zot.collections())) == names
    tags = [{"tag": f"tag-{n:03}"} for n in range(105)]
    create_ok(zot, [article("Many tags", tags=tags)])
    assert sorted(zot.everything(zot.tags())) == [t["tag"] for t in tags]


def test_all_groups_means_the_users_own_groups(
    sandbox: SandboxServer, make_zot: Callable[..., Zotero]
) -> None:
    # zotero-api.md 2.5: `groups.all` = all of the user's groups, not every group.
    sandbox.add_user(5, "member")
    sandbox.add_group(3, "Club", owner=USER_ID, members=[5])
    member_key = "MemberKey012345678901234"
    sandbox.add_key(member_key, 5)
    assert make_zot(3, "group", member_key).items() == []
    with pytest.raises(ze.UserNotAuthorisedError):
        make_zot(GROUP_ID, "group", member_key).items()


# --- the item types a PubMed import uses (zotero-api.md 3.1, 3.2) -----------------------------

_FIELDS = {
    "journalArticle": (
        "title abstractNote publicationTitle publisher place date volume issue section "
        "partNumber partTitle pages series seriesTitle seriesText journalAbbreviation DOI "
        "citationKey url accessDate PMID PMCID ISSN archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
    "book": (
        "title abstractNote series seriesNumber volume numberOfVolumes edition date publisher "
        "place originalDate originalPublisher originalPlace format numPages ISBN DOI citationKey "
        "url accessDate ISSN archive archiveLocation shortTitle language libraryCatalog "
        "callNumber rights extra"
    ),
    "bookSection": (
        "title abstractNote bookTitle series seriesNumber volume numberOfVolumes edition date "
        "publisher place originalDate originalPublisher originalPlace format pages ISBN DOI "
        "citationKey url accessDate ISSN archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
}
_CREATOR_TYPES = {
    "journalArticle": ["author", "contributor", "editor", "translator", "reviewedAuthor"],
    "book": ["author", "contributor", "editor", "translator", "seriesEditor"],
    "bookSection": ["author", "contributor", "editor", "bookAuthor", "translator", "seriesEditor"],
}


@pytest.mark.parametrize("item_type", sorted(_FIELDS))
def test_templates_fields_and_creator_types_of_schema_41(zot: Zotero, item_type: str) -> None:
    fields = _FIELDS[item_type].split()
    template = zot.item_template(item_type)
    assert list(template) == [
        "itemType",
        fields[0],
        "creators",
        *fields[1:],
        "tags",
        "collections",
        "relations",
    ]
    assert template["itemType"] == item_type
    assert template["creators"] == [{"creatorType": "author", "firstName": "", "lastName": ""}]
    assert [f["field"] for f in zot.item_type_fields(item_type)] == fields
    creator_types = [c["creatorType"] for c in zot.item_creator_types(item_type)]
    assert creator_types[0] == "author"  # the primary type comes first
    assert sorted(creator_types) == sorted(_CREATOR_TYPES[item_type])
