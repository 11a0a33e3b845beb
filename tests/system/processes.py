"""Real ``syncd import`` processes against an in-process sandbox, for the system tests that
prove exactly-once (kill -9, storms, several writers): the sandbox fixture, one "machine" (its
own config and state database, as one computer), and reading the library back by PMID.
(Test modules import from here, never from each other.)"""

from __future__ import annotations

import collections
import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.core.identity import item_identifiers
from syncd.sandbox import SandboxServer
from syncd.zotero import ZoteroGateway

ROOT = Path(__file__).resolve().parents[2]
KEY = "ExactlyOnce0123456789abc"
USER_ID = 1
LIBRARY = f"users/{USER_ID}"
ITEMS_PATH = rf"^/users/{USER_ID}/items$"
RUN_TIMEOUT = 90.0

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


# ---- the sandbox and the syncd "machines" ---------------------------------------------------


@contextlib.contextmanager
def running_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox with the admin routes, user ``USER_ID`` and ``KEY``, and no proxy variables
    (a test module's ``sandbox`` fixture enters it)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with SandboxServer(admin=True) as server:
        server.add_user(USER_ID, "testuser")
        server.add_key(KEY, USER_ID)
        yield server


class Machine:
    """One syncd installation: its own config and state database, driving ``syncd import``."""

    def __init__(
        self, home: Path, sandbox: SandboxServer, *, zotero: str = "", state: Path | None = None
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.state = state or home / "state.db"
        self.config = home / "config.toml"
        self.config.write_text(
            "[zotero]\n"
            'library_type = "user"\n'
            f"library_id = {USER_ID}\n"
            f'api_url = "{sandbox.url}"\n'
            f"{zotero}"
            "[state]\n"
            f'path = "{self.state}"\n',
            encoding="utf-8",
        )
        self.config.chmod(0o600)
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES},
            "SYNCD_CONFIG": str(self.config),
            "ZOTERO_API_KEY": KEY,
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT),
        }
        self.log = home / "syncd.log"

    def command(self, *paths: Path, json: bool = False) -> list[str]:
        return [
            sys.executable,
            "-m",
            "syncd",
            "import",
            *(["--json"] if json else []),
            *map(str, paths),
        ]

    def start(self, *paths: Path, out: Path | None = None) -> subprocess.Popen[str]:
        """Start ``syncd import``; with ``out``, its JSON report goes there."""
        command = self.command(*paths, json=out is not None)
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"--- {' '.join(command)}\n")
            log.flush()
            with (out or self.log).open("a", encoding="utf-8") as stdout:
                return subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=log,
                    text=True,
                )

    def run(self, *paths: Path, expect: int = 0) -> None:
        proc = self.start(*paths)
        try:
            code = proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"syncd import hung; log:\n{self.tail()}") from None
        assert code == expect, f"syncd import exited {code}, wanted {expect}; log:\n{self.tail()}"

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8").splitlines()[-lines:])


_SEEN: dict[tuple[str, str, int], str | None] = {}
"""(sandbox URL, item key, version) -> PMID: items already read need not be read again."""


def library_pmids(sandbox: SandboxServer) -> collections.Counter[str]:
    """How many items (trash included) the library holds for each PMID."""
    with ZoteroGateway(
        library_type="user", library_id=USER_ID, api_key=KEY, api_url=sandbox.url
    ) as gateway:
        versions, _ = gateway.item_versions(0)
        unread = [k for k, v in versions.items() if (sandbox.url, k, v) not in _SEEN]
        for item in gateway.get_items(unread):
            pmid = item_identifiers(item["data"]).pmid
            _SEEN[sandbox.url, item["key"], item["version"]] = pmid
    counts: collections.Counter[str] = collections.Counter()
    for key, version in versions.items():
        pmid = _SEEN[sandbox.url, key, version]
        if pmid:
            counts[pmid] += 1
    return counts


def assert_exactly_once(sandbox: SandboxServer, pmids: Iterable[int]) -> None:
    counts = library_pmids(sandbox)
    twice = {p: n for p, n in counts.items() if n > 1}
    assert not twice, f"PMIDs held more than once: {twice}"
    missing = {str(p) for p in pmids} - set(counts)
    assert not missing, f"{len(missing)} PMIDs missing, e.g. {sorted(missing)[:5]}"


def assert_at_most_once(sandbox: SandboxServer) -> None:
    twice = {p: n for p, n in library_pmids(sandbox).items() if n > 1}
    assert not twice, f"PMIDs held more than once: {twice}"


def wait_until(
    proc: subprocess.Popen[str], condition: Callable[[], bool], timeout: float = 30.0
) -> bool:
    """Poll ``condition`` until it holds (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.005)
    raise AssertionError("syncd import neither reached the kill point nor ended")


def statuses(machine: Machine) -> tuple[int, int]:
    """(pending, pushed) record rows in the machine's state database, read-only."""
    uri = f"file:{machine.home / 'state.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        counts = dict(db.execute("SELECT status, count(*) FROM records GROUP BY status"))
    return counts.get("pending", 0), counts.get("pushed", 0)


def item_posts(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox.requests()
        if r["method"] == "POST" and r["path"] == f"/users/{USER_ID}/items"
    ]
