"""The library index in the state database, proved against the sandbox over real HTTP.

* A lost state database does not undo the user's deletions (issue 9 §2): the keys syncd gives
  its items are derived from the library and the article, so the server's list of deleted
  keys tells which articles syncd created and the user deleted, with no state at all.
* A ``kill -9`` during the first build of a large library's index: the next run resumes the
  build where it stopped (no second listing, no page read twice but the one in flight), and
  every article is in the library once.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from syncd.core.keys import item_key
from syncd.sandbox import SandboxServer
from tests.helpers import write_export
from tests.system.processes import (
    ITEMS_PATH,
    KEY,
    LIBRARY,
    ROOT,
    RUN_TIMEOUT,
    USER_ID,
    Machine,
    assert_exactly_once,
    library_pmids,
    running_sandbox,
    wait_until,
)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with running_sandbox(monkeypatch) as server:
        yield server


@pytest.fixture
def machine(tmp_path: Path, sandbox: SandboxServer) -> Machine:
    return Machine(tmp_path / "machine-a", sandbox)


__all__ = ["machine", "sandbox"]  # fixtures used by name

pytestmark = [pytest.mark.timeout(300)]


def import_json(machine: Machine, *paths: Path) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [*machine.command(*paths)[:4], "--json", *map(str, paths)],
        cwd=ROOT,
        env=machine.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report:\n{proc.stdout}\n{proc.stderr}") from None
    return proc.returncode, report


def delete_items(sandbox: SandboxServer, keys: list[str]) -> None:
    """Delete items for good, as the user would in Zotero (emptying the trash)."""
    version = sandbox.library_version(LIBRARY)
    response = httpx2.delete(
        f"{sandbox.url}/{LIBRARY}/items",
        params={"itemKey": ",".join(keys)},
        headers={
            "Zotero-API-Key": KEY,
            "Zotero-API-Version": "3",
            "If-Unmodified-Since-Version": str(version),
        },
        trust_env=False,
    )
    assert response.status_code == 204, response.text


def forget_state(machine: Machine) -> None:
    for path in machine.home.glob("state.db*"):
        path.unlink()


@pytest.mark.slow
def test_a_lost_state_db_does_not_bring_back_deleted_articles(
    sandbox: SandboxServer, machine: Machine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    pmids = write_export(inbox / "a.nbib", range(33000000, 33000030))
    machine.run(inbox)
    assert_exactly_once(sandbox, pmids)
    gone = pmids[3:8]
    delete_items(sandbox, [item_key(LIBRARY, f"pmid:{p}") for p in gone])
    # Re-importing with the state database: nothing created (this held before).
    code, report = import_json(machine, inbox)
    assert code == 0 and report["counts"]["new"] == 0
    # The state database is lost (or emptied after the hint for a corrupt one): still nothing
    # comes back, and the report says why.
    forget_state(machine)
    sandbox.clear_requests()
    code, report = import_json(machine, inbox)
    assert code == 0, report
    assert report["counts"]["new"] == 0 and report["counts"]["failed"] == 0
    counts = library_pmids(sandbox)
    assert not {str(p) for p in gone} & set(counts), "a deleted article was created again"
    assert_exactly_once(sandbox, [p for p in pmids if p not in gone])
    skipped = {d["pmid"]: d for d in report["duplicates"]}
    assert set(skipped) == {str(p) for p in pmids}
    for p in gone:
        entry = skipped[str(p)]
        assert entry["key"] == item_key(LIBRARY, f"pmid:{p}")
        assert "deleted in Zotero" in entry["reason"]
        assert "recreate_deleted" in entry["reason"]
    # One request more than an index build needed before: the deleted keys, once.
    deleted_reads = [r for r in sandbox.requests() if r["path"].endswith("/deleted")]
    assert len(deleted_reads) == 1 and deleted_reads[0]["query"].get("since") == "0"


def prefill(sandbox: SandboxServer, pmids: list[int]) -> None:
    """Items another client made (random keys), each with a PMID in Extra."""
    for start in range(0, len(pmids), 500):
        sandbox.oob_write(
            LIBRARY,
            [
                {
                    "itemType": "journalArticle",
                    "title": f"Prefilled article {p}",
                    "extra": f"PMID: {p}",
                }
                for p in pmids[start : start + 500]
            ],
        )


def item_reads(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox.requests()
        if r["method"] == "GET" and r["path"] == f"/users/{USER_ID}/items"
    ]


@pytest.mark.slow
def test_kill_9_during_the_first_index_build_resumes_it(
    sandbox: SandboxServer, machine: Machine, tmp_path: Path
) -> None:
    held = list(range(34000000, 34003000))
    prefill(sandbox, held)
    inbox = tmp_path / "inbox"
    new = list(range(34100000, 34100060))
    write_export(inbox / "a.nbib", [*held[:40], *new])
    sandbox.clear_requests()
    # Slow reads, so that the build is caught half-way.
    sandbox.inject(method="GET", path=ITEMS_PATH, delay=0.05, times=10_000)
    proc = machine.start(inbox)

    def half_way() -> bool:
        done = [r for r in item_reads(sandbox) if "itemKey" in r["query"] and r["status"]]
        return len(done) >= 12

    assert wait_until(proc, half_way, timeout=120) and proc.poll() is None, machine.tail()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sandbox.clear_faults()
    first = item_reads(sandbox)
    assert not [r for r in sandbox.requests() if r["method"] == "POST"]
    sandbox.clear_requests()
    machine.run(inbox)
    second = item_reads(sandbox)
    # No second listing of the library, and no page read twice but the one in flight.
    listings = [r for r in second if r["query"].get("format") == "versions"]
    assert all(r["query"].get("since") not in (None, "0") for r in listings), listings
    pages = [r for r in first + second if "itemKey" in r["query"]]
    assert [r for r in first if "itemKey" in r["query"]][11:], "killed before the build"
    assert [r for r in second if "itemKey" in r["query"]], "nothing left to resume"
    floor = math.ceil(len(held) / 100)
    assert floor <= len(pages) <= floor + 1, (len(pages), floor)

    def keys(reads: list[dict[str, Any]]) -> set[str]:
        return {
            k for r in reads if "itemKey" in r["query"] for k in r["query"]["itemKey"].split(",")
        }

    assert len(keys([r for r in first if r["status"]]) & keys(second)) <= 100
    assert_exactly_once(sandbox, [*held, *new])
