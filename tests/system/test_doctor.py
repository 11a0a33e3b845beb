"""``syncd doctor`` against an in-process sandbox: what it finds and the fixes it suggests."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli import main
from syncd.sandbox import SandboxServer
from syncd.state import RecordRow, StateStore
from tests.system.conftest import KEY

READ_ONLY = "DoctorReadOnly0123456789"

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("isolated_env")]


@pytest.fixture
def sandbox(sandbox: SandboxServer) -> SandboxServer:
    """The shared sandbox, with a read-only key for user 1 as well."""
    sandbox.add_key(READ_ONLY, 1, write=False)
    return sandbox


def write_config(tmp_path: Path, sandbox: SandboxServer, key: str = KEY, extra: str = "") -> Path:
    (tmp_path / "key").write_text(key)
    (tmp_path / "key").chmod(0o600)
    path = tmp_path / "config.toml"
    (tmp_path / "inbox").mkdir(exist_ok=True)
    path.write_text(
        f'[zotero]\nlibrary_id = 1\napi_key_file = "key"\napi_url = "{sandbox.url}"\n{extra}'
        f'\n[watch]\ndirectory = "{tmp_path / "inbox"}"\n'
        f'\n[state]\npath = "{tmp_path / "state.db"}"\n'
    )
    return path


def doctor(cfg: Path | None, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["doctor", *(["--config", str(cfg)] if cfg else [])])
    return code, capsys.readouterr().out


def test_a_good_setup_is_ready(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = doctor(write_config(tmp_path, sandbox, extra='collection = "PubMed"\n'), capsys)
    assert code == 0, out
    assert "Ready to import." in out
    assert "[ok  ] write permission: can write to users/1" in out
    assert "'PubMed'" in out
    assert f"[ok  ] watch folder: {tmp_path / 'inbox'} (watch.directory)" in out
    assert "syncd run is not running" in out
    assert KEY not in out


def test_a_missing_watch_folder_is_a_problem(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sandbox)
    (tmp_path / "inbox").rmdir()
    code, out = doctor(cfg, capsys)
    assert code == 1
    assert f"[FAIL] watch folder: {tmp_path / 'inbox'} (watch.directory) does not exist" in out


def test_key_without_write_access(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = doctor(write_config(tmp_path, sandbox, READ_ONLY), capsys)
    assert code == 1
    assert "[FAIL] write permission: cannot write to users/1" in out
    assert "allow write access" in out
    assert READ_ONLY not in out


def test_invalid_key(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = doctor(write_config(tmp_path, sandbox, "NoSuchKey000000000000000"), capsys)
    assert code == 1 and "[FAIL] key access" in out
    assert "NoSuchKey000000000000000" not in out


def test_a_sandbox_that_answers_for_another_user_is_named_as_such(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # On a shared machine the port may reach another user's sandbox, whose key answers for
    # its own user: doctor says so, and does not send the user to fix the key.
    sandbox.add_user(2, "neighbour")
    sandbox.add_key("NeighbourKey0123456789ab", 2)
    code, out = doctor(write_config(tmp_path, sandbox, "NeighbourKey0123456789ab"), capsys)
    assert code == 1
    assert (
        "[FAIL] key access: The API key belongs to user 2 (neighbour), not to library users/1: "
        f"{sandbox.url} may be another server than the one you mean"
    ) in out
    assert "another user's sandbox may hold that port" in out and "--port" in out
    assert "api_key" not in out and "NeighbourKey0123456789ab" not in out


def test_no_library_configured(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(None, capsys)
    assert code == 1
    assert "[FAIL] library: no Zotero library configured" in out and "--sandbox" in out


def test_config_problems_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[zotero]\nlibrary_id = 'one'\n[dedup]\nmatch = ['isbn']\n")
    code, out = doctor(cfg, capsys)
    assert code == 1
    assert "'zotero.library_id'" in out and "'dedup.match'" in out


def test_pending_rows_and_a_damaged_state_database(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sandbox)
    with StateStore(tmp_path / "state.db") as store:
        store.put_records("users/1", [RecordRow("pmid:1", "ABCD2345", "pending")])
    code, out = doctor(cfg, capsys)
    assert code == 1 and "[FAIL] pending records: 1 records" in out and "syncd import" in out
    (tmp_path / "state.db").unlink()
    for side in tmp_path.glob("state.db-*"):
        side.unlink()
    (tmp_path / "state.db").write_bytes(b"garbage" * 1000)
    code, out = doctor(cfg, capsys)
    assert code == 1 and "[FAIL] state database" in out and "is damaged" in out
    assert f"mv {tmp_path / 'state.db'} " in out


# ---- issue 9 §3: what is wrong with the key or the transport, never the key itself ------------


def test_a_key_file_with_a_second_line_is_a_config_problem_never_shown(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sandbox, KEY + "\nsecondline\n")
    code, out = doctor(cfg, capsys)
    assert code == 1
    assert "[FAIL] config:" in out and "does not hold a Zotero API key: it has 2 lines" in out
    assert KEY not in out and "secondline" not in out
    assert not sandbox.requests()  # refused before anything was sent


@pytest.mark.parametrize(("mode", "verb"), [(0o666, "readable and writable"), (0o622, "writable")])
def test_a_key_file_others_may_read_or_change_fails(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    mode: int,
    verb: str,
) -> None:
    cfg = write_config(tmp_path, sandbox)
    (tmp_path / "key").chmod(mode)
    code, out = doctor(cfg, capsys)
    assert code == 1
    assert f"[FAIL] config: {tmp_path / 'key'}: holds the Zotero API key" in out
    assert f"is {verb} by its group" in out and f"chmod 600 {tmp_path / 'key'}" in out
    assert KEY not in out


def test_plain_http_to_another_host_fails(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sandbox)
    cfg.write_text(cfg.read_text().replace(sandbox.url, "http://zotero.example.org"))
    code, out = doctor(cfg, capsys)
    assert code == 1
    assert "[FAIL] config:" in out and "plain http:// to 'zotero.example.org'" in out
    assert "unencrypted" in out and KEY not in out


def test_a_missing_default_download_folder_does_not_fail_an_import_only_setup(
    tmp_path: Path,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = write_config(tmp_path, sandbox)
    # No watch.directory: the default folder, ~/Downloads of a HOME that has none.
    cfg.write_text(cfg.read_text().replace(f'[watch]\ndirectory = "{tmp_path / "inbox"}"\n', ""))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, out = doctor(cfg, capsys)
    assert code == 0, out
    assert "(your download folder) does not exist: needed only by 'syncd run'" in out
    assert "[FAIL]" not in out
