"""Getting the Zotero app's key (what `syncd setup --desktop` calls), against the double."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.errors import ConfigError, RemoteError
from syncd.sandbox.desktop import DesktopDouble
from syncd.targets.desktop_auth import (
    Denied,
    DesktopKey,
    authorize,
    read_desktop_key,
    write_desktop_key,
)


@pytest.fixture
def app() -> Iterator[DesktopDouble]:
    with DesktopDouble() as double:
        yield double


def test_always_allow_gives_a_key_bound_to_the_server_id(app: DesktopDouble) -> None:
    key = authorize(app.url)
    assert key.server_id == app.state.db.server_id
    assert len(key.key) == 32 and app.state.keys[key.key] is True
    assert key.key not in repr(key)


def test_allow_once_is_refused_with_an_explanation(app: DesktopDouble) -> None:
    app.state.answer = "allow"
    with pytest.raises(RemoteError, match="used up by syncd's first write") as info:
        authorize(app.url)
    assert "Always Allow" in (info.value.hint or "")


def test_each_failure_has_its_own_message(app: DesktopDouble) -> None:
    app.state.answer = "deny"
    with pytest.raises(Denied, match="denied"):
        authorize(app.url)
    for _ in range(4):
        with pytest.raises(Denied):
            authorize(app.url)
    with pytest.raises(RemoteError, match="too many") as limited:
        authorize(app.url)
    assert "wait" in (limited.value.hint or "")
    app.state.enabled = False
    with pytest.raises(RemoteError, match="not enabled") as off:
        authorize(app.url)
    assert "Allow other applications" in (off.value.hint or "")
    app.state.enabled, app.state.mode = True, "9.0.6"
    with pytest.raises(RemoteError, match="older than Zotero 10") as old:
        authorize(app.url)
    assert "web" in (old.value.hint or "")
    url = app.url
    app.stop()
    with pytest.raises(RemoteError, match="not running") as down:
        authorize(url)
    assert down.value.transient


def test_nobody_answering_the_dialog_times_out(app: DesktopDouble) -> None:
    app.state.answer = "never"
    with pytest.raises(RemoteError, match="nobody answered"):
        authorize(app.url, timeout=0.5)


def test_key_file_is_json_0600_in_a_0700_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "zotero-desktop-key"
    key = DesktopKey("AbCdEf123456", "k" * 32)
    write_desktop_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"server_id": "AbCdEf123456", "key": "k" * 32}
    assert read_desktop_key(path) == key
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="others may read") as info:
        read_desktop_key(path)
    assert "chmod 600" in (info.value.hint or "") and "k" * 32 not in str(info.value)
    with pytest.raises(ConfigError, match="no key for the Zotero app") as missing:
        read_desktop_key(tmp_path / "missing")
    assert "syncd setup --desktop" in (missing.value.hint or "")
