"""The service for a desktop-only user: the unit loads the Zotero app's key file as its
credential (no web API key needed), and the daemon reads systemd's copy of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.app import target_for
from syncd.cli import main
from syncd.config import load
from syncd.sandbox.desktop import DesktopDouble
from syncd.targets.desktop_auth import authorize, write_desktop_key

pytestmark = pytest.mark.usefixtures("isolated_env")


def desktop_config(config_home: Path, url: str = "http://127.0.0.1:23119") -> Path:
    path = config_home / "syncd" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[zotero]\ntarget = "desktop"\ndesktop_url = "{url}"\n', encoding="utf-8")
    path.chmod(0o600)
    return path


def test_the_unit_loads_the_desktop_key_as_its_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desktop_config(tmp_path / "xdg-config")
    assert main(["service", "install", "--print"]) == 0
    unit = capsys.readouterr().out
    assert "\nLoadCredential=zotero-desktop-key:%E/syncd/zotero-desktop-key\n" in unit
    assert "LoadCredential=zotero-api-key" not in unit


def test_the_web_unit_is_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["service", "install", "--print"]) == 0
    assert "\nLoadCredential=zotero-api-key:%E/syncd/zotero-api-key\n" in capsys.readouterr().out


def test_the_daemon_reads_systemds_copy_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DesktopDouble() as app:
        desktop_config(tmp_path / "xdg-config", app.url)
        credentials = tmp_path / "credentials"
        write_desktop_key(credentials / "zotero-desktop-key", authorize(app.url))
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
        config = load()
        assert not config.zotero.desktop_key_file.exists()  # only the copy exists
        target = target_for(config, daemon=True)
        try:
            assert target.check_access().can_write
        finally:
            target.close()
