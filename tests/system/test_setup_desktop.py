"""``syncd setup --desktop --yes`` scripted against the double of Zotero 10's local API: the
config and the app's key file it writes (modes, JSON), doctor's checks on them, an import that
uses them, what it keeps, and each refusal (an "Allow" key, Deny, the local API not enabled,
Zotero not running, a Zotero older than 10, too many prompts): exit 2 with nothing written.
(The interactive choice between the two targets, through a terminal: test_setup_desktop_terminal.)
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.config import default_desktop_key_path, default_key_path, load
from syncd.sandbox import SandboxServer
from syncd.sandbox.desktop import DesktopDouble
from syncd.sandbox.desktop_state import PROMPTS_PER_MINUTE
from syncd.targets.desktop_auth import read_desktop_key
from tests.system.conftest import KEY

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("isolated_env")]


@pytest.fixture
def app() -> Iterator[DesktopDouble]:
    """Zotero 10 running, its dialog answered Always Allow (the double's default)."""
    with DesktopDouble() as double:
        yield double


def config_path() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "syncd" / "config.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def setup(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    """``syncd setup --desktop --yes`` against the app at ``url``; (exit code, output)."""
    code = main(["setup", "--desktop", "--yes", "--no-service", "--desktop-url", url, *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def nothing_written() -> bool:
    return not config_path().exists() and not default_desktop_key_path().exists()


def test_a_scripted_setup_writes_the_config_and_the_key_and_doctor_passes(
    app: DesktopDouble, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "exports"
    code, out = setup(app.url, capsys, "--collection", "PubMed imports", "--directory", str(inbox))
    assert code == 0, out
    assert "Always Allow" in out  # said before the dialog appears
    assert "Ready to import." in out and "[ok  ] write permission" in out
    cfg, key_file = config_path(), default_desktop_key_path()
    assert mode(cfg) == 0o600 and mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700 and mode(key_file.parent.parent) == 0o700
    stored = json.loads(key_file.read_text())
    assert set(stored) == {"server_id", "key"}
    assert stored["server_id"] == app.state.db.server_id
    assert app.state.keys[stored["key"]] is True  # an Always Allow key of this app
    assert stored["key"] not in out  # never shown
    text = cfg.read_text()
    assert 'target = "desktop"' in text and f'desktop_url = "{app.url}"' in text
    # Only what differs from the defaults: the key file is the default one, no web keys.
    assert "desktop_key_file" not in text and "library_id" not in text and "api_" not in text
    config = load(cfg)
    assert config.zotero.target == "desktop" and config.zotero.desktop_url == app.url
    assert config.zotero.desktop_key_file == key_file
    assert config.zotero.collection == "PubMed imports" and config.watch.directory == inbox
    assert read_desktop_key(key_file).server_id == app.state.db.server_id
    assert not default_key_path().exists()  # no web key is needed
    assert "syncd status" in out and "journalctl --user -u syncd" in out


def test_an_import_uses_what_setup_wrote(
    app: DesktopDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = setup(app.url, capsys)
    assert code == 0, out
    nbib = Path(__file__).resolve().parents[2] / "examples" / "pmid-37424412.nbib"
    assert main(["import", str(nbib)]) == 0, capsys.readouterr()
    assert app.state.pmids() == ["37424412"]


def test_an_existing_config_is_kept_without_force_and_no_dialog_is_shown(
    app: DesktopDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_path()
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[zotero]\nlibrary_id = 9\n")
    code, out = setup(app.url, capsys)
    assert code == 2
    assert "--yes never replaces a config" in out and "--force" in out
    assert cfg.read_text() == "[zotero]\nlibrary_id = 9\n"
    assert not default_desktop_key_path().exists()
    assert app.state.prompts == []  # refused before Zotero was asked


def test_force_turns_a_web_config_into_a_desktop_one_and_back(
    app: DesktopDouble, sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_path()
    cfg.parent.mkdir(parents=True)
    old = (
        f'[zotero]\nlibrary_id = 1\napi_url = "{sandbox.url}"\ncollection = "Kept"\n\n'
        '[tags]\nextra = ["from-setup-test"]\n'
    )
    cfg.write_text(old)
    code, out = setup(app.url, capsys, "--force")
    assert code == 0, out
    assert (cfg.parent / "config.toml.bak").read_text() == old
    text = cfg.read_text()
    # The web's library and server would be ignored with a warning: they go.
    assert "library_id" not in text and "api_url" not in text
    config = load(cfg)
    assert config.zotero.target == "desktop" and config.zotero.ignored == ()
    assert config.zotero.collection == "Kept" and config.tags.extra == ("from-setup-test",)
    # And back to the Web API: the desktop keys go, the target is the web again.
    given = tmp_path / "given-key"
    given.write_text(KEY + "\n")
    argv = ["setup", "--web", "--yes", "--no-service", "--force", "--api-url", sandbox.url]
    assert main([*argv, "--api-key-file", str(given)]) == 0, capsys.readouterr()
    text = cfg.read_text()
    assert "target" not in text and "desktop_url" not in text
    assert load(cfg).zotero.target == "web"


def _allow_once(app: DesktopDouble) -> None:
    app.state.answer = "allow"


def _deny(app: DesktopDouble) -> None:
    app.state.answer = "deny"


def _not_enabled(app: DesktopDouble) -> None:
    app.state.enabled = False


def _too_old(app: DesktopDouble) -> None:
    app.state.mode = "9.0.6"


def _too_many_prompts(app: DesktopDouble) -> None:
    app.state.prompts = [time.monotonic()] * PROMPTS_PER_MINUTE


def _closed(app: DesktopDouble) -> None:
    app.stop()


@pytest.mark.parametrize(
    ("switch", "said", "hint"),
    [
        (_allow_once, "answered with 'Allow': that key is used up", "Always Allow"),
        (_deny, "denied in Zotero's dialog", "choose Always Allow"),
        (_not_enabled, "its local API is not enabled", "run `syncd setup --desktop` again"),
        (_too_old, "older than Zotero 10", 'target = "web"'),
        (_too_many_prompts, "refuses to show its dialog again", "wait 60 seconds"),
        (_closed, "the Zotero app is not running", "start Zotero (version 10 or later)"),
    ],
    ids=["allow-once", "deny", "not-enabled", "too-old", "429", "not-running"],
)
def test_each_refusal_is_said_exits_2_and_writes_nothing(
    app: DesktopDouble,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    switch: object,
    said: str,
    hint: str,
) -> None:
    url = app.url
    switch(app)  # type: ignore[operator]
    code, out = setup(url, capsys, "--directory", str(tmp_path / "inbox"))
    assert code == 2, out
    assert said in out and hint in out.split("hint:", 1)[-1], out
    assert nothing_written()
    assert not (tmp_path / "inbox").exists()


def test_the_checkbox_is_named_where_it_is(
    app: DesktopDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    app.state.enabled = False
    code, out = setup(app.url, capsys)
    assert code == 2
    assert "Settings → Advanced" in out and "Allow other applications" in out
    assert "syncd waits" not in out  # the daemon's hint, not setup's


def test_another_machine_is_refused_before_anything_is_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = setup("http://zotero.example.org:23119", capsys)
    assert code == 2
    assert "must be an http:// address on this machine" in out
    assert nothing_written()


@pytest.mark.parametrize("extra", [("--api-key-file", "k"), ("--api-url", "http://x")])
def test_the_web_api_flags_are_refused_with_desktop(
    app: DesktopDouble, capsys: pytest.CaptureFixture[str], extra: tuple[str, str]
) -> None:
    code, out = setup(app.url, capsys, *extra)
    assert code == 2
    assert f"{extra[0]}: not used with --desktop" in out
    assert nothing_written() and app.state.prompts == []
    code, out = setup(app.url, capsys, "--library", "user")  # My Library is what it does
    assert code == 0, out


def test_a_group_the_app_holds_is_chosen_with_library_and_one_it_lacks_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with DesktopDouble() as app:
        app.state.user_id = 4242  # signed in and syncing: the app holds the user's groups
        app.state.add_group(7, "Lab")
        code, out = setup(app.url, capsys, "--library", "group:5")
        assert code == 2 and "holds no such group (it holds: Lab (7))" in out
        assert nothing_written() and app.state.prompts == []  # refused before the dialog
        code, out = setup(app.url, capsys, "--library", "group:7")
        assert code == 0, out
        assert "group 'Lab' (7)" in out
        config = load(config_path())
        assert config.zotero.desktop_group == 7
        assert config.zotero.library == f"desktop/{app.state.db.server_id}/groups/7"


def test_yes_without_a_flag_is_the_web_path_even_with_the_app_running(
    app: DesktopDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["setup", "--yes", "--no-service", "--desktop-url", app.url])
    assert code == 2
    assert "give it with --api-key-file" in capsys.readouterr().err
    assert app.state.prompts == []


def test_help_says_how(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["setup", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--desktop-url URL" in out and "Always Allow" in out
    assert "not available in this build" not in out
    assert "zotero-desktop-key" in out


@pytest.mark.slow
def test_the_desktop_demo_of_make_demo_sets_up_through_syncd_setup() -> None:
    """examples/desktop_demo.py, the desktop step of `make demo`, authorises through
    `syncd setup --desktop --yes` and imports with what it wrote."""
    import subprocess
    import sys

    demo = Path(__file__).resolve().parents[2] / "examples" / "desktop_demo.py"
    run = subprocess.run(
        [sys.executable, str(demo)], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "$ syncd setup --desktop --yes --no-service --config" in run.stdout
    assert "Ready to import." in run.stdout and "6 new items" in run.stdout
    assert "'37424412', '99100001'" in run.stdout


def test_run_again_the_stored_key_is_kept_while_zotero_accepts_it(
    app: DesktopDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = setup(app.url, capsys, "--collection", "Reviews")
    assert code == 0, out
    key_file = default_desktop_key_path()
    first = key_file.read_text()
    code, out = setup(app.url, capsys, "--force")
    assert code == 0, out
    assert "Keeping the key in" in out and len(app.state.prompts) == 1  # no second dialog
    assert key_file.read_text() == first and not key_file.with_name(key_file.name + ".bak").exists()
    assert load(config_path()).zotero.collection == "Reviews"  # the old answer, the default
    # Withdrawn in Zotero ("Clear Write Authorizations"): asked for again, the old one backed up.
    app.state.clear_authorizations()
    code, out = setup(app.url, capsys, "--force")
    assert code == 0, out
    assert "no longer accepts the key" in out and len(app.state.prompts) == 2
    assert key_file.read_text() != first
    assert key_file.with_name(key_file.name + ".bak").read_text() == first
    # Another database (the user opened another zotero.sqlite): a key for it.
    old_sid = app.state.db.server_id
    app.state.swap_database()
    code, out = setup(app.url, capsys, "--force")
    assert code == 0, out
    assert f"for another Zotero database, Server-ID {old_sid}" in out
    assert read_desktop_key(key_file).server_id == app.state.db.server_id != old_sid


def test_which_apps_setup_offers_with_no_flag(app: DesktopDouble) -> None:
    """A Zotero 10 is offered, and one whose local API is still off (the desktop path then
    names the checkbox); a Zotero older than 10, or none, is not."""
    from syncd.setup_desktop import app_running

    assert app_running(app.url)
    app.state.enabled = False
    assert app_running(app.url)
    app.state.enabled, app.state.mode = True, "9.0.6"
    assert not app_running(app.url)
    url = app.url
    app.stop()
    assert not app_running(url)
