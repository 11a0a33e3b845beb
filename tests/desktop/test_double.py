"""The Zotero 10 desktop double answers as ../shared/docs/zotero-desktop.md says the app does.

Raw sockets, no client library: the framing (HTTP/1.0, no Content-Length, close) is part of
what is tested.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.sandbox.desktop import DesktopDouble
from syncd.sandbox.desktop_state import DesktopState
from tests.desktop.wire import Answer, authorize, request

ITEM = {"key": "ABCD2345", "version": 0, "itemType": "journalArticle", "title": "One"}


@pytest.fixture
def app() -> Iterator[DesktopDouble]:
    with DesktopDouble() as double:
        yield double


def test_root_names_the_server_and_answers_http_1_0_close_delimited(app: DesktopDouble) -> None:
    raw = request(app, "GET", "/api/", raw=True)
    assert isinstance(raw, bytes)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"content-length" not in head.lower()
    assert body == b"Nothing to see here."
    answer = request(app, "GET", "/api/")
    assert isinstance(answer, Answer)
    assert answer.headers["zotero-server-id"] == app.state.db.server_id
    assert len(app.state.db.server_id) == 12
    assert answer.headers["x-zotero-version"] == "10.0.0"


def test_gates_host_method_unknown_paths_browser(app: DesktopDouble) -> None:
    assert request(app, "GET", "/api/", host="evil.example").text == "Invalid Host header\n"
    assert request(app, "POST", "/api/", body=b"{}").text == "Endpoint does not support method\n"
    for path in ("/api/keys/current", "/api/items/new"):
        assert request(app, "GET", path).status == 404
    with socket.create_connection(("127.0.0.1", app.port)) as s:
        s.sendall(b"GET /api/ HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0\r\n\r\n")
        assert s.recv(100) == b""  # dropped, no answer


def test_disabled_local_api_answers_403_everywhere(app: DesktopDouble) -> None:
    app.state.enabled = False
    answer = request(app, "GET", "/api/users/0/items")
    assert (answer.status, answer.text) == (403, "Local API is not enabled")
    sid = app.state.db.server_id
    answer = request(app, "POST", "/api/local/authorize", json_body={"appName": "x"}, sid=sid)
    assert answer.status == 403


def test_authorisation_dialog_switch_and_rate_limit(app: DesktopDouble) -> None:
    always = authorize(app)
    assert always.status == 200 and always.json["remember"] is True
    assert len(always.json["key"]) == 32
    app.state.answer = "allow"
    assert authorize(app).json["remember"] is False
    app.state.answer = "deny"
    denied = authorize(app)
    assert (denied.status, denied.json) == (403, {"denied": True})
    authorize(app)
    authorize(app)
    limited = authorize(app)
    assert limited.status == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    sid = app.state.db.server_id
    blank = request(app, "POST", "/api/local/authorize", json_body={"appName": " "}, sid=sid)
    assert (blank.status, blank.text) == (400, "appName is required")


def test_write_gates_server_id_then_key(app: DesktopDouble) -> None:
    key = authorize(app).json["key"]
    sid = app.state.db.server_id
    body = json.dumps([ITEM]).encode()
    no_sid = request(app, "POST", "/api/users/0/items", body=body, key=key)
    assert (no_sid.status, no_sid.text) == (428, "Zotero-Server-ID not provided")
    wrong = request(app, "POST", "/api/users/0/items", body=body, key=key, sid="X" * 12)
    assert (wrong.status, wrong.text) == (412, "Zotero-Server-ID does not match this server")
    nokey = request(app, "POST", "/api/users/0/items", body=body, sid=sid)
    assert nokey.status == 401 and "www-authenticate" in nokey.headers
    assert "zotero-server-id" not in nokey.headers  # 401s carry no API headers
    bad = request(app, "POST", "/api/users/0/items", body=body, sid=sid, key="k" * 32)
    assert (bad.status, bad.text) == (401, "Invalid or expired API key")
    empty = request(app, "POST", "/api/users/0/items", body=b"[]", sid=sid, key=key)
    assert (empty.status, empty.text) == (400, "No items provided")
    app.state.read_only = True
    assert request(app, "POST", "/api/users/0/items", body=body, sid=sid, key=key).text == (
        "Write access denied"
    )


def test_keyed_create_then_per_object_412_and_client_versions(app: DesktopDouble) -> None:
    key = authorize(app).json["key"]
    sid = app.state.db.server_id
    first = request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key)
    assert first.json["successful"]["0"]["key"] == "ABCD2345"
    assert first.headers["last-modified-version"] == "1"
    again = request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key)
    failure = again.json["failed"]["0"]
    assert failure["code"] == 412 and failure["message"].startswith("item version mismatch")
    versions = request(app, "GET", "/api/users/0/items?format=versions&since=0")
    assert versions.json == {"ABCD2345": 1}
    assert request(app, "GET", "/api/users/0/items?format=versions&since=1").json == {}
    assert (
        request(app, "GET", "/api/users/0/items", headers={"If-Modified-Since-Version": "1"}).status
        == 304
    )
    guarded = request(
        app, "POST", "/api/users/0/items", json_body=[{**ITEM, "key": "BBCD2345"}], sid=sid,
        key=key, headers={"If-Unmodified-Since-Version": "0"},
    )  # fmt: skip
    assert guarded.status == 412 and guarded.text.startswith("Library has been modified")


def test_allow_once_key_is_used_up_by_its_first_write(app: DesktopDouble) -> None:
    app.state.answer = "allow"
    key = authorize(app).json["key"]
    sid = app.state.db.server_id
    assert request(app, "POST", "/api/users/0/items", body=b"[]", sid=sid, key=key).status == 400
    used = request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key)
    assert (used.status, used.text) == (401, "Invalid or expired API key")


def test_a_key_untouched_since_the_upgrade_is_merged_not_refused(app: DesktopDouble) -> None:
    app.state.seed("ABCD2345", {"itemType": "journalArticle", "title": "Synced before"})
    key = authorize(app).json["key"]
    sid = app.state.db.server_id
    answer = request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key)
    assert answer.json["successful"]["0"]["key"] == "ABCD2345"  # no 412: merged


def test_faults_10_0_3_restart_revoke_swap_and_user_id(app: DesktopDouble) -> None:
    key = authorize(app).json["key"]
    sid = app.state.db.server_id
    app.state.mode = "10.0.3"
    fault = request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key)
    assert "'primaryData' not loaded" in fault.json["failed"]["0"]["message"]
    app.state.mode = "10.0.0"
    token = {"Zotero-Write-Token": "token-1"}
    request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key, headers=token)
    reused = request(
        app, "POST", "/api/users/0/items", body=b"[1]", sid=sid, key=key, headers=token
    )
    assert reused.text == "Write token already used"
    app.restart()
    fresh = request(app, "POST", "/api/users/0/items", body=b"[]", sid=sid, key=key, headers=token)
    assert fresh.text == "No items provided"  # tokens forgotten, key kept
    app.state.user_id = 77
    other = request(app, "GET", "/api/users/5/items")
    assert other.text.endswith("use userID 0 or 77")
    assert request(app, "GET", "/api/users/77/items").status == 200
    new = app.state.swap_database()
    assert new != sid and request(app, "GET", "/api/users/0/items").json == []
    assert request(app, "GET", "/api/", sid=sid).status == 412
    app.state.clear_authorizations()
    gone = request(app, "POST", "/api/users/0/items", body=b"[]", sid=new, key=key)
    assert gone.text == "Invalid or expired API key"


def test_closed_app_refuses_connections_and_comes_back(app: DesktopDouble) -> None:
    app.close_for(0.3)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", app.port), timeout=2).close()
    import time

    deadline = time.monotonic() + 10
    while not app.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request(app, "GET", "/api/").status == 200


def test_older_than_10_has_no_server_id_and_no_writes(app: DesktopDouble) -> None:
    app.state.mode = "9.0.6"
    assert "zotero-server-id" not in request(app, "GET", "/api/").headers
    answer = request(app, "POST", "/api/local/authorize", json_body={"appName": "syncd"})
    assert answer.text == "Endpoint does not support method\n"


@pytest.mark.slow
def test_with_data_the_databases_and_keys_outlive_the_double(tmp_path: Path) -> None:
    data = tmp_path / "zotero-desktop.json"
    with DesktopDouble(DesktopState(data=data)) as app:
        key = authorize(app).json["key"]
        sid = app.state.db.server_id
        request(app, "POST", "/api/users/0/items", json_body=[ITEM], sid=sid, key=key)
    with DesktopDouble(DesktopState(data=data)) as again:  # the app started again
        assert again.state.db.server_id == sid
        assert list(again.state.db.items) == ["ABCD2345"]
        empty = request(again, "POST", "/api/users/0/items", body=b"[]", sid=sid, key=key)
        assert empty.text == "No items provided"  # the Always Allow key still works


def test_groups_are_listed_and_served_as_libraries_of_their_own() -> None:
    # Only a signed-in user who syncs has groups in the app; each has its own clientVersion.
    with DesktopDouble(DesktopState(user_id=5)) as app:
        app.state.add_group(12, "Reviews")
        groups = request(app, "GET", "/api/users/0/groups").json
        assert [(g["id"], g["data"]["name"]) for g in groups] == [(12, "Reviews")]
        assert request(app, "GET", "/api/groups/12/items").json == []
        assert request(app, "GET", "/api/groups/13/items").status == 404
