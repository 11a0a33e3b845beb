"""Fault injection, out-of-band writes, the request log and the admin HTTP routes."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from syncd.sandbox import SandboxServer
from tests.sandbox.conftest import KEY, USER, Client, article, populate

ITEMS = f"/users/{USER}/items"


def test_429_with_and_without_retry_after(sandbox: SandboxServer, client: Client) -> None:
    sandbox.inject(status=429, retry_after=7, method="POST", body="Request rate limit exceeded")
    limited = client.post(ITEMS, [article()])
    assert (limited.status, limited.text) == (429, "Request rate limit exceeded")
    assert limited.headers["retry-after"] == "7"
    assert client.get(ITEMS).version() == 0  # not applied
    sandbox.inject(status=429)
    bare = client.get(ITEMS)
    assert bare.status == 429 and "retry-after" not in bare.headers
    assert client.get(ITEMS).status == 200  # the queue is used up


def test_faults_match_method_and_path_in_order(sandbox: SandboxServer, client: Client) -> None:
    sandbox.inject(status=503, retry_after=2, path=r"/collections$", times=2)
    sandbox.inject(status=500)
    assert client.get(f"/users/{USER}/collections").status == 503
    assert client.get(ITEMS).status == 500
    again = client.get(f"/users/{USER}/collections")
    assert again.status == 503 and again.headers["retry-after"] == "2"
    assert client.get(f"/users/{USER}/collections").status == 200


def test_backoff_on_a_normal_response(sandbox: SandboxServer, client: Client) -> None:
    sandbox.inject(backoff=5)
    reply = client.post(ITEMS, [article()])
    assert reply.status == 200 and reply.headers["backoff"] == "5"
    assert "backoff" not in client.get(ITEMS).headers
    sandbox.set_backoff(3)
    assert client.get(ITEMS).headers["backoff"] == "3"
    assert client.get("/itemTypes").headers["backoff"] == "3"
    sandbox.set_backoff(None)
    assert "backoff" not in client.get(ITEMS).headers


def test_slow_response_times_a_client_out(sandbox: SandboxServer, client: Client) -> None:
    sandbox.inject(delay=1.5, method="GET")
    with pytest.raises(TimeoutError):
        client.get(ITEMS, timeout=0.2)


def test_drop_after_apply(sandbox: SandboxServer, client: Client) -> None:
    sandbox.inject(drop_after_apply=True, method="POST")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        client.post(ITEMS, [article("applied", key="DRPD2345", version=0)])
    # The write happened although the client never saw the answer; a retry is told so.
    assert client.get(f"{ITEMS}/DRPD2345").status == 200
    retry = client.post(ITEMS, [article("applied", key="DRPD2345", version=0)])
    assert retry.json["failed"]["0"]["code"] == 412
    log = sandbox.requests()
    assert log[0]["status"] is None and log[0]["dropped"] is True


def test_out_of_band_write_moves_the_version(sandbox: SandboxServer, client: Client) -> None:
    client.post(ITEMS, [article()])
    report = sandbox.oob_write(f"users/{USER}", [article("elsewhere"), article("too")])
    assert len(report["success"]) == 2
    assert sandbox.library_version(f"users/{USER}") == 3
    stale = client.post(ITEMS, [article()], headers={"If-Unmodified-Since-Version": "1"})
    assert stale.status == 412
    key = report["success"]["0"]
    update = sandbox.oob_write(f"users/{USER}", [{"key": key, "title": "renamed"}])
    assert update["success"] == {"0": key}
    assert client.get(f"{ITEMS}/{key}").json["data"]["title"] == "renamed"
    with pytest.raises(KeyError):
        sandbox.oob_write("groups/424242", [article()])


def test_request_log(sandbox: SandboxServer, client: Client) -> None:
    client.post(ITEMS, [article("a"), article("b")], headers={"Zotero-Write-Token": "tok-12345"})
    client.get(f"{ITEMS}?limit=5&key={KEY}")
    client.get(ITEMS, key=None, headers={"Authorization": f"Bearer {KEY}"})
    log = sandbox.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", ITEMS, 200),
        ("GET", ITEMS, 200),
        ("GET", ITEMS, 200),
    ]
    assert log[0]["objects"] == 2 and log[1]["objects"] is None
    assert log[0]["headers"]["zotero-api-key"] == "<redacted>"
    assert log[0]["headers"]["zotero-write-token"] == "tok-12345"
    assert log[1]["query"] == {"limit": "5", "key": "<redacted>"}
    assert log[2]["headers"]["authorization"] == "Bearer <redacted>"
    assert KEY not in json.dumps(log)
    sandbox.clear_requests()
    assert sandbox.requests() == []


def test_admin_routes_over_http(sandbox: SandboxServer, client: Client) -> None:
    assert client.post("/_sandbox/faults", {"status": 503, "retry_after": 4}).status == 204
    assert client.get(ITEMS).status == 503
    client.post("/_sandbox/faults", {"status": 500, "times": 3})
    assert client.call("DELETE", "/_sandbox/faults").status == 204
    assert client.get(ITEMS).status == 200
    oob = client.post(f"/_sandbox/oob/users/{USER}/items", [article()])
    assert oob.status == 200 and len(oob.json["success"]) == 1
    assert client.get(f"/_sandbox/libraries/users/{USER}").json == {"version": 1}
    client.post("/_sandbox/backoff", {"seconds": 9})
    assert client.get(ITEMS).headers["backoff"] == "9"
    client.post("/_sandbox/backoff", {"seconds": None})
    log = client.get("/_sandbox/requests").json
    assert all(not e["path"].startswith("/_sandbox/") for e in log)
    assert client.call("DELETE", "/_sandbox/requests").status == 204
    assert client.get("/_sandbox/requests").json == []
    assert client.post("/_sandbox/faults", {"bogus": 1}).status == 400


def test_admin_routes_can_be_disabled() -> None:
    server = SandboxServer(admin=False)
    populate(server)
    with server:
        client = Client(server.url)
        assert client.post("/_sandbox/faults", {"status": 500}).status == 404
        assert client.get(ITEMS).status == 200


def test_concurrent_requests_are_logged_with_their_span(sandbox: SandboxServer) -> None:
    sandbox.inject(delay=0.3, times=2)
    host = sandbox.url.removeprefix("http://")
    name, port = host.split(":")
    socks = [socket.create_connection((name, int(port))) for _ in range(2)]
    for conn in socks:
        conn.sendall(
            f"GET {ITEMS} HTTP/1.1\r\nHost: {host}\r\nZotero-API-Key: {KEY}\r\n\r\n".encode()
        )
    for conn in socks:
        assert conn.recv(12).startswith(b"HTTP/1.1 200")
        conn.close()
    first, second = sandbox.requests()
    # The two requests overlapped: each started before the other finished.
    assert first["started"] < second["finished"] and second["started"] < first["finished"]
