"""Check the set-up and say what is wrong and how to fix it: the config file, the library, the
API key (GET /keys/current: whose it is, access to the library, write permission), the
collection, the folder `syncd run` watches (and whether it runs), the state database, and for
saved searches whether NCBI's E-utilities answer and PubMed parses each query.

Exit status: 0 everything is ready to import, 1 something needs fixing (each problem is
printed with its fix), 2 the command itself could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncd.commands import add_config_option
from syncd.errors import EXIT_OK, EXIT_PARTIAL, ConfigError, RemoteError, StateError

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.targets.base import Target

HELP = "check the config, the API key, the library, the watch folder and the state database"

KEYS_PAGE = "https://www.zotero.org/settings/keys"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


class _Doctor:
    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(self, name: str, ok: bool, detail: str, fix: str | None = None) -> bool:
        check = Check(name, ok, detail, fix)
        self.checks.append(check)
        mark = "ok  " if ok else "FAIL"
        print(f"[{mark}] {name}: {detail}")
        if fix and not ok:
            print(f"       fix: {fix}")
        return ok


def run(args: argparse.Namespace) -> int:
    from syncd.config import load

    doc = _Doctor()
    try:
        config = load(args.config)
    except ConfigError as exc:
        detail = exc.message + "".join(f"\n       - {p}" for p in exc.problems)
        doc.add("config", False, detail, exc.hint)
        return EXIT_PARTIAL
    doc.add("config", True, str(config.source) if config.source else "no file; defaults")
    ready = _check_library(doc, config)
    _check_watch(doc, config)
    _check_state(doc, config)
    from syncd.search_status import doctor_checks  # [[search]]: E-utilities and each query

    for check in doctor_checks(config):
        doc.add(*check)
    failed = [c for c in doc.checks if not c.ok]
    if failed or not ready:
        print(f"{len(failed)} problem{'s' if len(failed) != 1 else ''} to fix.")
        return EXIT_PARTIAL
    print("Ready to import.")
    return EXIT_OK


def _check_library(doc: _Doctor, config: Config) -> bool:
    from syncd.app import target_for
    from syncd.config import default_config_path

    z = config.zotero
    if z.target == "desktop":
        return _check_desktop(doc, config)
    if z.library_id is None:
        return doc.add(
            "library",
            False,
            "no Zotero library configured",
            "set [zotero] library_type and library_id in "
            f"{config.source or default_config_path()} (your user id is shown at "
            f"{KEYS_PAGE}); or try 'syncd import --sandbox PATH' first",
        )
    doc.add("library", True, f"{z.library} at {z.api_url}")
    if z.api_key is None:
        return doc.add(
            "API key",
            False,
            "no API key found",
            "put the key in a file named by zotero.api_key_file (or set $ZOTERO_API_KEY); "
            f"create one at {KEYS_PAGE}",
        )
    doc.add("API key", True, f"from {z.api_key_source}")
    try:
        with contextlib.closing(target_for(config)) as gw:
            access = gw.check_access(require_write=False)
            doc.add(
                "key access",
                access.can_read,
                f"belongs to user {access.user_id} ({access.username}); "
                f"{'can' if access.can_read else 'cannot'} read {z.library}",
                f"edit the key at {KEYS_PAGE} and allow access to this library",
            )
            writable = doc.add(
                "write permission",
                access.can_write,
                f"{'can' if access.can_write else 'cannot'} write to {z.library}",
                f"edit the key at {KEYS_PAGE} and allow write access"
                + (" to this group" if z.library_type == "group" else ""),
            )
            version = gw.library_version()
            native = gw.has_native_ids()
            doc.add(
                "server",
                True,
                f"library version {version}; PMID/PMCID "
                f"{'have their own fields' if native else 'go into Extra'}",
            )
            if z.collection:
                _check_collection(doc, gw, z.collection)
            return writable
    except RemoteError as exc:
        return doc.add("key access", False, exc.message, exc.hint)
    except ConfigError as exc:
        return doc.add("library", False, exc.message, exc.hint)


def _check_desktop(doc: _Doctor, config: Config) -> bool:
    """The Zotero app as the target: its key file, the app running, the key still good."""
    from syncd.app import target_for

    z = config.zotero
    doc.add("target", True, f"the Zotero app at {z.desktop_url} (My Library)")
    if z.ignored:
        doc.add("ignored", True, f"{', '.join(z.ignored)}: not used with target = 'desktop'")
    try:
        with contextlib.closing(target_for(config)) as target:
            doc.add("desktop key", True, f"from {z.desktop_key_file}")
            access = target.check_access(require_write=True)
            user = f"signed in as user {access.user_id}" if access.user_id else "not signed in"
            doc.add("app", True, f"Zotero 10+ ({user}), database {target.library}")
            writable = doc.add("write permission", True, "the key is accepted (Always Allow)")
            native = target.has_native_ids()
            doc.add(
                "server",
                True,
                f"library version {target.library_version()}; PMID/PMCID "
                f"{'have their own fields' if native else 'go into Extra'}",
            )
            if z.collection:
                _check_collection(doc, target, z.collection)
            return writable
    except ConfigError as exc:
        return doc.add("desktop key", False, exc.message, exc.hint)
    except RemoteError as exc:
        return doc.add("app", False, exc.message, exc.hint)


def _check_collection(doc: _Doctor, gw: Target, spec: str) -> None:
    key = gw.find_collection(spec)
    if key:
        doc.add("collection", True, f"{spec!r} is collection {key}")
    else:
        doc.add("collection", True, f"{spec!r} does not exist yet; the first import creates it")


def _check_watch(doc: _Doctor, config: Config) -> None:
    """The folder `syncd run` would watch, and whether a daemon runs on this state."""
    from syncd.commands.run import resolve
    from syncd.locks import holder

    resolved, default = resolve(config, None)
    folder = resolved.watch.directory
    assert folder is not None
    what = "your download folder" if default else "watch.directory"
    if not folder.is_dir():
        waits = config.watch.wait_for_directory
        fix = f"create it, or set watch.directory in {config.source or 'the config'}"
        if default and not waits:
            # No folder was asked for: someone who only runs 'syncd import' is ready all the
            # same; only 'syncd run' needs a folder to watch.
            doc.add(
                "watch folder",
                True,
                f"{folder} ({what}) does not exist: needed only by 'syncd run' ({fix})",
            )
        else:
            doc.add(
                "watch folder",
                waits,
                f"{folder} ({what}) does not exist" + ("; syncd run waits for it" if waits else ""),
                fix,
            )
    elif not os.access(folder, os.R_OK | os.X_OK):
        doc.add("watch folder", False, f"{folder} ({what}) cannot be read", "check its permissions")
    else:
        note = "; at the first start the exports already there are left alone" if default else ""
        doc.add("watch folder", True, f"{folder} ({what}){note}")
    pid = holder(config.state.path)
    if pid:
        doc.add("daemon", True, f"syncd run is running (pid {pid})")
    else:
        doc.add("daemon", True, "syncd run is not running ('syncd service install --enable')")


def _check_state(doc: _Doctor, config: Config) -> None:
    from syncd.state import StateStore
    from syncd.state_failures import damaged_hint

    path = config.state.path
    if not os.path.lexists(path):  # (a symbolic link that loops or dangles does "exist")
        doc.add("state database", True, f"{path} (created at the first import)")
        return
    try:
        with StateStore(path) as store:
            problems = store.integrity_problems()
            if problems:
                doc.add(
                    "state database",
                    False,
                    f"{path}: the state database is damaged: {' '.join(problems[0].split())}",
                    damaged_hint(path),
                )
                return
            library = config.zotero.library
            counts = store.status_counts(library)
            indexed = store.library_version(library) if library else None
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no records"
            index = (
                f"; index at library version {indexed} ({store.index_size(library)} items)"
                if library and indexed is not None
                else ""
            )
            doc.add(
                "state database",
                True,
                f"{path}, schema {store.schema_version}: {summary}{index}",
            )
            if counts.get("pending"):
                doc.add(
                    "pending records",
                    False,
                    f"{counts['pending']} records were being sent when an import stopped",
                    "run 'syncd import' (any path): they are settled before anything new",
                )
    except StateError as exc:
        doc.add("state database", False, exc.message, exc.hint)
