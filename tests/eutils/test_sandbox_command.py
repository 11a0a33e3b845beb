"""`syncd sandbox --eutils`: the E-utilities double beside the Zotero sandbox, serving the
records of a folder of .nbib files, until it is stopped."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

from tests.helpers import medline

ROOT = Path(__file__).resolve().parents[2]


def test_sandbox_serves_eutils_from_a_folder_of_nbib_files(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "a.nbib").write_text(medline([64000001, 64000002]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0", "--eutils", "--eutils-port",
         "0", "--eutils-records", str(records)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = None
        for _ in range(30):
            line = proc.stdout.readline()
            if m := re.search(r"E-utilities double listening at (\S+)", line):
                url = m.group(1)
                break
        assert url, "no E-utilities line"
        assert "records:  2" in proc.stdout.readline()
        got = httpx2.get(f"{url}/efetch.fcgi", params={
            "db": "pubmed", "id": "64000002", "rettype": "medline", "retmode": "text"})  # fmt: skip
        assert got.status_code == 200 and b"PMID- 64000002" in got.content
        stats = httpx2.get(url.split("/entrez")[0] + "/_double/stats").json()
        assert stats["efetch"] == 1 and stats["throttled"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out


def test_a_missing_records_folder_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0", "--eutils",
         "--eutils-records", str(tmp_path / "nope")],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "not a folder" in proc.stderr
