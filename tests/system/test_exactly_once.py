"""Exactly once, proved against the sandbox over real HTTP (issue 4, §5).

Every test runs real ``syncd import`` processes (``python -m syncd import DIR``) against an
in-process sandbox, so that a ``kill -9`` hits syncd and never the server. Each "machine" has its
own config and state database, as two computers importing into one library would. The library
is then read back and every article counted by its PMID, wherever the item keeps it (native
field or Extra):

* storms of 429 / 503 / 500, a connection dropped after the write was applied, and an
  out-of-band write between the index refresh and the POST: every article exactly once;
* ``kill -9`` at more than 20 points (while the index is read, while a POST is in flight, after
  a POST was applied but its answer lost, right after an answer), each followed by more killed
  runs or a rerun: never two items for one PMID, and after the rerun none missing;
* two imports of overlapping files at the same time: no duplicates.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.core.identity import item_identifiers
from syncd.core.keys import item_key
from syncd.sandbox import SandboxServer
from tests.helpers import write_export
from tests.system.processes import (
    ITEMS_PATH,
    KEY,
    LIBRARY,
    PROXY_VARIABLES,
    RUN_TIMEOUT,
    USER_ID,
    Machine,
    assert_at_most_once,
    assert_exactly_once,
    item_posts,
    library_pmids,
    running_sandbox,
    statuses,
    wait_until,
)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with running_sandbox(monkeypatch) as server:
        yield server


@pytest.fixture
def machine(tmp_path: Path, sandbox: SandboxServer) -> Machine:
    return Machine(tmp_path / "machine-a", sandbox)


pytestmark = [pytest.mark.timeout(300)]


# ---- storms, dropped connections, out-of-band writes ----------------------------------------

STORMS = {
    "429 with Retry-After": {"status": 429, "retry_after": 1, "times": 3},
    "429 without Retry-After": {"status": 429, "times": 2},
    "503 with Retry-After": {"status": 503, "retry_after": 1, "times": 2},
    "500 storm": {"status": 500, "times": 3},
    "dropped after apply": {"drop_after_apply": True, "times": 2},
}


@pytest.mark.slow
@pytest.mark.parametrize("storm", list(STORMS))
def test_storms_leave_every_article_exactly_once(
    storm: str, sandbox: SandboxServer, machine: Machine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    pmids = write_export(inbox / "storm.nbib", range(31000000, 31000120))
    sandbox.inject(method="POST", path=ITEMS_PATH, **STORMS[storm])
    machine.run(inbox)
    assert_exactly_once(sandbox, pmids)
    posts = item_posts(sandbox)
    assert len(posts) > 3  # the storm did hit the writes (3 batches + retries)
    assert all(p["objects"] is None or p["objects"] <= 50 for p in posts)
    # Running again finds only duplicates and writes nothing.
    sandbox.clear_requests()
    machine.run(inbox)
    assert item_posts(sandbox) == []
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_reads_storm_during_the_index_refresh(
    sandbox: SandboxServer, machine: Machine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    pmids = write_export(inbox / "a.nbib", range(31100000, 31100060))
    sandbox.inject(method="GET", status=503, retry_after=1, times=1)
    sandbox.inject(method="GET", status=500, times=1)
    machine.run(inbox)
    assert_exactly_once(sandbox, pmids)


@pytest.mark.slow
def test_out_of_band_write_between_index_refresh_and_post(
    sandbox: SandboxServer, machine: Machine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    pmids = write_export(inbox / "a.nbib", range(31200000, 31200080))
    # Another client adds two of the articles while syncd's first POST is on its way (the
    # sandbox holds it for a moment before applying it): one with the PMID in Extra, the
    # other known by its DOI only.
    sandbox.inject(method="POST", path=ITEMS_PATH, delay=1.0)
    proc = machine.start(inbox)
    reached = wait_until(proc, lambda: len(item_posts(sandbox)) >= 1)
    assert reached, machine.tail()
    by_pmid, by_doi = pmids[3], pmids[60]
    sandbox.oob_write(
        LIBRARY,
        [
            {
                "key": item_key(LIBRARY, "elsewhere-1"),
                "version": 0,
                "itemType": "journalArticle",
                "title": "Added by hand",
                "extra": f"PMID: {by_pmid}",
            },
            {
                "key": item_key(LIBRARY, "elsewhere-2"),
                "version": 0,
                "itemType": "journalArticle",
                # The same title, so that the DOI match stands (issue 18).
                "title": f"Exactly-once import of synthetic article {by_doi}",
                "DOI": f"10.5555/syncd.{by_doi}",
            },
        ],
    )
    assert proc.wait(timeout=RUN_TIMEOUT) == 0, machine.tail()
    # Every PMID once; the DOI-only item stands for its article (no PMID on it).
    pmids_expected = [p for p in pmids if p != by_doi]
    assert_exactly_once(sandbox, pmids_expected)
    assert str(by_doi) not in library_pmids(sandbox)
    # The race did happen: the server refused a write made against the older library version.
    assert 412 in [p["status"] for p in item_posts(sandbox)]


# ---- kill -9 ---------------------------------------------------------------------------------

KILL_ROUNDS = 25
NEW_PER_ROUND = 150  # three POSTs of 50
OVERLAP = 20  # records of the previous round exported again (duplicates)
KINDS = (
    "POST in flight",  # pending rows committed, the write not applied yet
    "POST applied, answer lost",  # pending rows, the items exist, syncd waits to retry
    "POST answered",  # just after an answer: before or around the pushed commit
    "reading the library",  # index refresh or settling pending rows after a crash
    "at a random moment",
)


def _kill_point(kind: str, k: int, sandbox: SandboxServer, at: float) -> Callable[[], bool]:
    """The condition at which the running import is killed."""

    def in_flight_post() -> bool:
        posts = item_posts(sandbox)
        return len(posts) >= k and posts[k - 1]["status"] is None

    def answered_post() -> bool:
        posts = item_posts(sandbox)
        return len(posts) >= k and posts[k - 1]["status"] is not None

    def dropped_post() -> bool:
        return any(p.get("dropped") for p in item_posts(sandbox))

    def reading() -> bool:
        return any(
            r["method"] == "GET" and r["path"] == f"/users/{USER_ID}/items" and r["status"] is None
            for r in sandbox.requests()
        )

    return {
        "POST in flight": in_flight_post,
        "POST applied, answer lost": dropped_post,
        "POST answered": answered_post,
        "reading the library": reading,
        "at a random moment": lambda: time.monotonic() >= at,
    }[kind]


def _arm(kind: str, k: int, sandbox: SandboxServer) -> None:
    """Sandbox faults that hold the import at the kill point long enough to kill it there."""
    if kind == "reading the library":
        sandbox.inject(method="GET", path=ITEMS_PATH, delay=0.5)
    elif kind == "POST in flight":
        sandbox.inject(method="POST", path=ITEMS_PATH, delay=0.5, times=k)
    elif kind == "POST applied, answer lost":
        for _ in range(k - 1):
            sandbox.inject(method="POST", path=ITEMS_PATH)  # no-op: lets a write through
        sandbox.inject(method="POST", path=ITEMS_PATH, drop_after_apply=True)


@pytest.mark.slow
def test_kill_9_at_many_points_then_rerun(
    sandbox: SandboxServer, machine: Machine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    rng = random.Random(4)
    all_pmids: list[int] = []
    kills: list[tuple[Any, ...]] = []
    for round_no in range(KILL_ROUNDS):
        base = 32000000 + round_no * 1000
        new = list(range(base, base + NEW_PER_ROUND))
        again = all_pmids[-OVERLAP:]
        all_pmids += write_export(inbox / f"round-{round_no:02}.nbib", [*again, *new])[len(again) :]
        kind = KINDS[round_no % len(KINDS)]
        k = 1 + (round_no // len(KINDS)) % 3
        sandbox.clear_requests()
        _arm(kind, k, sandbox)
        at = time.monotonic() + rng.uniform(0.2, 1.5)
        proc = machine.start(inbox)
        if wait_until(proc, _kill_point(kind, k, sandbox, at)) and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append((kind, k, sum(library_pmids(sandbox).values()), *statuses(machine)))
        else:
            proc.wait()
        sandbox.clear_faults()
        assert_at_most_once(sandbox)
        # Rerun after every other round only, so that recovery itself gets killed too.
        if round_no % 2 == 1:
            machine.run(inbox)
            assert_exactly_once(sandbox, all_pmids)
    # The final run reads every record again: each gets one outcome, and rows a kill left
    # pending are settled as those records' outcomes (never listed twice, as recovered and as
    # duplicates).
    out = tmp_path / "final.json"
    proc = machine.start(inbox, out=out)
    assert proc.wait(timeout=RUN_TIMEOUT) == 0, machine.tail()
    final = report_of(out)
    assert_one_outcome_per_record(final)
    assert final["counts"]["recovered"] == 0
    assert_exactly_once(sandbox, all_pmids)
    # More than 20 kills, at distinct points: (kind, batch, items in the library, pending and
    # pushed rows in syncd's state); several between the pending commit and the pushed one.
    print("kill points (kind, batch, items, pending, pushed):", *kills, sep="\n  ")
    assert len(kills) >= 20, kills
    assert len({(kind, k) for kind, k, *_ in kills}) >= 10, kills
    assert len(set(kills)) == len(kills), kills
    assert sum(1 for *_, pending, _ in kills if pending) >= 5, kills


# ---- two imports at once ---------------------------------------------------------------------


@pytest.mark.slow
def test_two_imports_of_overlapping_files_at_the_same_time(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    a = Machine(tmp_path / "machine-a", sandbox)
    b = Machine(tmp_path / "machine-b", sandbox)
    expected: list[int] = []
    refused = 0
    for round_no in range(3):
        base = 33000000 + round_no * 1000
        left = write_export(tmp_path / f"a-{round_no}" / "left.nbib", range(base, base + 200))
        right = write_export(
            tmp_path / f"b-{round_no}" / "right.nbib", range(base + 100, base + 300)
        )
        expected += sorted(set(left) | set(right))
        # The first writes meet trouble in later rounds: one applied with its answer lost,
        # then a 503 with Retry-After.
        if round_no >= 1:
            sandbox.inject(method="POST", path=ITEMS_PATH, drop_after_apply=True)
        if round_no >= 2:
            sandbox.inject(method="POST", path=ITEMS_PATH, status=503, retry_after=1)
        # Slow every write a little, so that the two processes interleave.
        sandbox.inject(method="POST", path=ITEMS_PATH, delay=0.05, times=40)
        pa = a.start(tmp_path / f"a-{round_no}")
        pb = b.start(tmp_path / f"b-{round_no}")
        assert pa.wait(timeout=RUN_TIMEOUT) == 0, a.tail()
        assert pb.wait(timeout=RUN_TIMEOUT) == 0, b.tail()
        assert_exactly_once(sandbox, expected)
        refused += sum(1 for p in item_posts(sandbox) if p["status"] == 412)
        sandbox.clear_requests()
    print("POSTs refused because the other process had written meanwhile:", refused)


# ---- several writers on one library (issue 9, §1) --------------------------------------------


def report_of(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def assert_one_outcome_per_record(report: dict[str, Any]) -> None:
    """Every record read in the run has exactly one outcome; rows of earlier runs settled now
    are listed apart, never also among the run's records."""
    c = report["counts"]
    assert c["new"] + c["duplicates"] + c["failed"] + c.get("pending", 0) == c["records"], c
    places = [
        e["where"]
        for k in ("created", "duplicates", "failed", "pending")
        for e in report.get(k, [])
    ]
    assert len(places) == len(set(places)) == c["records"], c
    assert not {e["where"] for e in report["recovered"]} & set(places)


def record_rows(db: Path) -> dict[str, int]:
    uri = f"file:{db}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM records GROUP BY status"))


WRITE_LATENCY = 0.15
# 1,500 / 100 / 100 / 1,500 records: a and d share 500; b and c each share 50 with one of them
# and bring 50 of their own (which no one else writes).
WRITERS = {
    "a": range(0, 1500),
    "b": range(2450, 2550),
    "c": range(-50, 50),
    "d": range(1000, 2500),
}


@pytest.mark.slow
def test_four_writers_with_their_own_state_all_finish_and_count_each_article_once(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    base = 34000000
    machines = {name: Machine(tmp_path / name, sandbox) for name in WRITERS}
    for name, span in WRITERS.items():
        write_export(tmp_path / f"in-{name}" / "export.nbib", [base + n for n in span])
    expected = sorted({base + n for span in WRITERS.values() for n in span})
    # Writes take a while, as on a real server (the sandbox answers in a millisecond): while
    # the large imports write batch after batch, a refused write tried again at once is
    # refused again, and the small imports starved (a bound on tries made their records fail).
    sandbox.inject(method="POST", path=ITEMS_PATH, delay=WRITE_LATENCY, times=10**6)
    procs: dict[str, subprocess.Popen[str]] = {}
    # The two large imports start together, the two small ones a second later.
    for names in ("ad", "bc"):
        for name in names:
            procs[name] = machines[name].start(
                tmp_path / f"in-{name}", out=tmp_path / f"{name}.json"
            )
        time.sleep(1.0)
    for name, proc in procs.items():
        assert proc.wait(timeout=240) == 0, machines[name].tail()
    sandbox.clear_faults()
    assert_exactly_once(sandbox, expected)
    reports = {name: report_of(tmp_path / f"{name}.json") for name in WRITERS}
    for name, report in reports.items():
        assert_one_outcome_per_record(report)
        assert report["counts"]["records"] == len(WRITERS[name])
        assert report["counts"]["failed"] == report["counts"].get("pending", 0) == 0
        # No answer was lost: whoever did not create an article knows it did not.
        assert report["counts"].get("uncertain", 0) == 0
        # Every record read has its row, none left pending.
        rows = record_rows(machines[name].state)
        assert sum(rows.values()) == len(WRITERS[name]) and "pending" not in rows, rows
    assert sum(r["counts"]["new"] for r in reports.values()) == len(expected)
    refused = sum(1 for p in item_posts(sandbox) if p["status"] == 412)
    print("new per writer:", {n: r["counts"]["new"] for n, r in reports.items()})
    print("POSTs refused because another writer had written meanwhile:", refused)


@pytest.mark.slow
def test_three_imports_sharing_one_state_database_count_each_article_once(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    base = 35000000
    shared = tmp_path / "shared-state.db"
    spans = [range(0, 400), range(200, 600), range(100, 500)]
    machines = [Machine(tmp_path / f"m{i}", sandbox, state=shared) for i in range(3)]
    for i, span in enumerate(spans):
        write_export(tmp_path / f"in-{i}" / "export.nbib", [base + n for n in span])
    sandbox.inject(method="POST", path=ITEMS_PATH, delay=0.02, times=60)  # interleave them
    procs = [
        m.start(tmp_path / f"in-{i}", out=tmp_path / f"{i}.json") for i, m in enumerate(machines)
    ]
    for m, proc in zip(machines, procs, strict=True):
        assert proc.wait(timeout=RUN_TIMEOUT) == 0, m.tail()
    assert_exactly_once(sandbox, [base + n for n in range(600)])
    reports = [report_of(tmp_path / f"{i}.json") for i in range(3)]
    for report in reports:
        assert_one_outcome_per_record(report)
        assert report["counts"]["failed"] == report["counts"].get("pending", 0) == 0
    created = sum(len(r["created"]) + len(r["recovered"]) for r in reports)
    uncertain = sum(r["counts"].get("uncertain", 0) for r in reports)
    print("new per import:", [r["counts"]["new"] for r in reports], "uncertain:", uncertain)
    # Each item created is claimed by one import only (a run does not settle the rows another
    # live run is sending); no answer was lost, so nothing is uncertain.
    assert (created, uncertain) == (600, 0)
    assert record_rows(shared) == {"pushed": 600}


@pytest.mark.slow
def test_an_import_that_other_writers_keep_refusing_gives_up_on_time_leaving_records_pending(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    machine = Machine(tmp_path / "m", sandbox, zotero="conflict_timeout_seconds = 2\n")
    inbox = tmp_path / "inbox"
    pmids = write_export(inbox / "a.nbib", range(36000000, 36000060))
    # Every write is refused as if the library had just changed.
    sandbox.inject(method="POST", path=ITEMS_PATH, status=412, times=100_000)
    started = time.monotonic()
    machine.run(inbox, expect=1)
    assert 2.0 <= time.monotonic() - started < 60
    assert "not sent, left pending" in machine.tail() and "next run" in machine.tail()
    # 60 records: 50 sent and refused, 10 never sent; all pending (with their items), none
    # failed; tries were spaced out, not hammered.
    assert record_rows(machine.state) == {"pending": 60}
    assert 2 <= len(item_posts(sandbox)) <= 20
    sandbox.clear_faults()
    out = tmp_path / "again.json"
    proc = machine.start(inbox, out=out)
    assert proc.wait(timeout=RUN_TIMEOUT) == 0, machine.tail()
    report = report_of(out)
    assert_one_outcome_per_record(report)
    assert report["counts"]["new"] == 60 and report["counts"]["recovered"] == 0
    assert_exactly_once(sandbox, pmids)


# ---- two writers at the real server's pace (issue 14 §4, §5) -----------------------------------


def _posted_pmids(post: dict[str, Any]) -> set[str]:
    try:
        items = json.loads(post["body"] or "[]")
    except ValueError:
        return set()
    return {p for item in items if (p := item_identifiers(item).pmid)}


@pytest.mark.slow
def test_two_writers_at_the_real_servers_pace_both_make_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real server commits a 50-item write object by object over 0.6-2 s: a second writer's
    # guarded write is refused whenever the first is mid-request, which starved it until the
    # first was done. Now the second gets its writes in while the first still writes.
    from syncd.sandbox.contention import REAL

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with SandboxServer(admin=True, latency=REAL.scaled(0.5)) as server:
        server.add_user(USER_ID, "testuser")
        server.add_key(KEY, USER_ID)
        a = Machine(tmp_path / "machine-a", server)
        b = Machine(tmp_path / "machine-b", server)
        left = write_export(tmp_path / "a" / "left.nbib", range(34000000, 34000300))
        right = write_export(tmp_path / "b" / "right.nbib", range(34001000, 34001300))
        pa = a.start(tmp_path / "a")
        assert wait_until(pa, lambda: bool(item_posts(server))), a.tail()
        pb = b.start(tmp_path / "b")
        assert pa.wait(timeout=RUN_TIMEOUT) == 0, a.tail()
        assert pb.wait(timeout=RUN_TIMEOUT) == 0, b.tail()
        accepted = [p for p in item_posts(server) if p["status"] == 200]
        theirs = {str(n) for n in right}
        b_writes = [p["finished"] for p in accepted if _posted_pmids(p) & theirs]
        a_writes = [p["finished"] for p in accepted if not _posted_pmids(p) & theirs]
        assert b_writes and a_writes
        assert min(b_writes) < max(a_writes), "the second writer waited for the first to finish"
        assert_exactly_once(server, left + right)
