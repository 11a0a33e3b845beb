"""Reads: paging and Link, since, itemKey, trash, tag/itemType/q filters, 304s, /deleted,
collections, tags and the schema endpoints."""

from __future__ import annotations

import re

import pytest

from syncd.sandbox import SandboxServer
from tests.sandbox.conftest import USER, Client, article

LIB = f"/users/{USER}"
ITEMS = f"{LIB}/items"


def _links(reply_link: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="([^"]+)"', reply_link)}


def _make(client: Client, n: int, **extra: object) -> list[str]:
    keys: list[str] = []
    for start in range(0, n, 50):
        batch = [article(f"Item {i}", **extra) for i in range(start, min(n, start + 50))]
        keys += client.post(ITEMS, batch).json["success"].values()
    return keys


def test_limit_start_total_and_links(client: Client) -> None:
    _make(client, 130)
    default = client.get(ITEMS)
    assert len(default.json) == 25 and default.headers["total-results"] == "130"
    clamped = client.get(f"{ITEMS}?limit=500")
    assert len(clamped.json) == 100
    page = client.get(f"{ITEMS}?limit=50&start=50&format=json&locale=en-US")
    links = _links(page.headers["link"])
    base = links["alternate"]
    assert links == {
        "first": f"{base}?limit=50",
        "prev": f"{base}?limit=50",
        "next": f"{base}?limit=50&start=100",
        "last": f"{base}?limit=50&start=100",
        "alternate": base,
    }
    last = client.get(f"{ITEMS}?limit=50&start=100")
    assert "next" not in _links(last.headers["link"]) and len(last.json) == 30
    exact = client.get(f"{ITEMS}?limit=65&start=65")
    assert "next" not in _links(exact.headers["link"])
    since = client.get(f"{ITEMS}?since=10&limit=10")
    assert _links(since.headers["link"])["next"].endswith("?limit=10&since=10&start=10")


def test_keys_and_versions_are_unpaged(client: Client) -> None:
    keys = _make(client, 120)
    versions = client.get(f"{ITEMS}?format=versions")
    assert len(versions.json) == 120 and versions.headers["total-results"] == "120"
    assert versions.json[keys[0]] == 1
    listed = client.get(f"{ITEMS}?format=keys")
    assert listed.headers["content-type"] == "text/plain;charset=UTF-8"
    assert sorted(listed.text.split()) == sorted(keys)


def test_since_is_strict_and_ordering_is_newest_first(client: Client) -> None:
    keys = _make(client, 5)
    versions = client.get(f"{ITEMS}?since=3&format=versions").json
    assert versions == {keys[4]: 5, keys[3]: 4}
    assert list(versions) == [keys[4], keys[3]]
    assert client.get(f"{ITEMS}?since=x").text == "Invalid value for 'since' parameter"


def test_reads_by_key_version_and_page_follow_every_change(client: Client) -> None:
    """Reads by ``itemKey`` and ``since`` look only at those items, and plain pages come from a
    listing cached per library version: each stays right through edits, trash, deletions and
    new items (the same answers as a full scan)."""
    keys = _make(client, 120)
    for round_no in range(3):
        version = int(client.get(f"{ITEMS}?format=versions").headers["last-modified-version"])
        edited, binned, gone = keys[round_no], keys[10 + round_no], keys[20 + round_no]
        headers = {"If-Unmodified-Since-Version": str(version)}
        client.call("PATCH", f"{ITEMS}/{edited}", {"title": f"Edited {round_no}"}, headers=headers)
        headers = {"If-Unmodified-Since-Version": str(version + 1)}
        client.call("PATCH", f"{ITEMS}/{binned}", {"deleted": 1}, headers=headers)
        headers = {"If-Unmodified-Since-Version": str(version + 2)}
        client.call("DELETE", f"{ITEMS}/{gone}", headers=headers)
        keys += _make(client, 2)
        everything = client.get(f"{ITEMS}?includeTrashed=1&format=versions").json
        since = client.get(f"{ITEMS}?since={version}&includeTrashed=1&format=versions").json
        assert since == {k: v for k, v in everything.items() if v > version}
        assert edited in since and binned in since and gone not in since
        assert len(since) == 4
        wanted = [edited, binned, gone, keys[-1]]
        by_key = client.get(f"{ITEMS}?itemKey={','.join(wanted)}&includeTrashed=1").json
        assert sorted(i["key"] for i in by_key) == sorted([edited, binned, keys[-1]])
        pages = [
            i["key"]
            for start in range(0, 200, 50)
            for i in client.get(f"{ITEMS}?limit=50&start={start}&format=json").json
        ]
        live = {k for k in everything if k != binned and k not in keys[10 : 10 + round_no]}
        assert len(pages) == len(set(pages)) and set(pages) == live


def test_item_key_filter_ignores_invalid_keys(client: Client) -> None:
    keys = _make(client, 3)
    reply = client.get(f"{ITEMS}?itemKey={keys[0]},nonsense,{keys[2]}")
    assert sorted(i["key"] for i in reply.json) == sorted([keys[0], keys[2]])


def test_trash(client: Client) -> None:
    keys = _make(client, 2)
    client.call(
        "PATCH", f"{ITEMS}/{keys[0]}", {"deleted": 1}, headers={"If-Unmodified-Since-Version": "2"}
    )
    assert [i["key"] for i in client.get(ITEMS).json] == [keys[1]]
    assert keys[0] not in client.get(f"{ITEMS}?since=2&format=versions").json
    everything = client.get(f"{ITEMS}?includeTrashed=1&format=versions").json
    assert set(everything) == set(keys)
    trash = client.get(f"{ITEMS}/trash").json
    assert [i["key"] for i in trash] == [keys[0]] and trash[0]["data"]["deleted"] == 1
    assert client.get(f"{LIB}/deleted?since=0").json["items"] == []


def test_tag_filters(client: Client) -> None:
    a = client.post(ITEMS, [article("a", tags=[{"tag": "Alpha"}, {"tag": "beta"}])]).json
    b = client.post(ITEMS, [article("b", tags=[{"tag": "beta"}, {"tag": "-dash"}])]).json
    c = client.post(ITEMS, [article("c", tags=[{"tag": "gamma"}])]).json
    ka, kb, kc = (r["success"]["0"] for r in (a, b, c))

    def keys(query: str) -> set[str]:
        return {i["key"] for i in client.get(f"{ITEMS}?{query}").json}

    assert keys("tag=alpha") == {ka}  # ASCII-case-insensitive, exact name
    assert keys("tag=alph") == set()
    assert keys("tag=beta&tag=Alpha") == {ka}  # repeated: AND
    assert keys("tag=alpha%20||%20gamma") == {ka, kc}  # OR
    assert keys("tag=-beta") == {kc}  # NOT
    assert keys("tag=%5C-dash") == {kb}  # literal leading hyphen


def test_item_type_and_top(client: Client) -> None:
    book = client.post(ITEMS, [{"itemType": "book", "title": "B"}]).json["success"]["0"]
    art = client.post(ITEMS, [article("A")]).json["success"]["0"]
    note = client.post(ITEMS, [{"itemType": "note", "note": "<p>hi</p>", "parentItem": art}]).json
    note_key = note["success"]["0"]

    def keys(query: str) -> set[str]:
        return {i["key"] for i in client.get(f"{ITEMS}?{query}").json}

    assert keys("itemType=book") == {book}
    assert keys("itemType=book%20||%20note") == {book, note_key}
    assert keys("itemType=-note") == {book, art}
    assert {i["key"] for i in client.get(f"{ITEMS}/top").json} == {book, art}
    children = client.get(f"{ITEMS}/{art}/children").json
    assert [c["key"] for c in children] == [note_key]
    assert client.get(f"{ITEMS}/{art}").json["meta"]["numChildren"] == 1
    assert client.get(f"{ITEMS}?itemType=nope").text == "Invalid itemType 'nope'"
    assert client.get(f"{ITEMS}?itemType=book&itemType=note").status == 400


def test_quick_search(client: Client) -> None:
    first = client.post(
        ITEMS,
        [article("Résumé of tests", date="2019-03-01", publicationTitle="Journal of Findings")],
    ).json["success"]["0"]
    client.post(
        ITEMS, [article("Another", creators=[{"creatorType": "author", "name": "Zed Corp"}])]
    )

    def titles(query: str) -> set[str]:
        return {i["data"]["title"] for i in client.get(f"{ITEMS}?{query}").json}

    assert titles("q=resume") == {"Résumé of tests"}  # accent- and case-insensitive
    assert titles("q=lovelace") == {"Résumé of tests"}  # creator names
    assert titles("q=zed") == {"Another"}
    assert titles("q=2019") == {"Résumé of tests"}  # year
    assert titles("q=findings") == set()  # not the publication title
    assert titles("q=%22of%20tests%22") == {"Résumé of tests"}
    assert titles("q=tests&qmode=everything") == {"Résumé of tests"}
    assert client.get(f"{ITEMS}?q=x&qmode=bogus").text == "Invalid 'qmode' value 'bogus'"
    assert first


def test_if_modified_since_version(client: Client) -> None:
    _make(client, 2)
    same = client.get(ITEMS, headers={"If-Modified-Since-Version": "2"})
    assert same.status == 304 and same.text == ""
    assert "last-modified-version" not in same.headers and "zotero-api-version" not in same.headers
    assert client.get(ITEMS, headers={"If-Modified-Since-Version": "1"}).status == 200
    assert client.get(f"{LIB}/tags", headers={"If-Modified-Since-Version": "2"}).status == 304
    # Never on mapping endpoints, single objects or /deleted.
    assert client.get("/itemFields", headers={"If-Modified-Since-Version": "99"}).status == 200
    deleted = client.get(f"{LIB}/deleted?since=0", headers={"If-Modified-Since-Version": "99"})
    assert deleted.status == 200


def test_deleted_requires_since_and_sorts_keys(client: Client) -> None:
    keys = _make(client, 3)
    client.call("DELETE", f"{ITEMS}?itemKey={','.join(keys)}")
    body = client.get(f"{LIB}/deleted?since=0").json
    assert body == {
        "collections": [],
        "items": sorted(keys),
        "searches": [],
        "tags": [],
        "settings": [],
    }
    assert client.get(f"{LIB}/deleted?since=4").json["items"] == []
    missing = client.get(f"{LIB}/deleted")
    assert (missing.status, missing.text) == (400, "'since' parameter must be provided")


def test_collections(client: Client) -> None:
    colls = f"{LIB}/collections"
    made = client.post(colls, [{"name": "Reading"}, {"name": "Reading"}, {"name": "Other"}]).json
    parent = made["success"]["0"]
    assert made["successful"]["0"]["data"]["parentCollection"] is False
    sub = client.post(colls, [{"name": "Sub", "parentCollection": parent}]).json["success"]["0"]
    top_level = client.post(colls, [{"name": "Top", "parentCollection": ""}]).json["success"]["0"]
    missing = client.post(colls, [{"name": "x", "parentCollection": "ABCD2345"}]).json["failed"]
    assert missing["0"] == {
        "code": 409,
        "message": "Parent collection ABCD2345 not found",
        "data": {"collection": "ABCD2345"},
    }
    assert client.post(colls, [{"name": ""}]).json["failed"]["0"]["message"] == (
        "Collection name cannot be empty"
    )
    assert client.post(colls, [{}]).json["failed"]["0"]["message"] == "'name' property not provided"
    names = sorted(c["data"]["name"] for c in client.get(f"{colls}?q=read").json)
    assert names == ["Reading", "Reading"]
    assert {c["key"] for c in client.get(f"{colls}/top").json} == set(made["success"].values()) | {
        top_level
    }
    assert [c["key"] for c in client.get(f"{colls}/{parent}/collections").json] == [sub]
    assert client.get(f"{colls}/{parent}").json["meta"]["numCollections"] == 1

    item = client.post(ITEMS, [article("in coll", collections=[parent])]).json["success"]["0"]
    client.post(ITEMS, [article("outside")])
    in_coll = client.get(f"{colls}/{parent}/items").json
    assert [i["key"] for i in in_coll] == [item]
    assert client.get(f"{colls}/{parent}").json["meta"]["numItems"] == 1

    # Adding an item by POST gives it the current library version without bumping it.
    other = client.post(ITEMS, [article("added later")]).json["success"]["0"]
    version = client.get(ITEMS).version()
    added = client.post(f"{colls}/{sub}/items", other)
    assert added.status == 204 and client.get(ITEMS).version() == version
    assert client.get(f"{ITEMS}/{other}").json["data"]["collections"] == [sub]

    # The live server answers 500 here and changes nothing.
    assert client.call("DELETE", f"{colls}/{sub}/items/{other}").status == 500

    gone = client.call(
        "DELETE", f"{colls}/{parent}", headers={"If-Unmodified-Since-Version": str(version)}
    )
    assert gone.status == 204
    assert client.get(f"{colls}/{sub}").status == 404  # subcollections go too
    assert client.get(f"{LIB}/deleted?since={version}").json["collections"] == [parent]
    emptied = client.get(f"{ITEMS}/{item}").json
    assert emptied["data"]["collections"] == []
    assert emptied["version"] < version  # leaving a deleted collection is no new version


def test_tags_endpoint(client: Client) -> None:
    client.post(ITEMS, [article("a", tags=[{"tag": "alpha"}, {"tag": "beta", "type": 1}])])
    client.post(ITEMS, [article("b", tags=[{"tag": "beta"}])])
    tags = client.get(f"{LIB}/tags")
    assert tags.headers["total-results"] == "3"
    assert [(t["tag"], t["meta"]) for t in tags.json] == [
        ("alpha", {"type": 0, "numItems": 1}),
        ("beta", {"type": 1, "numItems": 1}),
        ("beta", {"type": 0, "numItems": 1}),
    ]
    removed = client.call(
        "DELETE", f"{LIB}/tags?tag=beta", headers={"If-Unmodified-Since-Version": "2"}
    )
    assert removed.status == 204
    assert [t["tag"] for t in client.get(f"{LIB}/tags").json] == ["alpha"]
    assert client.get(f"{LIB}/deleted?since=2").json["tags"] == ["beta"]


@pytest.mark.parametrize(
    "item_type", ["journalArticle", "book", "bookSection", "preprint", "report", "thesis"]
)
def test_templates_round_trip(client: Client, item_type: str) -> None:
    template = client.get(f"/items/new?itemType={item_type}").json
    fields = [f["field"] for f in client.get(f"/itemTypeFields?itemType={item_type}").json]
    assert [
        k for k in template if k not in ("itemType", "creators", "tags", "collections", "relations")
    ] == fields
    template["title"] = f"A {item_type}"
    reply = client.post(ITEMS, [template]).json
    assert reply["success"], reply["failed"]
    data = reply["successful"]["0"]["data"]
    assert [k for k in data if k in fields] == fields


def test_schema_facts(client: Client) -> None:
    section = [f["field"] for f in client.get("/itemTypeFields?itemType=bookSection").json]
    assert "bookTitle" in section and "publicationTitle" not in section
    thesis = [f["field"] for f in client.get("/itemTypeFields?itemType=thesis").json]
    assert "university" in thesis and "publisher" not in thesis
    creators = [
        c["creatorType"] for c in client.get("/itemTypeCreatorTypes?itemType=bookSection").json
    ]
    assert creators == [
        "author",
        "contributor",
        "editor",
        "bookAuthor",
        "translator",
        "seriesEditor",
    ]
    types = {t["itemType"] for t in client.get("/itemTypes").json}
    assert {
        "journalArticle",
        "book",
        "bookSection",
        "preprint",
        "report",
        "thesis",
        "note",
    } <= types
    assert client.get("/items/new?itemType=nope").status == 400
    rejected = client.post(ITEMS, [{"itemType": "bookSection", "publicationTitle": "Book"}]).json
    assert rejected["failed"]["0"]["message"] == (
        "'publicationTitle' is not a valid field for type 'bookSection'"
    )
    ignored = client.post(ITEMS, [{"itemType": "report", "publisher": ""}]).json
    assert ignored["success"]
    note = client.get("/items/new?itemType=note").json
    assert note == {"itemType": "note", "note": "", "tags": [], "collections": [], "relations": {}}


def test_sort_and_direction(client: Client) -> None:
    client.post(ITEMS, [article("b"), article("c"), article("a")])

    def titles(query: str) -> list[str]:
        return [i["data"]["title"] for i in client.get(f"{ITEMS}?{query}").json]

    assert titles("") == ["a", "c", "b"]  # newest first
    assert titles("sort=title") == ["a", "b", "c"]  # ascending by default for non-dates
    assert titles("sort=title&direction=desc") == ["c", "b", "a"]
    assert titles("sort=dateAdded&direction=asc") == ["b", "c", "a"]
    bad_sort = client.get(f"{ITEMS}?sort=bogus")
    assert (bad_sort.status, bad_sort.text) == (400, "Invalid 'sort' value 'bogus'")
    assert "zotero-api-version" not in bad_sort.headers
    assert client.get(f"{ITEMS}?direction=up").text == "Invalid 'direction' value 'up'"
    paged = client.get(f"{ITEMS}?sort=title&direction=desc&limit=1")
    assert _links(paged.headers["link"])["next"].endswith(
        "?direction=desc&limit=1&sort=title&start=1"
    )


def test_notes_and_attachments(client: Client) -> None:
    parent = client.post(ITEMS, [article("Parent")]).json["success"]["0"]
    assert client.get("/items/new?itemType=attachment").text == (
        "linkMode required for itemType=attachment"
    )
    template = client.get("/items/new?itemType=attachment&linkMode=linked_url").json
    assert template["linkMode"] == "linked_url" and "url" in template and "filename" not in template
    template.update(title="Landing page", url="https://example.org", parentItem=parent)
    del template["collections"]
    note = {"itemType": "note", "note": "<p>Read this</p>", "parentItem": parent}
    reply = client.post(ITEMS, [template, note]).json
    assert set(reply["success"]) == {"0", "1"}, reply["failed"]
    attachment = reply["successful"]["0"]
    assert attachment["data"]["parentItem"] == parent
    assert attachment["links"]["up"]["href"].endswith(f"/items/{parent}")
    assert "collections" not in reply["successful"]["1"]["data"]
    assert client.get(f"{ITEMS}/{parent}").json["meta"]["numChildren"] == 2
    orphan = client.post(ITEMS, [{"itemType": "note", "note": "x", "parentItem": "ABCD2345"}])
    assert orphan.json["failed"]["0"] == {
        "code": 409,
        "message": "Parent item ABCD2345 not found",
        "data": {"parentItem": "ABCD2345"},
    }
    in_coll = client.post(ITEMS, [{**note, "collections": ["ABCD2345"]}]).json["failed"]["0"]
    assert in_coll["message"] == "Child items cannot be assigned to collections"
    # Deleting the parent takes its children with it.
    version = str(client.get(ITEMS).version())
    client.call("DELETE", f"{ITEMS}/{parent}", headers={"If-Unmodified-Since-Version": version})
    assert client.get(f"{ITEMS}?format=keys").text == ""


def test_search_sets_negate_whole_values_and_top_maps_children(
    sandbox: SandboxServer, client: Client
) -> None:
    parent = client.post(ITEMS, [article("Parent", tags=[{"tag": "p"}])]).json["success"]["0"]
    other = client.post(ITEMS, [article("Other", tags=[{"tag": "a||b"}])]).json["success"]["0"]
    note = {"itemType": "note", "note": "<p>Needle in a note</p>", "parentItem": parent}
    child = client.post(ITEMS, [{**note, "tags": [{"tag": "only-child"}]}]).json["success"]["0"]

    def keys(path: str) -> list[str]:
        return [i["key"] for i in client.get(path).json]

    assert keys(f"{ITEMS}?tag=a||b") == [other]  # no spaces: one literal tag name
    assert set(keys(f"{ITEMS}?tag=-p%20||%20a||b")) == {child}  # negation covers the set
    assert keys(f"{ITEMS}?itemType=-journalArticle%20||%20book") == [child]
    # In /top mode a matching child stands for its parent.
    assert keys(f"{ITEMS}/top?tag=only-child") == [parent]
    assert keys(f"{ITEMS}/top?q=needle") == [parent]
    assert keys(f"{ITEMS}?q=needle") == [child]
    assert client.get(f"{ITEMS}?itemType=nope").headers["zotero-api-version"] == "3"


def test_keys_without_notes_access_do_not_see_notes(sandbox: SandboxServer, client: Client) -> None:
    sandbox.add_key("NoNotesKey0123456789abcd", USER, notes=False)
    parent = client.post(ITEMS, [article("Parent")]).json["success"]["0"]
    client.post(ITEMS, [{"itemType": "note", "note": "secret", "parentItem": parent}])
    assert len(client.get(ITEMS).json) == 2
    assert [i["key"] for i in client.get(ITEMS, key="NoNotesKey0123456789abcd").json] == [parent]
