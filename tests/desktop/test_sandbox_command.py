"""`syncd sandbox --desktop`: the desktop double as a process, answering as Zotero 10 does and
flipped by its switches, then stopping cleanly."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from syncd.errors import RemoteError
from syncd.targets.desktop_auth import authorize, server_id

ROOT = Path(__file__).resolve().parents[2]


def post(url: str) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as r:
        return str(r.read().decode())


@pytest.mark.slow
def test_serves_the_dialog_as_told_flips_switches_and_stops(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "--desktop", "--desktop-port", "0",
         "--answer", "deny", "--signed-in-as", "77"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert m and "Zotero 10.0.0" in first, first
        url = m.group(0)
        sid_line = proc.stdout.readline()
        assert server_id(url) in sid_line
        with pytest.raises(RemoteError, match="denied"):
            authorize(url)
        assert post(f"{url}/_desktop/set?answer=always") == "ok\n"
        key = authorize(url)
        assert key.server_id == server_id(url)
        post(f"{url}/_desktop/swap")
        assert server_id(url) != key.server_id
        with urllib.request.urlopen(f"{url}/_desktop/info", timeout=10) as r:
            info = json.loads(r.read())
        assert info["server_id"] == server_id(url) and info["keys"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "desktop double stopped" in out
