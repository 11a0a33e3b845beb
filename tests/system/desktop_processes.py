"""Real ``syncd import`` / ``syncd run`` processes against the Zotero desktop double, which
runs in the test's process (its switches are method calls). Test modules import from here."""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from syncd.sandbox.desktop import DesktopDouble
from syncd.sandbox.desktop_state import DesktopState
from syncd.targets.desktop_auth import DesktopKey, authorize, write_desktop_key
from tests.system.daemon_harness import Daemon

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 120.0
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@contextlib.contextmanager
def running_app(**state: object) -> Iterator[DesktopDouble]:
    """The Zotero 10 app (the double) on a free port of 127.0.0.1."""
    with DesktopDouble(DesktopState(**state)) as app:  # type: ignore[arg-type]
        yield app


def desktop_config(home: Path, app: DesktopDouble, key: DesktopKey | None, extra: str = "") -> Path:
    """A config for ``target = "desktop"`` in ``home``, with ``key`` stored as setup would."""
    home.mkdir(parents=True, exist_ok=True)
    key_file = home / "zotero-desktop-key"
    if key is not None:
        write_desktop_key(key_file, key)
    config = home / "config.toml"
    config.write_text(
        "[zotero]\n"
        'target = "desktop"\n'
        f'desktop_url = "{app.url}"\n'
        f'desktop_key_file = "{key_file}"\n'
        f"{extra}"
        "[state]\n"
        f'path = "{home / "state.db"}"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


class DesktopMachine:
    """One syncd installation writing to the app: its config, key file and state database."""

    def __init__(self, home: Path, app: DesktopDouble, key: DesktopKey | None = None) -> None:
        self.home, self.app = home, app
        self.key = key if key is not None else authorize(app.url)
        self.config = desktop_config(home, app, self.key)
        self.key_file = home / "zotero-desktop-key"
        self.state = home / "state.db"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES},
            "SYNCD_CONFIG": str(self.config),
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "XDG_STATE_HOME": str(home / "xdg-state"),
            "HOME": str(home),
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("ZOTERO_API_KEY", None)
        self.log = home / "syncd.log"

    def start(self, *paths: Path) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "syncd", "import", *map(str, paths)]
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"--- {' '.join(command)}\n")
            log.flush()
            return subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, text=True,
            )  # fmt: skip

    def run(self, *paths: Path, expect: int = 0) -> None:
        proc = self.start(*paths)
        try:
            code = proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"syncd import hung; log:\n{self.tail()}") from None
        assert code == expect, f"syncd import exited {code}, wanted {expect}; log:\n{self.tail()}"

    def status(self) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "syncd", "status"], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return proc.stdout + proc.stderr

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8").splitlines()[-lines:])


class DesktopDaemon(Daemon):
    """``syncd run`` on a watched folder, writing to the app."""

    def __init__(self, home: Path, app: DesktopDouble, key: DesktopKey, **kw: object) -> None:
        super().__init__(home, app.url, **kw)  # type: ignore[arg-type]
        text = self.config.read_text(encoding="utf-8")
        watch = text[text.index("[watch]") : text.index("[state]")]
        desktop_config(home, app, key, extra=watch)
        self.env.pop("ZOTERO_API_KEY", None)


def pmid_counts(app: DesktopDouble, server_id: str | None = None) -> collections.Counter[str]:
    """How many items of the app's current database (or of ``server_id``'s) hold each PMID."""
    state = app.state
    with state.lock:
        db = state.databases[server_id] if server_id else state.db
        current, state.db = state.db, db
        try:
            return collections.Counter(state.pmids())
        finally:
            state.db = current


def assert_exactly_once(
    app: DesktopDouble, pmids: Iterable[int], server_id: str | None = None
) -> None:
    counts = pmid_counts(app, server_id)
    twice = {p: n for p, n in counts.items() if n > 1}
    assert not twice, f"PMIDs held more than once: {twice}"
    missing = {str(p) for p in pmids} - set(counts)
    assert not missing, f"{len(missing)} PMIDs missing, e.g. {sorted(missing)[:5]}"


def record_statuses(machine: DesktopMachine) -> dict[str, int]:
    """Record rows of the machine's state database by status, read-only."""
    import sqlite3

    uri = f"file:{machine.state}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        return dict(db.execute("SELECT status, count(*) FROM records GROUP BY status"))
