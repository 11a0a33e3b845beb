"""`syncd convert`: driven through the CLI's main() and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import main
from syncd.core.identity import item_identifiers
from syncd.core.medline import parse
from syncd.core.records import MedlineRecord
from tests.conftest import EXAMPLES, ROOT

# convert reads the default config when there is one: never the machine's own.
pytestmark = pytest.mark.usefixtures("isolated_env")

EXPORT = """\

PMID- 37424412
OWN - NLM
STAT- PubMed-not-MEDLINE
IS  - 1738-1088 (Print)
IS  - 2093-4327 (Electronic)
VI  - 21
IP  - 3
DP  - 2023 Aug 31
TI  - The Role of Glutamate Underlying Treatment-resistant Depression.
PG  - 429-446
LID - 10.9758/cpn.22.1034 [doi]
AB  - The monoamine hypothesis has significantly improved our understanding of mood
      disorders and their treatment.
FAU - Kim, Jeongseop
AU  - Kim J
FAU - Kim, Tae-Eun
AU  - Kim TE
FAU - Lee, Seung-Hwan
AU  - Lee SH
CN  - Korea Brain Research Consortium
LA  - eng
PT  - Journal Article
PT  - Review
TA  - Clin Psychopharmacol Neurosci
JT  - Clinical psychopharmacology and neuroscience
MH  - Depressive Disorder, Treatment-Resistant/*drug therapy
MH  - Humans
PMC - PMC10335903
OT  - Ketamine
OT  - Glutamate hypothesis

PMID- 20301770
STAT- Publisher
PB  - University of Washington, Seattle
DP  - 1993
TI  - Feingold Syndrome 1.
BTI - GeneReviews(®)
FED - Adam, Margaret P
FAU - Marcelis, Carlo LM
LA  - eng
PT  - Review
PT  - Book Chapter
PL  - Seattle (WA)
AID - NBK7050 [bookaccession]
"""

# A record with neither a PMID nor a title: the reader skips it with a problem.
BROKEN = """\
PMID- 1000001
TI  - A fine record.

AB  - An abstract without its record.
"""


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "pubmed-result.nbib"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_shows_what_a_researcher_checks(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["convert", str(export)], capsys)
    assert code == 0
    assert f"[1] Journal article  ({export}:2)" in out
    assert "The Role of Glutamate Underlying Treatment-resistant Depression\n" in out
    assert "Kim J, et al. (4 authors)" in out
    assert "Clin Psychopharmacol Neurosci · 2023 Aug 31 · 21(3):429-446" in out
    assert "PMID 37424412 · DOI 10.9758/cpn.22.1034 · PMC10335903" in out
    assert "4 tags" in out
    assert "[2] Book chapter" in out and "Feingold Syndrome 1\n" in out
    assert "syncd convert: 2 items from 1 file" in err


def test_json_is_the_item_array_an_import_sends(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["convert", "--json", str(export)], capsys)
    assert code == 0
    items: list[dict[str, Any]] = json.loads(out)
    # One array, each item compact on a line of its own (issue 8 §4: the C encoder).
    compact = [json.dumps(i, ensure_ascii=False, separators=(",", ":")) for i in items]
    assert out == "[\n" + ",\n".join(compact) + "\n]\n"
    assert "GeneReviews(®)" in out  # not escaped
    article, chapter = items
    assert article["itemType"] == "journalArticle" and chapter["itemType"] == "bookSection"
    assert article["DOI"] == "10.9758/cpn.22.1034"
    assert article["extra"] == "PMID: 37424412\nPMCID: PMC10335903"
    assert {"creatorType": "author", "name": "Korea Brain Research Consortium"} in article[
        "creators"
    ]
    assert article["tags"] == [
        {"tag": "Depressive Disorder, Treatment-Resistant", "type": 1},
        {"tag": "Humans", "type": 1},
        {"tag": "Ketamine", "type": 1},
        {"tag": "Glutamate hypothesis", "type": 1},
    ]
    assert chapter["bookTitle"] == "GeneReviews(®)" and chapter["place"] == "Seattle (WA)"
    assert all(i["collections"] == [] and i["relations"] == {} for i in items)


def test_profile_and_mapping_options(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["convert", "--json", "--profile", "zotero", str(export)], capsys)
    article = json.loads(out)[0]
    assert article["title"].endswith("Depression.") and "DOI" not in article
    assert article["extra"] == "PMID: 37424412 \nPMCID: PMC10335903"
    assert {"tag": "Depressive Disorder, Treatment-Resistant/*drug therapy"} in article["tags"]

    argv = ["convert", "--json", "--mesh", "none", "--no-keywords", "--tag", "to-read"]
    _, out, _ = run([*argv, "--tag", "syncd", "--native-ids", str(export)], capsys)
    article = json.loads(out)[0]
    assert article["tags"] == [{"tag": "to-read", "type": 0}, {"tag": "syncd", "type": 0}]
    assert article["PMID"] == "37424412" and "extra" not in article

    _, out, _ = run(["convert", "--json", "--mesh", "major", "--manual-tags", str(export)], capsys)
    assert json.loads(out)[0]["tags"] == [
        {"tag": "Depressive Disorder, Treatment-Resistant", "type": 0},
        {"tag": "Ketamine", "type": 0},
        {"tag": "Glutamate hypothesis", "type": 0},
    ]


def test_bad_option_value_is_a_usage_error(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["convert", "--mesh", "some", str(export)], capsys)
    assert code == 2 and "invalid choice" in err


def test_folder_reads_its_exports_in_name_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "b.txt").write_text("PMID- 2\nTI  - Second.\n", encoding="utf-8")
    (tmp_path / "a.nbib").write_text("PMID- 1\nTI  - First.\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not an export", encoding="utf-8")
    code, out, _ = run(["convert", "--json", str(tmp_path)], capsys)
    assert code == 0
    assert [i["title"] for i in json.loads(out)] == ["First", "Second"]


def test_jsonl_is_one_item_per_line(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["convert", "--jsonl", str(export)], capsys)
    assert code == 0
    _, array, _ = run(["convert", "--json", str(export)], capsys)
    assert [json.loads(line) for line in out.splitlines()] == json.loads(array)
    assert out.endswith("}\n") and out.count("\n") == 2


def test_json_of_no_items_is_an_empty_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.nbib"
    path.write_text("AU  - Nobody\n", encoding="utf-8")
    assert run(["convert", "--json", str(path)], capsys)[1] == "[]\n"
    assert run(["convert", "--jsonl", str(path)], capsys)[1] == ""


def test_skipped_record_gives_file_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.nbib"
    path.write_text(BROKEN, encoding="utf-8")
    code, out, err = run(["convert", "--json", str(path)], capsys)
    assert code == 1
    assert [i["title"] for i in json.loads(out)] == ["A fine record"]
    assert f"{path}:4: " in err
    assert "1 record skipped" in err


def test_warnings_go_to_stderr_but_the_record_converts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "retracted.nbib"
    path.write_text("PMID- 7\nTI  - X.\nPT  - Retracted Publication\n", encoding="utf-8")
    code, _, err = run(["convert", str(path)], capsys)
    assert code == 0
    assert f"{path}:3: warning: PMID 7: this article has been retracted" in err


def test_unusable_input_is_reported_and_the_rest_still_converted(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.nbib"
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    code, out, err = run(["convert", "--json", str(missing), str(empty), str(export)], capsys)
    assert code == 2
    assert len(json.loads(out)) == 2
    assert f"syncd: error: {missing}: no such file" in err
    assert f"syncd: error: {empty}: no export files" in err
    assert "2 inputs unusable" in err


def test_runs_as_a_process_from_the_repository_root(export: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "convert", "--json", str(export)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [i["itemType"] for i in json.loads(proc.stdout)] == ["journalArticle", "bookSection"]


def _reader_splits_flattened_records(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        records = [r for r in parse(handle, str(path)) if isinstance(r, MedlineRecord)]
    return bool(records) and records[0].get("TI") is not None


def test_flattened_example(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "pmid-37424412-flattened.nbib"
    code, out, _ = run(["convert", "--json", str(path)], capsys)
    assert code in (0, 1)
    items = json.loads(out)
    assert len(items) == 1
    assert item_identifiers(items[0]).pmid == "37424412"
    if not _reader_splits_flattened_records(path):
        # Visible in the test report, and turns into a strict check by itself once the reader
        # that recovers flattened records (branch core) is merged.
        pytest.xfail("this reader cannot split a record whose line breaks were lost yet")
    item = items[0]
    assert item["title"] == "The Role of Glutamate Underlying Treatment-resistant Depression"
    assert item["DOI"] == "10.9758/cpn.22.1034"
    assert item["pages"] == "429-446" and item["volume"] == "21" and item["issue"] == "3"
    assert [c["lastName"] for c in item["creators"]] == ["Kim", "Kim", "Lee", "Koo"]
    assert item["extra"] == "PMID: 37424412\nPMCID: PMC10335903"
    assert item["ISSN"] == "1738-1088 2093-4327" and item["language"] == "en"
    assert len(item["tags"]) == 7


def _tags(out: str) -> list[str]:
    return [t["tag"] for t in json.loads(out)[0]["tags"]]


def test_the_config_decides_the_tags_as_for_an_import(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(
        '[tags]\nextra = ["pubmed"]\nmesh = "none"\nkeywords = false\nautomatic = false\n',
        encoding="utf-8",
    )
    code, out, err = run(["convert", "--json", "--config", str(config), str(export)], capsys)
    assert code == 0
    assert json.loads(out)[0]["tags"] == [{"tag": "pubmed", "type": 0}]  # no MeSH, no keywords
    assert f"tags and MeSH as configured in {config}" in err
    assert "PMID and PMCID in Extra (no server asked: --native-ids)" in err

    # The command line's flags go on top of the config.
    argv = ["convert", "--json", "--config", str(config), "--mesh", "major", "--tag", "x"]
    _, out, _ = run([*argv, str(export)], capsys)
    assert _tags(out) == ["Depressive Disorder, Treatment-Resistant", "pubmed", "x"]


def test_the_default_config_is_read_when_there_is_one(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, err = run(["convert", "--json", str(export)], capsys)
    assert "Humans" in _tags(out) and "tags and MeSH the defaults" in err
    default = tmp_path / "xdg-config" / "syncd" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text('[tags]\nmesh = "none"\nkeywords = false\n', encoding="utf-8")
    _, out, err = run(["convert", "--json", str(export)], capsys)
    assert _tags(out) == [] and f"as configured in {default}" in err


def test_a_broken_config_is_a_config_error(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text('[tags]\nmesh = "sometimes"\n', encoding="utf-8")
    code, out, err = run(["convert", "--config", str(config), str(export)], capsys)
    assert code == 2 and out == ""
    assert "tags.mesh" in err


def test_convert_maps_as_the_import_with_that_config_would(tmp_path: Path) -> None:
    import argparse

    from syncd.commands.convert import add_arguments, options_for
    from syncd.config import load
    from syncd.options import mapping_options

    config = tmp_path / "syncd.toml"
    config.write_text('[tags]\nextra = ["a", "b"]\nmesh = "qualified"\n', encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--config", str(config), "x.nbib"])
    loaded = load(config)
    assert options_for(args, loaded) == mapping_options(loaded, native_ids=False)
