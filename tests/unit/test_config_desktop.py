"""`[zotero] target = "desktop"`: its keys, defaults, and what it ignores."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from syncd.app import target_for
from syncd.config import load
from syncd.errors import ConfigError
from syncd.targets.desktop_auth import DesktopKey, write_desktop_key


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def test_defaults_are_the_web_and_the_app_on_23119(tmp_path: Path) -> None:
    z = load(write(tmp_path, ""), env=env(tmp_path)).zotero
    assert z.target == "web" and z.desktop_url == "http://127.0.0.1:23119"
    assert z.desktop_key_file == tmp_path / "cfg" / "syncd" / "zotero-desktop-key"


def test_desktop_library_is_named_by_the_stored_server_id(tmp_path: Path) -> None:
    text = '[zotero]\ntarget = "desktop"\ndesktop_key_file = "key.json"\n'
    path = write(tmp_path, text)
    assert load(path, env=env(tmp_path)).zotero.library is None  # no key stored yet
    write_desktop_key(tmp_path / "key.json", DesktopKey("AbCdEf123456", "K" * 32))
    z = load(path, env=env(tmp_path)).zotero
    assert z.library == "desktop/AbCdEf123456"
    assert z.api_key is None  # no web key needed, and the 24-character check never applies


def test_web_keys_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = '[zotero]\ntarget = "desktop"\nlibrary_id = 5\napi_url = "http://127.0.0.1:1"\n'
    z = load(write(tmp_path, text), env={**env(tmp_path), "ZOTERO_API_KEY": "short"}).zotero
    assert z.target == "desktop"  # and the bad web key in the environment is not even read
    assert z.ignored == ("zotero.library_id", "zotero.api_url")
    write_desktop_key(z.desktop_key_file, DesktopKey("AbCdEf123456", "K" * 32))
    with caplog.at_level(logging.WARNING):
        target_for(load(tmp_path / "config.toml", env=env(tmp_path))).close()
    assert "zotero.library_id, zotero.api_url: ignored" in caplog.text


def test_desktop_url_must_be_this_machine(tmp_path: Path) -> None:
    text = '[zotero]\ntarget = "desktop"\ndesktop_url = "http://192.0.2.1:23119"\n'
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text), env=env(tmp_path))
    assert "zotero.desktop_url" in str(info.value.problems)
    with pytest.raises(ConfigError):
        load(write(tmp_path, '[zotero]\ntarget = "phone"\n'), env=env(tmp_path))
