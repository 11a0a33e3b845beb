"""Issue 8 §2 end to end: a record whose PMID is not one is imported as its own article, never
taken for the article whose PMID its digits spell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.cli import main

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]


def test_invalid_pmid_is_not_merged_with_the_article_its_digits_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.nbib"
    path.write_text(
        "PMID- 12345678\nTI  - The real article.\nAID - 10.5555/real [doi]\n\n"
        "PMID- bis_12345678\nTI  - Another article altogether.\nAID - 10.5555/other [doi]\n",
        encoding="utf-8",
    )
    assert main(["import", "--sandbox", "--json", str(path)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["counts"]["new"] == 2 and report["counts"]["duplicates"] == 0
    (problem,) = report["problems"]
    assert problem["where"] == f"{path}:5" and problem["severity"] == "warning"
    assert problem["message"].startswith("PMID 'bis_12345678' is not a PMID")
