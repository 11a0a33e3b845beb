"""Issue 9 §6: the sandbox is a local server, and must not be a local hole.

What the headers decide is decided before the body is read, a large body is never held in
memory, connections and threads are bounded, and the admin routes need the sandbox's key and a
loopback ``Host``; keyed API requests behave as the real server's (any ``Content-Type`` and
``Host``)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from syncd.sandbox import SandboxServer
from syncd.sandbox.server import MAX_BODY, MAX_CONNECTIONS
from tests.sandbox.conftest import KEY, USER, Client, article, populate

ROOT = Path(__file__).resolve().parents[2]
ITEMS = f"/users/{USER}/items"
KEYLESS_WRITE = b"An API key is required for write requests."

pytestmark = pytest.mark.timeout(120)


def raw(url: str, head: str, body: bytes = b"", timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers, without the blank line) and ``body`` on a new
    connection; the status and body of the answer (read until the connection closes or the
    declared length is in)."""
    host, port = url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        return _answer(sock)


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, rest[:length]


# ---- decided from the headers ----------------------------------------------------------------


def test_a_keyless_write_is_refused_before_its_body_is_read(sandbox: SandboxServer) -> None:
    started = time.monotonic()
    # 200 MB announced, a few bytes sent: the answer comes at once, not after the body.
    status, body = raw(
        sandbox.url,
        f"POST {ITEMS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {200 * 1024 * 1024}",
        b"[{}]",
    )
    assert (status, body) == (403, KEYLESS_WRITE)
    assert time.monotonic() - started < 3
    log = sandbox.requests()
    assert [(e["method"], e["path"], e["status"], e["body"]) for e in log] == [
        ("POST", ITEMS, 403, "")
    ]


def test_a_small_keyless_write_keeps_the_connection(sandbox: SandboxServer) -> None:
    host, port = sandbox.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        body = json.dumps([article()]).encode()
        sock.sendall(
            f"POST {ITEMS} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert _answer(sock) == (403, KEYLESS_WRITE)
        # The body was read (and dropped): the same connection carries the next request.
        sock.sendall(f"GET {ITEMS} HTTP/1.1\r\nHost: x\r\nZotero-API-Key: {KEY}\r\n\r\n".encode())
        assert _answer(sock)[0] == 200
    assert sandbox.library_version(f"users/{USER}") == 0


def test_a_body_over_the_cap_is_refused_unread(sandbox: SandboxServer) -> None:
    started = time.monotonic()
    status, body = raw(
        sandbox.url,
        f"POST {ITEMS} HTTP/1.1\r\nHost: 127.0.0.1\r\nZotero-API-Key: {KEY}\r\n"
        f"Content-Length: {MAX_BODY + 1}",
        b"[",
    )
    assert status == 413 and str(MAX_BODY).encode() in body
    assert time.monotonic() - started < 3
    assert MAX_BODY == 50 * 1024 * 1024  # as docs/sandbox.md says


def test_a_chunked_body_over_the_cap_is_refused() -> None:
    server = SandboxServer(max_body=1000)
    populate(server)
    with server:
        chunk = b"x" * 600
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
        status, text = raw(
            server.url,
            f"POST {ITEMS} HTTP/1.1\r\nHost: 127.0.0.1\r\nZotero-API-Key: {KEY}\r\n"
            "Transfer-Encoding: chunked",
            body,
        )
        assert status == 413 and b"1000 bytes" in text


def test_keyed_writes_take_any_content_type_and_host(client: Client) -> None:
    reply = client.post(
        ITEMS,
        json.dumps([article()]),
        headers={"Content-Type": "text/plain", "Host": "evil.example"},
    )
    assert reply.status == 200 and len(reply.json["successful"]) == 1


# ---- a big body is never held in memory --------------------------------------------------------


def _hwm_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_four_keyless_200_mb_bodies_do_not_grow_the_sandbox(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0"],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert url
        before = _hwm_kib(proc.pid)
        size = 200 * 1024 * 1024
        answers: list[int | None] = []

        def send() -> None:
            host, port = url.group(0).rsplit("/", 1)[1].split(":")
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                head = f"POST {ITEMS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n\r\n"
                sock.sendall(head.encode())
                block = b"x" * (1024 * 1024)
                try:
                    for _ in range(size // len(block)):
                        sock.sendall(block)
                except OSError:
                    pass  # the sandbox answered and closed: it stops reading
                try:
                    answers.append(_answer(sock)[0])
                except (OSError, ValueError, AttributeError, IndexError):
                    answers.append(None)  # the close came first; no memory was spent anyway

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        grown_mib = (_hwm_kib(proc.pid) - before) / 1024
        assert grown_mib < 40, f"the sandbox grew by {grown_mib:.0f} MiB"
        assert set(answers) <= {403, None} and 403 in answers
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


# ---- connections and threads are bounded -------------------------------------------------------


@pytest.mark.slow
def test_500_idle_connections_do_not_make_500_threads(sandbox: SandboxServer) -> None:
    host, port = sandbox.url.rsplit("/", 1)[1].split(":")
    baseline = threading.active_count()
    idle: list[socket.socket] = []
    try:
        for _ in range(500):
            idle.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(0.5)
        assert threading.active_count() <= baseline + MAX_CONNECTIONS + 2
        # Room is made by closing the connections idle the longest: a client still gets in.
        assert Client(sandbox.url).get(ITEMS).status == 200
    finally:
        for s in idle:
            s.close()


@pytest.mark.slow
def test_when_every_connection_is_busy_a_newcomer_gets_503() -> None:
    server = SandboxServer(max_connections=2)
    populate(server)
    with server:
        server.inject(delay=1.5, times=2)
        busy = [threading.Thread(target=Client(server.url).get, args=(ITEMS,)) for _ in range(2)]
        for t in busy:
            t.start()
        time.sleep(0.3)
        reply = Client(server.url).get(ITEMS)
        assert reply.status == 503 and reply.headers["retry-after"] == "1"
        for t in busy:
            t.join()
        assert Client(server.url).get(ITEMS).status == 200


# ---- admin routes: the sandbox's key and a loopback Host ---------------------------------------


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Content-Type": "text/plain"}, "API keys"),  # a keyless CSRF form post
        ({"Zotero-API-Key": "NoSuchKey000000000000000"}, "API keys"),
        ({"Zotero-API-Key": KEY, "Host": "evil.example"}, "loopback Host"),  # DNS rebinding
        ({"Zotero-API-Key": KEY, "Host": "127.0.0.1.evil.example:80"}, "loopback Host"),
    ],
)
def test_admin_routes_refuse_without_key_or_loopback_host(
    sandbox: SandboxServer, client: Client, headers: dict[str, str], why: str
) -> None:
    key = headers.pop("Zotero-API-Key", None)
    reply = client.post("/_sandbox/faults", '{"status": 500}', key=key, headers=headers)
    assert reply.status == 403 and why in reply.text
    oob = client.post(f"/_sandbox/oob/users/{USER}/items", [article()], key=key, headers=headers)
    assert oob.status == 403
    assert client.get(ITEMS).status == 200  # no fault was injected
    assert sandbox.library_version(f"users/{USER}") == 0  # nothing was written


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2:8080", "[::1]:23120"])
def test_admin_routes_answer_the_key_on_a_loopback_host(client: Client, host: str) -> None:
    reply = client.post("/_sandbox/faults", {"status": 500}, headers={"Host": host})
    assert reply.status == 204
    assert client.get(ITEMS).status == 500
