"""Show what syncd did and what it waits for: the daemon, files, records and trouble.

Reads the state database read-only, so it works while `syncd run` runs and without it: whether
the daemon runs (pid, since when), the watched folder and its last scan, files waiting to
settle or to be sent, records pending, counts today and in total (new, duplicates, merged,
completed, failed), the last 20 files with their outcome, every failed record with file:line
and reason, the library index version, and the current trouble (Zotero unreachable, fatal: ...).

Failed records: fix the file (or the config), then `syncd status --retry` to have the daemon
read the files with failures again (it is told at once when it runs), or `syncd import FILE`.
`syncd status --clear` forgets the failed records instead. `syncd status --prune DAYS` forgets
the file history older than DAYS days (the state database otherwise keeps one row per file).

When no daemon runs but the systemd user service (`syncd service install --enable`) is
enabled, status says why, as the user manager knows it (stopped, failed with the exit status,
the API key credential missing, the start limit hit) and what to do.

Exit status: 0 healthy, 1 failures unresolved, waiting on trouble, or the service enabled but
no daemon running, 2 cannot tell (no state database, or it cannot be read, and no enabled
service to say why).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.commands import add_config_option, say
from syncd.core.text import shown_data
from syncd.errors import EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, StateError, UsageError

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.state import StateStore

HELP = "show what the daemon and earlier imports did, what waits and what failed"
_SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    add_config_option(parser)
    parser.add_argument(
        "--sandbox", action="store_true", help="the status of the local sandbox's imports"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--retry",
        action="store_true",
        help="read the files with failed records again (the running daemon is told at once)",
    )
    action.add_argument(
        "--clear", action="store_true", help="forget the failed records and files with failures"
    )
    action.add_argument(
        "--prune",
        type=int,
        metavar="DAYS",
        help="forget the file history and the duplicate/failed record notes older than DAYS "
        "days (the counts shrink; what exactly-once needs is kept)",
    )


def _state_path(args: argparse.Namespace, config: Config) -> Path:
    if args.sandbox:
        from syncd.commands.import_ import sandbox_dir

        return sandbox_dir() / "state.db"
    return config.state.path


def run(args: argparse.Namespace) -> int:
    from syncd.config import load
    from syncd.locks import holder
    from syncd.search_status import describe as describe_searches
    from syncd.state import StateStore

    config = load(args.config)
    path = _state_path(args, config)
    pid = holder(path)
    if args.prune is not None:
        if args.prune < 0:
            raise UsageError("--prune takes a number of days, 0 or more")
        with StateStore(path) as store:
            before = (datetime.now(UTC) - timedelta(days=args.prune)).strftime("%Y-%m-%dT%H:%M:%SZ")
            n = store.prune_history(before)
            r = store.prune_records(datetime.now(UTC) - timedelta(days=args.prune))
        print(
            f"Forgot {n} file history row{'' if n == 1 else 's'} and {r} duplicate or failed "
            f"record note{'' if r == 1 else 's'} from before {before}."
        )
        return EXIT_OK
    if args.retry or args.clear:
        with StateStore(path) as store:
            return _act(args, store, _library(args, config, store), pid)
    service = None if args.sandbox or pid is not None else _service()
    try:
        store = StateStore(path, readonly=True)
    except StateError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "running": pid is not None, "service": service}))
        else:
            if service:  # the daemon never got as far as its database: say why first
                print("syncd run: not running")
                _print_service(service)
            print(f"syncd: {exc}", file=sys.stderr)
            if exc.hint:
                print(f"  hint: {exc.hint}", file=sys.stderr)
        return EXIT_PARTIAL if service else EXIT_FATAL
    with store:
        library = _library(args, config, store)
        status = collect(store, library, pid, path)
        status["searches"] = describe_searches(config, store)  # [[search]]: search_status.py
    _point_at_reports(status, config.watch.failed_directory)
    status["service"] = service
    if service:
        status["exit_code"] = max(int(status["exit_code"]), EXIT_PARTIAL)
    if args.json:
        json.dump(shown_data(status), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        _print(status)
    return int(status["exit_code"])


def _service() -> dict[str, Any] | None:
    """The enabled systemd user service that should be running the daemon, with why it is
    not; None when the service is not installed or not enabled."""
    from syncd.commands.service import UNIT, service_state
    from syncd.config import default_key_path

    state = service_state()
    if state is None or not state.enabled:
        return None
    problem, hint = state.problem(default_key_path())
    return {
        "unit": UNIT,
        "active": state.active or None,
        "sub_state": state.sub or None,
        "result": state.result or None,
        "exit_status": state.exit_status,
        "problem": problem,
        "hint": hint,
    }


def _print_service(service: dict[str, Any]) -> None:
    say(f"  SERVICE:     {service['problem']}")
    say(f"               hint: {service['hint']}")


def _library(args: argparse.Namespace, config: Config, store: StateStore) -> str:
    if args.sandbox:
        from syncd.commands.import_ import SANDBOX_USER

        return f"users/{SANDBOX_USER}"
    if config.zotero.library:
        return config.zotero.library
    daemon = store.daemon()
    if daemon is not None and daemon.library:
        return daemon.library
    raise StateError(
        "no Zotero library is configured, so there is no status to show",
        hint="run 'syncd setup --desktop' with Zotero running (see 'syncd doctor')"
        if config.zotero.target == "desktop"
        else "set [zotero] library_id in the config (see 'syncd doctor')",
    )


def _act(args: argparse.Namespace, store: StateStore, library: str, pid: int | None) -> int:
    bad = store.files(library, ["partial", "unreadable"])
    if args.clear:
        bad += store.files(library, ["retry"])
        n = store.clear_failed(library)
        for f in bad:
            store.put_file(library, replace(f, outcome="cleared"))
        print(
            f"Forgot {n} failed record{'' if n == 1 else 's'} and {len(bad)} "
            f"file{'' if len(bad) == 1 else 's'} with problems."
        )
        return EXIT_OK
    for f in bad:  # kept, so that status shows them until they are read
        store.put_file(library, replace(f, outcome="retry"))
    print(
        f"{len(bad)} file{'' if len(bad) == 1 else 's'} with failures will be read again"
        + (" now." if pid else " at the next start of 'syncd run' (or: syncd import FILE).")
    )
    if pid and pid > 0:
        os.kill(pid, signal.SIGHUP)  # the daemon rescans its folder
    return EXIT_OK


def _point_at_reports(status: dict[str, Any], failed_directory: Path | None) -> None:
    """Give each file with problems the ``NAME.errors.txt`` the daemon wrote for it, if there is
    one (beside the file, or in ``watch.failed_directory`` where the file was moved): it lists
    every ``file:line: reason``, where the status line can only count them."""
    from syncd.report import report_name

    for f in status["files_with_problems"]:
        path = Path(f["path"])
        places = [path.parent] + ([failed_directory] if failed_directory else [])
        found = [
            d / report_name(path.name) for d in places if (d / report_name(path.name)).is_file()
        ]
        f["errors_file"] = str(found[0]) if found else None


def collect(store: StateStore, library: str, pid: int | None, path: Path) -> dict[str, Any]:
    """Everything `syncd status` shows, as plain data (the JSON form)."""
    from syncd.engine_values import row_where
    from syncd.state import today_utc

    daemon = store.daemon()
    counts = store.status_counts(library)
    failed = store.records(library, ["failed"])
    bad_files = store.files(library, ["partial", "unreadable"])
    to_retry = store.files(library, ["retry"])
    possible = store.noted_created(library, _SHOWN)
    foreign = store.files(library, ["foreign"])
    running = pid is not None
    trouble = daemon.trouble if daemon is not None and running else None
    status: dict[str, Any] = {
        "state": str(path),
        "library": library,
        "running": running,
        "pid": pid if pid and pid > 0 else None,
        "since": daemon.started_at if daemon is not None and running else None,
        "stopped_at": daemon.stopped_at if daemon is not None and not running else None,
        "directory": daemon.directory if daemon is not None else None,
        "last_scan": daemon.last_scan if daemon is not None else None,
        "settling": daemon.settling if daemon is not None and running else 0,
        "waiting": daemon.waiting if daemon is not None and running else 0,
        "records_pending": counts.get("pending", 0),
        "today": store.history_totals(library, since=today_utc()),
        "total": store.history_totals(library),
        "records": {
            "created": counts.get("pushed", 0),
            "duplicates": counts.get("duplicate", 0),
            "failed": counts.get("failed", 0),
            "pending": counts.get("pending", 0),
        },
        "last_files": [
            {
                "path": h.path,
                "at": h.at,
                "outcome": h.outcome,
                "records": h.records,
                "new": h.new,
                "duplicates": h.duplicates,
                "completed": h.completed,
                "failed": h.failed,
                "detail": h.detail,
            }
            for h in store.history(library, _SHOWN)
        ],
        "failed": [{"where": row_where(r), "pmid": r.pmid, "reason": r.error} for r in failed],
        "possible_duplicates": {
            "count": possible[0],
            "latest": [
                {"where": row_where(r), "key": r.key, "pmid": r.pmid, "reason": r.error}
                for r in possible[1]
            ],
        },
        "skipped_other_owners": [f.path for f in foreign],
        "files_to_read_again": [f.path for f in to_retry],
        "files_with_problems": [
            {"path": f.path, "outcome": f.outcome, "detail": f.detail} for f in bad_files
        ],
        "index": {
            "version": store.library_version(library),
            "updated_at": store.library_updated(library),
            "items": store.index_size(library),
        },
        "baseline": _baseline(store, daemon.directory if daemon else None),
        "trouble": trouble,
        "trouble_since": daemon.trouble_since if trouble and daemon else None,
        "retry_at": daemon.retry_at if trouble and daemon else None,
    }
    status["exit_code"] = EXIT_PARTIAL if failed or bad_files or trouble else EXIT_OK
    return status


def _baseline(store: StateStore, directory: str | None) -> dict[str, Any] | None:
    taken = store.baseline(directory) if directory else None
    if taken is None or not taken[1]:
        return None
    return {"taken_at": taken[0], "files": taken[1]}


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _print(s: dict[str, Any]) -> None:
    if s["running"]:
        say(f"syncd run: running (pid {s['pid']}) since {s['since']}")
    elif s["stopped_at"]:
        say(f"syncd run: not running (stopped {s['stopped_at']})")
    else:
        say("syncd run: not running")
    if s.get("service"):
        _print_service(s["service"])
    say(f"  library:     {s['library']}   state: {s['state']}")
    if s["directory"]:
        say(f"  watching:    {s['directory']} (last scan {s['last_scan'] or 'never'})")
    if s["baseline"]:
        b = s["baseline"]
        say(
            f"  baseline:    {_n(b['files'], 'file')} already there at the first start "
            f"({b['taken_at']}) were left alone (syncd run --import-existing imports them)"
        )
    say(
        f"  waiting:     {_n(s['settling'], 'file')} settling, {s['waiting']} to import, "
        f"{_n(s['records_pending'], 'record')} pending"
    )
    idx = s["index"]
    if idx["version"] is not None:
        say(
            f"  index:       library version {idx['version']}, {idx['items']} items "
            f"(changed {idx['updated_at']})"
        )
    for label in ("today", "total"):
        t = s[label]
        say(
            f"  {label + ':':<12} {_n(t['files'], 'file')}, {_n(t['records'], 'record')}: "
            f"{t['new']} new{_uncertain(t)}, {_n(t['duplicates'], 'duplicate')}, "
            f"{t['merged']} merged, {t['completed']} completed, {t['failed']} failed"
        )
    if s["trouble"]:
        say(f"  TROUBLE:     {s['trouble']} (since {s['trouble_since']})")
        if s["retry_at"]:
            say(f"               next attempt at {s['retry_at']}")
    if s["last_files"]:
        say("Last files:")
        for f in s["last_files"]:
            what = (
                f.get("detail") or ""
                if f["outcome"] in ("unchanged", "unreadable")
                else f"{_n(f['records'], 'record')}: {f['new']} new, "
                f"{_n(f['duplicates'], 'duplicate')}"
                + (f" ({f['completed']} completing syncd's item)" if f["completed"] else "")
                + f", {f['failed']} failed"
            )
            say(f"  {f['at']}  {Path(f['path']).name}: {f['outcome']}  {what}")
    if s["files_to_read_again"]:
        n = len(s["files_to_read_again"])
        say(f"To be read again ({n} file{'' if n == 1 else 's'}, syncd status --retry):")
        for path in s["files_to_read_again"]:
            say(f"  {path}")
    if s["files_with_problems"]:
        say(f"Files with problems ({len(s['files_with_problems'])}):")
        for f in s["files_with_problems"]:
            say(f"  {f['path']}: {f['outcome']}: {f['detail'] or ''}")
            if f.get("errors_file"):
                say(f"      every problem with its line: {f['errors_file']}")
    if s["possible_duplicates"]["count"]:
        p = s["possible_duplicates"]
        say(
            f"Possible duplicates ({p['count']}; imported as separate articles, worth a look "
            "in Zotero):"
        )
        for r in p["latest"]:
            say(f"  {r['where']}: item {r['key']} {r['reason']}")
        if p["count"] > len(p["latest"]):
            say(f"  ... and {p['count'] - len(p['latest'])} more")
    if s["skipped_other_owners"]:
        skipped = s["skipped_other_owners"]
        say(
            f"Skipped: {_n(len(skipped), 'file')} of other users "
            "(watch.other_owners = true imports them):"
        )
        for path in skipped[:_SHOWN]:
            say(f"  {path}")
    if s["failed"]:
        say(f"Failed records ({len(s['failed'])}; fix, then 'syncd status --retry'):")
        for r in s["failed"]:
            say(f"  {r['where']}: {r['reason']}")
    if s.get("searches"):
        from syncd.search_status import list_lines

        say("Saved searches (syncd search list):")
        for line in list_lines(s["searches"]):
            say(f"  {line}")


def _uncertain(totals: dict[str, int]) -> str:
    """`` (3 uncertain)`` when some new items were found under their planned key after a lost
    answer or a crash (another syncd sharing the library may have made them)."""
    n = totals.get("uncertain", 0)
    return f" ({n} uncertain)" if n else ""
