"""`syncd sandbox`: prints where it listens and what to use, serves, stops cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.conftest import Client

ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    return proc, lines


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serves_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    proc, lines = _start(
        "--data", str(tmp_path), "--api-key", "CliKey0123456789abcdefgh", "--group-id", "5"
    )
    try:
        m = re.search(r"http://127\.0\.0\.1:(\d+)", lines[0])
        assert m, lines
        assert "user id:  1" in lines[1]
        assert "CliKey0123456789abcdefgh" in lines[2]
        assert "group id: 5" in lines[3]
        client = Client(m.group(0))
        reply = client.get("/keys/current", key="CliKey0123456789abcdefgh")
        assert reply.json["userID"] == 1
        # It names itself as it printed (syncd's messages quote it when a key is refused).
        assert f"instance: {reply.headers['syncd-sandbox-instance']} " in lines[4], lines
        assert reply.json["access"]["groups"] == {"all": {"library": True, "write": True}}
        assert (
            client.post(
                "/groups/5/items",
                [{"itemType": "book", "title": "B"}],
                key="CliKey0123456789abcdefgh",
            ).status
            == 200
        )
        # Admin routes are off unless asked for.
        assert client.get("/_sandbox/requests", key=None).status == 404
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
    assert (tmp_path / "sandbox.sqlite3").exists()


def test_random_key_when_none_given() -> None:
    proc, lines = _start("--admin")
    try:
        key = re.search(r"API key:\s+(\S+)", lines[2])
        assert key and re.fullmatch(r"[A-Za-z0-9]{24}", key.group(1))
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0])
        assert url
        client = Client(url.group(0))
        assert client.get("/_sandbox/requests", key=key.group(1)).status == 200
        # Admin routes need the sandbox's key (issue 9 §6).
        assert client.get("/_sandbox/requests", key=None).status == 403
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_bad_port_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "70000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--port 70000" in done.stderr


def test_a_key_syncd_would_refuse_is_refused_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0", "--api-key", "A" * 23],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "24 letters and digits" in done.stderr and "23 characters" in done.stderr


def test_a_restart_on_the_same_data_says_earlier_keys_still_work(tmp_path: Path) -> None:
    keys = []
    for _ in range(2):
        proc, lines = _start("--data", str(tmp_path))
        key = re.search(r"API key:\s+(\S+)", lines[2])
        assert key
        keys.append(key.group(1))
        assert proc.stdout is not None
        after = proc.stdout.readline()  # the line after "data:"
        proc.terminate()
        proc.communicate(timeout=20)
    assert "1 key printed by earlier starts on this data still works" in after, after
    # ... and it does: the first start's key is still accepted (the sandbox ran again to check).
    proc, lines = _start("--data", str(tmp_path))
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0])
        assert url
        assert Client(url.group(0)).get("/keys/current", key=keys[0]).status == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
