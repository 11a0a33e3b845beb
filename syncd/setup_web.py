"""`syncd setup --web`: the questions for the Zotero Web API target, answered from the flags,
the defaults or the person at the terminal, and checked against the server as they come: the
key at once (``/keys/current``: whose it is, what it may do), then the libraries it can write
(My Library, the user's groups), then the collection and the watch folder.

:func:`setup_web` returns a :class:`~syncd.setup_files.SetupResult` and writes nothing: the
caller writes every file at the end.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from syncd.config import DEFAULT_API_URL, default_download_dir, default_key_path, key_problem
from syncd.core.setup_plan import (
    KEY_LOCATIONS,
    KEYS_PAGE,
    WEB_KEYS,
    KeyRights,
    LibraryChoice,
    WebAnswers,
    collection_names,
    key_rights,
    libraries,
    no_writable_library,
    parse_library,
    pick_library,
    web_values,
    writable,
)
from syncd.errors import ConfigError, RemoteError, UsageError
from syncd.setup_files import SecretFile, SetupResult
from syncd.setup_prompts import UI
from syncd.zotero_account import ZoteroAccount

NEW_KEY_PAGE = f"{KEYS_PAGE}/new"
_ATTEMPTS = 3  # a mistyped or refused key may be pasted again this often


def setup_web(args: argparse.Namespace, ui: UI) -> SetupResult:
    """Ask (or take from ``args``) everything the Web API target needs; see the module doc."""
    before = answers_before(getattr(args, "existing_config", None) or {})
    api_url = (args.api_url or before.get("api_url") or DEFAULT_API_URL).strip().rstrip("/")
    account, rights, key = _checked_key(args, ui, api_url)
    ui.say(
        f"The key belongs to user {rights.user_id} ({rights.username or 'no name'}), "
        f"at {account.api_url}."
    )
    choices = libraries(rights, account.groups(rights.user_id))
    library = _library(args, ui, choices, rights, before.get("library"))
    collection = _collection(args, ui, account, library, before.get("collection"))
    directory, folders = watch_directory(args, ui, before.get("directory"))
    answers = WebAnswers(
        library,
        api_url=None if api_url == DEFAULT_API_URL else account.api_url,
        collection=collection,
        directory=None if directory is None else str(directory),
    )
    key_file = default_key_path()
    summary = [
        f"library:      {library.label}",
        f"collection:   {collection or '(none)'}",
        f"watch folder: {directory or default_download_dir()}"
        + ("" if directory else " (your download folder)"),
        f"API key:      {key_file} (readable by you only)" + _replaces(key_file, key),
    ]
    if answers.api_url:
        summary.insert(0, f"server:       {answers.api_url}")
    if os.environ.get("ZOTERO_API_KEY", "").strip():
        summary.append(
            "note: $ZOTERO_API_KEY is set in this shell and wins over the key file: unset it"
        )
    return SetupResult(
        values=web_values(answers),
        decided=WEB_KEYS + KEY_LOCATIONS,
        secrets=(SecretFile(key_file, key + "\n", "the Zotero API key"),),
        folders=tuple(folders),
        summary=tuple(summary),
    )


def answers_before(document: dict[str, Any]) -> dict[str, str]:
    """The answers an existing config gave (the defaults of this run): api_url, library
    (as --library spells it), collection, directory."""
    zotero: dict[str, Any] = _table(document, "zotero")
    watch: dict[str, Any] = _table(document, "watch")
    out: dict[str, str] = {}
    if isinstance(zotero.get("api_url"), str):
        out["api_url"] = zotero["api_url"]
    if isinstance(zotero.get("library_id"), int):
        group = zotero.get("library_type") == "group"
        out["library"] = f"group:{zotero['library_id']}" if group else "user"
    if isinstance(zotero.get("collection"), str):
        out["collection"] = zotero["collection"]
    if isinstance(watch.get("directory"), str):
        out["directory"] = watch["directory"]
    return out


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    table = document.get(name)
    return table if isinstance(table, dict) else {}


# --- the key --------------------------------------------------------------------------------


def _checked_key(
    args: argparse.Namespace, ui: UI, api_url: str
) -> tuple[ZoteroAccount, KeyRights, str]:
    """The key (from --api-key-file, the default key file, or typed), accepted by the
    server, with what it may do."""
    given = _key_from_file(args.api_key_file, "--api-key-file") if args.api_key_file else None
    default = default_key_path()
    if given is None and default.is_file():
        try:
            kept = _key_from_file(default, "the key file")
        except UsageError as exc:
            ui.say(f"({exc.message}; it will be replaced)")
        else:
            if ui.confirm(f"Use the API key already in {default}?", True):
                given = kept
    if given is not None or not ui.interactive:
        key = given if given is not None else ui.secret("the API key", flag="--api-key-file F")
        account = ZoteroAccount(api_url, key, sleep=time.sleep)
        return account, key_rights(account.key_info()), key
    ui.say(
        f"syncd needs a Zotero API key: create one at {NEW_KEY_PAGE} with 'Allow library "
        "access' and 'Allow write access' (for a group: Read/Write), then paste it here."
    )
    for attempt in range(1, _ATTEMPTS + 1):
        key = ui.secret("Zotero API key (the input is hidden)", flag="--api-key-file F")
        problem = key_problem(key) if key else "nothing was typed"
        if problem is None:
            account = ZoteroAccount(api_url, key, sleep=time.sleep)
            try:
                return account, key_rights(account.key_info()), key
            except RemoteError as exc:
                if exc.status != 403 or attempt == _ATTEMPTS:
                    raise
                ui.say(f"  {exc.message}; try again")
                continue
        if attempt == _ATTEMPTS:
            raise UsageError(f"not an API key: {problem}", hint=f"copy it from {KEYS_PAGE}")
        ui.say(f"  not an API key: {problem}; try again")
    raise AssertionError("unreachable")


def _replaces(key_file: Path, key: str) -> str:
    try:
        there = key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return "" if there == key else "; the key there now is kept as a backup"


def _key_from_file(path: str | Path, what: str) -> str:
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not text"
        raise UsageError(
            f"{what} {path}: cannot read it: {reason}",
            hint="a key file holds only the key (24 letters and digits), on one line",
        ) from None
    problem = key_problem(text) if text else "it is empty"
    if problem:
        raise UsageError(
            f"{what} {path} does not hold a Zotero API key: {problem}",
            hint=f"copy the key from {KEYS_PAGE}; the file holds only the key",
        )
    return text


# --- the library, the collection, the folder ------------------------------------------------


def _library(
    args: argparse.Namespace,
    ui: UI,
    choices: list[LibraryChoice],
    rights: KeyRights,
    before: str | None,
) -> LibraryChoice:
    if args.library or (before and not ui.interactive):
        kind, group_id = parse_library(args.library or before or "user")
        chosen = pick_library(choices, kind, group_id, rights)
        ui.say(f"Library: {chosen.label}")
        return chosen
    usable = writable(choices)
    if not usable:
        raise no_writable_library(rights)
    others = [c for c in choices if not c.can_write]
    if others:
        ui.say("Not writable with this key: " + "; ".join(c.label for c in others))
    if not ui.interactive:
        return pick_library(choices, "user", None, rights)  # --yes: My Library, or --library
    if len(usable) == 1:
        ui.say(f"Library: {usable[0].label}")
        return usable[0]
    ui.say("The libraries this key can write to:")
    default = next((n for n, c in enumerate(usable) if c.flag == before), 0)
    index = ui.choose(
        "Import into which library?", [c.label for c in usable], default, flag="--library"
    )
    return usable[index]


def _collection(
    args: argparse.Namespace,
    ui: UI,
    account: ZoteroAccount,
    library: LibraryChoice,
    before: str | None,
) -> str | None:
    names = collection_names(account.top_collections(library.path))
    say_collections(args, ui, library.label.split(" (")[0], names)
    return collection_answer(args, ui, names, before)


def say_collections(args: argparse.Namespace, ui: UI, library: str, names: list[str]) -> None:
    """Before asking for a collection: the library's top-level ones, to pick from."""
    if args.collection is None and ui.interactive:
        listed = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
        ui.say(
            f"Top-level collections in {library}: {listed}"
            if names
            else "The library has no collections yet."
        )


def collection_answer(
    args: argparse.Namespace, ui: UI, names: list[str] | None, before: str | None
) -> str | None:
    """The collection (``--collection``, else asked; ``before``: the current config's), as
    a path; ``names``: the library's top-level collections, None when they are not known."""
    from syncd.targets.base import collection_path

    spec = args.collection
    if spec is None:
        spec = ui.ask(
            "Collection for imported items (a name or Parent/Child; '-': none)",
            before or "-",
            flag="--collection",
        )
    spec = spec.strip()
    if spec in ("", "-"):
        return None
    try:
        path = collection_path(spec)
    except ConfigError as exc:
        raise UsageError(f"--collection: {exc.message}", hint=exc.hint) from None
    exists = names is not None and path[0] in names
    ui.say(
        f"Collection: {spec!r}"
        + (
            " (exists)"
            if exists and len(path) == 1
            else " (created when missing at the first import)"
        )
    )
    return "/".join(path)


def watch_directory(
    args: argparse.Namespace, ui: UI, before: str | None
) -> tuple[Path | None, list[Path]]:
    """The watch folder when it is not the download folder (None: the default), and the
    folders to create."""
    downloads = default_download_dir()
    current = Path(before).expanduser() if before else downloads
    if args.directory is None and ui.interactive:
        ui.say(
            f"syncd run watches your download folder ({downloads}; XDG_DOWNLOAD_DIR, else "
            "~/Downloads) unless you name another."
        )
    raw = args.directory
    if raw is None:
        raw = ui.ask("Folder to watch for PubMed exports", str(current), flag="--directory")
    folder = Path(os.path.abspath(Path(raw).expanduser()))
    if folder == downloads:
        return None, []
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--directory {folder}: not a folder")
    if not folder.exists():
        ui.say(f"Folder: {folder} (created)")
        return folder, [folder]
    ui.say(f"Folder: {folder}")
    return folder, []
