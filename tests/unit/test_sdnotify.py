"""sd_notify by hand: datagrams on a socket the test owns, and the watchdog variables."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd import sdnotify


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(var, raising=False)
    sdnotify._close()
    yield
    sdnotify._close()


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A receiving socket at a file-system path, named in $NOTIFY_SOCKET."""
    path = tmp_path / "notify"
    with _receiver(str(path)) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def test_without_notify_socket_nothing_is_sent() -> None:
    assert sdnotify.notify("READY=1") is False
    assert sdnotify._sock is None  # not even a socket was created


def test_lines_go_out_as_one_datagram(path_socket: socket.socket) -> None:
    assert sdnotify.notify("READY=1", "STATUS=watching ~/Downloads") is True
    assert path_socket.recv(4096) == b"READY=1\nSTATUS=watching ~/Downloads"


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"syncd-test-{uuid.uuid4().hex}"
    with _receiver("\0" + name) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("WATCHDOG=1") is True
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_messages_arrive_in_order_over_one_kept_socket(path_socket: socket.socket) -> None:
    for message in ("READY=1", "STATUS=1 imported", "WATCHDOG=1", "STOPPING=1"):
        assert sdnotify.notify(message)
    kept = sdnotify._sock
    assert sdnotify.notify("STATUS=2 imported")
    assert sdnotify._sock is kept
    received = [path_socket.recv(4096) for _ in range(5)]
    assert received == [
        b"READY=1",
        b"STATUS=1 imported",
        b"WATCHDOG=1",
        b"STOPPING=1",
        b"STATUS=2 imported",
    ]


def test_status_is_one_line(path_socket: socket.socket) -> None:
    # A line break inside a value must not smuggle in an assignment of its own.
    assert sdnotify.notify("STATUS=fatal: key revoked\nREADY=1\r\n  retrying\x00 slowly  ")
    assert path_socket.recv(4096) == b"STATUS=fatal: key revoked READY=1 retrying slowly"


def test_non_ascii_status_is_utf8(path_socket: socket.socket) -> None:
    assert sdnotify.notify("STATUS=Müller et al.nbib: 3 new")
    assert path_socket.recv(4096) == "STATUS=Müller et al.nbib: 3 new".encode()


def test_nothing_to_send(path_socket: socket.socket) -> None:
    assert sdnotify.notify() is False
    assert sdnotify.notify("", "\n") is False


def test_unsupported_address_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert sdnotify.notify("READY=1") is False


def test_dead_socket_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gone"
    _receiver(str(path)).close()  # the file is left behind, nobody listens on it
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "never-existed"))
    assert sdnotify.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "@syncd-test-nobody-" + uuid.uuid4().hex)
    assert sdnotify.notify("READY=1") is False


def test_socket_that_comes_back_is_used_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify"
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert sdnotify.notify("READY=1") is False
    with _receiver(str(path)) as sock:
        assert sdnotify.notify("READY=1") is True
        assert sock.recv(4096) == b"READY=1"


def test_threads_share_the_socket(path_socket: socket.socket) -> None:
    got: list[bytes] = []
    # Read while the threads send, as systemd does: an unread socket queues only ~10 datagrams.
    reader = threading.Thread(target=lambda: got.extend(path_socket.recv(4096) for _ in range(80)))
    reader.start()
    sent: list[bool] = []

    def ping(n: int) -> None:
        sent.extend(sdnotify.notify(f"STATUS=thread {n} ping {i}") for i in range(20))

    threads = [threading.Thread(target=ping, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader.join()
    assert sent == [True] * 80
    assert sorted(got) == sorted(
        f"STATUS=thread {n} ping {i}".encode() for n in range(4) for i in range(20)
    )


def test_a_full_socket_does_not_hang_the_caller(
    path_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody reads: once the queue is full a send gives up after _SEND_TIMEOUT, returning False.
    monkeypatch.setattr(sdnotify, "_SEND_TIMEOUT", 0.05)
    results = [sdnotify.notify(f"STATUS={i}") for i in range(20)]
    assert results[0] is True
    assert results[-1] is False


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        (None, None, None),
        ("300000000", None, 150.0),  # WatchdogSec=5min
        ("300000000", "self", 150.0),
        ("300000000", "other", None),  # inherited from the process that systemd started
        ("1000000", "", 0.5),
        ("0", None, None),
        ("-5", None, None),
        ("soon", None, None),
        ("300000000", "not-a-pid", None),
    ],
)
def test_watchdog_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        value = {"self": str(os.getpid()), "other": str(os.getpid() + 1)}.get(pid, pid)
        monkeypatch.setenv("WATCHDOG_PID", value)
    assert sdnotify.watchdog_interval() == expected
