"""PMID lists, PubMed CSV and ``--pmid`` end to end: ``syncd import`` and ``syncd convert`` as
real processes, against a Zotero sandbox and the E-utilities double (both on loopback in this
test's process, which counts every request): PMIDs already in the library and PMIDs PubMed
does not have are never fetched twice, a rerun asks NCBI nothing and writes nothing, syncd's
pace never provokes a 429, and the NCBI key never appears in what syncd prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.core.id_files import CSV_HEADER
from syncd.sandbox import SandboxServer
from syncd.sandbox.eutils import Corpus, EutilsDouble
from tests.helpers import medline

KEY = "IdInputsTestKey012345678"
NCBI_KEY = "ncbiSecretKey0123456789abcdef012345"
LIB = "users/1"
A, B, C, D, E = 63000001, 63000002, 63000003, 63000004, 63000005
UNKNOWN = 63999999

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        server.add_user(1)
        server.add_key(KEY, 1)
        yield server


@pytest.fixture
def double() -> Iterator[EutilsDouble]:
    corpus = Corpus()
    corpus.add_medline(medline([A, B, C, D, E]))
    with EutilsDouble(corpus) as d:
        yield d


@pytest.fixture
def cfg(tmp_path: Path, sandbox: SandboxServer, double: EutilsDouble) -> Path:
    key_file = tmp_path / "ncbi-key"
    key_file.write_text(NCBI_KEY + "\n")
    key_file.chmod(0o600)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[zotero]\nlibrary_id = 1\napi_url = "{sandbox.url}"\ncollection = "PubMed"\n'
        f'[tags]\nextra = ["via-syncd"]\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[pubmed]\neutils_url = "{double.url}"\napi_key_file = "{key_file}"\n'
        'email = "tests@example.org"\n'
    )
    return path


def syncd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ZOTERO_API_KEY": KEY,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
    }
    env.pop("SYNCD_CONFIG", None)
    env.pop("NCBI_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "-vv", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=150,
        check=False,
    )
    assert NCBI_KEY not in proc.stdout and NCBI_KEY not in proc.stderr
    return proc


def imported(tmp_path: Path, cfg: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = syncd(tmp_path, "import", "--config", str(cfg), "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.slow
def test_id_files_fetch_only_new_pmids_and_a_rerun_asks_and_writes_nothing(
    tmp_path: Path, cfg: Path, sandbox: SandboxServer, double: EutilsDouble
) -> None:
    nbib = tmp_path / "held.nbib"
    nbib.write_text(medline([A, B]))
    code, _ = imported(tmp_path, cfg, str(nbib))
    assert code == 0 and double.count() == 0
    ids = tmp_path / "pmid-ketamine-set.txt"
    ids.write_bytes(f"\ufeff{A}\r\n{C}\r\n\r\n{UNKNOWN}\r\n".encode())
    csv = tmp_path / "csv-ketamine-set.csv"
    csv.write_text(
        '"' + CSV_HEADER.replace(",", '","') + '"\n'
        f'"{B}","T","A","C","F","J","2021","2021/03/01","","","10.5555/syncd.{B}"\n'
        f'"{D}","T","A","C","F","J","2021","2021/03/01","","",""\n'
        '"PMID?","T","A","C","F","J","2021","2021/03/01","","",""\n'
    )
    code, report = imported(tmp_path, cfg, str(ids), str(csv))
    assert code == 1
    assert sorted(double.fetched_ids()) == sorted(map(str, [C, UNKNOWN, D]))  # not A, not B
    c = report["counts"]
    assert (c["records"], c["new"], c["duplicates"], c["failed"]) == (6, 2, 2, 2)
    failed = {f"{e['where']}: {e['reason']}" for e in report["failed"]}
    assert failed == {
        f"{ids}:4: PMID {UNKNOWN} is not in PubMed",
        f"{csv}:4: the PMID cell 'PMID?' is not a PMID",
    }
    assert {e["where"] for e in report["created"]} == {f"{ids}:2", f"{csv}:3"}
    assert all(r.params.get("tool") == "syncd" for r in double.requests)
    assert all(r.with_key and r.params.get("email") for r in double.requests)

    # The same files again: no NCBI request, no write to Zotero.
    asked, version = double.count(), sandbox.library_version(LIB)
    code, again = imported(tmp_path, cfg, str(ids), str(csv))
    assert code == 1  # the same two failures
    assert double.count() == asked
    assert sandbox.library_version(LIB) == version
    c = again["counts"]
    assert (c["new"], c["duplicates"], c["failed"]) == (0, 4, 2)
    assert double.throttled == 0


@pytest.mark.slow
def test_pmid_option_imports_and_reports_where_as_the_option(
    tmp_path: Path, cfg: Path, double: EutilsDouble
) -> None:
    code, report = imported(tmp_path, cfg, "--pmid", str(E), "--pmid", str(UNKNOWN))
    assert code == 1
    assert [e["where"] for e in report["created"]] == [f"--pmid {E}"]
    assert [(e["where"], e["reason"]) for e in report["failed"]] == [
        (f"--pmid {UNKNOWN}", f"PMID {UNKNOWN} is not in PubMed")
    ]
    code, again = imported(tmp_path, cfg, "--pmid", str(E))
    assert code == 0 and again["counts"]["duplicates"] == 1
    assert double.fetched_ids() == [str(E), str(UNKNOWN)]
    proc = syncd(tmp_path, "import", "--config", str(cfg), "--pmid", "12x")
    assert proc.returncode == 2 and "is not a PMID" in proc.stderr


def test_convert_fetches_id_files_and_pmids(
    tmp_path: Path, cfg: Path, double: EutilsDouble
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{A}\n{UNKNOWN}\n")
    proc = syncd(tmp_path, "convert", "--config", str(cfg), "--json", str(ids), "--pmid", str(B))
    assert proc.returncode == 1, proc.stderr
    items = json.loads(proc.stdout)
    assert len(items) == 2
    assert f"{ids}:2: PMID {UNKNOWN} is not in PubMed" in proc.stderr
    assert double.throttled == 0


@pytest.mark.slow
def test_ncbi_down_leaves_the_pmids_pending_and_a_later_run_imports_them(
    tmp_path: Path, cfg: Path, double: EutilsDouble, sandbox: SandboxServer
) -> None:
    ids = tmp_path / "pmid-x-set.txt"
    ids.write_text(f"{C}\n{D}\n")
    body = cfg.read_text().replace("[zotero]\n", "[zotero]\nconflict_timeout_seconds = 3.0\n")
    cfg.write_text(body)
    double.inject("503", times=1000)
    code, report = imported(tmp_path, cfg, str(ids))
    assert code == 1
    assert report["counts"]["pending"] == 2
    double.clear_faults()  # NCBI is back
    code, report = imported(tmp_path, cfg, str(ids))
    assert code == 0 and report["counts"]["new"] == 2
