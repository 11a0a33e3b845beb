"""Drive ``syncd run`` as a user (or systemd) would: a real process, a real watched folder,
the sandbox over real HTTP, and a notify socket of the test's own as ``NOTIFY_SOCKET``."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from syncd.core.identity import item_identifiers
from syncd.sandbox import SandboxServer
from syncd.zotero import ZoteroGateway

KEY = "DaemonTestKey0123456789a"

ROOT = Path(__file__).resolve().parents[2]
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@contextlib.contextmanager
def daemon_sandbox() -> Iterator[SandboxServer]:
    """The sandbox the daemons of these tests import into: user 1 and its key :data:`KEY`."""
    with SandboxServer(admin=True) as server:
        server.add_user(1, "daemon")
        server.add_key(KEY, 1)
        yield server


class Daemon:
    """One syncd installation running ``syncd run``: its own config, state and folder."""

    def __init__(
        self,
        home: Path,
        url: str,
        key: str = KEY,
        *,
        folder: Path | None = None,
        library: str = "user = 1",
        watch: str = "",
        settle: float = 0.3,
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.folder = folder if folder is not None else home / "inbox"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state = home / "state.db"
        kind, _, number = library.partition(" = ")
        self.config = home / "config.toml"
        self.config.write_text(
            "[zotero]\n"
            f'library_type = "{kind}"\n'
            f"library_id = {number}\n"
            f'api_url = "{url}"\n'
            "[watch]\n"
            f'directory = "{self.folder}"\n'
            f"settle_seconds = {settle}\n"
            f"{watch}\n"
            "[state]\n"
            f'path = "{self.state}"\n',
            encoding="utf-8",
        )
        self.config.chmod(0o600)
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES},
            "SYNCD_CONFIG": str(self.config),
            "ZOTERO_API_KEY": key,
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "XDG_STATE_HOME": str(home / "xdg-state"),
            "HOME": str(home),
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT),
        }
        for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            self.env.pop(var, None)
        self.log = home / "syncd.log"
        self.proc: subprocess.Popen[str] | None = None
        self.notify_socket: socket.socket | None = None
        self.messages: list[str] = []

    # ---- the process ----------------------------------------------------------------------

    def start(self, *args: str, notify: bool = True, env: dict[str, str] | None = None) -> None:
        extra = dict(env or {})
        if notify:
            name = f"@syncd-test-{uuid.uuid4().hex}"
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind("\0" + name[1:])
            sock.settimeout(0.2)
            self.notify_socket = sock
            self.messages = []
            extra["NOTIFY_SOCKET"] = name
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"--- syncd run {' '.join(args)}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "syncd", "run", *args],
                cwd=ROOT,
                env={**self.env, **extra},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                text=True,
            )

    def run(self, *args: str, timeout: float = 90.0, env: dict[str, str] | None = None) -> int:
        """``syncd run ARGS`` to its end (``--once``); the exit code."""
        self.start(*args, notify=False, env=env)
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"syncd run did not end; log:\n{self.tail()}") from None

    def receive(self) -> list[str]:
        """Every notification received so far (one string per datagram)."""
        if self.notify_socket is not None:
            while True:
                try:
                    self.messages.append(self.notify_socket.recv(4096).decode())
                except (TimeoutError, BlockingIOError):
                    break
        return self.messages

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("READY=1" in m for m in self.receive()):
                return
            self.assert_running()
        raise AssertionError(f"no READY=1 within {timeout} s; log:\n{self.tail()}")

    def assert_running(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        assert code is None, f"syncd run exited {code}; log:\n{self.tail()}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send ``sig``; the exit code and the seconds it took to exit."""
        assert self.proc is not None
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"syncd run ignored {sig}; log:\n{self.tail()}") from None
        self.receive()
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        if self.notify_socket is not None:
            self.notify_socket.close()
            self.notify_socket = None

    def tail(self, lines: int = 80) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(encoding="utf-8").splitlines()[-lines:])

    # ---- what it did ----------------------------------------------------------------------

    def status(self) -> tuple[int, dict[str, Any]]:
        code, out = self.status_text("--json")
        return code, json.loads(out)

    def status_text(self, *args: str) -> tuple[int, str]:
        """``syncd status ARGS`` as a user runs it: its exit status and what it printed."""
        proc = subprocess.run(
            [sys.executable, "-m", "syncd", "status", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return proc.returncode, proc.stdout

    def history(self) -> list[tuple[str, str, int]]:
        """(file name, outcome, records) of every file imported, oldest first."""
        if not self.state.exists():
            return []
        uri = f"{self.state.as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            try:
                rows = db.execute("SELECT path, outcome, records FROM history ORDER BY id")
                # A name that is not UTF-8 is kept as its raw bytes.
                return [(Path(os.fsdecode(p)).name, o, n) for p, o, n in rows]
            except sqlite3.OperationalError:
                return []


def library_pmids(
    sandbox: SandboxServer, library_type: str = "user", library_id: int = 1
) -> collections.Counter[str]:
    """How many items (trash included) the library holds for each PMID."""
    with ZoteroGateway(
        library_type=library_type, library_id=library_id, api_key=KEY, api_url=sandbox.url
    ) as gateway:
        versions, _ = gateway.item_versions(0)
        items = gateway.get_items(list(versions))
    return collections.Counter(
        p for p in (item_identifiers(i["data"]).pmid for i in items) if p is not None
    )


def assert_exactly_once(
    sandbox: SandboxServer, pmids: Iterable[int], library_type: str = "user", library_id: int = 1
) -> None:
    counts = library_pmids(sandbox, library_type, library_id)
    twice = {p: n for p, n in counts.items() if n > 1}
    assert not twice, f"PMIDs held more than once: {twice}"
    missing = {str(p) for p in pmids} - set(counts)
    assert not missing, f"{len(missing)} PMIDs missing, e.g. {sorted(missing)[:5]}"


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s\n{log}")


def wait_for_pmids(
    sandbox: SandboxServer,
    pmids: Iterable[int],
    timeout: float,
    *daemons: Daemon,
    library: tuple[str, int] = ("user", 1),
) -> None:
    want = {str(p) for p in pmids}

    def landed() -> bool:
        for d in daemons:
            d.assert_running()
        return want <= set(library_pmids(sandbox, *library))

    log = "\n".join(d.tail() for d in daemons)
    wait_for(landed, timeout, f"{len(want)} PMIDs landing in the library", log)
