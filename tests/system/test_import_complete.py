"""``syncd import`` against the sandbox completes the item a truncated export made once the
full record arrives (issue 14 §2): read back over HTTP, a user's edit kept, a rerun idle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.sandbox import SandboxServer
from syncd.zotero import ZoteroGateway
from tests.system.cli_imports import KEY, USER, config, export, import_sandbox, library_items, run

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]

FULL = [
    "PMID- 61000001",
    "VI  - 7",
    "IP  - 2",
    "DP  - 2022 May",
    "TI  - A record cut short while the browser was writing it.",
    "PG  - 201-209",
    "FAU - Curie, Marie",
    "AU  - Curie M",
    "FAU - Curie, Pierre",
    "AU  - Curie P",
    "FAU - Becquerel, Henri",
    "AU  - Becquerel H",
    "PT  - Journal Article",
    "JT  - Journal of things",
    "AID - 10.5555/cut.61000001 [doi]",
]
TRUNCATED = [line for line in FULL if not line.startswith(("FAU - Becquerel", "AU  - Becq", "PG"))]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with import_sandbox() as server:
        yield server


def _item(sandbox: SandboxServer) -> dict[str, object]:
    (one,) = library_items(sandbox)
    return one


@pytest.mark.slow
def test_the_full_record_completes_the_truncated_item(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox)
    code, first, _ = run(cfg, capsys, str(export(tmp_path / "cut.nbib", "\n".join(TRUNCATED))))
    assert code == 0 and first["counts"]["new"] == 1
    made = _item(sandbox)
    assert len(made["data"]["creators"]) == 2 and not made["data"].get("pages")
    # The user edits the title in Zotero meanwhile: that field is theirs from now on.
    with ZoteroGateway(
        library_type="user", library_id=USER, api_key=KEY, api_url=sandbox.url
    ) as gw:
        gw.update_item(made["key"], made["version"], {"title": "My title"})

    full = export(tmp_path / "full.nbib", "\n".join(FULL))
    code, report, _ = run(cfg, capsys, str(full))
    assert code == 0, report
    counts = report["counts"]
    assert (counts["new"], counts["duplicates"], counts["completed"]) == (0, 1, 1)
    (entry,) = report["completed"]
    assert entry["key"] == made["key"] and entry["pmid"] == "61000001"
    after = _item(sandbox)["data"]
    assert [c["lastName"] for c in after["creators"]] == ["Curie", "Curie", "Becquerel"]
    assert after["pages"] == "201-209" and after["title"] == "My title"

    # A rerun completes nothing and writes nothing.
    version = _item(sandbox)["version"]
    code, again, _ = run(cfg, capsys, str(full))
    assert code == 0 and again["counts"]["completed"] == 0
    assert _item(sandbox)["version"] == version

    # The text summary and syncd status say it.
    assert main(["import", "--config", str(cfg), str(full)]) == 0
    assert "0 items completed" in capsys.readouterr().out
    assert main(["status", "--config", str(cfg), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["total"]["completed"] == 1
    assert main(["status", "--config", str(cfg)]) == 0
    shown = capsys.readouterr().out
    assert "1 completed" in shown
    assert "full.nbib: imported  1 record: 0 new, 1 duplicate (1 completing syncd's item)" in shown
