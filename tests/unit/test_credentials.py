"""stale_credential: the service's copy of the key against the file it was copied from."""

from __future__ import annotations

from pathlib import Path

from syncd.credentials import stale_credential


def _env(tmp_path: Path, copied: str | None, current: str | None) -> dict[str, str]:
    cred = tmp_path / "cred"
    cred.mkdir()
    if copied is not None:
        (cred / "zotero-api-key").write_text(copied)
    if current is not None:
        key = tmp_path / "config" / "syncd" / "zotero-api-key"
        key.parent.mkdir(parents=True)
        key.write_text(current)
    return {"CREDENTIALS_DIRECTORY": str(cred), "XDG_CONFIG_HOME": str(tmp_path / "config")}


def test_the_same_key_says_nothing_whitespace_aside(tmp_path: Path) -> None:
    assert stale_credential(_env(tmp_path, "A" * 24 + "\n", "A" * 24)) is None


def test_a_new_key_in_the_file_says_restart_without_showing_a_key(tmp_path: Path) -> None:
    note = stale_credential(_env(tmp_path, "A" * 24, "B" * 24))
    assert note is not None and "systemctl --user restart syncd" in note
    assert "A" * 24 not in note and "B" * 24 not in note


def test_nothing_to_compare_says_nothing(tmp_path: Path) -> None:
    assert stale_credential({}) is None  # not under systemd
    assert stale_credential(_env(tmp_path, "A" * 24, None)) is None
