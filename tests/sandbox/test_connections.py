"""Keep-alive connections: every request is read to its end, and a connection the sandbox cannot
go on with is closed, never left with both sides waiting."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx2
import pytest

from syncd.sandbox import SandboxServer
from tests.sandbox.conftest import KEY, USER, article

pytestmark = pytest.mark.timeout(60)

ITEMS = f"/users/{USER}/items"
HEADERS = {"Zotero-API-Key": KEY, "Zotero-API-Version": "3", "Content-Type": "application/json"}


def connect(sandbox: SandboxServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(sandbox.url.rsplit(":", 1)[1]), timeout=10)


def raw(sandbox: SandboxServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(sandbox.url.rsplit(":", 1)[1])), timeout=10)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_chunked_body_is_read_and_the_connection_goes_on(sandbox: SandboxServer) -> None:
    body = json.dumps([article("Chunked", key="CHNKD234", version=0)]).encode()

    def pieces() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    conn = connect(sandbox)
    conn.request("POST", ITEMS, body=pieces(), headers=HEADERS, encode_chunked=True)
    created = conn.getresponse()
    report = json.loads(created.read())
    assert created.status == 200 and list(report["successful"]) == ["0"]
    # The same connection: the chunks must not be taken for the next request line.
    conn.request("GET", f"{ITEMS}/CHNKD234", headers=HEADERS)
    item = conn.getresponse()
    assert item.status == 200 and json.loads(item.read())["data"]["title"] == "Chunked"
    conn.close()


@pytest.mark.parametrize("length", ["-1", "12abc", "5, 6"])
def test_an_unreadable_content_length_is_refused_and_the_connection_closed(
    sandbox: SandboxServer, length: str
) -> None:
    with raw(sandbox) as sock:
        sock.sendall(
            f"POST {ITEMS} HTTP/1.1\r\nHost: x\r\nZotero-API-Key: {KEY}\r\n"
            f"Content-Length: {length}\r\n\r\n[]".encode()
        )
        answer = read_all(sock)  # a socket timeout here: both sides were left waiting
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nConnection: close\r\n" in answer
    assert sandbox.library_version(f"users/{USER}") == 0


def test_an_unknown_transfer_coding_is_refused_and_the_connection_closed(
    sandbox: SandboxServer,
) -> None:
    with raw(sandbox) as sock:
        sock.sendall(
            f"POST {ITEMS} HTTP/1.1\r\nHost: x\r\nZotero-API-Key: {KEY}\r\n"
            "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n".encode()
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 501 ")
    assert b"\r\nConnection: close\r\n" in answer


def test_stop_closes_idle_keep_alive_connections(sandbox: SandboxServer) -> None:
    conn = connect(sandbox)
    conn.request("GET", ITEMS, headers=HEADERS)
    reply = conn.getresponse()
    assert reply.status == 200 and not reply.will_close
    reply.read()
    assert conn.sock is not None
    sock = conn.sock
    sandbox.stop()
    # The client learns at once that the connection is gone; its handler thread ended.
    assert sock.recv(1) == b""  # a socket timeout here: the connection was left open
    conn.close()


def test_stop_does_not_wait_for_a_client_that_stalls_in_its_request(
    sandbox: SandboxServer,
) -> None:
    conn = connect(sandbox)
    conn.request("GET", ITEMS, headers=HEADERS)
    conn.getresponse().read()  # the connection has its handler
    assert conn.sock is not None
    with conn.sock as sock:
        sock.sendall(
            f"POST {ITEMS} HTTP/1.1\r\nHost: x\r\nZotero-API-Key: {KEY}\r\n"
            "Content-Length: 100\r\n\r\n[".encode()
        )
        time.sleep(0.2)  # let the handler start on the request (a head start, not a bound)
        stopper = threading.Thread(target=sandbox.stop)
        stopper.start()
        # Without an end to the stalled read, stop() would wait its 30 s for it.
        stopper.join(timeout=15)
        assert not stopper.is_alive()
        assert read_all(sock) == b""  # dropped unanswered
    assert [r["method"] for r in sandbox.requests()] == ["GET"]


@pytest.mark.slow
def test_keep_alive_clients_on_every_route_and_fault_never_wait_in_vain(
    sandbox: SandboxServer,
) -> None:
    # A bounded stress: a few threads, each with one keep-alive client, send a mix of every
    # kind of request (reads, 304s, HEAD, OPTIONS, writes, refused and oversized writes, bad
    # keys, chunked bodies, admin routes, injected errors, delays, backoffs and dropped
    # answers). Every request must get its own answer on a connection that then carries
    # the next one; only a dropped answer may end a connection.
    base = sandbox.url
    items = f"{base}{ITEMS}"
    problems: list[str] = []

    def one(n: int, i: int, client: httpx2.Client) -> None:
        key = f"{'ABCDEFGHIJKLMN'[n]}{i:07d}".replace("0", "2").replace("1", "3")
        ops: list[Callable[[], httpx2.Response]] = [
            lambda: client.get(items, headers=HEADERS),
            lambda: client.get(items, headers={**HEADERS, "If-Modified-Since-Version": "99999"}),
            lambda: client.head(items, headers=HEADERS),
            lambda: client.options(items),
            lambda: client.post(items, headers=HEADERS, json=[article(key=key, version=0)]),
            lambda: client.post(items, headers=HEADERS, json=[article()] * 51),
            lambda: client.post(items, headers=HEADERS, content=iter([b'[{"itemType"', b": 1}]"])),
            lambda: client.post(items, headers={**HEADERS, "Zotero-API-Key": "x" * 24}, json=[]),
            lambda: client.post(items, headers=HEADERS, content=b""),
            lambda: client.patch(f"{items}/{key}", headers=HEADERS, json={"title": "x"}),
            lambda: client.get(f"{base}/itemTypes"),
            lambda: client.get(f"{base}/_sandbox/libraries/users/{USER}", headers=HEADERS),
            lambda: client.post(f"{base}/_sandbox/faults", headers=HEADERS, content=b"{not json"),
            lambda: client.get(f"{items}/{key}", headers=HEADERS),
        ]
        if i >= len(ops):
            ops[7] = ops[0]  # a bad key once per client: four, below the lock-out
        fault = i % 4
        path = rf"/items/Q{n}{i}$"
        if fault == 1:
            sandbox.inject(status=503, path=path)
        elif fault == 2:
            sandbox.inject(delay=0.01, backoff=1, path=path)
        elif fault == 3:
            sandbox.inject(drop_after_apply=True, path=path)
        try:
            ops[i % len(ops)]().read()
        except httpx2.TransportError as exc:
            problems.append(f"{n}/{i} op {i % len(ops)}: {exc!r}")
        try:
            response = client.get(f"{items}/Q{n}{i}", headers=HEADERS)
            if fault == 3:
                problems.append(f"{n}/{i}: an answer to a dropped request: {response}")
        except httpx2.TransportError as exc:
            if fault != 3:
                problems.append(f"{n}/{i} fault {fault}: {exc!r}")

    def worker(n: int) -> None:
        with httpx2.Client(timeout=10) as client:
            for i in range(70):
                one(n, i, client)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=45)
    assert not any(t.is_alive() for t in threads)
    assert problems == []
