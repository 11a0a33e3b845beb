"""Other projects' MEDLINE fixtures (issue 8 §1), read from ``../shared/conformance/peer-medline``
(never copied here): every file gives the number of records its peer expects, ``syncd convert``
exits 0 where every record is readable, and the items hold the fields Biopython's reader finds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import main
from syncd.core.identity import item_identifiers, normalize_doi, normalize_pmcid, normalize_pmid
from tests.conftest import shared_path

# (folder, file, records the peer expects: its README).
PEER_FILES = [
    ("jabref", "MedlinePlainImporterTestCompleteEntry.txt", 1),
    ("jabref", "MedlinePlainImporterTestMultiAbstract.txt", 1),
    ("jabref", "MedlinePlainImporterTestMultiTitle.txt", 1),
    ("jabref", "MedlinePlainImporterTestDOI.txt", 1),
    ("jabref", "MedlinePlainImporterTestInproceeding.txt", 1),
    ("jabref", "MedlinePlainImporterStringOutOfBounds.txt", 2),
    ("jabref", "MedlinePlainImporterTestMultipleEntries.txt", 7),
    ("jabref", "NbibImporterTest.nbib", 1),
    ("jabref", "MedlinePlainImporterTestInvalidFormat.xml", 0),
    ("pybtexnbib", "marcelis-20301770.nbib", 1),
    ("nbib", "pubmed-balloongui-set.nbib", 75),
    ("nbib", "pmc_medlars.txt", 5),
    ("nbib", "single.nbib", 1),
    ("colrev", "nbib_data.nbib", 1),
    ("colrev", "eric_nbib.nbib", 1),
    ("synthesisr", "PubMed_example.txt", 3),
    ("synthesisr", "res_synth_methods.txt", 2),
    ("revtools", "restoration_pubmed.nbib", 104),
    ("searchbuildR", "testset_pubmed.txt", 10),
    ("searchbuildR", "testset_pubmed_hyphen_decision.txt", 20),
    ("ref_parsers", "example.nbib", 1),
    ("bibliograpy", "sample1.nbib", 1),
    ("bibliograpy", "sample2.nbib", 1),
    ("bibliograpy", "sample3.nbib", 2),
    ("bibliograpy", "mini.nbib", 2),
    ("bibliograpy", "16596158.nbib", 1),
    ("bibliograpy", "16596158_bis.nbib", 2),
]
# Files whose records cannot all be read (the peer expects nothing from it: not MEDLINE).
NOT_ALL_READABLE = {"MedlinePlainImporterTestInvalidFormat.xml"}

# A line Biopython's column-based reader reads right: "TAG - " with the tag padded to four
# columns, a continuation indented by six, or a blank line.
_STANDARD_LINE = re.compile(r"(?:[A-Z0-9 ]{4}- |      |$)")


def convert(capsys: pytest.CaptureFixture[str], path: Path, *options: str) -> tuple[int, Any]:
    code = main(["convert", "--json", *options, str(path)])
    out = capsys.readouterr().out
    return code, json.loads(out)


def squash(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def test_the_peer_list_is_complete() -> None:
    folder = shared_path("conformance", "peer-medline")
    on_disk = {
        (p.parent.name, p.name)
        for p in folder.glob("*/*")
        if p.suffix not in (".md", ".bib", ".json")
    }
    assert on_disk == {(f, n) for f, n, _ in PEER_FILES}
    assert sum(n for _, _, n in PEER_FILES) == 248  # the README's count


@pytest.mark.parametrize(("folder", "name", "count"), PEER_FILES, ids=lambda x: str(x))
def test_peer_file_gives_the_records_its_peer_expects(
    folder: str, name: str, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_path("conformance", "peer-medline", folder, name)
    code, items = convert(capsys, path)
    assert len(items) == count
    if name not in NOT_ALL_READABLE:
        assert code == 0


@pytest.mark.parametrize(("folder", "name", "count"), PEER_FILES, ids=lambda x: str(x))
def test_peer_file_items_hold_what_biopython_reads(
    folder: str, name: str, count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    medline = pytest.importorskip("Bio.Medline", reason="Biopython (the bench extra) is absent")
    path = shared_path("conformance", "peer-medline", folder, name)
    text = path.read_text(encoding="utf-8")
    if not all(_STANDARD_LINE.match(line) for line in text.splitlines()):
        pytest.skip("lines out of PubMed's columns, which Biopython's reader misreads")
    with path.open(encoding="utf-8") as handle:
        theirs = list(medline.parse(handle))
    assert len(theirs) == count
    _, items = convert(capsys, path, "--profile", "zotero", "--mesh", "verbatim")
    _, enhanced = convert(capsys, path)
    assert len(items) == len(enhanced) == count
    for bio, item, better in zip(theirs, items, enhanced, strict=True):
        # (the zotero profile loses a PMCID that comes before the PMID, as Zotero does)
        ids = item_identifiers(better)
        assert ids.pmid == normalize_pmid(bio.get("PMID"))
        assert ids.pmcid == normalize_pmcid(bio.get("PMC"))
        dois = [a for a in bio.get("AID", []) if a.endswith("[doi]")]
        if dois:
            assert ids.doi == normalize_doi(dois[0])
        assert item_identifiers(item).pmid == ids.pmid
        if "TI" in bio and item["itemType"] != "book":
            assert squash(item["title"]) == squash(bio["TI"])
        names = bio.get("FAU") or bio.get("AU") or []
        lasts = [squash(c.get("lastName") or c.get("name", "")) for c in item["creators"]]
        for name_ in names:
            assert squash(name_.split(",")[0]) in lasts or squash(name_) in lasts
        for tag, field in (
            ("VI", "volume"),
            ("IP", "issue"),
            ("DP", "date"),
            ("AB", "abstractNote"),
        ):
            if bio.get(tag):
                assert squash(item.get(field, "")) == squash(bio[tag]), tag
        if bio.get("JT") and item["itemType"] == "journalArticle":
            assert squash(item["publicationTitle"]) == squash(bio["JT"])
        tags = {squash(t["tag"]) for t in item["tags"]}
        assert {squash(m) for m in bio.get("MH", [])} <= tags


def test_pubmed_central_export_keeps_pmcid_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    # What the nbib package's tests assert of this file.
    path = shared_path("conformance", "peer-medline", "nbib", "pmc_medlars.txt")
    code, items = convert(capsys, path)
    assert code == 0 and len(items) == 5
    first = items[0]
    ids = item_identifiers(first)
    assert (ids.pmcid, ids.pmid, ids.doi) == ("PMC6055010", "30042925", "10.1016/j.mex.2018.03.007")
    assert first["volume"] == "5" and first["date"].startswith("2018")
    assert len(first["creators"]) == 6 and first["language"] == "en"
    assert item_identifiers(items[1]).pmcid == "PMC6088416"


def test_publisher_record_with_pmid_after_title_is_one_item(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = shared_path("conformance", "peer-medline", "bibliograpy", "sample1.nbib")
    expected = json.loads((path.parent / "sample1.json").read_text(encoding="utf-8"))
    code, (item,) = convert(capsys, path, "--profile", "zotero")
    want = expected[0] if isinstance(expected, list) else expected
    assert code == 0
    assert item_identifiers(item).pmid == want["PMID"]
    assert squash(item["title"]) == squash(want["TI"])
    assert [f"{c['lastName']}, {c['firstName']}" for c in item["creators"]] == want["AU"]
