"""``syncd run`` as a user meets it: a real process watching a real folder with the real
watchdog observer, importing into the sandbox over real HTTP.

The heavy proofs (kill -9 at many moments, the sandbox down for a while) run a reduced number
of rounds here and the full number under ``make proof`` (``SYNCD_PROOF=1``).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.sandbox import SandboxServer
from tests.helpers import medline, write_export
from tests.system.daemon_harness import (
    KEY,
    Daemon,
    assert_exactly_once,
    daemon_sandbox,
    library_pmids,
    wait_for,
    wait_for_pmids,
)

PROOF = os.environ.get("SYNCD_PROOF") == "1"
ITEMS_POST = r"^/users/1/items$"
# A record with neither a PMID nor a title cannot be imported: reported with its line.
UNREADABLE_RECORD = "\nAU  - Nobody N\nDP  - 2020\n"

pytestmark = [pytest.mark.timeout(300)]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with daemon_sandbox() as server:
        yield server


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for d in made:
        d.close()


@pytest.fixture
def daemon(tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]) -> Daemon:
    d = Daemon(tmp_path / "machine", sandbox.url)
    daemons.append(d)
    return d


def posts(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.requests() if r["method"] == "POST" and "/items" in r["path"])


# ---- downloads as browsers write them ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("browser", ["chrome", "firefox"])
def test_a_partial_download_is_read_only_after_the_rename(
    daemon: Daemon, sandbox: SandboxServer, browser: str
) -> None:
    daemon.start()
    daemon.wait_ready()
    text = medline(range(40000001, 40000011))
    half = text[: len(text) // 2]
    final = daemon.folder / "citations.nbib"
    if browser == "chrome":
        temp = daemon.folder / "Unconfirmed 812345.crdownload"
    else:
        # Firefox creates the final name empty, writes NAME.part, then renames it over.
        final.write_bytes(b"")
        temp = daemon.folder / "citations.nbib.part"
    temp.write_text(half, encoding="utf-8")
    time.sleep(1.0)  # well past settle_seconds: the partial file must still not be read
    assert daemon.history() == []
    temp.write_text(text, encoding="utf-8")
    temp.rename(final)
    wait_for_pmids(sandbox, range(40000001, 40000011), 30, daemon)
    # The history row is written just after the items land.
    wait_for(lambda: daemon.history() != [], 10, "the history row", daemon.tail())
    assert daemon.history() == [("citations.nbib", "imported", 10)]
    assert_exactly_once(sandbox, range(40000001, 40000011))


@pytest.mark.slow
def test_a_slow_copy_in_chunks_is_read_once_whole(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    d = Daemon(tmp_path / "m", sandbox.url, settle=1.5)
    daemons.append(d)
    d.start()
    d.wait_ready()
    data = medline(range(40001001, 40001031)).encode()
    target = d.folder / "slow.nbib"
    step = len(data) // 5 + 1
    with target.open("wb") as fh:
        for i in range(5):
            fh.write(data[i * step : (i + 1) * step])
            fh.flush()
            time.sleep(0.6)
    wait_for_pmids(sandbox, range(40001001, 40001031), 30, d)
    wait_for(lambda: d.history() != [], 10, "the history row")
    assert d.history() == [("slow.nbib", "imported", 30)]


@pytest.mark.slow
def test_a_hundred_files_dropped_at_once(daemon: Daemon, sandbox: SandboxServer) -> None:
    daemon.start()
    daemon.wait_ready()
    staging = daemon.home / "staging"
    pmids: list[int] = []
    for n in range(100):
        pmids += write_export(staging / f"pubmed-{n:03}.nbib", [40100000 + 2 * n, 40100001 + 2 * n])
    for f in sorted(staging.iterdir()):
        f.rename(daemon.folder / f.name)
    wait_for_pmids(sandbox, pmids, 120, daemon)
    wait_for(lambda: len(daemon.history()) == 100, 30, "100 history rows")
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_the_same_bytes_under_three_names_are_imported_once(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    daemon.start()
    daemon.wait_ready()
    pmids = write_export(daemon.folder / "citations.nbib", range(40200001, 40200006))
    wait_for_pmids(sandbox, pmids, 30, daemon)
    wait_for(lambda: len(daemon.history()) == 1, 10, "the first history row")
    before = posts(sandbox)
    sandbox.clear_requests()
    text = (daemon.folder / "citations.nbib").read_text(encoding="utf-8")
    (daemon.folder / "citations(1).nbib").write_text(text, encoding="utf-8")
    (daemon.folder / "citations (2).nbib").write_text(text, encoding="utf-8")
    wait_for(lambda: len(daemon.history()) == 3, 30, "three history rows", daemon.tail())
    assert before > 0
    assert sandbox.requests() == [], "the same content again must cost no request"
    outcomes = sorted(h[1] for h in daemon.history())
    assert outcomes == ["imported", "unchanged", "unchanged"]
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_other_text_files_are_ignored_and_a_broken_export_is_reported(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    daemon.start()
    daemon.wait_ready()
    (daemon.folder / "notes.txt").write_text("shopping: milk, eggs\n", encoding="utf-8")
    (daemon.folder / "broken.nbib").write_bytes(b"\x00\x01garbage, not an export\n")
    wait_for(lambda: len(daemon.history()) == 1, 30, "the broken file's report", daemon.tail())
    assert daemon.history() == [("broken.nbib", "unreadable", 0)]
    errors = daemon.folder / "broken.nbib.errors.txt"
    assert errors.exists() and "not a MEDLINE/PubMed export" in errors.read_text()
    assert (daemon.folder / "broken.nbib").exists(), "a user's file is never deleted"
    # The daemon keeps running and imports the next good file; notes.txt never appears.
    pmids = write_export(daemon.folder / "pubmed.txt", range(40300001, 40300004))
    wait_for_pmids(sandbox, pmids, 30, daemon)
    wait_for(lambda: len(daemon.history()) == 2, 10, "the good file's history row")
    assert "notes.txt" not in {h[0] for h in daemon.history()}
    assert "notes.txt" not in daemon.tail()
    code, status = daemon.status()
    assert code == 1  # the broken file waits for the user
    assert [Path(f["path"]).name for f in status["files_with_problems"]] == ["broken.nbib"]
    assert status["files_with_problems"][0]["errors_file"] == str(errors)  # where to look
    assert status["running"] and status["directory"] == str(daemon.folder)
    # The user fixes the file: it goes in, and syncd's stale problem report goes away.
    fixed = write_export(daemon.folder / "broken.nbib", [40300010])
    wait_for_pmids(sandbox, fixed, 30, daemon)
    wait_for(lambda: not errors.exists(), 10, "the stale report removed", daemon.tail())


@pytest.mark.slow
def test_a_fifo_in_the_folder_never_blocks_the_daemon(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    os.mkfifo(daemon.folder / "named-pipe.nbib")
    daemon.start()
    daemon.wait_ready()
    os.mkfifo(daemon.folder / "another-pipe.txt")
    pmids = write_export(daemon.folder / "after.nbib", [40700001])
    wait_for_pmids(sandbox, pmids, 30, daemon)
    assert [h[0] for h in daemon.history()] == ["after.nbib"]


@pytest.mark.slow
def test_status_retry_reads_files_with_failures_again(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    daemon.start()
    daemon.wait_ready()
    write_export(daemon.folder / "partly.nbib", [40800001])
    with (daemon.folder / "partly.nbib").open("a") as fh:
        fh.write(UNREADABLE_RECORD)
    wait_for(lambda: len(daemon.history()) == 1, 30, "the first import", daemon.tail())
    code, status = daemon.status()
    assert code == 1 and len(status["files_with_problems"]) == 1
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "syncd", "status", "--retry"],
        env=daemon.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "1 file with failures will be read again now." in out
    wait_for(lambda: len(daemon.history()) == 2, 30, "the second reading", daemon.tail())
    subprocess.run([sys.executable, "-m", "syncd", "status", "--clear"], env=daemon.env, check=True)
    code, status = daemon.status()
    assert code == 0 and status["files_with_problems"] == [], status


@pytest.mark.slow
def test_after_import_move_and_failed_directory_never_overwrite(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    done = tmp_path / "done"
    failed = tmp_path / "failed"
    d = Daemon(
        tmp_path / "m",
        sandbox.url,
        watch=f'after_import = "move"\ndone_directory = "{done}"\nfailed_directory = "{failed}"',
    )
    daemons.append(d)
    done.mkdir()
    (done / "a.nbib").write_text("already here\n", encoding="utf-8")
    d.start()
    d.wait_ready()
    pmids = write_export(d.folder / "a.nbib", range(40400001, 40400004))
    (d.folder / "b.nbib").write_text(medline([40400010]) + UNREADABLE_RECORD)
    wait_for_pmids(sandbox, pmids, 30, d)
    wait_for(lambda: (done / "a (1).nbib").exists(), 20, "the move to done/", d.tail())
    assert (done / "a.nbib").read_text() == "already here\n"
    assert not (d.folder / "a.nbib").exists()
    wait_for(lambda: (failed / "b.nbib").exists(), 20, "the move to failed/", d.tail())
    errors = (failed / "b.nbib.errors.txt").read_text()
    assert "b.nbib:" in errors


@pytest.mark.slow
def test_recursive_watching_leaves_its_own_done_and_failed_folders_alone(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    d = Daemon(
        tmp_path / "m",
        sandbox.url,
        watch='recursive = true\nafter_import = "move"\nfailed_directory = "failed"',
    )
    daemons.append(d)
    # failed_directory is relative to the config file: inside the machine's folder, not the
    # watched one; put one inside the watched folder too, to be sure.
    d.config.write_text(d.config.read_text().replace('"failed"', f'"{d.folder / "failed"}"'))
    (d.folder / "sub").mkdir()
    d.start()
    d.wait_ready()
    good = write_export(d.folder / "sub" / "good.nbib", [40900001, 40900002])
    (d.folder / "bad.nbib").write_text(medline([40900003]) + UNREADABLE_RECORD)
    wait_for_pmids(sandbox, [*good, 40900003], 30, d)
    wait_for(lambda: (d.folder / "done" / "good.nbib").exists(), 20, "the move", d.tail())
    wait_for(lambda: (d.folder / "failed" / "bad.nbib").exists(), 20, "the move", d.tail())
    time.sleep(2.0)  # had the daemon watched its own folders, it would import them again
    assert sorted(h[0] for h in d.history()) == ["bad.nbib", "good.nbib"], d.tail()


# ---- crashes, outages, neighbours ---------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_at_many_moments_then_restart_every_pmid_once(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    rounds = 24 if PROOF else 5
    rng = random.Random(7)
    pmids: list[int] = []
    for r in range(rounds):
        daemon.start(notify=False)
        batch = range(41000000 + 1000 * r, 41000000 + 1000 * r + 60)
        pmids += write_export(daemon.home / "staging" / f"r{r}.nbib", batch)
        (daemon.home / "staging" / f"r{r}.nbib").rename(daemon.folder / f"r{r}.nbib")
        time.sleep(rng.uniform(0.2, 2.5))
        daemon.kill()
    assert daemon.run("--once") == 0, daemon.tail()
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_the_sandbox_down_for_a_while_then_back(tmp_path: Path, daemons: list[Daemon]) -> None:
    down = 30.0 if PROOF else 6.0
    data = tmp_path / "sandbox"
    server = SandboxServer(data_dir=data, admin=True)
    server.start()
    server.add_user(1, "daemon")
    server.add_key(KEY, 1)
    port = int(server.url.rsplit(":", 1)[1])
    d = Daemon(tmp_path / "m", server.url)
    daemons.append(d)
    try:
        d.start()
        d.wait_ready()
        server.stop()
        pmids = write_export(d.folder / "offline.nbib", range(42000001, 42000021))
        started = time.monotonic()
        wait_for(lambda: d.status()[1]["trouble"], 60, "the trouble in syncd status", d.tail())
        time.sleep(max(0.0, down - (time.monotonic() - started)))
        d.assert_running()
        server = SandboxServer(data_dir=data, port=port, admin=True)
        server.start()
        wait_for_pmids(server, pmids, 120, d)
        assert_exactly_once(server, pmids)
        d.assert_running()
    finally:
        server.stop()


@pytest.mark.slow
def test_four_daemons_on_one_group_library_make_no_duplicates(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    sandbox.add_group(77, "lab", owner=1)
    sandbox.add_key(KEY, 1, groups={77: (True, True)})
    machines = [
        Daemon(tmp_path / f"machine-{n}", sandbox.url, library="group = 77") for n in range(4)
    ]
    daemons += machines
    for m in machines:
        m.start()
    for m in machines:
        m.wait_ready()
    files = {
        "a.nbib": range(43000001, 43000041),
        "b.nbib": range(43000031, 43000071),
        "c.nbib": range(43000061, 43000101),
    }
    for name, pmids in files.items():
        write_export(tmp_path / "staging" / name, pmids)
    for m in machines:
        for name in files:
            (m.folder / name).write_bytes((tmp_path / "staging" / name).read_bytes())
    everything = range(43000001, 43000101)
    wait_for_pmids(sandbox, everything, 120, *machines, library=("group", 77))
    for m in machines:
        wait_for(lambda m=m: len(m.history()) == 3, 60, "every machine's history", m.tail())
    assert_exactly_once(sandbox, everything, "group", 77)


@pytest.mark.slow
def test_four_daemons_1500_100_100_1500_with_overlap_all_land_once(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    # Issue 9's lab case with daemons: busy neighbours make a daemon wait, never fail.
    sandbox.inject(method="POST", path=ITEMS_POST, delay=0.05, times=100_000)
    base = 52000000
    loads = {
        "a": range(base, base + 1500),
        "b": range(base + 1450, base + 1550),
        "c": range(base + 1500, base + 1600),
        "d": range(base + 1100, base + 2600),
    }
    machines = {n: Daemon(tmp_path / n, sandbox.url) for n in loads}
    daemons += machines.values()
    for m in machines.values():
        m.start()
    for m in machines.values():
        m.wait_ready()
    for n, pmids in loads.items():
        write_export(tmp_path / "staging" / f"{n}.nbib", pmids)
        (tmp_path / "staging" / f"{n}.nbib").rename(machines[n].folder / f"{n}.nbib")
        time.sleep(0.3)
    wait_for_pmids(sandbox, range(base, base + 2600), 240, *machines.values())
    for m in machines.values():
        wait_for(lambda m=m: len(m.history()) == 1, 60, "the history row", m.tail())
        assert m.history()[0][1] == "imported", m.tail()
    assert_exactly_once(sandbox, range(base, base + 2600))


@pytest.mark.slow
def test_sigterm_during_a_batch_exits_0_within_5_s_and_loses_nothing(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    daemon.start()
    daemon.wait_ready()
    sandbox.inject(method="POST", path=ITEMS_POST, delay=1.5, times=1000)
    pmids = write_export(daemon.folder / "big.nbib", range(44000001, 44000301))
    wait_for(lambda: posts(sandbox) > 0, 30, "the first POST", daemon.tail())
    code, took = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.tail()
    assert took < 5.0, f"stopping took {took:.1f} s"
    assert "STOPPING=1" in daemon.messages[-1]
    sandbox.clear_faults()
    assert daemon.run("--once") == 0, daemon.tail()
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_a_server_backoff_is_shown_and_sigterm_interrupts_it(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    daemon.start()
    daemon.wait_ready()
    sandbox.set_backoff(120)
    write_export(daemon.folder / "slow.nbib", [44100001])

    def backing_off() -> bool:
        return "backing off until" in (daemon.status()[1]["trouble"] or "")

    wait_for(backing_off, 60, "the backoff in syncd status", daemon.tail())
    code, took = daemon.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0, (code, took, daemon.tail())


@pytest.mark.slow
def test_ctrl_c_exits_130(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_ready()
    code, took = daemon.stop(signal.SIGINT)
    assert code == 130 and took < 5.0


# ---- systemd -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_sd_notify_ready_status_watchdog_stopping_in_order(daemon: Daemon) -> None:
    daemon.start(env={"WATCHDOG_USEC": "400000"})  # a ping every 0.2 s
    daemon.wait_ready()
    time.sleep(1.5)
    daemon.stop()
    messages = daemon.messages
    ready = next(i for i, m in enumerate(messages) if "READY=1" in m)
    assert "STATUS=watching " in messages[ready]
    pings = [i for i, m in enumerate(messages) if m == "WATCHDOG=1"]
    assert len(pings) >= 3, messages
    assert min(pings) > ready
    assert "STOPPING=1" in messages[-1]
    assert all("\n" not in line.partition("=")[2] for m in messages for line in m.split("\n"))


@pytest.mark.slow
def test_no_watchdog_pings_without_watchdog_usec(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_ready()
    time.sleep(1.0)
    daemon.stop()
    assert not any(m == "WATCHDOG=1" for m in daemon.messages)


@pytest.mark.slow
def test_syncd_import_works_while_the_daemon_runs(daemon: Daemon, sandbox: SandboxServer) -> None:
    import subprocess
    import sys

    daemon.start()
    daemon.wait_ready()
    watched = write_export(daemon.folder / "watched.nbib", range(41100001, 41100041))
    by_hand = write_export(daemon.home / "by-hand.nbib", range(41100021, 41100061))
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "import", str(daemon.home / "by-hand.nbib")],
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    wait_for_pmids(sandbox, [*watched, *by_hand], 60, daemon)
    assert_exactly_once(sandbox, [*watched, *by_hand])


def test_under_journald_one_line_per_file_with_priorities_and_never_the_key(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    write_export(daemon.folder / "citations.nbib", range(40500001, 40500013))
    (daemon.folder / "broken.nbib").write_bytes(b"\x00 not an export\n")
    daemon.log.touch()
    st = daemon.log.stat()
    code = daemon.run("--once", env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert code == 1
    lines = daemon.log.read_text(encoding="utf-8").splitlines()[1:]
    assert "<6>citations.nbib: 12 records: 12 new, 0 duplicates, 0 failed" in lines
    assert any(line.startswith("<4>broken.nbib: could not be read") for line in lines)
    assert all(line.startswith("<") for line in lines), lines
    assert not any(line[3:5].isdigit() and line[5] == ":" for line in lines), "no timestamps"
    assert KEY not in daemon.log.read_text(encoding="utf-8")


def test_desktop_notifications_through_notify_send(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "notify-send.calls"
    stub = bin_dir / "notify-send"
    stub.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> "{calls}"\necho >> "{calls}"\n')
    stub.chmod(0o755)
    d = Daemon(tmp_path / "m", sandbox.url, watch="[notify]\ndesktop = true")
    daemons.append(d)
    d.env["PATH"] = f"{bin_dir}:{d.env['PATH']}"
    write_export(d.folder / "citations.nbib", range(40600001, 40600004))
    assert d.run("--once") == 0, d.tail()
    wait_for(calls.exists, 10, "the notification")
    assert calls.read_text().splitlines() == [
        "--app-name=syncd|PubMed → Zotero|citations.nbib: 3 new, 0 already there|"
    ]


@pytest.mark.slow
def test_a_second_daemon_on_the_same_state_is_refused(
    daemon: Daemon, sandbox: SandboxServer
) -> None:
    daemon.start()
    daemon.wait_ready()
    assert daemon.proc is not None
    first = daemon.proc
    code = daemon.run("--once")
    assert code == 2
    assert f"already running (pid {first.pid})" in daemon.tail()
    daemon.proc = first
    daemon.assert_running()


# ---- scans, folders, the first start ----------------------------------------------------------


@pytest.mark.slow
def test_without_events_the_rescan_finds_every_file(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    d = Daemon(tmp_path / "m", sandbox.url, watch="events = false\nrescan_seconds = 0.5")
    daemons.append(d)
    d.start()
    d.wait_ready()
    pmids: list[int] = []
    for n in range(5):
        pmids += write_export(d.folder / f"e{n}.nbib", [45000001 + n])
    wait_for_pmids(sandbox, pmids, 30, d)
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_once_exit_codes(tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]) -> None:
    d = Daemon(tmp_path / "ok", sandbox.url)
    daemons.append(d)
    pmids = write_export(d.folder / "ok.nbib", range(46000001, 46000004))
    assert d.run("--once") == 0, d.tail()
    assert_exactly_once(sandbox, pmids)
    (d.folder / "partly.nbib").write_text(medline([46000010]) + UNREADABLE_RECORD)
    (d.folder / "broken.nbib").write_bytes(b"\x00\x01 nothing here\n")
    assert d.run("--once") == 1, d.tail()
    bad_key = Daemon(tmp_path / "bad-key", sandbox.url, key="NotAValidKey000000000000")
    daemons.append(bad_key)
    write_export(bad_key.folder / "x.nbib", [46000020])
    assert bad_key.run("--once") == 2, bad_key.tail()
    missing = Daemon(tmp_path / "missing", sandbox.url, folder=tmp_path / "nowhere")
    daemons.append(missing)
    missing.folder.rmdir()
    assert missing.run("--once") == 2
    assert "does not exist" in missing.tail()


@pytest.mark.slow
def test_first_start_in_the_download_folder_takes_a_baseline(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    home = tmp_path / "home"
    downloads = home / "Téléchargements"
    d = Daemon(home, sandbox.url, folder=downloads)
    daemons.append(d)
    # No watch.directory: the XDG download folder, as xdg-user-dirs writes it.
    text = d.config.read_text().replace(f'directory = "{downloads}"\n', "")
    d.config.write_text(text)
    (home / "xdg-config").mkdir()
    (home / "xdg-config" / "user-dirs.dirs").write_text(
        '# written by xdg-user-dirs-update\nXDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n'
    )
    old = write_export(downloads / "old-export.nbib", [47000001])
    assert d.run("--once") == 0, d.tail()
    assert "recorded as a baseline" in d.tail()
    assert "new downloads will be imported as they arrive" in d.tail()  # the whole sentence
    assert d.history() == []
    _, status = d.status()
    assert status["baseline"]["files"] == 1
    new = write_export(downloads / "dropped-while-stopped.nbib", [47000002])
    assert d.run("--once") == 0, d.tail()
    assert d.history() == [("dropped-while-stopped.nbib", "imported", 1)]
    assert_exactly_once(sandbox, new)
    assert str(old[0]) not in library_pmids(sandbox)
    assert d.run("--once", "--import-existing") == 0
    assert d.history() == [("dropped-while-stopped.nbib", "imported", 1)]  # only the first start


def test_import_existing_on_the_first_start(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    home = tmp_path / "home"
    d = Daemon(home, sandbox.url, folder=home / "Downloads")
    daemons.append(d)
    d.config.write_text(d.config.read_text().replace(f'directory = "{d.folder}"\n', ""))
    old = write_export(d.folder / "old-export.nbib", [47100001, 47100002])
    assert d.run("--once", "--import-existing") == 0, d.tail()
    assert_exactly_once(sandbox, old)


@pytest.mark.slow
def test_a_folder_that_vanishes_is_waited_for(daemon: Daemon, sandbox: SandboxServer) -> None:
    daemon.start()
    daemon.wait_ready()
    daemon.folder.rmdir()
    time.sleep(1.0)
    daemon.assert_running()
    daemon.folder.mkdir()
    time.sleep(0.2)
    wait_for(lambda: "is back" in daemon.tail(), 20, "the folder noticed again", daemon.tail())
    pmids = write_export(daemon.folder / "after.nbib", [48000001, 48000002])
    wait_for_pmids(sandbox, pmids, 30, daemon)


@pytest.mark.slow
def test_status_right_after_the_start_names_the_start_scan(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_ready()  # READY=1 comes after the start scan
    code, status = daemon.status()
    assert code == 0 and status["running"]
    assert status["last_scan"] is not None, status
    _, text = daemon.status_text()
    assert "(last scan never)" not in text and "(last scan 20" in text, text


@pytest.mark.slow
def test_sighup_reloads_the_config(daemon: Daemon, sandbox: SandboxServer) -> None:
    daemon.config.write_text(
        daemon.config.read_text().replace("[watch]\n", '[watch]\npatterns = ["*.nbib"]\n')
    )
    daemon.start()
    daemon.wait_ready()
    pmids = write_export(daemon.folder / "export.medline", [49000001])
    time.sleep(1.0)
    assert daemon.history() == []
    daemon.config.write_text(
        daemon.config.read_text().replace('patterns = ["*.nbib"]', 'patterns = ["*.medline"]')
    )
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for_pmids(sandbox, pmids, 30, daemon)


def test_sighup_says_a_new_key_in_the_credentials_file_needs_a_restart(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    # As under systemd: the key is the credential's copy, made when the service started.
    d = Daemon(tmp_path / "m", sandbox.url)
    daemons.append(d)
    source = d.home / "xdg-config" / "syncd" / "zotero-api-key"
    source.parent.mkdir(parents=True)
    source.write_text(KEY + "\n")
    source.chmod(0o600)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "zotero-api-key").write_text(KEY + "\n")
    del d.env["ZOTERO_API_KEY"]
    d.start(env={"CREDENTIALS_DIRECTORY": str(credentials)})
    d.wait_ready()
    assert d.proc is not None
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.tail(), 20, "the reload", d.tail())
    assert "restart" not in d.tail()  # the same key: nothing to say

    source.write_text("NewKey000000000000000000\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "systemctl --user restart syncd" in d.tail(), 20, "the warning", d.tail())
    assert f"the API key in {source} changed after the service started" in d.tail()
    assert "NewKey" not in d.tail()
    d.assert_running()


@pytest.mark.slow
def test_a_revoked_key_waits_and_a_fixed_one_lets_the_files_in(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    key_file = tmp_path / "zotero-api-key"
    key_file.write_text("RevokedKey00000000000000\n")
    key_file.chmod(0o600)
    d = Daemon(tmp_path / "m", sandbox.url)
    daemons.append(d)
    d.config.write_text(
        d.config.read_text().replace("[zotero]\n", f'[zotero]\napi_key_file = "{key_file}"\n')
    )
    d.start()
    d.wait_ready()
    pmids = write_export(d.folder / "waiting.nbib", [53000001, 53000002])

    def fatal() -> bool:
        return (d.status()[1]["trouble"] or "").startswith("fatal:")

    wait_for(fatal, 30, "the fatal trouble in syncd status", d.tail())
    assert any("STATUS=fatal:" in m for m in d.receive())
    code, status = d.status()
    assert code == 1 and status["waiting"] == 1
    d.assert_running()
    assert "RevokedKey" not in d.tail()
    key_file.write_text(KEY + "\n")
    assert d.proc is not None
    d.proc.send_signal(signal.SIGHUP)
    wait_for_pmids(sandbox, pmids, 30, d)
    wait_for(lambda: d.status()[1]["trouble"] is None, 10, "the trouble cleared", d.tail())


@pytest.mark.slow
def test_status_without_a_daemon_and_with_failures(
    tmp_path: Path, sandbox: SandboxServer, daemons: list[Daemon]
) -> None:
    d = Daemon(tmp_path / "m", sandbox.url)
    daemons.append(d)
    code, status = d.status()
    assert code == 2 and "no state database" in status["error"]
    write_export(d.folder / "ok.nbib", [50000001])
    assert d.run("--once") == 0
    code, status = d.status()
    assert code == 0 and not status["running"] and status["total"]["new"] == 1
    assert status["last_files"][0]["path"].endswith("ok.nbib")
    import subprocess
    import sys

    for days, left in (("1", 1), ("0", 0)):
        time.sleep(1.1)  # the history has one-second time stamps
        subprocess.run(
            [sys.executable, "-m", "syncd", "status", "--prune", days],
            env=d.env,
            check=True,
            capture_output=True,
        )
        assert d.status()[1]["total"]["files"] == left


def test_the_notify_socket_helper_is_a_real_datagram_socket() -> None:
    # Guards the harness itself: an abstract datagram socket receives what is sent to it.
    a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.bind("\0syncd-harness-check")
    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    b.sendto(b"READY=1", "\0syncd-harness-check")
    assert a.recv(100) == b"READY=1"
    a.close()
    b.close()
