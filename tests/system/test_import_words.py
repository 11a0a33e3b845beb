"""What ``syncd import``, ``convert`` and ``status`` say to a user: one message and one exit code
for a file that is not an export, the JSON that agrees with the exit code, the collection by
its name, ``-v`` without the HTTP library's internals, the sandbox's second run, and the
pointer to the daemon's ``NAME.errors.txt``."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd import progress
from syncd.cli import main
from syncd.engine import PLAN_BATCH
from syncd.report import report_name
from syncd.sandbox import SandboxServer
from tests.system.cli_imports import (
    KEY,
    LIB,
    article,
    config,
    export,
    library_items,
    run,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]

HINT = "Send to > Citation manager"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """User 1 with test_import's KEY (cli_imports.config() writes that key)."""
    with SandboxServer() as server:
        server.add_user(1)
        server.add_key(KEY, 1)
        yield server


@pytest.mark.parametrize(
    ("name", "body"),
    [("notes.txt", "hello world\nnot an export\n"), ("empty.nbib", ""), ("x.ris", "TY  - JOUR\n")],
)
def test_a_file_that_is_not_an_export_is_one_message_and_exit_2_like_convert(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    name: str,
    body: str,
) -> None:
    bad = tmp_path / name
    bad.write_text(body, encoding="utf-8")
    good = export(tmp_path / "a.nbib", article(1))
    cfg = config(tmp_path, sandbox)

    code = main(["import", "--config", str(cfg), str(bad), str(good)])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 2, captured
    (line,) = [x for x in out.splitlines() if name in x]
    # The file named once, what it is (it was readable), and how to get an export.
    assert line.count(name) == 1 and "not a MEDLINE/PubMed export" in line, line
    assert "unreadable" not in line
    assert HINT in out
    # ... and the good file still went in.
    assert "1 new item\n" in out

    # The JSON agrees with the exit code: the unusable file is counted.
    code, report, _ = run(cfg, capsys, str(bad))
    assert code == 2
    assert report["counts"]["unusable_files"] == 1
    (f,) = report["files"]
    assert f["outcome"] == "unreadable" and f["detail"].startswith("not a MEDLINE/PubMed export")
    assert HINT in f["hint"]

    # convert says the same and exits the same.
    assert main(["convert", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a MEDLINE/PubMed export" in err and HINT in err


def test_a_readable_import_counts_no_unusable_file(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = run(
        config(tmp_path, sandbox), capsys, str(export(tmp_path / "a.nbib", article(1)))
    )
    assert code == 0 and report["counts"]["unusable_files"] == 0


def test_the_collection_is_shown_by_its_name_in_the_dry_run_and_the_real_import(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox, collection="Reviews 2026")
    path = str(export(tmp_path / "a.nbib", article(1)))
    for dry in (["--dry-run"], []):
        assert main(["import", "--config", str(cfg), *dry, path]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert "collection 'Reviews 2026'" in first, first
    _, report, _ = run(cfg, capsys, path)
    # The JSON keeps the key the items go to, and gives the name beside it.
    assert report["collection_name"] == "Reviews 2026"
    assert report["collection"] != "Reviews 2026" and len(report["collection"]) == 8


def test_identical_bytes_are_read_again_and_merged_when_the_import_options_changed(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(export(tmp_path / "a.nbib", article(1)))
    code, first, _ = run(config(tmp_path, sandbox), capsys, path)
    assert code == 0 and first["counts"]["new"] == 1
    # Same file, same bytes; the config now adds a tag and a collection.
    cfg = config(tmp_path, sandbox, collection="Later", extra='[tags]\nextra = ["screened"]\n')
    code, again, _ = run(cfg, capsys, path)
    assert code == 0 and again["counts"]["duplicates"] == 1 and again["counts"]["merged"] == 1
    (item,) = library_items(sandbox, LIB)
    assert "screened" in {t["tag"] for t in item["data"]["tags"]}
    assert item["data"]["collections"] == [again["collection"]]


def test_one_v_shows_syncd_debug_lines_but_not_the_http_library_internals(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sandbox)
    path = str(export(tmp_path / "a.nbib", article(1)))
    assert main(["-v", "import", "--config", str(cfg), path]) == 0
    err = capsys.readouterr().err
    assert "reading " in err  # syncd's own debug line
    for internal in ("send_request_headers", "connect_tcp", "receive_response"):
        assert internal not in err, err
    assert main(["-vv", "import", "--config", str(cfg), path]) == 0
    assert "send_request_headers" in capsys.readouterr().err


def test_import_sandbox_v_leaves_the_request_lines_to_vv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(export(tmp_path / "a.nbib", article(1)))
    assert main(["-v", "import", "--sandbox", path]) == 0
    assert '"GET /keys/current' not in capsys.readouterr().err
    assert main(["-vv", "import", "--sandbox", path]) == 0
    assert '"GET /keys/current' in capsys.readouterr().err


def test_the_sandbox_second_run_says_it_keeps_the_first_runs_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(export(tmp_path / "a.nbib", article(1)))
    assert main(["import", "--sandbox", path]) == 0
    first = capsys.readouterr().out
    assert "Run the same command again" in first
    assert main(["import", "--sandbox", path]) == 0
    second = capsys.readouterr().out
    assert "Run the same command again" not in second
    assert "keeps what earlier runs imported" in second and "1 duplicate" in second


def test_status_points_at_the_errors_file_the_daemon_wrote(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(tmp_path / "a.nbib", article(1), "AB  - An abstract alone.\nLA  - eng\n")
    cfg = config(tmp_path, sandbox)
    assert main(["import", "--config", str(cfg), str(path)]) == 1
    capsys.readouterr()
    # Without a report beside the file, no pointer.
    assert main(["status", "--config", str(cfg)]) == 1
    assert ".errors.txt" not in capsys.readouterr().out
    report = path.with_name(report_name(path.name))
    report.write_text(f"{path}:12: no PMID, DOI or title\n", encoding="utf-8")
    assert main(["status", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: partial: 1 record could not be read (line 12)" in out
    assert f"every problem with its line: {report}" in out


class _Terminal(io.StringIO):
    """stderr as a terminal: the import draws its progress line."""

    def isatty(self) -> bool:
        return True


def test_the_progress_bar_never_fills_before_the_total_is_known(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 3 * PLAN_BATCH + 10  # four planning batches
    path = export(tmp_path / "a.nbib", *(article(i) for i in range(1, n + 1)))
    cfg = config(tmp_path, sandbox)
    terminal = _Terminal()
    monkeypatch.setattr(progress, "_INTERVAL", 0.0)  # draw every call
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["-q", "import", "--config", str(cfg), str(path)]) == 0
    capsys.readouterr()
    drawn = [part.strip() for part in terminal.getvalue().split("\r") if part.strip()]
    bars = [part for part in drawn if part.startswith("sending [")]
    assert bars, drawn
    # Every bar is of the whole: no 250/250 then 260/500 ...
    totals = {re.search(r"/(\d+) items", part).group(1) for part in bars}  # type: ignore[union-attr]
    assert totals == {str(n)}, sorted(totals)
    assert bars[-1].endswith(f"{n}/{n} items sent")
    # ... and while reading, the line says it is counting.
    assert any("counting" in part for part in drawn if part.startswith("sending  ")), drawn
