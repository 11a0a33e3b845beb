"""`syncd setup --desktop`: the Zotero app on this computer (Zotero 10+) as the target.

Finds the app at ``--desktop-url`` (``GET /api/``: its ``Zotero-Server-ID``, which also tells a
Zotero 10+), says what is about to appear in the Zotero window, and asks the app for a key
(:func:`syncd.targets.desktop_auth.authorize`: Zotero's dialog, Allow / Always Allow / Deny).
Only an **Always Allow** key is kept: an "Allow" key is used up by the first write. Then the
collection and the watch folder, as for the Web API. Run again, setup keeps the key a previous
run stored when Zotero still accepts it for the same database (no dialog), and offers the
current config's answers as its defaults. Every way this can fail has its own
message (Zotero not running, its local API not enabled, Deny, too many prompts, a Zotero older
than 10), all exit 2 with nothing written.

:func:`setup_desktop` returns a :class:`~syncd.setup_files.SetupResult` and writes nothing:
the caller writes the config (``[zotero] target = "desktop"``, ``desktop_url`` when it is not
the default) and the key file (``{server_id, key}`` as JSON, 0600) at the end.
:func:`app_running` is the look `syncd setup` takes, with no flag, for an app to offer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from syncd.config import DEFAULT_DESKTOP_URL, default_desktop_key_path, default_download_dir
from syncd.config_keys import is_loopback
from syncd.core.desktop_answers import CHECKBOX
from syncd.core.setup_plan import DESKTOP_KEYS, collection_names, parse_library
from syncd.errors import ConfigError, RemoteError, UsageError
from syncd.setup_files import SecretFile, SetupResult
from syncd.setup_prompts import UI
from syncd.setup_web import answers_before, collection_answer, say_collections, watch_directory
from syncd.targets.desktop import DesktopTarget
from syncd.targets.desktop_auth import (
    Denied,
    DesktopKey,
    authorize,
    read_desktop_key,
    server_id,
)

_AGAIN = "run `syncd setup --desktop` again"
_ATTEMPTS = 3  # a person who clicked the wrong button may be asked again this often
PROBE_TIMEOUT = 3.0  # seconds: the app answers GET /api/ at once when it runs


def desktop_url(args: argparse.Namespace, document: dict[str, Any]) -> str:
    """``--desktop-url``, else the current config's, else the app's usual address; only
    this machine is allowed (the local API never listens elsewhere)."""
    zotero = document.get("zotero")
    kept = zotero.get("desktop_url") if isinstance(zotero, dict) else None
    given = getattr(args, "desktop_url", None)
    url = str(given or (kept if isinstance(kept, str) else None) or DEFAULT_DESKTOP_URL)
    url = url.strip().rstrip("/")
    from urllib.parse import urlsplit

    if not url.startswith("http://") or not is_loopback(urlsplit(url).hostname or ""):
        raise UsageError(
            f"--desktop-url {url}: must be an http:// address on this machine",
            hint=f"Zotero's local API listens at {DEFAULT_DESKTOP_URL}",
        )
    return url


def app_running(url: str) -> bool:
    """Whether a Zotero app answers at ``url`` (a Zotero 10+, or one whose local API is not
    enabled yet: the desktop path then says where the checkbox is)."""
    try:
        server_id(url, timeout=PROBE_TIMEOUT)
    except RemoteError as exc:
        return exc.status == 403 and "not enabled" in exc.message
    return True


def setup_desktop(args: argparse.Namespace, ui: UI) -> SetupResult:
    """Ask (or take from ``args``) everything the desktop target needs; see the module doc."""
    _no_web_flags(args)
    document = getattr(args, "existing_config", None) or {}
    before = answers_before(document)
    url = desktop_url(args, document)
    sid = _found(url)
    ui.say(f"Zotero 10 runs at {url} (its database: Server-ID {sid}).")
    group = _library(args, ui, url, sid, document)  # before the dialog: refusals first
    key_file = default_desktop_key_path()
    key = _kept_key(url, sid, key_file, ui)
    kept = key is not None
    if key is None:
        key = _authorized(url, ui)
        ui.say("Zotero gave syncd a key that stays valid (Always Allow).")
    with contextlib.closing(_reader(url, sid, group)) as app:
        rows = app.collection_rows()
    names = collection_names(r for r in rows if not r["data"].get("parentCollection"))
    say_collections(args, ui, f"group {group[1]!r}" if group else "My Library", names)
    collection = collection_answer(args, ui, names, before.get("collection"))
    directory, folders = watch_directory(args, ui, before.get("directory"))
    values: dict[str, Any] = {"zotero.target": "desktop"}
    if url != DEFAULT_DESKTOP_URL:
        values["zotero.desktop_url"] = url
    if group is not None:
        values["zotero.desktop_group"] = group[0]
    if collection is not None:
        values["zotero.collection"] = collection
    if directory is not None:
        values["watch.directory"] = str(directory)
    summary = (
        f"target:       the Zotero app at {url} "
        + (f"(group {group[1]!r}, {group[0]})" if group else "(My Library)"),
        f"collection:   {collection or '(none)'}",
        f"watch folder: {directory or default_download_dir()}"
        + ("" if directory else " (your download folder)"),
        f"app key:      {key_file} (readable by you only)"
        + (" (kept)" if kept else _replaces(key_file)),
    )
    content = json.dumps({"server_id": key.server_id, "key": key.key}) + "\n"
    return SetupResult(
        values=values,
        decided=DESKTOP_KEYS,
        secrets=(SecretFile(key_file, content, "the Zotero app's key"),),
        folders=tuple(folders),
        summary=summary,
    )


def _no_web_flags(args: argparse.Namespace) -> None:
    """The Web API's flags mean nothing to the app: refused rather than silently dropped."""
    given = [
        flag
        for flag, value in (
            ("--api-key-file", getattr(args, "api_key_file", None)),
            ("--api-url", getattr(args, "api_url", None)),
        )
        if value
    ]
    if given:
        raise UsageError(
            f"{', '.join(given)}: not used with --desktop (the app needs no API key and no "
            "server address)",
            hint="leave them out, or set up the Web API: syncd setup --web",
        )


def _reader(url: str, sid: str, group: tuple[int, str] | None) -> DesktopTarget:
    """The app's library for reading: reads need no key in the local API, so the groups and
    collections are known before Zotero's dialog."""
    gid = group[0] if group else None
    return DesktopTarget(url, DesktopKey(sid, ""), attempts=1, timeout=PROBE_TIMEOUT, group=gid)


def _library(
    args: argparse.Namespace, ui: UI, url: str, sid: str, document: dict[str, Any]
) -> tuple[int, str] | None:
    """My Library (None) or one of the groups the app holds (a signed-in user's, synced):
    ``--library group:ID``, else asked when there are groups, else My Library."""
    with contextlib.closing(_reader(url, sid, None)) as app:
        groups = app.groups()
    spec = getattr(args, "library", None)
    if spec:
        kind, group_id = parse_library(str(spec))
        if kind == "user":
            return None
        found = [g for g in groups if g[0] == group_id]
        if not found:
            held = ", ".join(f"{name} ({gid})" for gid, name in groups) or "none"
            raise UsageError(
                f"--library group:{group_id}: the Zotero app holds no such group (it holds: "
                f"{held})",
                hint="the app holds a group only while signed in to zotero.org and syncing it; "
                "or use the Web API for any group: syncd setup --web",
            )
        ui.say(f"Library: group {found[0][1]!r} ({group_id})")
        return found[0]
    if not groups or not ui.interactive:
        ui.say("Library: My Library")
        return None
    zotero = document.get("zotero")
    kept = zotero.get("desktop_group") if isinstance(zotero, dict) else None
    default = next((n + 1 for n, g in enumerate(groups) if g[0] == kept), 0)
    labels = ["My Library", *(f"group {name!r} ({gid})" for gid, name in groups)]
    index = ui.choose("Import into which library?", labels, default, flag="--library")
    return None if index == 0 else groups[index - 1]


def _found(url: str) -> str:
    """The app's Server-ID; a refusal with setup's own hint when it is not there to ask."""
    try:
        return server_id(url, timeout=PROBE_TIMEOUT)
    except RemoteError as exc:
        raise _for_setup(exc, url) from None


def _kept_key(url: str, sid: str, path: Path, ui: UI) -> DesktopKey | None:
    """The key a previous setup stored in ``path``, when it is for this database, Zotero still
    accepts it and the person (or ``--yes``) keeps it: no dialog then."""
    if not path.exists():
        return None
    try:
        key = read_desktop_key(path)
    except ConfigError as exc:
        ui.say(f"({exc.message}; a new key is asked for)")
        return None
    if key.server_id != sid:
        ui.say(
            f"(the key in {path} is for another Zotero database, Server-ID {key.server_id}; "
            "a new key is asked for)"
        )
        return None
    try:
        with contextlib.closing(DesktopTarget(url, key, attempts=1, timeout=PROBE_TIMEOUT)) as app:
            app.connect()
            app.check_access(require_write=True)
    except RemoteError as exc:
        ui.say(
            f"(Zotero no longer accepts the key in {path}: {exc.message}; a new key is asked for)"
        )
        return None
    if not ui.confirm(f"Use the key already in {path} (Zotero accepts it)?", True):
        return None
    ui.say(f"Keeping the key in {path}: Zotero still accepts it (no dialog needed).")
    return key


def _replaces(path: Path) -> str:
    return "; the key there now is kept as a backup" if path.exists() else ""


def _authorized(url: str, ui: UI) -> DesktopKey:
    """Zotero's dialog, announced first; a person who chose Allow or Deny may try again."""
    ui.say("Zotero is about to show a dialog asking whether syncd may write to your library.")
    ui.say("  Choose **Always Allow**: 'Allow' gives a key that is used up by the first write,")
    ui.say("  and the service writes again and again ('Deny' stops here).")
    for attempt in range(1, _ATTEMPTS + 1):
        if ui.interactive:
            ui.ask("Press Enter, then answer the dialog in the Zotero window", "", flag="")
        else:
            ui.say("Waiting for the answer in the Zotero window...")
        try:
            return authorize(url)
        except RemoteError as exc:
            error = _for_setup(exc, url)
            retry = isinstance(exc, Denied) or exc.status == 200  # Deny or Allow once
            if not (retry and ui.interactive and attempt < _ATTEMPTS):
                raise error from None
            ui.say(f"  {error.message}")
            if not ui.confirm("Ask Zotero again?", True):
                raise error from None
    raise AssertionError("unreachable")


def _for_setup(exc: RemoteError, url: str) -> RemoteError:
    """``exc`` with the hint a person running setup needs (the daemon's hints say it waits)."""
    if exc.status == 403 and "not enabled" in exc.message:
        exc.hint = f"{CHECKBOX}; then {_AGAIN}"
    elif exc.status is None and "not running" in exc.message:
        exc.hint = (
            f"start Zotero (version 10 or later), then {_AGAIN}; if it runs elsewhere than "
            f"{url}, give --desktop-url; or use the Web API: syncd setup --web"
        )
    return exc
