"""Contract: the write and sync semantics a daemon relies on, through pyzotero 1.16.

Version arithmetic, PATCH-merge, trash, batch deletes, normalisation and limits, each as
../shared/docs/zotero-api.md (section cited) and its addendum describe the real server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from pyzotero import zotero_errors as ze
from pyzotero.zotero import Zotero

from syncd.sandbox import SandboxServer
from tests.contract.conftest import article, create_ok, last_modified

# --- version arithmetic -----------------------------------------------------------------------


def test_reposting_an_item_unchanged_still_advances_the_library(zot: Zotero) -> None:
    # zotero-api.md 2.3 / 6.1-6.2: unchanged objects are reported in `unchanged` and still take
    # a version; the addendum: without `tags` it is unchanged.
    (key,) = create_ok(zot, [article("Same", tags=[])])
    item = zot.item(key)
    before = zot.last_modified_version()
    data = {k: v for k, v in item["data"].items() if k not in ("tags", "dateModified")}
    report = zot.create_items([data])
    assert report["unchanged"] == {"0": key}
    assert report["success"] == {} and report["failed"] == {}
    assert last_modified(zot) == before + 1


def test_reposting_with_tags_counts_as_a_change(zot: Zotero) -> None:
    # Addendum: "Re-posting an item with a non-empty tags array counts as a change even when the
    # tags are identical (new item version, reported in successful)".
    (key,) = create_ok(zot, [article("Tagged", tags=[{"tag": "t"}])])
    item = zot.item(key)
    report = zot.create_items([item["data"]])
    assert report["success"] == {"0": key}
    assert report["successful"]["0"]["version"] == item["version"] + 1


def test_post_with_key_and_version_merges_like_patch(zot: Zotero) -> None:
    # zotero-api.md 1.3 step 4: an existing key means PATCH semantics (omitted fields kept).
    (key,) = create_ok(zot, [article("Merge me", DOI="10.1/keep", volume="7")])
    version = zot.item(key)["version"]
    report = zot.create_items([{"key": key, "version": version, "title": "Merged"}])
    assert report["success"] == {"0": key}
    data = zot.item(key)["data"]
    assert (data["title"], data["DOI"], data["volume"]) == ("Merged", "10.1/keep", "7")


def test_update_items_posts_versioned_batches(zot: Zotero) -> None:
    # zotero-api.md 4.6: update_items → POST chunks with each object's own version.
    keys = create_ok(zot, [article(f"Batch {n}") for n in range(3)])
    items = [zot.item(k) for k in keys]
    for item in items:
        item["data"]["extra"] = f"PMID: {item['key']}"
    assert zot.update_items([i["data"] for i in items]) is True
    assert zot.request is not None
    assert sorted(zot.request.json()["success"].values()) == sorted(keys)
    assert {i["data"]["extra"] for i in zot.items()} == {f"PMID: {k}" for k in keys}


def test_noop_patch_answers_the_old_version_but_advances_the_library(zot: Zotero) -> None:
    # Addendum: "PATCH/PUT with no effective change: 204 whose Last-Modified-Version is the old
    # library version, although the library version still advances by one."
    (key,) = create_ok(zot, [article("Still")])
    item = zot.item(key)
    before = zot.last_modified_version()
    assert zot.update_item({"key": key, "version": item["version"], "title": "Still"}) is True
    assert last_modified(zot) == before
    assert zot.last_modified_version() == before + 1


def test_duplicate_keys_in_one_batch(zot: Zotero) -> None:
    # zotero-api.md 6.3: the first creates; a later one with `version: 0` gets 412.
    report = zot.create_items(
        [article("First", key="DPKY2345", version=0), article("Second", key="DPKY2345", version=0)]
    )
    assert report["success"] == {"0": "DPKY2345"}
    assert report["failed"]["1"]["code"] == 412
    assert zot.item("DPKY2345")["data"]["title"] == "First"


def test_only_one_of_concurrent_conditional_writers_wins(make_zot: Callable[..., Zotero]) -> None:
    # zotero-api.md 1.1 step 8: the check and the first write are atomic.
    clients = [make_zot() for _ in range(4)]
    version = clients[0].last_modified_version()
    outcomes: list[str] = []
    start = threading.Barrier(len(clients))

    def write(zot: Zotero, n: int) -> None:
        start.wait()
        try:
            zot.create_items([article(f"Racer {n}")], last_modified=version)
            outcomes.append("won")
        except ze.PreConditionFailedError:
            outcomes.append("412")

    threads = [threading.Thread(target=write, args=(z, n)) for n, z in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["412", "412", "412", "won"]
    assert len(clients[0].items()) == 1


# --- trash and deletes ------------------------------------------------------------------------


def test_trashed_items_are_hidden_unless_asked_for(zot: Zotero) -> None:
    # zotero-api.md 2.1 includeTrashed, 6.11: trash is excluded from /items and `since`, and
    # never listed in /deleted.
    kept, binned = create_ok(zot, [article("Kept"), article("Binned")])
    before = zot.last_modified_version()
    item = zot.item(binned)
    item["data"]["deleted"] = 1
    zot.update_item(item)
    assert [i["key"] for i in zot.items()] == [kept]
    assert zot.item_versions(since=before) == {}
    assert binned in zot.item_versions(since=before, includeTrashed=1)
    assert sorted(i["key"] for i in zot.items(includeTrashed=1)) == sorted([kept, binned])
    assert [i["key"] for i in zot.trash()] == [binned]
    assert zot.item(binned)["data"]["deleted"] == 1
    assert zot.deleted(since=0)["items"] == []


def test_deleting_several_items_at_once(zot: Zotero) -> None:
    # pyzotero's delete_item(list) → DELETE /items?itemKey=a,b with a library-version
    # precondition (addendum: multi-deletes honour the header).
    keys = create_ok(zot, [article(f"Bulk delete {n}") for n in range(3)])
    items = [zot.item(k) for k in keys[:2]]
    library = zot.last_modified_version()
    with pytest.raises(ze.PreConditionFailedError):
        zot.delete_item(items, last_modified=library - 1)
    assert zot.delete_item(items, last_modified=library) is True
    assert [i["key"] for i in zot.items()] == [keys[2]]
    assert sorted(zot.deleted(since=library)["items"]) == sorted(keys[:2])


def test_delete_collection_is_logged(zot: Zotero) -> None:
    report = zot.create_collections([{"name": "Temporary"}])
    ckey = report["success"]["0"]
    before = zot.last_modified_version()
    assert zot.delete_collection(zot.collection(ckey)) is True
    assert zot.collections() == []
    assert zot.deleted(since=before)["collections"] == [ckey]


# --- normalisation and limits (zotero-api.md 1.5, 6.7, 6.9) -----------------------------------


def test_extra_keeps_newlines_and_loses_carriage_returns(zot: Zotero) -> None:
    (key,) = create_ok(zot, [article("Extra", extra="PMID: 123\r\nPMCID: PMC9\tx")])
    assert zot.item(key)["data"]["extra"] == "PMID: 123\nPMCID: PMC9\tx"


def test_journal_article_takes_pmid_and_pmcid_fields(zot: Zotero) -> None:
    # zotero-api.md 3.1 / 3.4: schema >= 34 has PMID and PMCID on journalArticle only.
    (key,) = create_ok(zot, [article("Ids", PMID="12345", PMCID="PMC67890", DOI="10.1/x")])
    data = zot.item(key)["data"]
    assert (data["PMID"], data["PMCID"], data["DOI"]) == ("12345", "PMC67890", "10.1/x")
    report = zot.create_items([{"itemType": "book", "title": "A book", "PMID": "1"}])
    assert report["failed"]["0"] == {
        "code": 400,
        "message": "'PMID' is not a valid field for type 'book'",
    }


def test_wrong_type_field_with_an_empty_value_is_ignored(zot: Zotero) -> None:
    report = zot.create_items([article("Lenient", ISBN="")])
    assert report["failed"] == {}


def test_book_section_needs_book_title_not_publication_title(zot: Zotero) -> None:
    # zotero-api.md 1.5: no base-field mapping on write.
    section: dict[str, Any] = {"itemType": "bookSection", "title": "Chapter"}
    ok = zot.create_items([{**section, "bookTitle": "The Book"}])
    assert ok["failed"] == {}
    bad = zot.create_items([{**section, "publicationTitle": "The Book"}])
    assert bad["failed"]["0"]["message"] == (
        "'publicationTitle' is not a valid field for type 'bookSection'"
    )


def test_field_longer_than_65535_bytes_fails_with_413(zot: Zotero) -> None:
    before = zot.last_modified_version()
    report = zot.create_items([article("Huge", abstractNote="é" * 32768)])
    failure = report["failed"]["0"]
    assert failure["code"] == 413
    assert failure["data"]["field"] == "Abstract"
    assert zot.last_modified_version() == before
    assert zot.create_items([article("Big", abstractNote="e" * 65535)])["failed"] == {}


def test_tag_longer_than_255_characters_fails_with_413(zot: Zotero) -> None:
    tag = "t" * 256
    report = zot.create_items([article("Long tag", tags=[{"tag": tag}])])
    assert report["failed"]["0"]["code"] == 413
    assert report["failed"]["0"]["data"] == {"tag": tag}


def test_creator_validation_messages(zot: Zotero) -> None:
    report = zot.create_items(
        [
            article("No type", creators=[{"firstName": "A", "lastName": "B"}]),
            article("Bad type", creators=[{"creatorType": "wizard", "name": "Merlin"}]),
            article("Both", creators=[{"creatorType": "author", "name": "X", "lastName": "Y"}]),
        ]
    )
    assert {i: f["message"] for i, f in report["failed"].items()} == {
        "0": "creator object must contain 'creatorType'",
        "1": "'wizard' is not a valid creator type",
        "2": "'lastName' and 'name' creator fields are mutually exclusive",
    }


def test_parsed_date_and_creator_summary(zot: Zotero) -> None:
    # 03_create_two_items meta: creatorSummary and parsedDate.
    (key,) = create_ok(
        zot,
        [
            article(
                "Dated",
                date="2012-09-18",
                creators=[
                    {"creatorType": "author", "firstName": "A", "lastName": "Alpha"},
                    {"creatorType": "author", "firstName": "B", "lastName": "Beta"},
                ],
            )
        ],
    )
    meta = zot.item(key)["meta"]
    assert meta["parsedDate"] == "2012-09-18"
    assert meta["creatorSummary"] == "Alpha and Beta"


# --- search and sorting -----------------------------------------------------------------------


def test_quick_search_covers_title_creator_and_year(zot: Zotero) -> None:
    # zotero-api.md 2.4: `q` is a substring over title and creator names, or the year.
    one, two = create_ok(
        zot,
        [
            article("Cardiac outcomes", date="2019-03-01"),
            article(
                "Renal study",
                date="2021",
                creators=[{"creatorType": "author", "firstName": "Émile", "lastName": "Zola"}],
            ),
        ],
    )
    assert [i["key"] for i in zot.items(q="cardiac")] == [one]
    assert [i["key"] for i in zot.items(q="zola")] == [two]
    assert [i["key"] for i in zot.items(q="2021")] == [two]
    assert zot.items(q="10.1234") == []


def test_sort_by_title(zot: Zotero) -> None:
    create_ok(zot, [article("Bravo"), article("Alpha"), article("Charlie")])
    titles = [i["data"]["title"] for i in zot.items(sort="title", direction="asc")]
    assert titles == ["Alpha", "Bravo", "Charlie"]
    titles = [i["data"]["title"] for i in zot.items(sort="title", direction="desc")]
    assert titles == ["Charlie", "Bravo", "Alpha"]


def test_top_children_and_notes(zot: Zotero) -> None:
    (parent,) = create_ok(zot, [article("Parent")])
    note = {"itemType": "note", "note": "<p>A note</p>", "tags": []}
    report = zot.create_items([note], parentid=parent)
    child = report["success"]["0"]
    assert [i["key"] for i in zot.top()] == [parent]
    assert [i["key"] for i in zot.children(parent)] == [child]
    assert zot.item(parent)["meta"]["numChildren"] == 1
    assert sorted(i["key"] for i in zot.items()) == sorted([parent, child])


def test_oob_write_is_seen_by_an_incremental_sync(sandbox: SandboxServer, zot: Zotero) -> None:
    # The daemon's sync pattern (zotero-api.md 2.3): versions since V, then the JSON.
    (mine,) = create_ok(zot, [article("Mine")])
    since = zot.last_modified_version()
    report = sandbox.oob_write("users/1", [article("Theirs", DOI="10.9/theirs")])
    theirs = report["success"]["0"]
    changed = zot.item_versions(since=since, includeTrashed=1)
    assert list(changed) == [theirs]
    assert [i["data"]["DOI"] for i in zot.items(itemKey=",".join(changed))] == ["10.9/theirs"]
    assert mine not in changed


def test_concurrent_writers_get_distinct_consecutive_versions(
    make_zot: Callable[..., Zotero],
) -> None:
    # zotero-api.md 2.3: one library version per object, whoever writes; the library version
    # only goes up.
    clients = [make_zot() for _ in range(4)]
    start = clients[0].last_modified_version()
    reports: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def write(zot: Zotero, n: int) -> None:
        try:
            for batch in range(5):
                items = [article(f"Writer {n} batch {batch} item {i}") for i in range(4)]
                reports.append(zot.create_items(items))
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(z, n)) for n, z in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    versions = sorted(o["version"] for r in reports for o in r["successful"].values())
    assert versions == list(range(start + 1, start + 81))
    assert clients[0].last_modified_version() == start + 80
    assert clients[0].item_versions() == {
        o["key"]: o["version"] for r in reports for o in r["successful"].values()
    }
