"""``syncd setup`` as a person runs it: a real ``syncd setup`` process on a pseudo-terminal,
its real prompts answered by typing (the key without echo), a mistyped key asked again, and
Ctrl-C at a prompt leaving nothing written (exit 130)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import load
from syncd.sandbox import SandboxServer
from tests.system.terminal import Terminal, nothing_listens

pytestmark = pytest.mark.timeout(120)

KEY = "TerminalSetupKey01234567"
LAB = 601


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        server.add_user(1, "ada")
        server.add_group(LAB, "Lab", owner=1)
        server.add_key(KEY, 1)
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def environment(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if "PROXY" not in k.upper() and k not in ("ZOTERO_API_KEY", "SYNCD_CONFIG")
        and not k.startswith("XDG_")
    }  # fmt: skip
    env.update(HOME=str(home), TERM="dumb", COLUMNS="200")
    return env


def syncd_setup(home: Path, sandbox: SandboxServer, *extra: str) -> Terminal:
    home.mkdir(exist_ok=True)
    # No Zotero app runs (one on this machine's usual port would add the choice of targets).
    argv = [sys.executable, "-m", "syncd", "setup", "--api-url", sandbox.url, *extra]
    argv += ["--desktop-url", nothing_listens()]
    return Terminal(argv, environment(home), cwd=str(home))


def written(home: Path) -> list[str]:
    config = home / ".config"
    return sorted(str(p.relative_to(home)) for p in config.rglob("*")) if config.exists() else []


def test_a_person_sets_up_a_group_library(home: Path, sandbox: SandboxServer) -> None:
    inbox = home / "exports"
    with syncd_setup(home, sandbox) as term:
        term.expect(r"No Zotero app answers at .*: setting syncd up for the Zotero Web API")
        term.expect(r"Zotero API key \(the input is hidden\): ")
        term.line("tooshort")
        term.expect(r"not an API key: it has 8 characters; .*; try again")
        term.expect(r"Zotero API key \(the input is hidden\): ")
        term.line("Unknown0Key0123456789abc")
        term.expect(r"Zotero does not accept this API key.*; try again")
        term.expect(r"Zotero API key \(the input is hidden\): ")
        term.line(KEY)
        term.expect(r"The key belongs to user 1 \(ada\)")
        term.expect(r"1\. My Library \(user, read/write\)")
        term.expect(r"2\. group 'Lab' \(group:601, read/write\)")
        term.line("7")  # not an option: asked again
        term.expect(r"a number from 1 to 2")
        term.expect(r"Import into which library\? \[1\]: ")
        term.line("2")
        term.expect(r"The library has no collections yet\.")
        term.expect(r"Collection for imported items .*\[-\]: ")
        term.line("PubMed imports")
        term.expect(r"watches your download folder \(" + str(home / "Downloads"))
        term.expect(r"Folder to watch for PubMed exports \[" + str(home / "Downloads") + r"\]: ")
        term.line(str(inbox))
        term.expect(r"library: +group 'Lab'")
        term.expect(r"Write these\? \[Y/n\]: ")
        term.line("")
        term.expect(r"Ready to import\.")
        term.expect(r"Install and start the service now .*\[Y/n\]: ")
        term.line("n")
        term.expect(r"Next:")
        assert term.wait() == 0, term.output
        assert KEY not in term.output  # the key was read without echo
    config = load(home / ".config" / "syncd" / "config.toml", env={"HOME": str(home)})
    assert config.zotero.library == f"groups/{LAB}"
    assert config.zotero.collection == "PubMed imports"
    assert config.watch.directory == inbox and inbox.is_dir()
    assert (home / ".config" / "syncd" / "zotero-api-key").read_text() == KEY + "\n"


def test_ctrl_c_at_the_key_prompt_writes_nothing(home: Path, sandbox: SandboxServer) -> None:
    with syncd_setup(home, sandbox) as term:
        term.expect(r"Zotero API key \(the input is hidden\): ")
        term.ctrl_c()
        assert term.wait() == 130, term.output
        assert "interrupted" in term.output
    assert written(home) == []


def test_ctrl_c_before_writing_writes_nothing(home: Path, sandbox: SandboxServer) -> None:
    with syncd_setup(home, sandbox, "--collection", "X", "--directory", str(home / "in")) as term:
        term.expect(r"Zotero API key \(the input is hidden\): ")
        term.line(KEY)
        term.expect(r"Import into which library\? \[1\]: ")
        term.line("")
        term.expect(r"Write these\? \[Y/n\]: ")
        term.ctrl_c()
        assert term.wait() == 130, term.output
    assert written(home) == []
    assert not (home / "in").exists()


def test_an_existing_config_is_kept_when_the_person_says_no(
    home: Path, sandbox: SandboxServer
) -> None:
    cfg = home / ".config" / "syncd" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[zotero]\nlibrary_id = 9\n")
    with syncd_setup(home, sandbox) as term:
        term.expect(r"config\.toml exists\. Update it .*\[y/N\]: ")
        term.line("")
        assert term.wait() == 2, term.output
        assert "was left as it was; nothing was written" in term.output
    assert cfg.read_text() == "[zotero]\nlibrary_id = 9\n"
    assert written(home) == [".config/syncd", ".config/syncd/config.toml"]


def test_run_again_the_current_answers_are_the_defaults(home: Path, sandbox: SandboxServer) -> None:
    cfg = home / ".config" / "syncd" / "config.toml"
    key = home / ".config" / "syncd" / "zotero-api-key"
    inbox = home / "in"
    inbox.mkdir(parents=True)
    cfg.parent.mkdir(parents=True)
    key.write_text(KEY + "\n")
    key.chmod(0o600)
    old = (
        f'[zotero]\nlibrary_type = "group"\nlibrary_id = {LAB}\napi_url = "{sandbox.url}"\n'
        f'collection = "Reviews"\n\n[watch]\ndirectory = "{inbox}"\n\n[tags]\nextra = ["kept"]\n'
    )
    cfg.write_text(old)
    with Terminal(
        [sys.executable, "-m", "syncd", "setup", "--desktop-url", nothing_listens()],
        environment(home),
        cwd=str(home),
    ) as term:  # no --api-url: the config's is the default
        term.expect(r"config\.toml exists\. Update it .*\[y/N\]: ")
        term.line("y")
        term.expect(r"Use the API key already in .*zotero-api-key\? \[Y/n\]: ")
        term.line("")
        term.expect(r"The key belongs to user 1 \(ada\), at " + sandbox.url)
        term.expect(r"Import into which library\? \[2\]: ")  # the group, as before
        term.line("")
        term.expect(r"\[Reviews\]: ")
        term.line("")
        term.expect(r"Folder to watch for PubMed exports \[" + str(inbox) + r"\]: ")
        term.line("")
        term.expect(r"other settings in it are kept")
        term.expect(r"Write these\? \[Y/n\]: ")
        term.line("y")
        term.expect(r"Install and start the service now .*\[Y/n\]: ")
        term.line("n")
        assert term.wait() == 0, term.output
    assert (cfg.parent / "config.toml.bak").read_text() == old
    config = load(cfg, env={"HOME": str(home)})
    assert config.zotero.library == f"groups/{LAB}" and config.zotero.collection == "Reviews"
    assert config.watch.directory == inbox and config.tags.extra == ("kept",)
