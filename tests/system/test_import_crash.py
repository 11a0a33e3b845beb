"""Crashes at every step of the engine, and two imports sharing one state database at once.

In-process and quick (the ``kill -9`` proofs with real processes live in
``test_exactly_once.py``): a gateway wrapper raises at a chosen call, as if the process died
there, leaving the state database as the crash would; the rerun must end with every PMID
exactly once.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any

import pytest

from syncd.core.identity import item_identifiers
from syncd.engine import import_paths
from syncd.sandbox import SandboxServer
from syncd.state import StateStore
from syncd.zotero import ZoteroGateway
from tests.system.conftest import LIB, engine_config, quick_gateway

N = 120  # three batches of creates

pytestmark = pytest.mark.timeout(180)


class Crash(BaseException):
    """Not an Exception, so that nothing on the way catches it (as with a dying process)."""


class Crashing(ZoteroGateway):
    """Dies at the ``at``-th call of ``method``; ``after`` lets the call reach the server first
    (the write is applied, its answer lost with the process)."""

    def arm(self, method: str, at: int, after: bool) -> None:
        self._plan = (method, at, after)
        self._calls: collections.Counter[str] = collections.Counter()

    def _maybe(self, method: str, call: Any) -> Any:
        plan = getattr(self, "_plan", None)
        if plan is None or plan[0] != method:
            return call()
        self._calls[method] += 1
        if self._calls[method] != plan[1]:
            return call()
        self._plan = None
        if plan[2]:
            call()
        raise Crash(f"died in {method} #{plan[1]}")

    def create_items(self, items: Any, **kw: Any) -> Any:  # type: ignore[override]
        return self._maybe("create_items", lambda: super(Crashing, self).create_items(items, **kw))

    def get_items(self, keys: Any) -> Any:  # type: ignore[override]
        return self._maybe("get_items", lambda: super(Crashing, self).get_items(keys))

    def update_item(self, key: str, version: int, patch: Any) -> int:  # type: ignore[override]
        return self._maybe(
            "update_item", lambda: super(Crashing, self).update_item(key, version, patch)
        )


def article(pmid: int) -> str:
    return (
        f"PMID- {pmid}\nDP  - 2021\nTI  - Crash-safe article {pmid}.\nFAU - Roe, Richard\n"
        f"AU  - Roe R\nMH  - Topic {pmid % 4}\nAID - 10.5555/crash.{pmid} [doi]\n"
    )


def gateway(sandbox: SandboxServer) -> Crashing:
    return quick_gateway(Crashing, sandbox)


def pmid_counts(sandbox: SandboxServer) -> collections.Counter[str]:
    with gateway(sandbox) as gw:
        versions, _ = gw.item_versions(0)
        return collections.Counter(
            item_identifiers(o["data"]).pmid or "?" for o in gw.get_items(list(versions))
        )


@pytest.mark.parametrize(
    ("method", "at", "after"),
    [
        ("create_items", 1, False),  # died with the first batch recorded pending, unsent
        ("create_items", 1, True),  # the first batch applied, its answer lost
        ("create_items", 2, True),
        ("create_items", 3, False),
        ("get_items", 1, False),  # while building the index on the second attempt
        ("update_item", 1, True),  # during the merges (a second file has a duplicate)
    ],
)
def test_rerun_after_a_crash_has_every_article_once(
    tmp_path: Path, sandbox: SandboxServer, method: str, at: int, after: bool
) -> None:
    path = tmp_path / "a.nbib"
    path.write_text("\n".join(article(n) for n in range(1, N + 1)))
    db = tmp_path / "state.db"
    if method == "get_items":
        # get_items is first called when the index is built: crash there on a second
        # machine whose state is empty, after a first import filled the library.
        with StateStore(tmp_path / "first.db") as store, gateway(sandbox) as gw:
            import_paths([path], engine_config(sandbox, tmp_path / "first.db"), store, gw)
    if method == "update_item":
        sandbox.oob_write(
            LIB, [{"itemType": "journalArticle", "title": "Held", "extra": f"PMID: {N + 1}"}]
        )
        (tmp_path / "b.nbib").write_text(article(N + 1))
    paths = sorted(tmp_path.glob("*.nbib"))
    with StateStore(db) as store, gateway(sandbox) as gw:
        gw.arm(method, at, after)
        with pytest.raises(Crash):
            import_paths(paths, engine_config(sandbox, db), store, gw)
    with StateStore(db) as store, gateway(sandbox) as gw:
        report = import_paths(paths, engine_config(sandbox, db), store, gw)
        assert store.status_counts(LIB).get("pending", 0) == 0
    counts = pmid_counts(sandbox)
    expected = N + (1 if method == "update_item" else 0)
    assert sorted(counts) == sorted(str(n) for n in range(1, expected + 1))
    assert set(counts.values()) == {1}, [p for p, c in counts.items() if c > 1]
    assert not report.failed
    # The rerun read every record again: each has one outcome there, and the rows the crash
    # left pending are settled as those records' outcomes, not listed apart as well.
    assert len(report.created) + len(report.duplicates) == report.records_read == expected
    assert report.recovered == []
    # The crashed run never counted what it created: the rerun does, as new (uncertain when
    # the crash came between a write and its answer), so that over both runs new equals what
    # the library gained. (With get_items the first machine created them all.)
    assert len(report.created) == (0 if method == "get_items" else N)
    uncertain = report.counts()["uncertain"]
    assert uncertain == (50 if (method, after) == ("create_items", True) else 0)


def test_a_lost_answer_makes_the_created_items_uncertain(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    # The first POST is applied but its answer is lost; the retry is refused (the library
    # changed: by that very write). The 50 items are found under their planned keys: created,
    # but the report cannot rule out another writer and says so.
    path = tmp_path / "a.nbib"
    path.write_text("\n".join(article(n) for n in range(1, N + 1)))
    sandbox.inject(method="POST", path=r"^/users/1/items$", drop_after_apply=True)
    db = tmp_path / "state.db"
    with StateStore(db) as store, gateway(sandbox) as gw:
        report = import_paths([path], engine_config(sandbox, db), store, gw)
        assert store.status_counts(LIB) == {"pushed": N}
    assert len(report.created) == N and report.counts()["uncertain"] == 50
    assert [e.pmid for e in report.created if e.uncertain] == [str(n) for n in range(1, 51)]
    assert report.exit_code == 0
    assert set(pmid_counts(sandbox).values()) == {1}


def test_two_imports_sharing_one_state_database_at_once(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    # Overlapping files, two threads, each with its own connection and gateway.
    (tmp_path / "a.nbib").write_text("\n".join(article(n) for n in range(1, 101)))
    (tmp_path / "b.nbib").write_text("\n".join(article(n) for n in range(51, 151)))
    db = tmp_path / "state.db"
    StateStore(db).close()
    reports: dict[str, Any] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def one(name: str) -> None:
        try:
            with StateStore(db) as store, gateway(sandbox) as gw:
                start.wait(10)
                reports[name] = import_paths(
                    [tmp_path / name], engine_config(sandbox, db), store, gw
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a.nbib", "b.nbib")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not errors, errors
    counts = pmid_counts(sandbox)
    assert sorted(counts, key=int) == [str(n) for n in range(1, 151)]
    assert set(counts.values()) == {1}
    # Every record of each run is accounted for exactly once in its report, and each item
    # created is claimed by one run only (no answer was lost, so nothing is uncertain).
    for r in reports.values():
        assert len(r.created) + len(r.duplicates) == r.records_read == 100
        assert not r.failed and r.counts()["uncertain"] == 0
    assert sum(len(r.created) + len(r.recovered) for r in reports.values()) == 150
