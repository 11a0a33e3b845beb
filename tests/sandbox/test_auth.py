"""Authentication, key introspection and library permissions (user and group libraries)."""

from __future__ import annotations

import pytest

from syncd.sandbox import SandboxServer, lockout
from tests.sandbox.conftest import (
    GROUP,
    KEY,
    OTHER_KEY,
    OTHER_USER,
    READ_ONLY_KEY,
    USER,
    Client,
    article,
    populate,
)


def test_key_accepted_from_header_bearer_and_query(client: Client) -> None:
    assert client.get(f"/users/{USER}/items").status == 200
    bearer = client.get(
        f"/users/{USER}/items", key=None, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert bearer.status == 200
    assert client.get(f"/users/{USER}/items?key={KEY}", key=None).status == 200


def test_header_and_query_key_must_agree(client: Client) -> None:
    reply = client.get(f"/users/{USER}/items?key={OTHER_KEY}")
    assert (reply.status, reply.text) == (400, "Zotero-API-Key header and 'key' parameter differ")


def test_malformed_bearer_is_400(client: Client) -> None:
    reply = client.get(f"/users/{USER}/items", key=None, headers={"Authorization": "Bearer a-b"})
    assert (reply.status, reply.text) == (400, "Invalid Authorization header format")


def test_unknown_key_is_403_without_api_headers(client: Client) -> None:
    reply = client.get(f"/users/{USER}/items", key="x" * 24)
    assert (reply.status, reply.text) == (403, "Invalid key")
    assert "zotero-api-version" not in reply.headers
    assert reply.headers["content-type"] == "text/html; charset=UTF-8"


def test_keyless_write_and_private_read(client: Client) -> None:
    write = client.post(f"/users/{USER}/items", [article()], key=None)
    assert (write.status, write.text) == (403, "An API key is required for write requests.")
    read = client.get(f"/users/{USER}/items", key=None)
    assert (read.status, read.text) == (403, "Forbidden")


def test_read_only_key_cannot_write(client: Client) -> None:
    assert client.get(f"/users/{USER}/items", key=READ_ONLY_KEY).status == 200
    reply = client.post(f"/users/{USER}/items", [article()], key=READ_ONLY_KEY)
    assert (reply.status, reply.text) == (403, "Write access denied")
    assert reply.headers["zotero-api-version"] == "3"


def test_other_users_library_is_forbidden(client: Client) -> None:
    assert client.get(f"/users/{OTHER_USER}/items").text == "Forbidden"
    assert client.post(f"/users/{OTHER_USER}/items", [article()]).text == "Write access denied"


def test_unknown_libraries(client: Client) -> None:
    assert client.get("/groups/999/items").status == 404
    assert client.get("/users/999/items").status == 404
    assert client.get("/users/abc/items").text == "Invalid user ID"
    assert client.get("/groups/abc/items").text == "Invalid group ID"


def test_keys_current_and_by_value(client: Client) -> None:
    reply = client.get("/keys/current")
    assert reply.status == 200
    body = reply.json
    assert body["key"] == KEY and body["userID"] == USER and body["username"] == "tester"
    assert body["access"]["user"] == {
        "library": True,
        "files": True,
        "notes": True,
        "write": True,
    }
    assert body["access"]["groups"] == {"all": {"library": True, "write": True}}
    assert client.get("/keys/current", key=None).status == 403
    assert client.get(f"/keys/{KEY}", key=None).json == body
    missing = client.get("/keys/NoSuchKey0123456789abcd", key=None)
    assert (missing.status, missing.text) == (404, "Key 'NoSuchKey0123456789abcd' not found")


def test_group_library_access(client: Client) -> None:
    created = client.post(f"/groups/{GROUP}/items", [article("In the group")])
    assert created.status == 200 and created.json["success"]
    item = next(iter(created.json["successful"].values()))
    assert item["library"]["type"] == "group" and item["library"]["name"] == "Lab"
    # A member with a full key writes; the read-only key reads but may not write.
    assert client.post(f"/groups/{GROUP}/items", [article()], key=OTHER_KEY).status == 200
    assert client.get(f"/groups/{GROUP}/items", key=READ_ONLY_KEY).json[0]["data"]["title"]
    denied = client.post(f"/groups/{GROUP}/items", [article()], key=READ_ONLY_KEY)
    assert denied.text == "Write access denied"


def test_group_access_needs_membership(sandbox: SandboxServer, client: Client) -> None:
    sandbox.add_user(3, "outsider")
    sandbox.add_key("OutsiderKey0123456789abc", 3)
    reply = client.get(f"/groups/{GROUP}/items", key="OutsiderKey0123456789abc")
    assert (reply.status, reply.text) == (403, "Forbidden")


def test_per_group_permissions_override_all(sandbox: SandboxServer, client: Client) -> None:
    sandbox.add_key("NoGroupKey0123456789abcd", USER, groups={GROUP: (False, False)})
    assert client.get(f"/groups/{GROUP}/items", key="NoGroupKey0123456789abcd").status == 403
    assert client.get(f"/users/{USER}/items", key="NoGroupKey0123456789abcd").status == 200


def test_too_many_bad_keys_lock_the_address_out(client: Client) -> None:
    for _ in range(6):
        assert client.get(f"/users/{USER}/items", key="bad" * 8).status == 403
    reply = client.get(f"/users/{USER}/items")
    assert (reply.status, reply.text) == (429, "Too many authentication failures")
    assert "retry-after" not in reply.headers


def test_on_a_shared_machine_only_the_bad_key_is_locked_out() -> None:
    # lockout="key" (syncd sandbox's default, and the --sandbox trials): another user's wrong
    # key, sent from the same address, never blocks a valid one.
    with SandboxServer(lockout="key") as server:
        populate(server)
        client = Client(server.url)
        for _ in range(6):
            assert client.get(f"/users/{USER}/items", key="bad" * 8).status == 403
        assert client.get(f"/users/{USER}/items").status == 200
        reply = client.get(f"/users/{USER}/items", key="bad" * 8)
        assert (reply.status, reply.text) == (429, "Too many authentication failures")
        assert client.get(f"/users/{USER}/items", key="worse" * 5 + "0000").status == 403


def test_group_items_record_who_created_and_changed_them(client: Client) -> None:
    made = client.post(f"/groups/{GROUP}/items", [article("Shared")]).json["successful"]["0"]
    assert made["meta"]["createdByUser"]["id"] == USER
    assert made["meta"]["createdByUser"]["username"] == "tester"
    assert "lastModifiedByUser" not in made["meta"]
    key = made["key"]
    headers = {"If-Unmodified-Since-Version": str(made["version"])}
    edit = client.call(
        "PATCH", f"/groups/{GROUP}/items/{key}", {"title": "Edited"}, key=OTHER_KEY, headers=headers
    )
    assert edit.status == 204
    meta = client.get(f"/groups/{GROUP}/items/{key}").json["meta"]
    assert meta["createdByUser"]["id"] == USER
    assert meta["lastModifiedByUser"]["id"] == OTHER_USER
    # User libraries carry no such meta.
    mine = client.post(f"/users/{USER}/items", [article()]).json["successful"]["0"]["meta"]
    assert "createdByUser" not in mine


def test_many_different_bad_keys_from_one_address_leave_a_valid_key_working() -> None:
    # Another user's syncd trying several wrong keys, again and again, from 127.0.0.1.
    with SandboxServer(lockout="key") as server:
        populate(server)
        client = Client(server.url)
        wrong = [f"WrongKey{n:016d}" for n in range(4)]
        for _ in range(7):
            for key in wrong:
                assert client.get(f"/users/{USER}/items", key=key).status in (403, 429)
        assert client.get(f"/users/{USER}/items", key=wrong[0]).status == 429
        assert client.get(f"/users/{USER}/items").status == 200
        fresh = client.get(f"/users/{USER}/items", key="FreshWrongKey00000000000")
        assert (fresh.status, fresh.text) == (403, "Invalid key")


def test_the_bad_key_table_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted per key, every new wrong key is an entry: a flood of them must not grow the
    # sandbox without end, and a good key leaves none.
    monkeypatch.setattr(lockout, "AUTH_FAILURE_ENTRIES", 3)
    bad = lockout.BadKeys("key")
    for n in range(10):
        assert not bad.locked("127.0.0.1", f"Flood{n}")
        bad.failed("127.0.0.1", f"Flood{n}")
    assert len(bad._seen) == 3
    assert not bad.locked("127.0.0.1", KEY) and len(bad._seen) == 3
    # The latest bad keys are still counted: more than five tries lock the last one out.
    for _ in range(5):
        bad.failed("127.0.0.1", "Flood9")
    assert bad.locked("127.0.0.1", "Flood9")
    assert not bad.locked("127.0.0.1", "Flood0")


def test_user_groups_lists_the_groups_the_key_can_access(
    sandbox: SandboxServer, client: Client
) -> None:
    # The dataserver's GET /users/N/groups (Zotero_Groups::getAllAdvanced): the user's groups,
    # less the private ones the key cannot access; paged like every multi-object read.
    sandbox.add_group(101, "Journal club", owner=OTHER_USER, members=[USER])
    sandbox.add_group(102, "Not a member", owner=OTHER_USER)
    listed = client.get(f"/users/{USER}/groups")
    assert listed.status == 200 and listed.headers["total-results"] == "2"
    assert [(g["id"], g["data"]["name"]) for g in listed.json] == [
        (GROUP, "Lab"),
        (101, "Journal club"),
    ]
    assert listed.json[0]["data"]["owner"] == USER
    sandbox.add_key("OneGroupKey0123456789abc", USER, groups={101: (True, False)})
    only = client.get(f"/users/{USER}/groups", key="OneGroupKey0123456789abc")
    assert [g["id"] for g in only.json] == [101] and only.headers["total-results"] == "1"
    assert client.get(f"/users/{USER}/groups", key=None).json == []  # private groups
    page = client.get(f"/users/{USER}/groups?limit=1&start=1")
    assert [g["id"] for g in page.json] == [101] and page.headers["total-results"] == "2"
    assert 'rel="first"' in page.headers["link"]
