"""Writes: version arithmetic, preconditions, write tokens, limits, key/version rules,
validation messages, PATCH semantics and racing writers."""

from __future__ import annotations

import threading
import time

import pytest

from syncd.sandbox import SandboxServer
from tests.sandbox.conftest import KEY, USER, Client, article, populate

ITEMS = f"/users/{USER}/items"


def test_each_object_bumps_the_version_and_failures_do_not(client: Client) -> None:
    reply = client.post(ITEMS, [article("a"), article("b", notAField=1), article("c")])
    body = reply.json
    assert set(body) == {"successful", "success", "unchanged", "failed"}
    assert body["successful"]["0"]["version"] == 1
    assert body["successful"]["2"]["version"] == 2
    assert body["failed"] == {"1": {"code": 400, "message": "Invalid property 'notAField'"}}
    assert reply.version() == 2


def test_unchanged_objects_still_bump_the_library(client: Client) -> None:
    key = client.post(ITEMS, [article("same")]).json["success"]["0"]
    again = client.post(
        ITEMS, [{"key": key, "version": 1, "title": "same"}, {"key": key, "version": 1}]
    )
    assert again.json["unchanged"] == {"0": key, "1": key}
    assert again.version() == 3
    # ...but the item keeps its version.
    assert client.get(f"{ITEMS}/{key}").version() == 1


def test_identical_tags_count_as_a_change(client: Client) -> None:
    key = client.post(ITEMS, [article("t", tags=[{"tag": "x"}])]).json["success"]["0"]
    reply = client.post(ITEMS, [{"key": key, "version": 1, "tags": [{"tag": "x"}]}])
    assert reply.json["success"] == {"0": key}
    assert reply.json["successful"]["0"]["version"] == 2


def test_legacy_mode_bumps_once_per_request() -> None:
    server = SandboxServer(version_mode="per-request")
    populate(server)
    with server:
        client = Client(server.url)
        reply = client.post(ITEMS, [article("a"), article("b"), article("c")])
        versions = {o["version"] for o in reply.json["successful"].values()}
        assert versions == {1} and reply.version() == 1


def test_if_unmodified_since_version(client: Client) -> None:
    client.post(ITEMS, [article("a"), article("b")])
    stale = client.post(ITEMS, [article()], headers={"If-Unmodified-Since-Version": "1"})
    assert stale.status == 412
    assert stale.text == "Library has been modified since specified version (expected 1, found 2)"
    assert "last-modified-version" not in stale.headers
    bad = client.post(ITEMS, [article()], headers={"If-Unmodified-Since-Version": "x"})
    assert (bad.status, bad.text) == (400, "Invalid If-Unmodified-Since-Version value")
    assert "last-modified-version" not in bad.headers
    ok = client.post(ITEMS, [article()], headers={"If-Unmodified-Since-Version": "2"})
    assert ok.status == 200 and ok.version() == 3


def _race(client: Client, version: int, writers: int = 6) -> list[int]:
    barrier = threading.Barrier(writers)
    statuses: list[int] = []

    def write(i: int) -> None:
        barrier.wait()
        reply = client.post(
            ITEMS,
            [article(f"racer {i}-{j}") for j in range(20)],
            headers={"If-Unmodified-Since-Version": str(version)},
        )
        statuses.append(reply.status)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_racing_writers_with_the_same_precondition_only_one_wins(client: Client) -> None:
    for _ in range(3):
        version = client.get(ITEMS).version() or 0
        assert _race(client, version) == [200, 412, 412, 412, 412, 412]
        assert client.get(ITEMS).version() == version + 20


def test_request_level_body_checks(client: Client) -> None:
    assert client.post(ITEMS, b"").text == "POST data not provided"
    assert client.post(ITEMS, b"{not json").text == "JSON Error: Syntax error, malformed JSON"
    assert client.post(ITEMS, {"a": 1}).text == "Uploaded data must be a JSON array"
    deep: object = 1
    for _ in range(20):
        deep = [deep]
    assert client.post(ITEMS, deep).text == "JSON Error: Maximum stack depth exceeded"
    too_many = client.post(ITEMS, [article(str(i)) for i in range(51)])
    assert (too_many.status, too_many.text) == (413, "Cannot add more than 50 items at a time")
    assert client.get(ITEMS).version() == 0
    fifty = client.post(ITEMS, [article(str(i)) for i in range(50)])
    assert len(fifty.json["success"]) == 50 and fifty.version() == 50
    empty = client.post(ITEMS, [])
    assert empty.status == 200 and empty.json == {
        "successful": {},
        "success": {},
        "unchanged": {},
        "failed": {},
    }


def test_write_token(client: Client) -> None:
    token = {"Zotero-Write-Token": "0123456789abcdef0123456789abcdef"}
    assert client.post(ITEMS, [article()], headers=token).status == 200
    repeat = client.post(ITEMS, [article()], headers=token)
    assert (repeat.status, repeat.text) == (412, "Write token already used")
    assert "zotero-api-version" not in repeat.headers
    # Scoped per key, across endpoints.
    coll = client.post(f"/users/{USER}/collections", [{"name": "c"}], headers=token)
    assert coll.status == 412
    short = client.post(ITEMS, [article()], headers={"Zotero-Write-Token": "abcd"})
    assert (short.status, short.text) == (400, "Write token must be 5-32 characters in length")


def test_write_token_not_recorded_when_the_last_object_failed(client: Client) -> None:
    token = {"Zotero-Write-Token": "failedlast12345"}
    first = client.post(ITEMS, [article(), article(bad=1)], headers=token)
    assert first.json["failed"]
    assert client.post(ITEMS, [article()], headers=token).status == 200
    assert client.post(ITEMS, [article()], headers=token).status == 412


def test_write_token_expires() -> None:
    server = SandboxServer(write_token_ttl=0.2)
    populate(server)
    with server:
        client = Client(server.url)
        token = {"Zotero-Write-Token": "expiring-token"}
        assert client.post(ITEMS, [article()], headers=token).status == 200
        assert client.post(ITEMS, [article()], headers=token).status == 412
        time.sleep(0.3)
        assert client.post(ITEMS, [article()], headers=token).status == 200


def test_client_keys_and_versions(client: Client) -> None:
    created = client.post(ITEMS, [article("keyed", key="ABCD2345", version=0)])
    assert created.json["success"] == {"0": "ABCD2345"}
    again = client.post(ITEMS, [article("keyed", key="ABCD2345", version=0)])
    assert again.json["failed"]["0"] == {
        "code": 412,
        "message": "Item has been modified since specified version (expected 0, found 1)",
    }
    missing = client.post(ITEMS, [article(key="WXYZ2345", version=3)])
    assert missing.json["failed"]["0"] == {
        "code": 404,
        "message": "Item doesn't exist (expected version 3; use 0 instead)",
    }
    no_version = client.post(ITEMS, [article(key="ABCD2345")])
    assert no_version.json["failed"]["0"]["code"] == 428
    assert no_version.json["failed"]["0"]["message"] == (
        "Either If-Unmodified-Since-Version or 'version' property must be provided "
        "for 'key'-based writes"
    )
    header = {"If-Unmodified-Since-Version": str(client.get(ITEMS).version())}
    merged = client.post(ITEMS, [{"key": "ABCD2345", "volume": "7"}], headers=header)
    assert merged.json["success"] == {"0": "ABCD2345"}
    data = client.get(f"{ITEMS}/ABCD2345").json["data"]
    assert (data["title"], data["volume"]) == ("keyed", "7")  # PATCH semantics
    bad_key = client.post(ITEMS, [article(key="ONCE2345", version=0)])
    assert bad_key.json["failed"]["0"]["message"] == "'ONCE2345' is not a valid item key"
    orphan_version = client.post(ITEMS, [article(version=0)])
    assert orphan_version.json["failed"]["0"]["message"] == (
        "'version' is valid only if item key is provided"
    )


def test_recreating_a_deleted_key(client: Client) -> None:
    client.post(ITEMS, [article("first life", key="BCDF2345", version=0)])
    deleted = client.call(
        "DELETE", f"{ITEMS}/BCDF2345", headers={"If-Unmodified-Since-Version": "1"}
    )
    assert deleted.status == 204 and deleted.version() == 2
    assert client.get(f"/users/{USER}/deleted?since=0").json["items"] == ["BCDF2345"]
    again = client.post(ITEMS, [article("second life", key="BCDF2345", version=0)])
    assert again.json["success"] == {"0": "BCDF2345"}
    assert client.get(f"/users/{USER}/deleted?since=0").json["items"] == []


def test_duplicate_keys_in_one_batch(client: Client) -> None:
    header = {"If-Unmodified-Since-Version": "0"}
    reply = client.post(
        ITEMS,
        [
            article("one", key="CDFG2345", version=0),
            article("two", key="CDFG2345", version=0),
            {"key": "CDFG2345", "volume": "3"},
        ],
        headers=header,
    )
    body = reply.json
    assert body["success"] == {"0": "CDFG2345", "2": "CDFG2345"}
    assert body["failed"]["1"]["code"] == 412
    assert client.get(f"{ITEMS}/CDFG2345").json["data"]["volume"] == "3"


@pytest.mark.parametrize(
    ("item", "code", "message"),
    [
        ({"title": "x"}, 400, "'itemType' property not provided"),
        ({"itemType": 5}, 400, "'itemType' must be a string"),
        ({"itemType": "notAType"}, 400, "'notAType' is not a valid itemType"),
        (article(foo="x"), 400, "Invalid property 'foo'"),
        (article(ISBN="123"), 400, "'ISBN' is not a valid field for type 'journalArticle'"),
        (article(title=["x"]), 400, "Unexpected array for property 'title'"),
        (article(note="x"), 400, "'note' property is valid only for note and attachment items"),
        (article(contentType="a/b"), 400, "'contentType' is valid only for attachment items"),
        (article(creators={}), 400, "'creators' property must be an array"),
        (article(creators=[{"firstName": "A"}]), 400, "creator object must contain 'creatorType'"),
        (
            article(creators=[{"creatorType": "author", "name": "X"}, {"creatorType": "author"}]),
            400,
            "creator object must contain 'firstName'/'lastName' or 'name'",
        ),
        (
            article(creators=[{"creatorType": "boss", "name": "X"}]),
            400,
            "'boss' is not a valid creator type",
        ),
        (
            article(creators=[{"creatorType": "bookAuthor", "name": "X"}]),
            400,
            "'bookAuthor' is not a valid creator type for item type 'journalArticle'",
        ),
        (
            article(creators=[{"creatorType": "author", "firstName": "A"}]),
            400,
            "'lastName' creator field must be set if 'firstName' is set",
        ),
        (
            article(creators=[{"creatorType": "author", "name": "X", "lastName": "Y"}]),
            400,
            "'lastName' and 'name' creator fields are mutually exclusive",
        ),
        (
            article(creators=[{"creatorType": "author", "name": "X", "x": 1}]),
            400,
            "Invalid creator property 'x'",
        ),
        (article(tags={}), 400, "'tags' property must be an array"),
        (article(tags=["x"]), 400, "Tag must be an object"),
        (article(tags=[{}]), 400, "Tag object is empty"),
        (article(tags=[{"tag": "x", "color": 1}]), 400, "Invalid tag property 'color'"),
        (article(collections="x"), 400, "'collections' property must be an array"),
        (article(collections=["nope"]), 400, "'nope' is not a valid collection key"),
        (article(relations={"x:y": "z"}), 400, "Unsupported predicate 'x:y'"),
        (
            article(accessDate="yesterday"),
            400,
            "'accessDate' must be in ISO 8601 or UTC 'YYYY-MM-DD[ hh:mm:ss]' format or "
            "'CURRENT_TIMESTAMP' (yesterday)",
        ),
        (
            article(dateAdded="soon"),
            400,
            "'dateAdded' must be in ISO 8601 or UTC 'YYYY-MM-DD hh:mm:ss' format (soon)",
        ),
        (article(itemKey="ABCD2345"), 400, "'itemKey' property is now 'key'"),
        # The validation pass over all properties comes before fields are applied.
        (article(bookTitle="x", notAField=1), 400, "Invalid property 'notAField'"),
        (
            article(creators=[{"creatorType": "author", "lastName": "Solo"}]),
            400,
            "'firstName' creator field must be set if 'lastName' is set",
        ),
        (
            article(relations={"dc:relation": "http://example.org/x"}),
            400,
            "'relations' values currently must be Zotero item URIs",
        ),
        (
            {"itemType": "note", "note": "n", "parentItem": "nope"},
            400,
            "'parentItem' must be a valid item key or false",
        ),
        (article(parentItem="ABCD2345"), 400, "Child item must be note, attachment, or annotation"),
        (article(deleted="yes"), 400, "'deleted' must be a boolean"),
    ],
)
def test_validation_messages(client: Client, item: dict, code: int, message: str) -> None:
    reply = client.post(ITEMS, [item])
    assert reply.json["failed"]["0"] == {"code": code, "message": message}
    assert reply.version() == 0


def test_size_limits_and_missing_collection(client: Client) -> None:
    long_title = "x" * 65536
    reply = client.post(ITEMS, [article(long_title)])
    failed = reply.json["failed"]["0"]
    assert failed["code"] == 413 and failed["data"] == {"field": "Title", "value": long_title}
    assert failed["message"].startswith(f"Title field value '{'x' * 50}…' too long for item '")
    tag = "t" * 256
    failed = client.post(ITEMS, [article(tags=[{"tag": tag}])]).json["failed"]["0"]
    assert failed == {"code": 413, "message": f"Tag '{'t' * 50}…' too long", "data": {"tag": tag}}
    failed = client.post(ITEMS, [article(collections=["ABCD2345"])]).json["failed"]["0"]
    assert failed == {
        "code": 409,
        "message": "Collection ABCD2345 not found",
        "data": {"collection": "ABCD2345"},
    }


def test_normalisation(client: Client) -> None:
    reply = client.post(
        ITEMS,
        [
            article(
                "  Padded\r title  ",
                ISBN="",
                date="2024 May 1",
                tags=[{"tag": " a "}, {"tag": "   "}, {"tag": "b", "type": 1}, {"tag": 0}],
                volume=12,
                accessDate="2020-01-02 03:04:05",
                creators=[{"creatorType": "author", "firstName": "", "lastName": ""}],
            )
        ],
    )
    item = reply.json["successful"]["0"]
    data = item["data"]
    assert data["title"] == "Padded title"
    assert data["volume"] == "12"
    assert data["tags"] == [{"tag": "a"}, {"tag": "b", "type": 1}, {"tag": "0"}]
    assert data["creators"] == []  # a lone empty creator (the template's) is dropped
    assert data["accessDate"] == "2020-01-02T03:04:05Z"
    assert item["meta"]["parsedDate"] == "2024-05-01"
    assert list(data)[:5] == ["key", "version", "itemType", "title", "creators"]
    assert data["dateAdded"].endswith("Z") and data["dateModified"] == data["dateAdded"]


def test_patch_put_and_delete_single_items(client: Client) -> None:
    key = client.post(ITEMS, [article("orig", volume="1")]).json["success"]["0"]
    url = f"{ITEMS}/{key}"
    need = client.call("PATCH", url, {"title": "new"})
    assert need.status == 428
    stale = client.call(
        "PATCH", url, {"title": "new"}, headers={"If-Unmodified-Since-Version": "0"}
    )
    assert stale.status == 412 and stale.version() == 1
    assert stale.text == "Item has been modified since specified version (expected 0, found 1)"
    ok = client.call("PATCH", url, {"title": "new"}, headers={"If-Unmodified-Since-Version": "1"})
    assert ok.status == 204 and ok.version() == 2
    data = client.get(url).json["data"]
    assert (data["title"], data["volume"]) == ("new", "1")
    # No effective change: 204 with the old version, although the library advances.
    same = client.call("PATCH", url, {"title": "new"}, headers={"If-Unmodified-Since-Version": "2"})
    assert same.status == 204 and same.version() == 2
    assert client.get(ITEMS).version() == 3
    put = client.call(
        "PUT",
        url,
        {
            "itemType": "journalArticle",
            "title": "put",
            "tags": [],
            "collections": [],
            "relations": {},
        },
        headers={"If-Unmodified-Since-Version": "3"},
    )
    assert put.status == 204
    assert client.get(url).json["data"]["volume"] == "1"  # PUT keeps omitted fields
    no_header = client.call("DELETE", url)
    assert no_header.status == 428
    gone = client.call("DELETE", url, headers={"If-Unmodified-Since-Version": "4"})
    assert gone.status == 204
    assert client.get(url).text == "Item does not exist"
    missing = client.call(
        "DELETE", f"{ITEMS}/ZZZZ2345", headers={"If-Unmodified-Since-Version": "0"}
    )
    assert missing.status == 204


def test_multi_delete(client: Client) -> None:
    keys = list(
        client.post(ITEMS, [article("a"), article("b"), article("c")]).json["success"].values()
    )
    reply = client.call("DELETE", f"{ITEMS}?itemKey={keys[0]},{keys[1]}")
    assert reply.status == 204 and reply.version() == 4
    assert list(client.get(f"{ITEMS}?format=versions").json) == [keys[2]]
    stale = client.call(
        "DELETE", f"{ITEMS}?itemKey={keys[2]}", headers={"If-Unmodified-Since-Version": "1"}
    )
    assert stale.status == 412


def test_date_modified_rules(client: Client) -> None:
    given = "2020-01-01T00:00:00Z"
    key = client.post(ITEMS, [article(dateAdded=given, dateModified=given)]).json["success"]["0"]
    data = client.get(f"{ITEMS}/{key}").json["data"]
    assert (data["dateAdded"], data["dateModified"]) == (given, given)
    client.post(f"/users/{USER}/collections", [{"name": "c", "key": "CCCC2345", "version": 0}])
    moved = client.call(
        "PATCH",
        f"{ITEMS}/{key}",
        {"collections": ["CCCC2345"]},
        headers={"If-Unmodified-Since-Version": "2"},
    )
    assert moved.status == 204
    assert client.get(f"{ITEMS}/{key}").json["data"]["dateModified"] == given
    client.call(
        "PATCH", f"{ITEMS}/{key}", {"title": "t2"}, headers={"If-Unmodified-Since-Version": "3"}
    )
    assert client.get(f"{ITEMS}/{key}").json["data"]["dateModified"] != given


def test_pyzotero_round_trip(sandbox: SandboxServer) -> None:
    from pyzotero import zotero

    zot = zotero.Zotero(USER, "user", KEY)
    zot.endpoint = sandbox.url
    template = zot.item_template("book")
    assert template["creators"] == [{"creatorType": "author", "firstName": "", "lastName": ""}]
    template["title"] = "A book"
    result = zot.create_items([template])
    key = result["success"]["0"]
    assert zot.request.headers["Last-Modified-Version"] == "1"
    item = zot.item(key)
    item["data"]["edition"] = "2"
    assert zot.update_item(item["data"]) is True
    assert zot.item(key)["data"]["edition"] == "2"
    assert zot.item_versions() == {key: 2}
