"""The engine's races, driven in-process against the sandbox: another client writes between
the index refresh and the POST. Also the progress line."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from syncd.config import Config
from syncd.core.identity import item_identifiers
from syncd.core.keys import item_key
from syncd.core.writers import CONFLICT_BASE_DELAY, CONFLICT_MAX_DELAY
from syncd.engine import Importer, import_paths
from syncd.progress import Bar, progress_for
from syncd.sandbox import SandboxServer
from syncd.state import StateStore
from syncd.zotero import ZoteroGateway
from tests.system.conftest import LIB, engine_config, quick_gateway

pytestmark = pytest.mark.timeout(120)


def article(pmid: int) -> str:
    return (
        f"PMID- {pmid}\nDP  - 2020\nTI  - Article {pmid}.\nFAU - Doe, Jane\nAU  - Doe J\n"
        f"AID - 10.5555/race.{pmid} [doi]\n"
    )


class Meddling(ZoteroGateway):
    """A gateway that lets another client write just before its next create_items."""

    before_create: Callable[[], None] | None = None

    def create_items(self, items: Sequence[Any], **kw: Any) -> Any:  # type: ignore[override]
        hook, self.before_create = self.before_create, None
        if hook is not None:
            hook()
        self.posted.append(len(items))
        return super().create_items(items, **kw)


def setup(tmp_path: Path, sandbox: SandboxServer) -> tuple[Config, StateStore, Meddling]:
    config = engine_config(sandbox, tmp_path / "state.db")
    gw = quick_gateway(Meddling, sandbox)
    gw.posted = []
    return config, StateStore(config.state.path), gw


def pmids(sandbox: SandboxServer, gw: ZoteroGateway) -> list[str]:
    versions, _ = gw.item_versions(0)
    return sorted(item_identifiers(o["data"]).pmid or "?" for o in gw.get_items(list(versions)))


def test_same_article_added_by_another_client_after_the_refresh(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "a.nbib"
    path.write_text("\n".join(article(n) for n in (1, 2, 3)))
    config, store, gw = setup(tmp_path, sandbox)
    other = {"itemType": "journalArticle", "title": "Theirs", "extra": "PMID: 2"}
    gw.before_create = lambda: sandbox.oob_write(LIB, [other])
    with store, gw:
        report = import_paths([path], config, store, gw)
        assert pmids(sandbox, gw) == ["1", "2", "3"]
    # The first POST was refused as a whole (the library had changed), the index refreshed,
    # and the batch planned again without the article the other client added.
    assert gw.posted == [3, 2]
    assert len(report.created) == 2
    assert [d.pmid for d in report.duplicates] == ["2"]


def test_a_planned_key_taken_by_another_article_after_the_refresh(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "a.nbib"
    path.write_text(article(1))
    config, store, gw = setup(tmp_path, sandbox)
    planned = item_key(LIB, "pmid:1")
    squatter = {
        "itemType": "journalArticle",
        "key": planned,
        "version": 0,
        "title": "Another article that happens to have the key",
        "extra": "PMID: 999",
    }
    gw.before_create = lambda: sandbox.oob_write(LIB, [squatter])
    with store, gw:
        report = import_paths([path], config, store, gw)
        assert pmids(sandbox, gw) == ["1", "999"]
    assert [e.key for e in report.created] == [item_key(LIB, "pmid:1", 1)]


def test_progress_line_only_on_a_terminal() -> None:
    callback, bar = progress_for(io.StringIO())
    assert bar is None
    callback("send", 1, 2)  # a no-op

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    callback, bar = progress_for(stream)
    assert isinstance(bar, Bar)
    callback("read", 10, 10)
    callback("send", 25, 50)
    callback("send", 50, 50)
    text = stream.getvalue()
    assert "reading  10 records" in text and "50/50 items sent" in text and "#" in text
    bar.close()
    assert stream.getvalue().endswith("\r")


@pytest.mark.slow
def test_a_library_that_never_stops_changing_waits_then_gives_up_leaving_records_pending(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    # Another client writes before every one of our POSTs: every guarded create gets a 412.
    # The importer waits between tries (growing, jittered, capped), never sends unguarded,
    # and gives up on time: the records stay pending (not failed), the next run sends them.
    export = tmp_path / "a.nbib"
    export.write_text(article(1) + "\n" + article(2))
    config, store, gw = setup(tmp_path, sandbox)
    other = iter(range(900, 2000))

    class Restless(Meddling):
        def create_items(self, items: Sequence[Any], **kw: Any) -> Any:  # type: ignore[override]
            n = next(other)
            sandbox.oob_write(LIB, [{"itemType": "book", "title": f"Other {n}"}])
            assert kw.get("if_unmodified_since") is not None
            return super().create_items(items, **kw)

    gw.__class__ = Restless
    waits: list[float] = []
    importer = Importer(config, store, gw, give_up_after=0.5, sleep=waits.append)
    report = importer.run([export])
    assert report.failed == [] and [e.pmid for e in report.pending] == ["1", "2"]
    assert report.gave_up is not None and "kept changing" in report.gave_up
    assert report.exit_code == 1
    assert store.status_counts(LIB) == {"pending": 2}
    assert pmids(sandbox, gw).count("1") == 0
    # Exponential and jittered: the n-th wait is half to all of base * 2 ** (n - 1) (the last
    # one may be cut short by the give-up time).
    assert len(waits) >= 2
    for n, wait in enumerate(waits[:-1]):
        cap = min(CONFLICT_MAX_DELAY, CONFLICT_BASE_DELAY * 2**n)
        assert cap / 2 <= wait <= cap
    # The next run, with a quiet library, imports both (its own records: counted as new).
    gw.__class__ = Meddling
    report = import_paths([export], config, store, gw)
    assert len(report.created) == 2 and report.recovered == [] and report.exit_code == 0
    assert pmids(sandbox, gw).count("1") == 1 and pmids(sandbox, gw).count("2") == 1


@pytest.mark.slow
def test_without_a_give_up_time_the_importer_waits_until_its_sleep_is_interrupted(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    # The daemon's importer never gives up; its sleep raises when the daemon is told to stop.
    export = tmp_path / "a.nbib"
    export.write_text(article(1))
    config, store, gw = setup(tmp_path, sandbox)
    sandbox.inject(method="POST", path=r"^/users/1/items$", status=412, times=10_000)

    class Stop(BaseException):  # as the daemon's Stopping: no "except Exception" takes it
        pass

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 30:
            raise Stop

    importer = Importer(config, store, gw, give_up_after=None, sleep=sleep)
    with pytest.raises(Stop):
        importer.run([export])
    assert len(waits) == 30 and max(waits) <= CONFLICT_MAX_DELAY
    assert max(waits) >= CONFLICT_MAX_DELAY / 2  # the cap was reached and held
    assert store.status_counts(LIB) == {"pending": 1}
    sandbox.clear_faults()
    report = Importer(config, store, gw).run([export])
    assert [e.pmid for e in report.created] == ["1"] and report.exit_code == 0


def test_articles_another_syncd_created_while_this_one_sent_are_its_duplicates_with_rows(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    # Two machines, their own state databases, the same 100 articles. Machine B has read the
    # library and planned its two batches; just before its first POST, machine A imports all
    # 100 under the same derived keys. B's write is refused, B reads what changed and finds
    # every article under the key it planned: A's items, not B's.
    export = tmp_path / "a.nbib"
    export.write_text("\n".join(article(n) for n in range(1, 101)))
    config, store, gw = setup(tmp_path, sandbox)
    a_db = tmp_path / "machine-a.db"
    a_reports = []

    def machine_a_imports() -> None:
        with StateStore(a_db) as a_store, quick_gateway(ZoteroGateway, sandbox) as a_gw:
            a_reports.append(import_paths([export], engine_config(sandbox, a_db), a_store, a_gw))

    gw.before_create = machine_a_imports
    report = import_paths([export], config, store, gw)
    assert len(a_reports[0].created) == 100
    assert report.created == [] and len(report.duplicates) == 100 and report.exit_code == 0
    assert all("another writer" in e.reason for e in report.duplicates)
    # Every record read has its row (the second batch, re-checked after the refresh of the
    # first, used to update rows that were never inserted).
    assert store.status_counts(LIB) == {"pushed": 100}
    assert sorted(pmids(sandbox, gw), key=int) == [str(n) for n in range(1, 101)]


def test_a_long_lived_importer_checks_an_unchanged_library_with_one_request(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    export = tmp_path / "a.nbib"
    export.write_text(article(33000001) + "\n" + article(33000002), encoding="utf-8")
    config = engine_config(sandbox, tmp_path / "state.db")
    with (
        StateStore(tmp_path / "state.db") as store,
        quick_gateway(ZoteroGateway, sandbox) as gw,
    ):
        importer = Importer(config, store, gw)
        first = importer.run([export])
        assert len(first.created) == 2
        sandbox.clear_requests()
        # The daemon's next batch: the key, the schema and the collection are not asked again,
        # and the library, unchanged since, costs one request.
        again = importer.run([export])
        assert [r["method"] for r in sandbox.requests()] == ["GET"]
        assert len(again.created) == 0 and len(again.duplicates) == 2


def test_an_export_is_planned_in_bounded_batches_with_every_article_once(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are read, planned and sent a batch at a time (issue 10). A repeat of an article
    in a later batch is still "the same article as" its first record, one already in the
    library is a duplicate in whichever batch it comes, and batching costs no write: creates
    that do not fill a write wait for the next batch's."""
    from syncd import engine

    monkeypatch.setattr(engine, "PLAN_BATCH", 50)
    held = {"itemType": "journalArticle", "title": "Held", "extra": "PMID: 500"}
    sandbox.oob_write(LIB, [held])
    numbers = [*range(1, 61), 5, 500, *range(61, 121), 30, 120, 500]
    path = tmp_path / "a.nbib"
    path.write_text("\n".join(article(n) for n in numbers))
    config, store, gw = setup(tmp_path, sandbox)
    with store, gw:
        report = import_paths([path], config, store, gw)
        assert pmids(sandbox, gw) == sorted(str(n) for n in [*range(1, 121), 500])
    assert report.records_read == len(numbers)
    assert len(report.created) == 120 and not report.failed
    assert gw.posted == [50, 50, 20]

    def line(n: int) -> int:
        return 7 * numbers.index(n) + 1

    held_key = report.duplicates[1].key
    assert [(d.pmid, d.reason) for d in report.duplicates] == [
        ("5", f"same article as {path}:{line(5)}"),
        ("500", f"PMID 500 is item {held_key}"),
        ("30", f"same article as {path}:{line(30)}"),
        ("120", f"same article as {path}:{line(120)}"),
        ("500", f"PMID 500 is item {held_key}"),
    ]
    assert report.exit_code == 0


def test_a_long_lived_importer_holds_no_index_and_syncs_in_one_request(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    """The daemon's importer: the index is in the state database, not in the process, and an
    unchanged library costs one request to confirm."""
    from syncd.engine import Importer

    path = tmp_path / "a.nbib"
    path.write_text("\n".join(article(n) for n in range(1, 121)))
    config, store, gw = setup(tmp_path, sandbox)
    with store, gw:
        importer = Importer(config, store, gw)
        assert importer.run([path]).exit_code == 0
        assert store.index_size(LIB) == 120
        assert importer.index._items == {}  # nothing kept between runs
        sandbox.clear_requests()
        importer.sync_index()
        assert [r["query"].get("format") for r in sandbox.requests()] == ["versions"]
        sandbox.oob_write(LIB, [{"itemType": "journalArticle", "title": "New", "extra": "PMID: 9"}])
        importer.sync_index()
        assert store.index_size(LIB) == 121 and importer.index._items == {}
