"""Saved PubMed searches over real processes: ``syncd search poll`` and ``syncd run`` against
the Zotero sandbox and the E-utilities double, both over real HTTP on loopback.

Polled twice (the second poll creates exactly the new entries; an unchanged search costs at
most two NCBI requests and one Zotero request); a window over PubMed's esearch cap split into
smaller windows; ``kill -9`` of the daemon at several moments of a poll, then every PMID once;
no 429 provoked by syncd's own pace. The kill -9 rounds are fewer here than under ``make
proof`` (``SYNCD_PROOF=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.sandbox import SandboxServer
from syncd.sandbox.eutils import Corpus, EutilsDouble
from tests.helpers import medline
from tests.system.daemon_harness import (
    ROOT,
    Daemon,
    assert_exactly_once,
    daemon_sandbox,
    library_pmids,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)
PROOF = os.environ.get("SYNCD_PROOF") == "1"
TODAY = datetime.now(UTC).date()


def add(corpus: Corpus, pmids: range | list[int], day: date) -> list[int]:
    corpus.add_medline(medline(pmids), day)
    return list(pmids)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with daemon_sandbox() as server:
        yield server


@pytest.fixture
def double() -> Iterator[EutilsDouble]:
    with EutilsDouble(Corpus()) as d:  # NCBI's rate limit on: syncd must keep to it
        yield d


def installation(
    tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble, search: str = ""
) -> Daemon:
    home = Daemon(tmp_path / "home", sandbox.url)
    with home.config.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[pubmed]\neutils_url = "{double.url}"\n\n'
            "[[search]]\n"
            'name = "synth"\n'
            'query = "synthetic AND article"\n'
            'collection = "Synthetic alerts"\n'
            'tags = ["alert:synth"]\n'
            f'since = "{TODAY - timedelta(days=20)}"\n' + search
        )
    return home


def syncd(home: Daemon, *args: str) -> tuple[int, Any, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        cwd=ROOT,
        env=home.env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    try:
        out = json.loads(proc.stdout) if "--json" in args else proc.stdout
    except json.JSONDecodeError:
        out = proc.stdout
    return proc.returncode, out, proc.stderr


@pytest.mark.slow
def test_a_search_polled_twice_creates_exactly_the_new_entries(
    tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble
) -> None:
    first = add(double.corpus, range(72000001, 72000031), TODAY - timedelta(days=3))
    add(double.corpus, [72000099], TODAY - timedelta(days=40))  # before since
    home = installation(tmp_path, sandbox, double)
    code, out, err = syncd(home, "search", "poll", "--json")
    assert code == 0, err
    report = out["searches"]["synth"]
    assert report["counts"]["new"] == 30 and report["search"]["advanced"], report
    assert_exactly_once(sandbox, first)
    assert "72000099" not in library_pmids(sandbox)

    new = add(double.corpus, range(72000031, 72000036), TODAY)
    code, out, err = syncd(home, "search", "poll", "--json")
    assert code == 0, err
    report = out["searches"]["synth"]
    assert report["counts"]["new"] == 5 and report["search"]["hits"] == 35
    assert sorted(e["pmid"] for e in report["created"]) == [str(p) for p in new]
    assert_exactly_once(sandbox, first + new)
    # Only the new PMIDs were fetched.
    assert sorted(double.fetched_ids()) == sorted(str(p) for p in first + new)

    # Unchanged: at most two NCBI requests and one Zotero request.
    ncbi, zotero = double.count(), len(sandbox.requests())
    code, out, err = syncd(home, "search", "poll", "--json")
    assert code == 0 and out["searches"]["synth"]["counts"]["new"] == 0, err
    assert double.count() - ncbi <= 2
    assert len(sandbox.requests()) - zotero <= 1
    assert double.throttled == 0

    code, listed, _ = syncd(home, "search", "list", "--json")
    assert code == 0
    (row,) = listed
    assert row["name"] == "synth" and row["last_poll"]["hits"] == 35
    assert row["collection"] == "Synthetic alerts" and row["tags"] == ["alert:synth"]
    assert row["last_full_run"] and row["next_poll"] and row["last_error"] is None
    code, text, _ = syncd(home, "search", "list")
    assert "synth: synthetic AND article" in text and "35 hits" in text
    _, status = home.status()
    assert [r["name"] for r in status["searches"]] == ["synth"]
    code, text, _ = syncd(home, "status")
    assert "Saved searches" in text and "35 hits" in text
    code, text, _ = syncd(home, "doctor")
    assert "[ok  ] E-utilities" in text and "[ok  ] search 'synth': 36 entries" in text


@pytest.mark.slow
def test_a_query_pubmed_refuses_exits_2_naming_the_search(
    tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble
) -> None:
    home = installation(tmp_path, sandbox, double)
    text = home.config.read_text(encoding="utf-8")
    home.config.write_text(
        text.replace('query = "synthetic AND article"', 'query = "(synthetic AND article"'),
        encoding="utf-8",
    )
    code, out, _ = syncd(home, "search", "poll")
    assert code == 2
    assert "Search 'synth'" in out and "poll failed" in out
    code, listed, _ = syncd(home, "search", "list", "--json")
    assert code == 1 and listed[0]["last_error"]
    code, text, _ = syncd(home, "doctor")
    assert "[FAIL] search 'synth'" in text and code == 1


@pytest.mark.slow
def test_a_window_over_the_esearch_cap_is_split_not_cut(
    tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble
) -> None:
    start = TODAY - timedelta(days=10)
    pmids: list[int] = []
    for day in range(10):
        pmids += add(
            double.corpus,
            range(73000000 + day * 1005, 73001005 + day * 1005),
            start + timedelta(days=day),
        )
    assert len(pmids) == 10_050
    home = installation(tmp_path, sandbox, double)
    _, out, err = syncd(home, "search", "poll", "--dry-run", "--json")
    report = out["searches"]["synth"]
    assert report["search"]["hits"] == 10_050, err
    assert report["search"]["windows"] >= 2
    assert report["counts"]["records"] == 10_050 and report["counts"]["failed"] == 0
    assert double.throttled == 0


def _moments() -> list[str]:
    moments = ["start", "esearch", "efetch", "first items", "half"]
    return moments * (4 if PROOF else 1)


@pytest.mark.slow
def test_kill_9_of_the_daemon_during_a_poll_then_every_pmid_once(
    tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble
) -> None:
    # Polled every few seconds, so that each start polls; each round brings new entries.
    home = installation(tmp_path, sandbox, double, "every_hours = 0.002\n")
    pmids: list[int] = []
    try:
        for n, moment in enumerate(_moments()):
            # 120 new entries: written in three batches, so a kill can fall between them.
            batch = range(74000001 + n * 120, 74000121 + n * 120)
            pmids += add(double.corpus, batch, TODAY - timedelta(days=1))
            held = len(library_pmids(sandbox))
            esearch, efetch = double.count("esearch"), double.count("efetch")
            home.start()
            log = home.tail()
            if moment == "esearch":
                wait_for(lambda e=esearch: double.count("esearch") > e, 60, "esearch", log)
            elif moment == "efetch":
                wait_for(lambda e=efetch: double.count("efetch") > e, 60, "efetch", log)
            elif moment == "first items":
                wait_for(lambda h=held: len(library_pmids(sandbox)) > h, 60, "items", log)
            elif moment == "half":
                wait_for(lambda h=held: len(library_pmids(sandbox)) >= h + 60, 60, "half", log)
            home.kill()
        home.start()
        want = {str(p) for p in pmids}
        wait_for(lambda: want <= set(library_pmids(sandbox)), 120, "every PMID", home.tail())
        # The last start may have brought every PMID in by settling what a killed one left
        # pending, before a poll of its own ended: one poll's line, then stop.
        wait_for(
            lambda: "search 'synth'" in home.log.read_text(encoding="utf-8"),
            60,
            "a poll's line in the log",
            home.tail(),
        )
        home.stop()
    finally:
        home.close()
    assert_exactly_once(sandbox, pmids)
    assert double.throttled == 0


@pytest.mark.slow
def test_run_once_polls_the_due_searches_and_not_again_until_due(
    tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble
) -> None:
    pmids = add(double.corpus, range(75000001, 75000011), TODAY - timedelta(days=1))
    home = installation(tmp_path, sandbox, double)
    assert home.run("--once") == 0, home.tail()
    assert_exactly_once(sandbox, pmids)
    assert "search 'synth': 10 hits, 10 not seen before: 10 new" in home.tail()
    # Not due again (every_hours = 24): a second run --once asks PubMed nothing.
    asked = double.count()
    assert home.run("--once") == 0, home.tail()
    assert double.count() == asked
