"""Set syncd up in one go: check your Zotero API key, choose the library (My Library or a
group) and a collection, the folder to watch, write the config and the key file, check it all
as `syncd doctor` does, and offer to install and start the service.

  syncd setup                                   # asks, with the defaults in [brackets]
  syncd setup --web --yes --api-key-file F [--library group:ID] [--collection NAME]
              [--directory DIR] [--config FILE] [--force] [--service | --no-service]
  syncd setup --desktop [--yes] [--desktop-url URL] [--collection NAME] [--directory DIR]
              [--config FILE] [--force] [--service | --no-service]

Where to: the Zotero Web API (--web) or the Zotero app on this computer, Zotero 10 or later
(--desktop: no account or API key, items appear at once, only while Zotero runs, only My
Library). With neither flag, setup offers both when a Zotero app answers at --desktop-url
(http://127.0.0.1:23119 by default), and goes to the Web API when none does (with --yes:
the Web API).

--desktop asks the app for permission: Zotero shows a dialog, answer it with Always Allow (an
"Allow" key is used up by the first write: setup refuses it). The config gets
[zotero] target = "desktop", and the app's key goes to
$XDG_CONFIG_HOME/syncd/zotero-desktop-key as JSON {server_id, key} (0600). Zotero not running,
its local API not enabled (Settings -> Advanced -> "Allow other applications on this computer
to communicate with Zotero"), Deny, too many prompts, or a Zotero older than 10: each is said,
exit 2, nothing written. Run again, setup keeps the stored key while Zotero accepts it.

For the Web API, the key is checked at once (GET /keys/current); only libraries it can write
are offered. The config ($XDG_CONFIG_HOME/syncd/config.toml unless --config, or $SYNCD_CONFIG)
gets only what differs from the defaults; other settings of an existing config are kept, and
the old file is kept as config.toml.bak. The key goes to $XDG_CONFIG_HOME/syncd/zotero-api-key
(0600, its folder 0700): the file the service loads it from. Run again, setup offers the
current config's answers as its defaults. Nothing is written before the last question; Ctrl-C
leaves everything as it was.

--yes never asks: what has no default must come from a flag (the key: --api-key-file), and
an existing config is replaced only with --force. --api-url points setup at another server
than api.zotero.org, such as `syncd sandbox`.

Exit status: 0 written and every check passed; 1 written, but a check (or the service)
failed: each problem is printed with its fix; 2 usage, a refusal (a key that cannot write the
library, an existing config without --force, a desktop app that cannot be used), nothing
written; 130 interrupted, nothing written.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import shlex
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import EXIT_OK, EXIT_PARTIAL, SyncdError, UsageError

if TYPE_CHECKING:
    from syncd.setup_files import SetupResult
    from syncd.setup_prompts import UI

HELP = (
    "set syncd up for the Web API or the Zotero app: check the key, choose the library, "
    "write the config, start the service"
)

DESKTOP_MODULE = "syncd.setup_desktop"  # provides setup_desktop(args, ui) -> SetupResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--web", action="store_true", help="import through the Zotero Web API (the default)"
    )
    where.add_argument(
        "--desktop",
        action="store_true",
        help="import into the Zotero app on this computer"
        + ("" if desktop_setup() else " (not available in this build)"),
    )
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="never ask: take the defaults, and the rest from the flags",
    )
    parser.add_argument(
        "--api-key-file",
        metavar="F",
        help="read the API key from F (copied to $XDG_CONFIG_HOME/syncd/zotero-api-key, 0600)",
    )
    parser.add_argument(
        "--library",
        metavar="user|group:ID",
        help="the library to import into: user (My Library, the default) or group:ID",
    )
    parser.add_argument(
        "--collection",
        metavar="NAME/PATH",
        help="put imported items into this collection (a name or Parent/Child; created when "
        "missing at the first import; default: none)",
    )
    parser.add_argument(
        "--directory",
        metavar="DIR",
        help="the folder `syncd run` watches (default: your download folder)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the config file to write (default: $SYNCD_CONFIG, else "
        "$XDG_CONFIG_HOME/syncd/config.toml)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing config without asking (the old one is kept as a backup)",
    )
    parser.add_argument(
        "--service",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="install and start the systemd user service at the end (default: ask; with "
        "--yes: not installed)",
    )
    parser.add_argument(
        "--api-url",
        metavar="URL",
        help="the Zotero Web API (default https://api.zotero.org; e.g. a `syncd sandbox`)",
    )
    parser.add_argument(
        "--desktop-url",
        metavar="URL",
        help="where the Zotero app's local API listens (default http://127.0.0.1:23119; e.g. "
        "a `syncd sandbox --desktop`); without --web/--desktop, setup offers the app when it "
        "runs there",
    )


# A target's setup: asks through the UI (or takes from the flags) what the target needs, checks
# it, and returns what to write; it writes nothing. ``args.existing_config`` holds the config
# being updated (parsed; {} when there is none), whose answers are its defaults.
Setup = Callable[[argparse.Namespace, "UI"], "SetupResult"]


def desktop_setup() -> Setup | None:
    """The desktop target's setup, when this build has one (``setup_desktop`` in
    :data:`DESKTOP_MODULE`), else None."""
    try:
        module = importlib.import_module(DESKTOP_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DESKTOP_MODULE:
            raise
        return None
    found: Setup = module.setup_desktop
    return found


def run(args: argparse.Namespace) -> int:
    from syncd.config import default_config_path, locate
    from syncd.setup_prompts import Scripted, Terminal

    ui = Scripted() if args.yes else Terminal()
    config_path, _ = locate(args.config)
    config_path = config_path.absolute()
    if config_path.is_dir():
        raise UsageError(f"--config {config_path}: a folder, not a file")
    setup = _target(args, ui, _peek(config_path))
    usual = config_path == default_config_path().absolute()
    if args.service and not usual:
        raise UsageError(
            f"--service: the service reads {default_config_path()}, not {config_path}",
            hint="write the default config (leave out --config), or use --no-service",
        )
    existing = _existing(config_path, args, ui)
    # A target's setup takes the values of a config being updated as its defaults.
    args.existing_config = existing or {}
    result = setup(args, ui)
    from syncd.core.setup_plan import merged, render_toml

    text = render_toml(merged(existing or {}, result.values, result.decided))
    ui.say()
    kept = " (other settings in it are kept)" if existing else ""
    ui.say(f"config:       {config_path}{kept}")
    for line in result.summary:
        ui.say(line)
    if ui.interactive and not ui.confirm("Write these?", True):
        raise UsageError("nothing was written", hint="run 'syncd setup' again to change answers")
    _write(ui, config_path, text, result)
    return _after(args, ui, config_path, usual)


def _peek(path: Path) -> dict[str, Any]:
    """The ``[zotero]`` table of the config at ``path`` (``{}`` when there is none or it cannot
    be read), read before anything is asked: its target is the default of the choice."""
    try:
        with path.open("rb") as fh:
            zotero = tomllib.load(fh).get("zotero")
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return zotero if isinstance(zotero, dict) else {}


def _target(args: argparse.Namespace, ui: UI, current: dict[str, Any]) -> Setup:
    from syncd.setup_web import setup_web

    desktop = desktop_setup()
    if args.desktop:
        if desktop is None:
            raise UsageError(
                "the desktop target is not available in this build",
                hint="set syncd up for the Zotero Web API: syncd setup --web",
            )
        return desktop
    if args.web or desktop is None or not ui.interactive:
        return setup_web
    from syncd.setup_desktop import app_running, desktop_url

    try:
        url = desktop_url(args, {"zotero": current})
    except UsageError:
        if args.desktop_url:
            raise
        url = desktop_url(args, {})  # a config's odd desktop_url: the app's usual address
    if not app_running(url):
        ui.say(
            f"(No Zotero app answers at {url}: setting syncd up for the Zotero Web API. For "
            "the app, start Zotero 10 and run 'syncd setup --desktop'.)"
        )
        return setup_web
    ui.say(f"The Zotero app runs on this computer ({url}). Where should syncd put the articles?")
    ui.say(
        "  The Zotero app: no account or key, items appear at once, only while Zotero runs, "
        "only My Library (and the groups it syncs, when signed in)."
    )
    ui.say(
        "  The Zotero Web API: any library (groups too), works with Zotero closed, needs an "
        "API key."
    )
    options = ["the Zotero Web API (--web)", "the Zotero app on this computer (--desktop)"]
    # The app, which runs; the Web API for a config already set up for it.
    web_before = current.get("target", "web") == "web" and "library_id" in current
    default = 0 if web_before else 1
    return (setup_web, desktop)[ui.choose("Which one?", options, default, flag="--web/--desktop")]


def _existing(path: Path, args: argparse.Namespace, ui: UI) -> dict[str, Any] | None:
    """The config already at ``path`` (parsed; ``{}`` when it is not valid TOML), None when
    there is none; refuses to go on when it may not be replaced."""
    if not path.exists():
        return None
    if not args.force:
        if not ui.interactive:
            raise UsageError(
                f"{path} exists: --yes never replaces a config",
                hint="add --force to replace it (a backup is kept), or --config FILE",
            )
        if not ui.confirm(
            f"{path} exists. Update it (its other settings are kept, the old file as a backup)?",
            False,
        ):
            raise UsageError(f"{path} was left as it was; nothing was written")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        ui.say(f"({path} cannot be read as TOML: {exc}; it is replaced, a backup is kept)")
        return {}


def _write(ui: UI, config_path: Path, text: str, result: SetupResult) -> None:
    from syncd.setup_files import ctrl_c_held, make_private_dirs, write_atomically

    done: list[str] = []
    with ctrl_c_held(), _writing(done):
        # The folders first: a path that cannot hold a file fails before any file is written.
        for parent in {*(secret.path.parent for secret in result.secrets), config_path.parent}:
            make_private_dirs(parent)
        for secret in result.secrets:
            backup = write_atomically(secret.path, secret.content, 0o600)
            done.append(f"wrote {secret.what} to {secret.path} (0600)")
            if backup:
                done.append(f"  the previous key file is kept as {backup}")
        backup = write_atomically(config_path, text, 0o600)
        done.append(f"wrote {config_path}")
        if backup:
            done.append(f"  the previous config is kept as {backup}")
        for folder in result.folders:
            make_private_dirs(folder)
            done.append(f"created {folder}")
    ui.say()
    for line in done:
        ui.say(line)


@contextlib.contextmanager
def _writing(done: list[str]) -> Iterator[None]:
    """A file that cannot be written is said with what was written before it (each file is
    whole or absent)."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        before = [d for d in done if not d.startswith(" ")]
        raise SyncdError(
            f"cannot write{where}: {exc.strerror or exc}"
            + (f" (already done: {'; '.join(before)})" if before else " (nothing was written)"),
            hint="check the folder's permissions and free space, then run 'syncd setup' again",
        ) from None


def _after(args: argparse.Namespace, ui: UI, config_path: Path, usual: bool) -> int:
    """Doctor's checks, the service, the next commands; the exit status."""
    from syncd.commands import doctor

    ui.say()
    ui.say("== checking it all, as 'syncd doctor' does ==")
    healthy = doctor.run(argparse.Namespace(config=config_path)) == EXIT_OK
    want = args.service
    if want is None and ui.interactive and healthy and usual:
        want = ui.confirm(
            "Install and start the service now ('syncd service install --enable')?", True
        )
    ui.say()
    if want:
        healthy = _service(ui) and healthy
    elif healthy:
        ui.say("The service is not installed; to start it: syncd service install --enable")
    else:
        ui.say("Fix what is marked FAIL above, then: syncd service install --enable")
    opt = "" if usual else f" --config {shlex.quote(str(config_path))}"
    ui.say()
    ui.say("Next:")
    commands = [
        (f"syncd status{opt}", "what was imported, what waits, what failed"),
        ("journalctl --user -u syncd -f", "the service's log: one line per file"),
        (f"syncd import{opt} FILE.nbib", "import exports you already have, at once"),
    ]
    width = max(len(c) for c, _ in commands)
    for command, what in commands:
        if width > 44:  # a long --config path: the comment goes on a line of its own
            ui.say(f"  {command}")  # one line a call: say() escapes a newline
            ui.say(f"      # {what}")
        else:
            ui.say(f"  {command.ljust(width)}   # {what}")
    return EXIT_OK if healthy else EXIT_PARTIAL


def _service(ui: UI) -> bool:
    from syncd.commands import service

    try:
        return service.run(argparse.Namespace(action="install", enable=True, print_only=False)) == 0
    except SyncdError as exc:
        ui.say(f"the service was not installed: {exc.message}")
        if exc.hint:
            ui.say(f"  hint: {exc.hint}")
        return False
