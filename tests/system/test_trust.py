"""Issue 9 §4 and §5 through the CLI: waits a server asks for end, and every failure of the
set-up (state database, disk, server, key) gets a message naming its cause, never "internal
error"."""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import main
from syncd.sandbox import SandboxServer
from tests.helpers import Redirector
from tests.system.conftest import KEY

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]


def article(pmid: int) -> str:
    return (
        f"PMID- {pmid}\nDP  - 2020 Jan\nTI  - A study of thing {pmid}.\nFAU - Curie, Marie\n"
        "PT  - Journal Article\nJT  - Journal of things\n"
    )


def export(tmp_path: Path, *pmids: int, name: str = "a.nbib") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(article(p) for p in pmids), encoding="utf-8")
    return path


def config(tmp_path: Path, url: str, state: Path | None = None) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[zotero]\nlibrary_id = 1\napi_url = "{url}"\n'
        f'[state]\npath = "{state or tmp_path / "state.db"}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def run(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["import", "--config", str(cfg), *args])
    out = capsys.readouterr()
    assert "internal error" not in out.err and "Traceback" not in out.err, out.err
    return code, out.err


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOTERO_API_KEY", KEY)


# ---- §4: a wait the server asks for is capped, announced and ends on Ctrl-C -----------------


def test_ctrl_c_ends_a_long_backoff_cleanly(tmp_path: Path, sandbox: SandboxServer) -> None:
    sandbox.set_backoff(999_999_999)
    cfg = config(tmp_path, sandbox.url)
    env = {
        **os.environ,
        "ZOTERO_API_KEY": KEY,
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "import", "--config", str(cfg), str(export(tmp_path, 1))],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "until" in line:
            break
    announced = "".join(lines)
    assert "Zotero asked to back off (Backoff: 3600 s); no requests to users/1 until" in announced
    assert announced.rstrip().endswith("(3600 s)")  # capped at an hour, not 31 years
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, announced + err
    assert "syncd: interrupted" in err and "Traceback" not in err
    assert KEY not in announced + err


# ---- §5: the server is not what it should be ------------------------------------------------


def test_an_html_page_answering_an_items_request(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.inject(status=200, method="GET", path=r"/items", body="<html>Sign in</html>", times=100)
    code, err = run(config(tmp_path, sandbox.url), capsys, str(export(tmp_path, 1)))
    assert code == 2
    assert "text/html" in err and "not the JSON the Zotero API sends" in err
    assert "hint:" in err and "zotero.api_url" in err


def test_a_non_ascii_key_is_a_config_error(
    tmp_path: Path,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZOTERO_API_KEY", KEY[:23] + "é")
    code, err = run(config(tmp_path, sandbox.url), capsys, str(export(tmp_path, 1)))
    assert code == 2
    assert "$ZOTERO_API_KEY does not hold a Zotero API key" in err and "ASCII" in err
    assert "answer" not in err and KEY[:20] not in err
    assert sandbox.requests() == []


def test_a_redirect_to_another_host_is_not_a_permission_problem(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    redirector = Redirector(f"http://localhost:{port}")
    try:
        code, err = run(config(tmp_path, redirector.url), capsys, str(export(tmp_path, 1)))
    finally:
        redirector.close()
    assert code == 2
    assert "redirected" in err and f"localhost:{port}" in err
    assert "may not" not in err and "permission" not in err and "right" not in err
    assert sandbox.requests() == []


# ---- §5: the state database and the disk under it -----------------------------------------


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) read-only for syncd: by its mode, or, for root (whom modes
    do not stop), by a read-only bind mount."""
    if os.geteuid() != 0:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    mount = shutil.which("mount")
    if mount is None or subprocess.run([mount, "--bind", path, path], check=False).returncode:
        pytest.skip("root, and no bind mount to make a path read-only")
    try:
        subprocess.run([mount, "-o", "remount,ro,bind", path], check=True)
        yield
    finally:
        subprocess.run(["umount", path], check=False)


def imported_once(tmp_path: Path, sandbox: SandboxServer, capsys: Any) -> Path:
    """A config whose state database holds one finished import (of PMIDs 1-3)."""
    cfg = config(tmp_path, sandbox.url, tmp_path / "state" / "state.db")
    code, _ = run(cfg, capsys, str(export(tmp_path, 1, 2, 3)))
    assert code == 0
    return cfg


def test_a_read_only_state_database(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = imported_once(tmp_path, sandbox, capsys)
    db = tmp_path / "state" / "state.db"
    with read_only(db):
        code, err = run(cfg, capsys, str(export(tmp_path, 4, name="b.nbib")))
    assert code == 2
    assert f"{db}: cannot write the state database" in err
    assert "read-only" in err and "move" not in err


def test_a_read_only_state_folder(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "state"
    for cfg_made in (False, True):  # a new database, then an existing one
        if cfg_made:
            cfg = imported_once(tmp_path, sandbox, capsys)
        else:
            folder.mkdir()
            cfg = config(tmp_path, sandbox.url, folder / "state.db")
        with read_only(folder):
            code, err = run(cfg, capsys, str(export(tmp_path, 4, name="b.nbib")))
        assert code == 2
        assert f"{folder / 'state.db'}: cannot write the state database" in err
        assert "read-only" in err and "move" not in err and "hint:" in err
        if os.geteuid() != 0:
            assert f"chmod u+w {folder}" in err
        if not cfg_made:
            shutil.rmtree(folder)


def _limit_pages(monkeypatch: pytest.MonkeyPatch, db: Path, pages: int) -> None:
    """Connections to ``db`` may grow it to ``pages`` pages: SQLite then reports, exactly as
    for a full disk, "database or disk is full"."""
    connect = sqlite3.connect

    def limited(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(database, *args, **kwargs)
        if Path(str(database)) == db:
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", limited)


def test_a_full_disk(
    tmp_path: Path,
    sandbox: SandboxServer,
    keyed: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = imported_once(tmp_path, sandbox, capsys)
    db = tmp_path / "state" / "state.db"
    _limit_pages(monkeypatch, db, sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0])
    code, err = run(cfg, capsys, str(export(tmp_path, *range(10, 200), name="b.nbib")))
    assert code == 2
    assert f"{db}: the disk is full" in err and "free some space" in err


def test_a_file_size_limit(tmp_path: Path, sandbox: SandboxServer) -> None:
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG instead of killing
    # the process; SQLite reports it as an I/O error.
    cfg = config(tmp_path, sandbox.url)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    path = export(tmp_path, *range(1, 150))
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "import", "--config", str(cfg), str(path)],
        env={**os.environ, "ZOTERO_API_KEY": KEY, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "file-size limit (20000 bytes, 'ulimit -f')" in done.stderr
    assert "ulimit -f unlimited" in done.stderr and "internal error" not in done.stderr


def _scramble(db: Path) -> None:
    """Random bytes over every page but the first (the header stays readable)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    rng = random.Random(9)
    data[page:] = bytes(rng.randrange(256) for _ in range(len(data) - page))
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["random bytes", "dropped table"])
def test_a_damaged_state_database_import_and_doctor(
    tmp_path: Path,
    sandbox: SandboxServer,
    keyed: None,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    cfg = imported_once(tmp_path, sandbox, capsys)
    db = tmp_path / "state" / "state.db"
    if damage == "random bytes":
        _scramble(db)
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE records")
    code, err = run(cfg, capsys, str(export(tmp_path, 4, name="b.nbib")))
    assert code == 2
    assert f"{db}: the state database is damaged" in err
    if damage == "dropped table":
        assert "table records is missing" in err
    # The hint keeps the file (never "delete it") and says what a new one means.
    assert f"mv {db} {db}.damaged" in err and ".recover" in err
    assert main(["doctor", "--config", str(cfg)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err
    assert f"[FAIL] state database: {db}: the state database is damaged" in out.out


# ---- §5: a loop of symbolic links is not a missing file -------------------------------------


def test_symbolic_link_loops_are_named(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    loop = tmp_path / "loop1"
    # as the export to read
    code, err = run(config(tmp_path, sandbox.url), capsys, str(loop))
    assert code == 2 and f"{loop}: a loop of symbolic links" in err and "no such" not in err
    # as the state database
    cfg = config(tmp_path, sandbox.url, loop)
    code, err = run(cfg, capsys, str(export(tmp_path, 1)))
    assert code == 2 and "loop of symbolic links" in err and "no such" not in err
    assert main(["doctor", "--config", str(cfg)]) == 1
    assert "[FAIL] state database:" in capsys.readouterr().out
    # as the config file
    assert main(["import", "--config", str(loop), str(tmp_path / "a.nbib")]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and "no such" not in err
