"""Two different articles that share a DOI (issue 18): a PMID that differs vetoes the DOI
match, and a DOI match where one side has no PMID needs the titles to agree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.core.identity import item_identifiers
from syncd.sandbox import SandboxServer
from tests.system.cli_imports import KEY, LIB, USER, config, export, library_items, run

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]

DOI = "10.1093/eurheartj/ehac544"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        server.add_user(USER)
        server.add_key(KEY, USER)
        yield server


def abstract(pmid: int | None, title: str, author: str = "Smith, Anna") -> str:
    lines = [f"PMID- {pmid}"] if pmid else []
    lines += [
        "DP  - 2022 Oct",
        f"TI  - {title}",
        f"FAU - {author}",
        "PT  - Congress",
        "JT  - European heart journal",
        f"AID - {DOI} [doi]",
    ]
    return "\n".join(lines) + "\n"


ONE = abstract(36000001, "Sacubitril in heart failure with preserved ejection fraction.")
TWO = abstract(36000002, "Atrial fibrillation after cardiac surgery in the elderly.", "Li, Wei")


def add_by_hand(sandbox: SandboxServer, **fields: str) -> None:
    """An item of the library with the DOI and the first abstract's title, not from syncd."""
    title = "Sacubitril in heart failure with preserved ejection fraction"
    sandbox.oob_write(LIB, [{"itemType": "journalArticle", "title": title, "DOI": DOI, **fields}])


def test_the_supplement_case_in_one_file(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(tmp_path / "supp.nbib", ONE, TWO)
    cfg = config(tmp_path, sandbox)
    code, report, _ = run(cfg, capsys, "--dry-run", str(path))
    assert code == 0 and report["counts"]["new"] == 2 and report["counts"]["duplicates"] == 0
    code, report, _ = run(cfg, capsys, str(path))
    assert code == 0, report
    assert report["counts"]["new"] == 2 and report["counts"]["duplicates"] == 0
    # Different PMIDs are surely different articles: nothing to look at.
    assert report["counts"]["possible_duplicates"] == 0
    items = library_items(sandbox)
    assert sorted(item_identifiers(o["data"]).pmid or "" for o in items) == [
        "36000001",
        "36000002",
    ]
    assert {o["data"]["DOI"] for o in items} == {DOI}
    assert len({o["key"] for o in items}) == 2
    code, again, _ = run(cfg, capsys, str(path))
    assert code == 0 and again["counts"]["new"] == 0 and again["counts"]["duplicates"] == 2


def test_the_supplement_case_across_two_files(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox)
    code, first, _ = run(cfg, capsys, str(export(tmp_path / "a.nbib", ONE)))
    assert code == 0 and first["counts"]["new"] == 1
    code, second, _ = run(cfg, capsys, str(export(tmp_path / "b.nbib", TWO)))
    assert code == 0 and second["counts"]["new"] == 1, second
    assert second["counts"]["duplicates"] == 0
    assert len(library_items(sandbox)) == 2


def test_against_items_already_in_the_library(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Added by hand, with the PMID in Extra.
    add_by_hand(sandbox, extra="PMID: 36000001")
    cfg = config(tmp_path, sandbox)
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "b.nbib", TWO)))
    assert code == 0 and report["counts"]["new"] == 1 and report["counts"]["duplicates"] == 0
    assert report["counts"]["possible_duplicates"] == 0
    assert len(library_items(sandbox)) == 2


def test_a_doi_match_without_a_pmid_needs_the_titles_to_agree(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    add_by_hand(sandbox)  # no PMID
    (held,) = library_items(sandbox)
    cfg = config(tmp_path, sandbox)
    # The same title (punctuation aside): the same article.
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "a.nbib", ONE)))
    assert code == 0 and report["counts"]["duplicates"] == 1, report
    assert report["duplicates"][0]["key"] == held["key"]
    # Another title: imported, and listed as a possible duplicate.
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "b.nbib", TWO)))
    assert code == 0 and report["counts"]["new"] == 1, report
    assert report["counts"]["possible_duplicates"] == 1
    (possible,) = report["possible_duplicates"]
    assert possible["where"] == f"{tmp_path / 'b.nbib'}:1"
    assert possible["reason"] == (
        f"shares DOI {DOI} with item {held['key']}, whose title differs: imported as a "
        "separate article"
    )
    assert len(library_items(sandbox)) == 2
    # In the summary, and in syncd status (text and JSON).
    main(["import", "--config", str(cfg), "--dry-run", str(tmp_path / "b.nbib")])
    capsys.readouterr()
    assert main(["status", "--config", str(cfg), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["possible_duplicates"]["count"] == 1
    assert status["possible_duplicates"]["latest"][0]["reason"] == possible["reason"]
    assert main(["status", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "Possible duplicates (1;" in text
    assert f"b.nbib:1: item {possible['key']} shares DOI {DOI}" in text


def test_a_record_without_pmid_in_the_same_file(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    same = abstract(None, "Sacubitril in heart failure with preserved ejection fraction")
    other = abstract(None, "Statins and memory: a randomised trial", "Okafor, Ngozi")
    path = export(tmp_path / "supp.nbib", ONE, same, other)
    cfg = config(tmp_path, sandbox)
    code, report, _ = run(cfg, capsys, str(path))
    assert code == 0, report
    assert report["counts"]["new"] == 2 and report["counts"]["duplicates"] == 1
    assert report["duplicates"][0]["reason"] == f"same article as {path}:1"
    (possible,) = report["possible_duplicates"]
    assert possible["where"] == f"{path}:16"
    assert f"with {path}:1 (item " in possible["reason"]
    main(["import", "--config", str(cfg), str(path)])
    assert "of which 0" not in capsys.readouterr().out
    text_path = export(tmp_path / "again.nbib", abstract(None, "Beta blockers in marathon runners"))
    main(["import", "--config", str(cfg), "--dry-run", str(text_path)])
    out = capsys.readouterr().out
    assert "1 possible duplicate: sharing a DOI" in out, out
