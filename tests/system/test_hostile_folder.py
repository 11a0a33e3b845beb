"""Nothing in the Downloads folder may stop the other files (issue 14 §1): names that are not
UTF-8, that hold a newline or a bidi override, names too long for their ``.errors.txt``, and a
file that trips syncd itself."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from syncd import daemon as daemon_module
from syncd.daemon import Daemon as Worker
from syncd.errors import StateError
from syncd.sandbox import SandboxServer
from syncd.sources import ids as sources  # where the engine's inputs are read
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from tests.helpers import medline, model_config, ticks, worker, write_export
from tests.system.daemon_harness import (
    ROOT,
    Daemon,
    assert_exactly_once,
    daemon_sandbox,
    library_pmids,
    wait_for,
    wait_for_pmids,
)

pytestmark = [pytest.mark.timeout(300)]

UNREADABLE_RECORD = "\nAU  - Nobody N\nDP  - 2020\n"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with daemon_sandbox() as server:
        yield server


@pytest.fixture
def daemon(tmp_path: Path, sandbox: SandboxServer) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "machine", sandbox.url)
    yield d
    d.close()


def put(folder: Path, name: bytes, text: str) -> bytes:
    path = os.fsencode(folder) + b"/" + name
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def syncd(daemon: Daemon, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    """Run ``syncd ARGS`` as the daemon's user would, the output as raw bytes."""
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        cwd=ROOT,
        env=daemon.env,
        capture_output=True,
        check=False,
        timeout=60,
    )


def strictly_valid(text: str) -> None:
    """What a strict reader of the log or the JSON demands: valid UTF-8, no lone surrogate
    escapes, no bidi override, one line per line."""
    text.encode("utf-8")  # raises on a lone surrogate
    assert "\u202e" not in text
    assert "\\ud" not in text.lower()


@pytest.mark.slow
def test_hostile_names_are_imported_shown_safely_and_stop_nothing(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    put(daemon.folder, b"bad\xff\xfe.nbib", medline([41000001]))
    put(daemon.folder, b"two\nlines.nbib", medline([41000002]))
    put(daemon.folder, "evil\u202egpj.nbib".encode(), medline([41000003]))
    long_name = b"x" * 240 + b".nbib"  # 245 bytes: NAME.errors.txt would be 256
    put(daemon.folder, long_name, medline([41000004]) + UNREADABLE_RECORD)
    put(daemon.folder, b"ok.nbib", medline([41000005]))
    assert daemon.run("--once") == 1, daemon.tail()  # 1: the long one has a broken record
    assert_exactly_once(sandbox, [41000001, 41000002, 41000003, 41000004, 41000005])
    log = daemon.tail(200)
    strictly_valid(log)
    assert "bad\\xff\\xfe.nbib: 1 record: 1 new" in log
    assert "two\\nlines.nbib: 1 record: 1 new" in log
    assert "evil\\u202egpj.nbib: 1 record: 1 new" in log
    assert not any(line.startswith("lines.nbib") for line in log.splitlines())
    # The long name's report: shortened, never "File name too long"; the export stays put.
    reports = [n for n in os.listdir(os.fsencode(daemon.folder)) if n.endswith(b".errors.txt")]
    assert len(reports) == 1 and len(reports[0]) <= 255
    assert reports[0].startswith(b"x" * 200 + b"-")
    assert os.path.exists(os.fsencode(daemon.folder) + b"/" + long_name)
    assert "File name too long" not in log
    assert f"(see {os.fsdecode(reports[0])})" in log
    # syncd status, as JSON and as text: every name escaped, strict JSON.
    proc = syncd(daemon, "status", "--json")
    out = proc.stdout.decode("utf-8")  # strict: raises on bytes that are not UTF-8
    strictly_valid(out)
    status: dict[str, Any] = json.loads(out)
    paths = {Path(f["path"]).name for f in status["last_files"]}
    assert {"bad\\xff\\xfe.nbib", "two\\nlines.nbib", "evil\\u202egpj.nbib"} <= paths
    text = syncd(daemon, "status").stdout.decode("utf-8")
    strictly_valid(text)
    assert "bad\\xff\\xfe.nbib: imported" in text
    # A second run: everything known, nothing sent, and the same names again.
    sandbox.clear_requests()
    assert daemon.run("--once") == 0  # nothing new went wrong (status still lists the file)
    assert not [r for r in sandbox.requests() if r["method"] == "POST"]
    assert sorted(library_pmids(sandbox)) == [f"4100000{n}" for n in range(1, 6)]


@pytest.mark.slow
def test_syncd_import_of_a_name_that_is_not_utf8(
    tmp_path: Path, sandbox: SandboxServer, daemon: Daemon
) -> None:
    path = put(daemon.folder, b"bad\xff\xfe.nbib", medline([41100001]))
    proc = syncd(daemon, "import", "--json", path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("utf-8")
    strictly_valid(out)
    report = json.loads(out)
    assert report["created"][0]["where"].endswith("/bad\\xff\\xfe.nbib:1")
    assert library_pmids(sandbox) == {"41100001": 1}
    text = syncd(daemon, "import", path).stdout.decode("utf-8")
    assert "bad\\xff\\xfe.nbib:1: PMID 41100001" in text, text


class Tripping(MemoryTarget):
    """A server answer that trips syncd on one article (a bug's stand-in)."""

    def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> Any:
        if any("TRIP" in item.get("title", "") for item in items):
            raise ValueError("an answer syncd did not expect")
        return super().create_items(items, if_unmodified_since=if_unmodified_since)


@pytest.mark.parametrize("where", ["sending", "reading"])
def test_a_file_that_trips_syncd_is_one_failed_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    config = model_config(tmp_path)
    folder = tmp_path / "inbox"
    server = MemoryLibrary()
    gateway: type[MemoryTarget] = MemoryTarget
    if where == "sending":
        gateway = Tripping
    else:
        real = sources.read_path

        def tripping_read(path: Path) -> Any:
            if path.name == "trip.nbib":
                raise ValueError("a file syncd did not expect")
            return real(path)

        monkeypatch.setattr(sources, "read_path", tripping_read)
    (folder / "a.nbib").write_text(medline([42000001]), encoding="utf-8")
    trip = medline([42000002]).replace("TI  - ", "TI  - TRIP ", 1)
    (folder / "trip.nbib").write_text(trip, encoding="utf-8")
    (folder / "b.nbib").write_text(medline([42000003]), encoding="utf-8")
    with worker(config, server, gateway) as w:
        ticks(w, 5)
        assert sorted(server.pmids()) == ["42000001", "42000003"]
        assert w.trouble is None  # the daemon carries on
        assert w.store is not None
        if where == "sending":
            # The record that trips the write fails alone, with the reason; its file is partial.
            (row,) = w.store.records("users/1", ["failed"])
            assert row.pmid == "42000002"
            assert "syncd failed on this record (ValueError" in (row.error or "")
            (bad,) = w.store.files("users/1", ["partial"])
        else:
            (bad,) = w.store.files("users/1", ["unreadable"])
            assert "syncd failed on this file (ValueError" in (bad.detail or "")
        assert Path(bad.path).name == "trip.nbib"
        assert (folder / "trip.nbib").exists()
        # It is not read again until it changes; the next file still goes in.
        (folder / "c.nbib").write_text(medline([42000004]), encoding="utf-8")
        ticks(w, 3)
        assert sorted(server.pmids()) == ["42000001", "42000003", "42000004"]


def test_an_unreadable_export_is_a_failed_file_read_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = model_config(tmp_path)
    folder = tmp_path / "inbox"
    if os.geteuid() == 0:
        # root reads every file: let the mode bits say what the kernel would to a user.
        def cannot_read(path: Path) -> str | None:
            return "Permission denied" if path.stat().st_mode & 0o444 == 0 else None

        monkeypatch.setattr(daemon_module, "cannot_read", cannot_read)
    locked = folder / "locked.nbib"
    locked.write_text(medline([43000001]), encoding="utf-8")
    locked.chmod(0)
    (folder / "ok.txt").write_text(medline([43000002]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert server.pmids() == ["43000002"]
        assert w.store is not None
        (bad,) = w.store.files("users/1", ["unreadable"])
        assert bad.path == str(locked) and bad.detail == "cannot read it: Permission denied"
        assert w.files_with_problems == 1
        # Reported once, not at every rescan; read when the user fixes it.
        ticks(w)
        assert [h.path for h in w.store.history("users/1", 10)].count(str(locked)) == 1
        locked.chmod(0o644)  # changes the ctime only: enough to read it again
        ticks(w)
        assert sorted(server.pmids()) == ["43000001", "43000002"]


def test_a_file_rewritten_with_the_same_size_and_mtime_is_read_again(tmp_path: Path) -> None:
    config = model_config(tmp_path)
    path = tmp_path / "inbox" / "a.nbib"
    path.write_text(medline([43300001]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert server.pmids() == ["43300001"]
        before = path.stat()
        text = medline([43300002])
        assert len(text) == before.st_size
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -r` would
        ticks(w)
        assert sorted(server.pmids()) == ["43300001", "43300002"]


@pytest.mark.parametrize("ask", ["SIGHUP", "status --retry"])
def test_a_change_no_stat_shows_is_read_again_when_asked(tmp_path: Path, ask: str) -> None:
    # A change that keeps size, mtime, inode and ctime (a copy tool restoring times, a file
    # system without ctime): the rescans cannot see it; SIGHUP or status --retry reads again.
    config = model_config(tmp_path)
    path = tmp_path / "inbox" / "a.nbib"
    path.write_text(medline([43400001]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert w.store is not None
        row = w.store.file("users/1", str(path))
        assert row is not None and row.sha256
        path.write_text(medline([43400002]), encoding="utf-8")
        st = path.stat()
        hidden = replace(
            row, size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, ctime_ns=st.st_ctime_ns
        )
        w.store.put_file("users/1", hidden)  # the state saw this stat, with the old bytes
        ticks(w)
        assert server.pmids() == ["43400001"]  # no stat changed: not read
        if ask == "SIGHUP":
            w._on_signal(signal.SIGHUP, None)
        else:
            from syncd.commands import status

            with StateStore(config.state.path) as store:
                status._act(argparse.Namespace(clear=False), store, "users/1", None)
            w._on_signal(signal.SIGHUP, None)  # what --retry sends a running daemon
        ticks(w)
        assert sorted(server.pmids()) == ["43400001", "43400002"]
        # Unchanged bytes are not read again by the next SIGHUP.
        writes = server.writes
        w._on_signal(signal.SIGHUP, None)
        ticks(w)
        assert server.writes == writes


def test_a_download_renamed_from_the_browsers_temporary_name_is_read_at_once(
    tmp_path: Path,
) -> None:
    config = model_config(tmp_path, settle_seconds=60.0)
    folder = tmp_path / "inbox"
    server = MemoryLibrary()
    with worker(config, server) as w:
        part = folder / "pubmed.nbib.crdownload"
        part.write_text(medline([43500001]), encoding="utf-8")
        done = folder / "pubmed.nbib"
        part.rename(done)
        w._events.put(daemon_module._FINISHED + str(done))  # the observer's "moved" event
        w._drain(0)
        ready, _ = w.settler.ready(time.time())
        assert ready == [done]  # no 60 s settle wait
        (folder / "other.nbib").write_text(medline([43500002]), encoding="utf-8")
        w._events.put(str(folder / "other.nbib"))  # an ordinary write event
        w._drain(0)
        assert w.settler.ready(time.time()) == ([], [])  # waits its settle time


def test_a_file_over_max_file_bytes_is_failed_unread(tmp_path: Path) -> None:
    config = model_config(tmp_path, max_file_bytes=2000)
    folder = tmp_path / "inbox"
    (folder / "huge.nbib").write_text(medline(range(43100001, 43100011)), encoding="utf-8")
    (folder / "small.nbib").write_text(medline([43100020]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert server.pmids() == ["43100020"]
        assert w.store is not None
        (bad,) = w.store.files("users/1", ["unreadable"])
        assert Path(bad.path).name == "huge.nbib"
        assert "larger than watch.max_file_bytes (2,000)" in (bad.detail or "")


def test_the_same_bytes_as_a_file_that_could_not_be_read_are_not_already_imported(
    tmp_path: Path,
) -> None:
    config = model_config(tmp_path)
    folder = tmp_path / "inbox"
    garbage = b"\x00\x01garbage, not an export\n"
    (folder / "a.nbib").write_bytes(garbage)
    (folder / "b.nbib").write_bytes(garbage)
    with worker(config, MemoryLibrary()) as w:
        ticks(w)
        assert w.store is not None
        history = {Path(h.path).name: h for h in w.store.history("users/1", 10)}
        assert history["a.nbib"].outcome == "unreadable"
        assert history["b.nbib"].outcome == "unreadable", history["b.nbib"]
        assert "could not be read" in (history["b.nbib"].detail or "")


def test_other_users_files_are_skipped_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files are the test's (root's, here); the daemon is made to run as another user.
    monkeypatch.setattr(daemon_module.os, "getuid", lambda: os.geteuid() + 4242)
    config = model_config(tmp_path)
    folder = tmp_path / "inbox"
    (folder / "planted.nbib").write_text(medline([43200001]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert server.pmids() == []
        assert w.store is not None
        (row,) = w.store.files("users/1", ["foreign"])
        assert Path(row.path).name == "planted.nbib"
    allowed = replace(config, watch=replace(config.watch, other_owners=True))
    (folder / "planted.nbib").write_text(medline([43200001]) + "\n", encoding="utf-8")
    with worker(allowed, server) as w:
        ticks(w)
        assert server.pmids() == ["43200001"]


def test_an_inotify_limit_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from watchdog.observers import Observer

    def no_watches(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", no_watches)
    config = model_config(tmp_path)
    config = replace(config, watch=replace(config.watch, events=True))
    with worker(config, MemoryLibrary()) as w:
        for _ in range(5):
            w.observer = None
            w._start_observer()
    said = [r for r in caplog.records if "cannot watch" in r.getMessage()]
    assert [r.levelname for r in said].count("WARNING") == 1, said


def test_a_state_database_deleted_while_running_is_noticed_and_started_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    folder = tmp_path / "inbox"
    (folder / "a.nbib").write_text(medline([43400001]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert server.pmids() == ["43400001"]
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.state.path}{suffix}").unlink(missing_ok=True)
        (folder / "b.nbib").write_text(medline([43400002]), encoding="utf-8")
        ticks(w)
        assert "was deleted or replaced while syncd ran" in caplog.text
        assert config.state.path.exists()
        # Both files are in the new database, and a.nbib's article is not created twice.
        assert sorted(server.pmids()) == ["43400001", "43400002"]
        assert w.store is not None
        with StateStore(config.state.path, readonly=True) as again:
            assert {Path(f.path).name for f in again.files("users/1")} == {"a.nbib", "b.nbib"}


def test_a_full_disk_at_start_is_waited_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    (tmp_path / "inbox" / "a.nbib").write_text(medline([43500001]), encoding="utf-8")
    real = daemon_module.StateStore
    attempts: list[int] = []

    def store(path: Path) -> StateStore:
        attempts.append(1)
        if len(attempts) < 3:
            raise StateError(f"{path}: no space left on the device (ENOSPC)", transient=True)
        return real(path)

    monkeypatch.setattr(daemon_module, "StateStore", store)
    notified: list[tuple[str, ...]] = []
    monkeypatch.setattr(daemon_module.sdnotify, "notify", lambda *a: notified.append(a))
    server = MemoryLibrary()
    w = Worker(config, lambda config, sleep: MemoryTarget(server))
    monkeypatch.setattr(w, "_sleep_until", lambda end: None)
    w._open_and_start()
    try:
        assert len(attempts) == 3
        assert "waiting for the state database to be writable again" in caplog.text
        # systemd hears READY=1 at once (no start timeout, no restart loop), the trouble in
        # STATUS=, and the daemon goes on once the disk has room again.
        ready = [a for a in notified if a[0] == "READY=1"]
        assert ready and "ENOSPC" in ready[0][1], notified
        ticks(w)
        assert server.pmids() == ["43500001"]
        assert w.trouble is None
    finally:
        assert w.store is not None
        w.store.close()


def test_a_full_disk_while_running_is_trouble_not_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    server = MemoryLibrary()
    with worker(config, server) as w:
        assert w.store is not None
        real = w.store.add_history
        full = [True]

        def add_history(*args: Any, **kwargs: Any) -> None:
            if full[0]:
                raise StateError("state.db: the disk is full (SQLITE_FULL)", transient=True)
            real(*args, **kwargs)

        monkeypatch.setattr(w.store, "add_history", add_history)
        (tmp_path / "inbox" / "a.nbib").write_text(medline([43600001]), encoding="utf-8")
        w.retry_at = 0.0
        w._safe_tick()
        assert w.trouble is not None and "SQLITE_FULL" in w.trouble
        with caplog.at_level(logging.INFO, logger="syncd"):
            full[0] = False
            for _ in range(4):
                w.retry_at = 0.0
                w._safe_tick()
        assert server.pmids() == ["43600001"]  # once: the article is not created twice
        assert w.trouble is None
        said = [r.getMessage() for r in caplog.records]
        assert not any("Zotero is reachable" in m for m in said), said
        assert any("the state database is writable again" in m for m in said), said


def _mount_tmpfs(where: Path, size: str) -> str | None:
    """Mount a small tmpfs at ``where``; why not, in a line, when it cannot be done here."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "needs root and mount(8) for a small tmpfs"
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else f"cannot mount a tmpfs: {done.stderr.strip()}"


@pytest.mark.slow
def test_a_real_full_disk_under_the_state_database_is_waited_out(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    disk = tmp_path / "small-disk"
    why = _mount_tmpfs(disk, "3m")
    if why is not None:
        pytest.skip(why)
    d = Daemon(tmp_path / "machine", sandbox.url)
    try:
        state = disk / "state.db"
        d.config.write_text(d.config.read_text().replace(str(d.state), str(state)))
        d.state = state
        d.start()
        d.wait_ready()
        write_export(d.folder / "a.nbib", [43700001])
        wait_for_pmids(sandbox, [43700001], 30, d)
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        pmids = write_export(d.folder / "b.nbib", range(43700010, 43700040))
        said = "waiting for the state database to be writable again"
        wait_for(lambda: said in d.tail(), 30, "the trouble said", d.tail())
        d.assert_running()  # waiting, not exited
        filler.unlink()
        wait_for_pmids(sandbox, [43700001, *pmids], 90, d)
        d.assert_running()
        assert_exactly_once(sandbox, [43700001, *pmids])
    finally:
        d.close()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_the_watched_folder_replaced_is_noticed_and_scanned(tmp_path: Path) -> None:
    config = model_config(tmp_path, rescan_seconds=3600.0)
    folder = tmp_path / "inbox"
    (folder / "a.nbib").write_text(medline([43900001]), encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w, 2)
        assert server.pmids() == ["43900001"]
        # Deleted and made again within a second (here: renamed away, a new one made).
        folder.rename(tmp_path / "inbox.old")
        folder.mkdir()
        (folder / "b.nbib").write_text(medline([43900002]), encoding="utf-8")
        ticks(w, 3)  # no rescan is due for an hour: only the inode says it is another folder
        assert sorted(server.pmids()) == ["43900001", "43900002"]


def test_a_writer_that_paused_mid_line_is_waited_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path, settle_seconds=0.2)
    path = tmp_path / "inbox" / "slow.nbib"
    whole = medline([44000001])
    cut = whole.index("FAU - ") + 9  # in the middle of the first author's line
    path.write_text(whole[:cut], encoding="utf-8")
    server = MemoryLibrary()
    with worker(config, server) as w:
        time.sleep(0.3)  # past the settle time: only the missing line end holds it back
        ticks(w)
        assert server.pmids() == []
        with path.open("a", encoding="utf-8") as fh:
            fh.write(whole[cut:])
        time.sleep(0.3)
        ticks(w)
        (item,) = (d for _, d in server.items.values())
        assert len(item["creators"]) == whole.count("FAU - ")  # all of them, not a cut
        assert item["creators"][0]["lastName"] == "Lovelace"
    assert "ends in the middle of a line" not in caplog.text  # nothing to warn about


def test_a_file_that_changed_while_it_was_read_is_read_again_and_the_item_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer paused between two whole lines, long enough to pass the settle time, and
    # went on while syncd read the file: the item is created from the first part, and the
    # rest, once it settles, completes it (the same article: a duplicate, completed).
    config = model_config(tmp_path, settle_seconds=0.2)
    path = tmp_path / "inbox" / "paused.nbib"
    whole = medline([44200001])
    cut = whole.index("FAU - ", whole.index("FAU - ") + 1)  # after the first author's lines
    path.write_text(whole[:cut], encoding="utf-8")
    real = sources.read_path

    def read_then_the_writer_goes_on(p: Path) -> Any:
        yield from real(p)  # the whole of what is there now, then the writer goes on
        if p.name == "paused.nbib" and path.stat().st_size == cut:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(whole[cut:])

    monkeypatch.setattr(sources, "read_path", read_then_the_writer_goes_on)
    server = MemoryLibrary()
    with worker(config, server) as w:
        time.sleep(0.3)
        ticks(w)
        (item,) = (d for _, d in server.items.values())
        assert len(item["creators"]) == 1  # read before the rest was written
        time.sleep(0.3)
        ticks(w, 5)
        (item,) = (d for _, d in server.items.values())
        assert len(item["creators"]) == whole.count("FAU - ")  # completed, not left cut
        assert server.pmids() == ["44200001"]


@pytest.mark.slow
def test_a_slow_read_keeps_the_heartbeat_fresh_and_stops_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read that takes long (a huge file on a slow disk): the worker's heartbeat (what the
    # systemd watchdog ping rests on) stays fresh while it reads, and a stop request ends the
    # read between records instead of after the whole file.
    config = model_config(tmp_path, settle_seconds=0.2)
    path = tmp_path / "inbox" / "huge.nbib"
    path.write_text(medline(range(44300001, 44302001)), encoding="utf-8")
    real = sources.read_path
    beats: list[float] = []
    running: list[Worker] = []

    def slow_read(p: Path) -> Any:
        for n, record in enumerate(real(p)):
            if n % 200 == 0:
                time.sleep(0.05)  # the disk is slow
                beats.append(running[0].heartbeat)
                if n == 1000:
                    running[0].stop.set()  # systemctl --user stop, half-way through the file
            yield record

    monkeypatch.setattr(sources, "read_path", slow_read)
    server = MemoryLibrary()
    with worker(config, server) as w:
        running.append(w)
        time.sleep(0.3)
        with pytest.raises(daemon_module.Stopping):
            ticks(w, 2)
    assert len(set(beats)) > 3, "the heartbeat stood still during the read"
    assert len(server.items) < 2000, "the read went on to the end after the stop request"


def test_an_export_without_a_final_newline_goes_in_once_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path, settle_seconds=0.2)
    path = tmp_path / "inbox" / "as-pubmed-writes-it.nbib"
    path.write_text(medline([44100001]).rstrip("\n"), encoding="utf-8")
    old = time.time() - 60
    os.utime(path, (old, old))  # unchanged for long: 10 x settle_seconds has passed
    server = MemoryLibrary()
    with worker(config, server) as w:
        ticks(w)
        assert server.pmids() == ["44100001"]
    assert "ends in the middle of a line and has not changed for 2 s" in caplog.text
