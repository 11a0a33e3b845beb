"""``syncd import`` end to end: the CLI against an in-process sandbox over real HTTP."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.core.identity import item_identifiers
from syncd.core.keys import item_key
from syncd.sandbox import SandboxServer
from syncd.state import StateStore
from syncd.zotero import ZoteroGateway
from tests.conftest import shared_path
from tests.system.cli_imports import (
    GROUP,
    KEY,
    LIB,
    READ_ONLY_KEY,
    USER,
    article,
    config,
    export,
    import_sandbox,
    library_items,
    pmid_counts,
    put_pending,
    run,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with import_sandbox() as server:
        yield server


# ---- the conformance files --------------------------------------------------------------------


def test_conformance_files_again_and_under_another_name(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = shared_path("conformance", "medline-nbib")
    cfg = config(tmp_path, sandbox)
    code, first, _ = run(cfg, capsys, str(folder))
    assert code == 0, first
    created = first["counts"]["new"]
    assert created == first["counts"]["records"] - first["counts"]["duplicates"] > 0
    assert first["counts"]["failed"] == 0
    items = library_items(sandbox)
    assert len(items) == created
    pmids = pmid_counts(sandbox)
    assert all(n == 1 for p, n in pmids.items() if p != "?"), pmids
    # Every item carries the key planned for it: derived from the library and the article.
    keys = {e["key"] for e in first["created"]}
    assert keys == {o["key"] for o in items}

    code, again, _ = run(cfg, capsys, str(folder))
    assert code == 0
    assert again["counts"]["new"] == 0
    assert again["counts"]["duplicates"] == first["counts"]["records"]
    assert {e["key"] for e in again["duplicates"]} == keys
    assert len(library_items(sandbox)) == created

    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for f in folder.glob("*.nbib"):
        shutil.copy(f, renamed / f"copy-of-{f.name}")
    code, third, _ = run(cfg, capsys, str(renamed))
    assert code == 0 and third["counts"]["new"] == 0
    assert len(library_items(sandbox)) == created


def test_a_library_that_already_holds_some_articles(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Added another way: PMID only in Extra, only the DOI, and one in the trash.
    sandbox.oob_write(
        LIB,
        [
            {
                "itemType": "journalArticle",
                "title": "Held with the PMID in Extra",
                "extra": "PMID: 101",
                "tags": [{"tag": "mine"}],
            },
            {
                "itemType": "journalArticle",
                "title": "A study of thing number 102",  # the title agrees (issue 18)
                "DOI": "10.5555/THING.102",
            },
            {
                "itemType": "journalArticle",
                "title": "Held in the trash",
                "extra": "PMID: 103",
                "deleted": 1,
            },
        ],
    )
    held = {item_identifiers(o["data"]).pmid or "doi": o for o in library_items(sandbox)}
    path = export(tmp_path / "in.nbib", *(article(n) for n in (101, 102, 103, 104)))
    cfg = config(tmp_path, sandbox, collection="Imported/PubMed")
    code, report, _ = run(cfg, capsys, str(path))
    assert code == 0, report
    assert report["counts"]["new"] == 1 and report["counts"]["duplicates"] == 3
    by_pmid = {e["pmid"]: e for e in report["duplicates"]}
    assert by_pmid["101"]["key"] == held["101"]["key"]
    assert "PMID 101" in by_pmid["101"]["reason"]
    assert by_pmid["102"]["key"] == held["doi"]["key"]
    assert "DOI 10.5555/thing.102" in by_pmid["102"]["reason"]
    assert by_pmid["103"]["key"] == held["103"]["key"]
    assert "trash" in by_pmid["103"]["reason"]
    # merge (the default): tags and the collection were added, nothing else changed.
    assert report["counts"]["merged"] == 3
    after = {o["key"]: o["data"] for o in library_items(sandbox)}
    one = after[held["101"]["key"]]
    assert one["title"] == "Held with the PMID in Extra" and one["extra"] == "PMID: 101"
    tags = {t["tag"] for t in one["tags"]}
    assert {"mine", "Humans"} <= tags
    assert one["collections"] == [report["collection"]]
    assert after[held["103"]["key"]].get("deleted") in (1, True)
    assert sorted(pmid_counts(sandbox).values()) == [1, 1, 1, 1]

    # A second run merges nothing more (nothing is missing).
    code, again, _ = run(cfg, capsys, str(path))
    assert again["counts"]["merged"] == 0 and again["counts"]["new"] == 0


def test_skip_leaves_duplicates_alone(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.oob_write(LIB, [{"itemType": "journalArticle", "title": "T", "extra": "PMID: 5"}])
    before = library_items(sandbox)[0]
    cfg = config(tmp_path, sandbox, extra='[dedup]\non_duplicate = "skip"\n')
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "a.nbib", article(5))))
    assert code == 0 and report["counts"]["merged"] == 0
    assert library_items(sandbox)[0]["version"] == before["version"]


def test_duplicates_inside_one_file_and_across_files_collapse(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    a = export(tmp_path / "a.nbib", article(1), article(2), article(1))
    b = export(tmp_path / "b.nbib", article(2), article(3, doi=False))
    cfg = config(tmp_path, sandbox)
    code, report, _ = run(cfg, capsys, str(a), str(b))
    assert code == 0
    assert report["counts"] == {
        "files": 2,
        "unusable_files": 0,
        "records": 5,
        "new": 3,
        "uncertain": 0,
        "recovered": 0,
        "duplicates": 2,
        "possible_duplicates": 0,
        "merged": 0,
        "completed": 0,
        "failed": 0,
        "pending": 0,
        "problems": 0,
    }
    assert sorted(pmid_counts(sandbox).items()) == [("1", 1), ("2", 1), ("3", 1)]
    keys = {e["pmid"]: e["key"] for e in report["created"]}
    assert keys["1"] == item_key(LIB, "pmid:1")


def test_group_library(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox, library_type="group", library_id=GROUP)
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "a.nbib", article(9))))
    assert code == 0 and report["library"] == f"groups/{GROUP}"
    assert pmid_counts(sandbox, f"groups/{GROUP}") == {"9": 1}
    assert library_items(sandbox) == []
    assert report["created"][0]["key"] == item_key(f"groups/{GROUP}", "pmid:9")


@pytest.mark.parametrize("library", [("user", USER), ("group", GROUP)])
def test_key_without_write_access_is_fatal(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    library: tuple[str, int],
) -> None:
    kind, number = library
    cfg = config(tmp_path, sandbox, library_type=kind, library_id=number, api_key=READ_ONLY_KEY)
    code, out, err = run(cfg, capsys, str(export(tmp_path / "a.nbib", article(9))))
    assert code == 2 and out is None
    assert f"{kind}s/{number}" in err and "write" in err
    assert READ_ONLY_KEY not in err
    assert sandbox.library_version(f"{kind}s/{number}") == 0
    # --dry-run only reads, which the key may.
    code, report, _ = run(cfg, capsys, "--dry-run", str(tmp_path / "a.nbib"))
    assert code == 0 and report["counts"]["new"] == 1


def test_invalid_key_is_fatal_and_never_shown(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "NoSuchKey000000000000000"
    cfg = config(tmp_path, sandbox, api_key=bad)
    code, _, err = run(cfg, capsys, str(export(tmp_path / "a.nbib", article(9))))
    assert code == 2 and "users/1" in err and bad not in err


def test_dry_run_writes_nothing(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.oob_write(LIB, [{"itemType": "journalArticle", "title": "T", "extra": "PMID: 1"}])
    version = sandbox.library_version(LIB)
    cfg = config(tmp_path, sandbox, collection="New collection")
    path = export(tmp_path / "a.nbib", article(1), article(2))
    sandbox.clear_requests()
    code, report, _ = run(cfg, capsys, "--dry-run", str(path))
    assert code == 0 and report["dry_run"] is True
    assert report["counts"]["new"] == 1 and report["counts"]["duplicates"] == 1
    assert report["created"][0]["reason"] == "would be created"
    assert sandbox.library_version(LIB) == version
    assert {r["method"] for r in sandbox.requests()} == {"GET"}
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
    # The human summary says so too.
    assert main(["import", "--config", str(cfg), "--dry-run", str(path)]) == 0
    assert "Dry run: nothing was sent" in capsys.readouterr().out


def test_exit_code_1_when_some_records_fail_and_text_summary(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The second record has neither a PMID nor a title: the reader cannot use it.
    path = export(tmp_path / "a.nbib", article(1), "AB  - An abstract alone.\nLA  - eng\n")
    cfg = config(tmp_path, sandbox)
    code = main(["import", "--config", str(cfg), str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 new item\n" in out and "could not be read" in out and f"{path}:" in out
    # The file is not marked fully imported, so it is read again next time.
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("SELECT outcome FROM files").fetchone()[0] == "partial"
    # ... and syncd status says which line, not "0 record(s) failed".
    assert main(["status", "--config", str(cfg)]) == 1
    status = capsys.readouterr().out
    assert f"{path}: partial: 1 record could not be read (line 12)" in status, status


def test_per_object_failure_is_reported_and_the_rest_goes_on(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # The mapping only makes valid items, so the refused one comes from a pending row (as a
    # crashed older syncd could have left): the server answers 400 for that object alone.
    k1, k2 = item_key(LIB, "pmid:1"), item_key(LIB, "pmid:2")
    base = {"itemType": "journalArticle", "version": 0}
    put_pending(
        tmp_path,
        (1, 1, {**base, "key": k1, "title": "One", "notAField": "x"}),
        (2, 9, {**base, "key": k2, "title": "Two", "extra": "PMID: 2"}),
    )
    code, report, _ = run(
        config(tmp_path, sandbox), capsys, str(export(tmp_path / "a.nbib", article(3)))
    )
    assert code == 1
    # The two rows are of an earlier run (their records are not read now): listed apart, each
    # with its outcome; this run's one record is new.
    assert report["counts"]["failed"] == 0 and report["counts"]["new"] == 1
    outcomes = {e["where"]: e for e in report["recovered"]}
    assert outcomes["x:1"]["outcome"] == "failed" and outcomes["x:9"]["outcome"] == "created"
    assert "400" in outcomes["x:1"]["reason"] and "notAField" in outcomes["x:1"]["reason"]
    assert sorted(pmid_counts(sandbox).items()) == [("2", 1), ("3", 1)]
    with StateStore(tmp_path / "state.db") as store:
        row = store.record(LIB, "pmid:1")
        assert row is not None and row.status == "failed" and "notAField" in (row.error or "")


def test_missing_path_is_exit_2_before_any_request(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox)
    sandbox.clear_requests()
    code, _, err = run(cfg, capsys, str(tmp_path / "nope.nbib"))
    assert code == 2 and "nope.nbib" in err
    assert sandbox.requests() == []


def test_without_a_library_import_says_how_to_configure_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["import", str(export(tmp_path / "a.nbib", article(1)))])
    err = capsys.readouterr().err
    assert code == 2
    assert "no Zotero library is configured" in err
    assert "library_id" in err and "--sandbox" in err


def test_sandbox_flag_runs_a_real_import_and_a_second_run_finds_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(tmp_path / "a.nbib", article(1), article(2))
    assert main(["import", "--sandbox", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Sandbox: a local Zotero API" in out and "2 new items" in out
    assert str(tmp_path / "xdg-state" / "syncd" / "sandbox") in out
    assert main(["import", "--sandbox", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["new"] == 0 and report["counts"]["duplicates"] == 2


def test_pending_rows_of_an_interrupted_run_are_settled_first(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    k1, k2 = item_key(LIB, "pmid:1"), item_key(LIB, "pmid:2")
    base = {"itemType": "journalArticle", "version": 0, "tags": [], "collections": []}
    # Two rows recorded as pending by a run that died: the POST of the first was applied
    # (its item exists), the second never left.
    sandbox.oob_write(LIB, [{**base, "key": k1, "title": "One", "extra": "PMID: 1"}])
    cfg = config(tmp_path, sandbox)
    put_pending(
        tmp_path,
        (1, 1, {**base, "key": k1, "title": "One", "extra": "PMID: 1"}),
        (2, 9, {**base, "key": k2, "title": "Two", "extra": "PMID: 2"}),
    )
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "a.nbib", article(1), article(2))))
    assert code == 0
    # Both records were read again in this run: each is counted once, as this run's (new: the
    # first found in the library under its key, which another writer might also have made; the
    # second sent now), and not also apart as recovered nor as a duplicate of itself.
    assert report["counts"]["recovered"] == 0 and report["counts"]["duplicates"] == 0
    assert report["counts"]["new"] == 2 and report["counts"]["uncertain"] == 1
    assert [e.get("uncertain", False) for e in report["created"]] == [True, False]
    assert sorted(pmid_counts(sandbox).items()) == [("1", 1), ("2", 1)]
    with StateStore(tmp_path / "state.db") as store:
        assert store.status_counts(LIB) == {"pushed": 2}


def test_deleted_items_are_respected_unless_recreate_deleted(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(tmp_path / "a.nbib", article(1))
    cfg = config(tmp_path, sandbox)
    code, report, _ = run(cfg, capsys, str(path))
    key = report["created"][0]["key"]
    with ZoteroGateway(
        library_type="user", library_id=USER, api_key=KEY, api_url=sandbox.url
    ) as gw:
        gw._zot.delete_item({"key": key, "version": gw.get_items([key])[0]["version"]})
    code, report, _ = run(cfg, capsys, str(path))
    assert code == 0 and report["counts"]["new"] == 0
    assert "deleted in Zotero" in report["duplicates"][0]["reason"]
    assert library_items(sandbox) == []
    cfg = config(tmp_path, sandbox, extra="[dedup]\nrecreate_deleted = true\n")
    code, report, _ = run(cfg, capsys, str(path))
    assert report["counts"]["new"] == 1 and report["created"][0]["key"] == key
    assert pmid_counts(sandbox) == {"1": 1}


def test_index_is_refreshed_incrementally(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox)
    run(cfg, capsys, str(export(tmp_path / "a.nbib", *(article(n) for n in range(1, 61)))))
    sandbox.oob_write(LIB, [{"itemType": "journalArticle", "title": "T", "extra": "PMID: 500"}])
    sandbox.clear_requests()
    code, report, _ = run(cfg, capsys, str(export(tmp_path / "b.nbib", article(500), article(7))))
    assert code == 0 and report["counts"]["new"] == 0
    gets = [r for r in sandbox.requests() if r["method"] == "GET"]
    item_reads = [r for r in gets if "itemKey" in r["query"]]
    # Only the one changed item is read in full; nothing is created; the one PATCH is the merge
    # of the new record's tags into the item added out of band.
    assert len(item_reads) == 1 and item_reads[0]["query"]["itemKey"].count(",") == 0
    writes = [(r["method"], r["path"]) for r in sandbox.requests() if r["method"] != "GET"]
    assert writes == [("PATCH", f"/users/1/items/{report['merged'][0]}")]


@pytest.mark.parametrize(("setting", "native"), [("auto", True), ("extra", False)])
def test_where_the_pmid_goes(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    native: bool,
) -> None:
    cfg = config(tmp_path, sandbox, native_ids=setting)
    code, _, _ = run(cfg, capsys, str(export(tmp_path / "a.nbib", article(42))))
    assert code == 0
    data = library_items(sandbox)[0]["data"]
    # The sandbox has Zotero 8's schema (PMID/PMCID fields on journalArticle).
    assert (data.get("PMID") == "42") is native
    assert ("PMID: 42" in data.get("extra", "")) is not native
    # Found again either way.
    code, report, _ = run(cfg, capsys, str(tmp_path / "a.nbib"))
    assert report["counts"]["new"] == 0


def test_a_pending_article_that_someone_else_created_meanwhile_is_a_duplicate(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    k3 = item_key(LIB, "pmid:3")
    sandbox.oob_write(LIB, [{"itemType": "journalArticle", "title": "T", "extra": "PMID: 3"}])
    theirs = library_items(sandbox)[0]["key"]
    payload = {"itemType": "journalArticle", "key": k3, "version": 0, "extra": "PMID: 3"}
    put_pending(tmp_path, (3, 1, payload))
    code, report, _ = run(
        config(tmp_path, sandbox), capsys, str(export(tmp_path / "a.nbib", article(4)))
    )
    assert code == 0
    assert [(e["key"], e["pmid"]) for e in report["recovered"]] == [(theirs, "3")]
    assert sorted(pmid_counts(sandbox).items()) == [("3", 1), ("4", 1)]
    with StateStore(tmp_path / "state.db") as store:
        row = store.record(LIB, "pmid:3")
        assert row is not None and (row.status, row.key) == ("duplicate", theirs)


def test_a_file_that_is_not_an_export_is_named_once_with_the_hint(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping: milk, eggs\n", encoding="utf-8")
    cfg = config(tmp_path, sandbox)
    main(["import", "--config", str(cfg), str(notes)])
    out = capsys.readouterr().out
    assert out.count(str(notes)) == 1, out
    assert f"{notes}: not a MEDLINE/PubMed export" in out
    assert "hint: export from PubMed with 'Send to > Citation manager'" in out
