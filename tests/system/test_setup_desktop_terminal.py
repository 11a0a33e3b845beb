"""``syncd setup`` with no flag while the Zotero app runs, as a person uses it: a real process
on a pseudo-terminal sees the app (the double of Zotero 10, in this process), is offered both
targets with the difference in two lines, chooses the app, is told what the dialog will ask,
answers "Allow" first (refused, asked again), then Always Allow; Ctrl-C before the dialog
leaves nothing written."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import load
from syncd.sandbox.desktop import DesktopDouble
from tests.system.terminal import Terminal

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def app() -> Iterator[DesktopDouble]:
    with DesktopDouble() as double:
        yield double


def syncd_setup(home: Path, app: DesktopDouble | None) -> Terminal:
    """``syncd setup`` with no flag on a terminal (``--desktop-url`` of ``app`` when given)."""
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if "PROXY" not in k.upper() and k not in ("ZOTERO_API_KEY", "SYNCD_CONFIG")
        and not k.startswith("XDG_")
    }  # fmt: skip
    env.update(HOME=str(home), TERM="dumb", COLUMNS="200")
    argv = [sys.executable, "-m", "syncd", "setup"]
    argv += ["--desktop-url", app.url] if app else []
    return Terminal(argv, env, cwd=str(home))


def test_a_person_chooses_the_app_and_answers_always_allow_at_the_second_try(
    tmp_path: Path, app: DesktopDouble
) -> None:
    home, inbox = tmp_path / "home", tmp_path / "home" / "exports"
    app.state.answer = "allow"  # the person clicks "Allow" first
    with syncd_setup(home, app) as term:
        term.expect(r"The Zotero app runs on this computer \(" + app.url)
        term.expect(r"The Zotero app: no account or key, items appear at once, only while")
        term.expect(r"The Zotero Web API: any library \(groups too\), works with Zotero closed")
        term.expect(r"1\. the Zotero Web API \(--web\)")
        term.expect(r"2\. the Zotero app on this computer \(--desktop\)")
        term.expect(r"Which one\? \[2\]: ")
        term.line("2")
        term.expect(r"Zotero 10 runs at " + app.url)
        term.expect(r"Choose \*\*Always Allow\*\*")
        term.expect(r"Press Enter, then answer the dialog in the Zotero window: ")
        term.line("")
        term.expect(r"answered with 'Allow': that key is used up by syncd's first write")
        term.expect(r"Ask Zotero again\? \[Y/n\]: ")
        app.state.answer = "always"
        term.line("")
        term.expect(r"Press Enter, then answer the dialog in the Zotero window: ")
        term.line("")
        term.expect(r"Zotero gave syncd a key that stays valid")
        term.expect(r"Collection for imported items .*\[-\]: ")
        term.line("")
        term.expect(r"Folder to watch for PubMed exports \[.*\]: ")
        term.line(str(inbox))
        term.expect(r"target: +the Zotero app at " + app.url)
        term.expect(r"Write these\? \[Y/n\]: ")
        term.line("")
        term.expect(r"Ready to import\.")
        term.expect(r"Install and start the service now .*\[Y/n\]: ")
        term.line("n")
        term.expect(r"Next:")
        assert term.wait() == 0, term.output
    folder = home / ".config" / "syncd"
    config = load(folder / "config.toml", env={"HOME": str(home)})
    assert config.zotero.target == "desktop" and config.zotero.desktop_url == app.url
    assert config.watch.directory == inbox and inbox.is_dir()
    stored = json.loads((folder / "zotero-desktop-key").read_text())
    assert stored["server_id"] == app.state.db.server_id
    assert sorted(app.state.keys.values()) == [False, True]  # the "Allow" key, then this one
    assert app.state.keys[stored["key"]] is True
    assert stored["key"] not in term.output


def test_ctrl_c_before_the_dialog_writes_nothing(tmp_path: Path, app: DesktopDouble) -> None:
    home = tmp_path / "home"
    with syncd_setup(home, app) as term:
        term.expect(r"Which one\? \[2\]: ")
        term.line("")  # the default: the app, which runs
        term.expect(r"Press Enter, then answer the dialog in the Zotero window: ")
        term.ctrl_c()
        assert term.wait() == 130, term.output
    assert not (home / ".config").exists()
    assert app.state.prompts == []


def test_a_config_set_up_for_the_web_makes_the_web_the_default(
    tmp_path: Path, app: DesktopDouble
) -> None:
    """The choice's default follows the current config, and so does where the app is looked
    for (its desktop_url, no flag)."""
    home = tmp_path / "home"
    cfg = home / ".config" / "syncd" / "config.toml"
    cfg.parent.mkdir(parents=True)
    old = f'[zotero]\nlibrary_id = 7\ndesktop_url = "{app.url}"\n'
    cfg.write_text(old)
    with syncd_setup(home, None) as term:
        term.expect(r"The Zotero app runs on this computer \(" + app.url)
        term.expect(r"Which one\? \[1\]: ")
        term.ctrl_c()
        assert term.wait() == 130, term.output
    assert cfg.read_text() == old and app.state.prompts == []


def test_a_person_signed_in_to_zotero_chooses_one_of_the_groups_the_app_holds(
    tmp_path: Path, app: DesktopDouble
) -> None:
    home = tmp_path / "home"
    app.state.user_id = 4242
    app.state.add_group(7, "Lab")
    app.state.add_group(9, "Reviews")
    app.state.db.groups["9"].collections["AAAAAAAA"] = {"version": 1, "data": {"name": "Scoping"}}
    with syncd_setup(home, app) as term:
        term.expect(r"Which one\? \[2\]: ")
        term.line("2")
        term.expect(r"1\. My Library")
        term.expect(r"2\. group 'Lab' \(7\)")
        term.expect(r"3\. group 'Reviews' \(9\)")
        term.expect(r"Import into which library\? \[1\]: ")
        term.line("3")
        term.expect(r"Press Enter, then answer the dialog in the Zotero window: ")
        term.line("")
        term.expect(r"Top-level collections in group 'Reviews': Scoping")
        term.expect(r"Collection for imported items .*\[-\]: ")
        term.line("Scoping")
        term.expect(r"Collection: 'Scoping' \(exists\)")
        term.expect(r"Folder to watch for PubMed exports \[.*\]: ")
        term.line("")
        term.expect(r"target: +the Zotero app at .*\(group 'Reviews', 9\)")
        term.expect(r"Write these\? \[Y/n\]: ")
        term.line("")
        term.expect(r"Install and start the service now .*\[Y/n\]: ")
        term.line("n")
        assert term.wait() == 0, term.output
    config = load(home / ".config" / "syncd" / "config.toml")
    assert config.zotero.desktop_group == 9
