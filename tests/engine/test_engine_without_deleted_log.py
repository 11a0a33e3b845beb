"""The engine on a target without a log of deleted items (the Zotero desktop app has no
``/deleted``): it still writes, and learns deletions from its own index alone, so a deletion is
respected while the state database lives, and (said in docs/desktop.md) not after it is lost."""

from __future__ import annotations

from pathlib import Path

from syncd.config import Config, Secret, StateConfig, ZoteroConfig
from syncd.engine import Importer, Report
from syncd.state import StateStore
from syncd.targets.base import Capabilities
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from tests.helpers import medline


class NoDeletedLog(MemoryTarget):
    """A memory target that, like the app, keeps no log of deletions."""

    capabilities = Capabilities(deleted_log=False)

    def deleted_since(self, since: int) -> tuple[list[str], int]:
        raise AssertionError("the engine asked a target without deleted_log for /deleted")


def config(tmp_path: Path, name: str = "state.db") -> Config:
    return Config(
        zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://memory"),
        state=StateConfig(tmp_path / name),
    )


def run(tmp_path: Path, library: MemoryLibrary, pmids: list[int], db: str = "state.db") -> Report:
    path = tmp_path / f"{pmids[0]}-{len(list(tmp_path.iterdir()))}.nbib"
    path.write_text(medline(pmids), encoding="utf-8")
    cfg = config(tmp_path, db)
    with StateStore(cfg.state.path) as store:
        return Importer(cfg, store, NoDeletedLog(library), sleep=lambda s: None).run([path])


def test_it_writes_and_a_rerun_finds_everything(tmp_path: Path) -> None:
    library = MemoryLibrary()
    assert NoDeletedLog(library).capabilities.missing() == []
    run(tmp_path, library, [53000001, 53000002])
    writes = library.writes
    report = run(tmp_path, library, [53000001, 53000002])
    assert library.writes == writes and report.counts()["duplicates"] == 2


def test_a_deletion_is_known_from_the_index_and_respected(tmp_path: Path) -> None:
    library = MemoryLibrary()
    run(tmp_path, library, [53000011, 53000012])
    gone = next(k for k, (_, d) in library.items.items() if "53000011" in str(d))
    library.delete(gone)
    report = run(tmp_path, library, [53000011])
    assert sorted(library.pmids()) == ["53000012"]
    assert "deleted" in report.duplicates[0].reason


def test_after_a_lost_state_database_a_deleted_article_comes_back(tmp_path: Path) -> None:
    library = MemoryLibrary()
    run(tmp_path, library, [53000021])
    (key,) = library.items
    library.delete(key)
    run(tmp_path, library, [53000021], db="new-state.db")  # the state database was lost
    assert library.pmids() == ["53000021"]  # what the docs say: it cannot be respected
