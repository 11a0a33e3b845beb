"""Issue 9 §4 and §5 through the CLI: waits a server asks for end, and every failure of the
set-up (state database, disk, server, key) gets a message naming its cause, never "internal
error"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.sandbox import SandboxServer
from tests.system.conftest import KEY

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("isolated_env")]


def article(pmid: int) -> str:
    return (
        f"PMID- {pmid}\nDP  - 2020 Jan\nTI  - A study of thing {pmid}.\nFAU - Curie, Marie\n"
        "PT  - Journal Article\nJT  - Journal of things\n"
    )


def export(tmp_path: Path, *pmids: int, name: str = "a.nbib") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(article(p) for p in pmids), encoding="utf-8")
    return path


def config(tmp_path: Path, url: str, state: Path | None = None) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[zotero]\nlibrary_id = 1\napi_url = "{url}"\n'
        f'[state]\npath = "{state or tmp_path / "state.db"}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def run(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["import", "--config", str(cfg), *args])
    out = capsys.readouterr()
    assert "internal error" not in out.err and "Traceback" not in out.err, out.err
    return code, out.err


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOTERO_API_KEY", KEY)


# ---- §4: a wait the server asks for is capped, announced and ends on Ctrl-C -----------------


def test_ctrl_c_ends_a_long_backoff_cleanly(tmp_path: Path, sandbox: SandboxServer) -> None:
    sandbox.set_backoff(999_999_999)
    cfg = config(tmp_path, sandbox.url)
    env = {
        **os.environ,
        "ZOTERO_API_KEY": KEY,
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "import", "--config", str(cfg), str(export(tmp_path, 1))],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "until" in line:
            break
    announced = "".join(lines)
    assert "Zotero asked to back off (Backoff: 3600 s); no requests to users/1 until" in announced
    assert announced.rstrip().endswith("(3600 s)")  # capped at an hour, not 31 years
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, announced + err
    assert "syncd: interrupted" in err and "Traceback" not in err
    assert KEY not in announced + err


# ---- §5: the server is not what it should be ------------------------------------------------


def test_an_html_page_answering_an_items_request(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.inject(status=200, method="GET", path=r"/items", body="<html>Sign in</html>", times=100)
    code, err = run(config(tmp_path, sandbox.url), capsys, str(export(tmp_path, 1)))
    assert code == 2
    assert "text/html" in err and "not the JSON the Zotero API sends" in err
    assert "hint:" in err and "zotero.api_url" in err


def test_a_non_ascii_key_is_a_config_error(
    tmp_path: Path,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZOTERO_API_KEY", KEY[:23] + "é")
    code, err = run(config(tmp_path, sandbox.url), capsys, str(export(tmp_path, 1)))
    assert code == 2
    assert "$ZOTERO_API_KEY does not hold a Zotero API key" in err and "ASCII" in err
    assert "answer" not in err and KEY[:20] not in err
    assert sandbox.requests() == []


def test_a_redirect_to_another_host_is_not_a_permission_problem(
    tmp_path: Path, sandbox: SandboxServer, keyed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.contract.test_gateway import _Redirector

    port = sandbox.url.rsplit(":", 1)[1]
    redirector = _Redirector(f"http://localhost:{port}")
    try:
        code, err = run(config(tmp_path, redirector.url), capsys, str(export(tmp_path, 1)))
    finally:
        redirector.close()
    assert code == 2
    assert "redirected" in err and f"localhost:{port}" in err
    assert "may not" not in err and "permission" not in err and "right" not in err
    assert sandbox.requests() == []
