"""The one registry of inputs: which kind a file is by content, and the daemon's stricter rule
for PMID lists (only under PubMed's name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.core.id_files import CSV_HEADER
from syncd.sources.registry import InputKind, is_pmid_list_name, kind_of, watched_kind
from tests.helpers import medline


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("pmid-ketamine-set.txt", True),
        ("pmid-ketamine-set (1).txt", True),
        ("PMID-Ketamine-Set(2).TXT", True),
        ("numbers.txt", False),
        ("pmid-ketamine-set.csv", False),
        ("my-pmid-list.txt", False),
    ],
)
def test_pubmed_names_a_pmid_list(name: str, ok: bool) -> None:
    assert is_pmid_list_name(name) is ok


@pytest.mark.parametrize(
    ("name", "text", "kind", "watched"),
    [
        ("a.nbib", medline([1]), InputKind.MEDLINE, InputKind.MEDLINE),
        ("pubmed-x-set.txt", medline([1]), InputKind.MEDLINE, InputKind.MEDLINE),
        ("pmid-x-set.txt", "1\n2\n", InputKind.PMID_LIST, InputKind.PMID_LIST),
        ("lottery.txt", "1\n2\n", InputKind.PMID_LIST, None),
        (
            "csv-x-set.csv",
            CSV_HEADER + "\n1,,,,,,,,,,\n",
            InputKind.PUBMED_CSV,
            InputKind.PUBMED_CSV,
        ),
        ("budget.csv", "month,amount\n", None, None),
        ("notes.txt", "shopping: milk\n", None, None),
        ("empty.nbib", "", None, InputKind.MEDLINE),  # by name: read, and reported as empty
    ],
)
def test_kinds(
    tmp_path: Path, name: str, text: str, kind: InputKind | None, watched: InputKind | None
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert kind_of(path) is kind
    assert watched_kind(path) is watched
