"""``syncd setup --yes`` scripted against the sandbox, as a script or a provisioning tool runs
it: the files it writes and their modes, the checks it runs after, what it keeps and what it
refuses, and its exit codes. (The interactive runs, through a terminal: test_setup_terminal.)"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.config import default_key_path, load
from syncd.sandbox import SandboxServer
from syncd.sandbox.eutils import Corpus, EutilsDouble
from tests.system.conftest import KEY

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("isolated_env")]

READ_ONLY = "SetupReadOnlyKey01234567"
GROUP_READER = "SetupGroupReader01234567"
LAB, CLUB = 501, 502


@pytest.fixture
def sandbox(sandbox: SandboxServer) -> SandboxServer:
    """User 1 with two groups ("Lab": read/write, "Club": read only for the full key), a
    read-only key, and a key that may write My Library but only read the groups."""
    sandbox.add_user(2, "colleague")
    sandbox.add_group(LAB, "Lab", owner=1)
    sandbox.add_group(CLUB, "Club", owner=2, members=[1])
    sandbox.add_group(503, "Not mine", owner=2)
    sandbox.add_key(KEY, 1, groups={"all": (True, True), CLUB: (True, False)})
    sandbox.add_key(READ_ONLY, 1, write=False, groups={})
    sandbox.add_key(GROUP_READER, 1, groups={"all": (True, False)})
    return sandbox


def key_file(tmp_path: Path, key: str = KEY) -> Path:
    path = tmp_path / "given-key"
    path.write_text(key + "\n")
    return path


def setup(
    sandbox: SandboxServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    key: str = KEY,
) -> tuple[int, str]:
    """``syncd setup --web --yes`` against ``sandbox``; (exit code, stdout + stderr)."""
    argv = [
        "setup", "--web", "--yes", "--no-service", "--api-url", sandbox.url,
        "--api-key-file", str(key_file(tmp_path, key)), *extra,
    ]  # fmt: skip
    code = main(argv)
    out = capsys.readouterr()
    assert key not in out.out + out.err  # the key is never shown
    return code, out.out + out.err


def config_path() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "syncd" / "config.toml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_scripted_setup_writes_the_config_and_the_key_and_doctor_passes(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "exports" / "pubmed"
    code, out = setup(
        sandbox, tmp_path, capsys, "--collection", "PubMed imports", "--directory", str(inbox)
    )
    assert code == 0, out
    assert "Ready to import." in out
    cfg = config_path()
    key = default_key_path()
    assert key.read_text() == KEY + "\n"
    assert mode(key) == 0o600 and mode(cfg) == 0o600
    assert mode(key.parent) == 0o700 and mode(key.parent.parent) == 0o700
    assert inbox.is_dir()
    # Only what differs from the defaults: no library_type (user), no api_key_file (the
    # default key file is found), no key in the config.
    text = cfg.read_text()
    assert "library_type" not in text and "api_key" not in text and KEY not in text
    config = load(cfg)
    assert config.zotero.library == "users/1" and config.zotero.api_url == sandbox.url
    assert config.zotero.collection == "PubMed imports"
    assert config.watch.directory == inbox
    assert config.zotero.api_key is not None and config.zotero.api_key.reveal() == KEY
    # The three commands the user needs next.
    assert "syncd status" in out and "journalctl --user -u syncd" in out
    assert "syncd import" in out


def test_defaults_write_the_least_and_name_the_download_folder(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = setup(sandbox, tmp_path, capsys)
    assert code == 0, out
    assert "(your download folder)" in out
    text = config_path().read_text()
    assert "[watch]" not in text and "collection" not in text
    assert load(config_path()).zotero.library_id == 1


def test_a_group_library_by_flag(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = setup(sandbox, tmp_path, capsys, "--library", f"group:{LAB}")
    assert code == 0, out
    assert load(config_path()).zotero.library == f"groups/{LAB}"
    assert "[ok  ] write permission: can write to groups/501" in out


def test_an_existing_config_is_kept_without_force(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_path()
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[zotero]\nlibrary_id = 9\n")
    code, out = setup(sandbox, tmp_path, capsys)
    assert code == 2
    assert "--yes never replaces a config" in out and "--force" in out
    assert cfg.read_text() == "[zotero]\nlibrary_id = 9\n"
    assert not default_key_path().exists()  # nothing at all was written


def test_force_keeps_a_backup_and_the_other_settings(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_path()
    cfg.parent.mkdir(parents=True)
    with EutilsDouble(Corpus()) as pubmed:  # doctor asks PubMed about the saved search
        old = (
            '[zotero]\nlibrary_id = 9\napi_key_file = "/elsewhere/key"\ncollection = "Kept"\n\n'
            f'[tags]\nextra = ["from-setup-test"]\n\n[pubmed]\neutils_url = "{pubmed.url}"\n\n'
            '[[search]]\nname = "ketamine"\nquery = "ketamine"\ncollection = "Alerts"\n'
        )
        cfg.write_text(old)
        code, out = setup(sandbox, tmp_path, capsys, "--force")
        assert code == 0, out
        assert (cfg.parent / "config.toml.bak").read_text() == old
        config = load(cfg)
        assert config.zotero.library_id == 1
        assert config.zotero.collection == "Kept"  # the old answer is this run's default
        assert config.tags.extra == ("from-setup-test",)
        assert [s.name for s in config.searches] == ["ketamine"]
        assert config.zotero.api_key_source == f"file {default_key_path()}"  # not /elsewhere
        # A second forced run keeps both backups; an empty --collection means none.
        code, out = setup(sandbox, tmp_path, capsys, "--force", "--collection", "")
        assert code == 0, out
    assert (cfg.parent / "config.toml.bak.1").read_bytes() != b""
    assert load(cfg).zotero.collection is None


@pytest.mark.parametrize(
    ("key", "extra", "said", "hint"),
    [
        (READ_ONLY, (), "cannot write to any library", "Allow write access"),
        (READ_ONLY, ("--library", "user"), "cannot write to My Library", "Allow write access"),
        (KEY, ("--library", f"group:{CLUB}"), "cannot write to group 'Club'", "Read/Write"),
        (KEY, ("--library", "group:503"), "group 503 is not one of the groups", "join"),
        (KEY, ("--library", "groups/5"), "not a library", "--library group:ID"),
        ("Unknown0Key0123456789abc", (), "Zotero does not accept this API key", "copy the key"),
    ],
)
def test_refusals_write_nothing_and_exit_2(
    sandbox: SandboxServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    extra: tuple[str, ...],
    said: str,
    hint: str,
) -> None:
    code, out = setup(sandbox, tmp_path, capsys, *extra, key=key)
    assert code == 2, out
    assert said in out and hint in out
    assert not config_path().exists() and not default_key_path().exists()


def test_a_key_that_writes_no_group_is_still_fine_for_my_library(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = setup(sandbox, tmp_path, capsys, key=GROUP_READER)
    assert code == 0, out
    assert "Not writable with this key: group 'Club'" in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["setup", "--yes", "--no-service"], "give it with --api-key-file"),
        (["setup", "--desktop", "--desktop-url", "ftp://127.0.0.1"], "on this machine"),
        (["setup", "--web", "--desktop"], "not allowed with argument"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert said in capsys.readouterr().err
    assert not config_path().exists()


def test_a_key_file_with_no_key_is_refused(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = setup(sandbox, tmp_path, capsys, key="not-a-key")
    assert code == 2
    assert "does not hold a Zotero API key" in out
    assert not config_path().exists()


def test_written_but_doctor_fails_exits_1(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = Path(os.environ["XDG_STATE_HOME"]) / "syncd" / "state.db"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"this is not a database" * 100)
    code, out = setup(sandbox, tmp_path, capsys)
    assert code == 1, out
    assert "[FAIL] state database" in out
    assert config_path().exists() and default_key_path().exists()
    assert "Fix what is marked FAIL above" in out


@pytest.mark.slow
def test_against_a_syncd_sandbox_process(tmp_path: Path) -> None:
    """The whole thing as a user runs it: `syncd sandbox` in one process, `syncd setup` in
    another, then `syncd doctor` on what setup wrote."""
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert sandbox.stdout is not None
        first = sandbox.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:"), first
        cfg = tmp_path / "elsewhere" / "config.toml"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "syncd",
                "setup",
                "--web",
                "--yes",
                "--no-service",
                "--api-url",
                url,
                "--api-key-file",
                str(key_file(tmp_path)),
                "--config",
                str(cfg),
                "--directory",
                str(tmp_path / "inbox"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"syncd status --config {cfg}" in run.stdout
        assert mode(cfg) == 0o600 and mode(default_key_path()) == 0o600
        doctor = subprocess.run(
            [sys.executable, "-m", "syncd", "doctor", "--config", str(cfg)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert doctor.returncode == 0, doctor.stdout
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


@pytest.mark.slow
def test_the_demo_of_make_demo_runs() -> None:
    """examples/setup_demo.py, the setup step of `make demo`, exits 0 (it checks itself that
    a second `--yes` run is refused)."""
    demo = Path(__file__).resolve().parents[2] / "examples" / "setup_demo.py"
    run = subprocess.run(
        [sys.executable, str(demo)], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Ready to import." in run.stdout and "7 new items" in run.stdout
    assert "--yes never replaces a config" in run.stderr


def test_a_server_that_does_not_answer_is_said_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SandboxServer() as gone:
        url = gone.url  # a port that was just free, now closed again
    code = main(["setup", "--yes", "--api-url", url, "--api-key-file", str(key_file(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot reach {url} (checking the API key)" in err and KEY not in err
    assert not config_path().exists() and not default_key_path().exists()


def test_plain_http_to_another_machine_is_refused_before_the_key_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup", "--yes", "--api-url", "http://zotero.example.org", "--api-key-file"]
    assert main([*argv, str(key_file(tmp_path))]) == 2
    assert "would send the API key unencrypted" in capsys.readouterr().err


def test_the_service_needs_the_default_config(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["setup", "--yes", "--service", "--config", str(tmp_path / "other.toml")]
    assert main([*argv, "--api-url", sandbox.url]) == 2
    assert "the service reads" in capsys.readouterr().err
    assert not (tmp_path / "other.toml").exists()


def test_a_service_that_cannot_be_installed_exits_1(
    sandbox: SandboxServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-systemctl-here"))
    code, out = setup(sandbox, tmp_path, capsys, "--service")
    assert code == 1, out
    assert "Ready to import." in out
    assert "the service was not installed: systemctl not found" in out
    assert config_path().exists()


def test_a_config_that_cannot_be_written_is_said_and_no_key_is_written(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")
    cfg = tmp_path / "a-file" / "config.toml"
    code, out = setup(sandbox, tmp_path, capsys, "--config", str(cfg))
    assert code == 2, out
    assert "cannot write" in out and "(nothing was written)" in out
    assert not default_key_path().exists()


def test_a_desktop_target_plugs_in_with_one_function(
    sandbox: SandboxServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build with ``syncd.setup_desktop.setup_desktop(args, ui) -> SetupResult`` gets
    --desktop: its answers are written, checked and followed like the web target's."""
    import types

    from syncd.core.setup_plan import WEB_KEYS
    from syncd.setup_files import SecretFile, SetupResult

    asked: list[object] = []

    def setup_desktop(args: object, ui: object) -> SetupResult:
        asked.append(getattr(args, "existing_config", None))
        return SetupResult(
            values={"zotero.library_id": 1, "zotero.api_url": sandbox.url},
            decided=WEB_KEYS,
            secrets=(SecretFile(default_key_path(), KEY + "\n", "the test key"),),
            summary=("target:       a stand-in for the desktop app",),
        )

    module = types.ModuleType("syncd.setup_desktop")
    module.setup_desktop = setup_desktop  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "syncd.setup_desktop", module)
    assert main(["setup", "--desktop", "--yes", "--no-service"]) == 0
    out = capsys.readouterr().out
    assert asked == [{}]
    assert "a stand-in for the desktop app" in out and "Ready to import." in out
    assert load(config_path()).zotero.api_url == sandbox.url


def test_many_groups_are_read_page_by_page(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for gid in range(1000, 1105):  # more than one page of 100
        sandbox.add_group(gid, f"Group {gid}", owner=1)
    code, out = setup(sandbox, tmp_path, capsys, "--library", "group:1104")
    assert code == 0, out
    assert load(config_path()).zotero.library == "groups/1104"


def test_a_rate_limit_with_a_short_retry_after_is_waited_out(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.inject(status=429, path=r"^/keys/current$", retry_after=0)
    code, out = setup(sandbox, tmp_path, capsys)
    assert code == 0, out
    sandbox.inject(status=429, path=r"^/keys/current$", retry_after=0, times=2)
    code, out = setup(sandbox, tmp_path, capsys, "--force")
    assert code == 2 and "asks to slow down" in out
