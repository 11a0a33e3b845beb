"""Import PubMed/MEDLINE exports into the configured Zotero library, each article once.

PATH may be export files or folders (the .nbib, .txt, .medline and .csv files inside). Besides
MEDLINE exports (.nbib, PubMed format .txt), PubMed's PMID lists (Save > PMID: a PMID per
line) and CSV exports (Save > CSV) are read, whatever their name: their articles are fetched
from PubMed through NCBI's E-utilities ([pubmed] in the config), except those the library
already holds, which are not fetched at all. --pmid N imports PMIDs given here the same way.
A PMID that PubMed does not have is a failed record (FILE:LINE: PMID N is not in PubMed).

Articles the library already holds (same PMID or DOI, the trash included) are not created
again; with [dedup] on_duplicate = "merge" they get the missing tags and the collection (for
an article of a PMID list or CSV: the collection and tags.extra, not MeSH, whose record is not
fetched), and an item syncd created is completed from a later version of its record where
the user changed nothing. A summary follows: new items, duplicates (with the key each
matched), merged items, completed items, failures with reasons.

--sandbox imports into a local Zotero sandbox that this command starts and stops itself (no
account needed; data kept under $XDG_STATE_HOME/syncd/sandbox, so a second run finds only
duplicates).

Exit status: 0 everything went in, 1 some records failed or could not be read (or were left
pending because other writers kept changing the library, or because NCBI did not answer:
the next run settles them), 2 an
input that could not be used at all (a missing or unreadable file, not a MEDLINE/PubMed
export: the other files are still imported, as with 'syncd convert'), a configuration, usage
or fatal error (nothing or not everything was done).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.commands import add_config_option, say
from syncd.core.text import shown_data
from syncd.errors import ConfigError, InputError, UsageError

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.report import Report

HELP = "import exports into Zotero, each article once"

SANDBOX_USER = 1
# The local sandbox's key: not a secret (the sandbox listens on 127.0.0.1 only and holds
# nothing but demo data), fixed so that a second run finds the first run's library.
SANDBOX_KEY = "syncdSandboxDemoKey00001"
_SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only read the library and say what would be done; send and record nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="import into a local Zotero sandbox started for this run (a trial, no account)",
    )
    add_config_option(parser)


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """What to read, as ``import`` and ``convert`` take it: paths, and PMIDs with ``--pmid``."""
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="export file (MEDLINE, PMID list, PubMed CSV) or folder",
    )
    parser.add_argument(
        "--pmid",
        action="append",
        default=[],
        metavar="N",
        help="also this PubMed article, fetched from PubMed; repeatable",
    )


def checked_pmids(args: argparse.Namespace) -> list[str]:
    """The PMIDs of ``--pmid``, checked; a UsageError without any input at all."""
    from syncd.core.id_files import is_pmid

    for value in args.pmid:
        if not is_pmid(value.strip()):
            raise UsageError(
                f"--pmid {value!r} is not a PMID", hint="a PMID is 1 to 9 digits, e.g. 31452104"
            )
    if not args.paths and not args.pmid:
        raise UsageError("nothing to read", hint="give export files or folders, or --pmid N")
    return [str(int(v.strip())) for v in args.pmid]


def sandbox_dir() -> Path:
    from syncd.config import default_state_path

    return default_state_path().parent / "sandbox"


def not_configured_error(config: Config) -> ConfigError:
    from syncd.config import default_config_path

    where = str(config.source or default_config_path())
    return ConfigError(
        "no Zotero library is configured",
        hint=(
            f"set [zotero] library_type, library_id and an API key in {where} "
            "(see config.example.toml and docs/config.md), or try it out first with "
            "'syncd import --sandbox PATH'"
        ),
    )


def run(args: argparse.Namespace) -> int:
    from syncd.config import load

    args.pmid = checked_pmids(args)
    config = load(args.config)
    _refuse_link_loops(args.paths)
    if args.sandbox:
        return _with_sandbox(args, config)
    require_library(config)
    return _import(args, config, None)


def require_library(config: Config) -> None:
    """Refuse a configuration without a library or an API key, saying how to give them."""
    if config.zotero.target == "desktop":
        from syncd.targets.desktop_auth import read_desktop_key

        read_desktop_key(config.zotero.desktop_key_file)  # the app's key: set up?
        return
    if config.zotero.library_id is None:
        raise not_configured_error(config)
    if config.zotero.api_key is None:
        raise ConfigError(
            f"no API key for {config.zotero.library}",
            hint="set zotero.api_key_file in the config, or $ZOTERO_API_KEY, or the systemd "
            "credential zotero-api-key (create a key at https://www.zotero.org/settings/keys)",
        )


def _refuse_link_loops(paths: list[str]) -> None:
    """A path that is a loop of symbolic links is not "missing": say what it is."""
    for path in paths:
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(
                    f"{path}: a loop of symbolic links ({exc.strerror})",
                    hint="check where the links point ('ls -l'), and give the file itself",
                    source=str(path),
                ) from None


@contextmanager
def sandbox_session(config: Config) -> Iterator[tuple[Config, str]]:
    """Start the local sandbox (data under :func:`sandbox_dir`) for one command; yield the
    config pointed at it (its library, key and state database) and a note for the user."""
    from syncd.sandbox import SandboxServer

    data = sandbox_dir()
    data.mkdir(parents=True, exist_ok=True)
    server = SandboxServer(data_dir=data, port=0, admin=False, lockout="key")
    with server:
        server.add_user(SANDBOX_USER)
        server.add_key(SANDBOX_KEY, SANDBOX_USER)
        yield (
            sandbox_config(config, server.url),
            (
                f"Sandbox: a local Zotero API at {server.url} (library users/{SANDBOX_USER}), "
                f"data in {data}."
            ),
        )


def sandbox_config(config: Config, url: str) -> Config:
    """``config`` pointed at the local sandbox at ``url``."""
    from syncd.config import Secret, StateConfig

    return replace(
        config,
        zotero=replace(
            config.zotero,
            library_type="user",
            library_id=SANDBOX_USER,
            api_key=Secret(SANDBOX_KEY),
            api_key_source="the sandbox",
            api_url=url,
        ),
        state=StateConfig(path=sandbox_dir() / "state.db"),
    )


def _with_sandbox(args: argparse.Namespace, config: Config) -> int:
    earlier = (sandbox_dir() / "state.db").exists()
    with sandbox_session(config) as (config, note):
        if earlier:
            # A second run: its articles are found again, so say why, not what to try.
            note += (
                " It keeps what earlier runs imported: articles already there are found as "
                f"duplicates (remove {sandbox_dir()} to start afresh)."
            )
        else:
            note += " Run the same command again: every article is then found as a duplicate."
        if not args.json:
            print(note)
        return _import(args, config, note)


def _import(args: argparse.Namespace, config: Config, note: str | None) -> int:
    from syncd.app import target_for
    from syncd.engine import import_paths
    from syncd.progress import progress_for
    from syncd.state import StateStore

    progress, bar = progress_for(sys.stderr)
    with (
        StateStore(config.state.path) as store,
        contextlib.closing(target_for(config)) as gateway,
    ):
        try:
            report = import_paths(
                args.paths,
                config,
                store,
                gateway,
                dry_run=args.dry_run,
                progress=progress,
                pmids=args.pmid,
            )
        finally:
            if bar is not None:
                bar.close()
    if args.json:
        out: dict[str, Any] = report.as_dict()
        if note:
            out["sandbox"] = note
        # One write, compact: json.dump would write the report in some 200,000 pieces for
        # 10,000 records, and indenting takes the pure-Python encoder (a second of CPU).
        sys.stdout.write(json.dumps(shown_data(out), ensure_ascii=False))
        sys.stdout.write("\n")
    else:
        print_summary(report)
    return report.exit_code


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _some(lines: list[str]) -> None:
    """The first lines of a list, and how many more the JSON report has."""
    for line in lines[:_SHOWN]:
        say(f"      {line}")
    if len(lines) > _SHOWN:
        say(f"      ... and {len(lines) - _SHOWN} more (--json lists them all)")


def print_summary(report: Report) -> None:
    c = report.counts()
    verb = "Would import" if report.dry_run else "Imported"
    # The collection by the name the user configured, in a dry run and a real import alike.
    name = report.collection_name
    where = report.library + (f", collection {name!r}" if name else "")
    given = sum(1 for f in report.files if f.path.startswith("--pmid "))
    files = [_plural(c["files"] - given, "file")] if c["files"] > given or not given else []
    inputs = ", ".join([*files, *([_plural(given, "PMID")] if given else [])])
    say(f"{verb} into {where}: {inputs}, {_plural(c['records'], 'record')}")
    unchanged = [f for f in report.files if f.outcome == "unchanged"]
    for f in unchanged:
        say(f"  {f.path}: {f.detail}, skipped")
    for f in report.unusable_files:
        # One line naming the file once, and the hint on getting a usable one.
        say(f"  {f.path}: {f.detail}, not imported")
        if f.hint:
            say(f"      hint: {f.hint}")
    if report.dry_run:
        say(f"  {_plural(c['new'], 'item')} would be created")
    else:
        say(f"  {_plural(c['new'], 'new item')}")
    if c["uncertain"]:
        say(
            f"      of which {c['uncertain']} found under their planned keys after the answer "
            "to their write was lost: created by this run or, at the same moment, by another "
            "syncd writing to this library"
        )
    if report.possible_duplicates:
        say(
            f"      of which {_plural(c['possible_duplicates'], 'possible duplicate')}: "
            "sharing a DOI with another article whose title differs, imported as separate "
            "articles (worth a look in Zotero)"
        )
        _some([f"{e.where}: {e.reason}" for e in report.possible_duplicates])
    say(
        f"  {_plural(c['duplicates'], 'duplicate')} (already in the library, or repeated in "
        "the input)"
    )
    _some([f"{e.where}: {e.reason}" for e in report.duplicates])
    merged = "would be merged" if report.dry_run else "merged"
    say(f"  {_plural(c['merged'], 'item')} {merged} (missing tags or the collection added)")
    say(
        f"  {_plural(c['completed'], 'item')} {'would be ' * report.dry_run}completed (syncd's "
        "item, from a later version of its record)"
    )
    _some([f"{e.where}: {e.key}: {e.reason}" for e in report.completed])
    say(f"  {c['failed']} failed")
    for e in report.failed:
        say(f"      {e.where}: {e.reason}")
    if report.pending:
        say(
            f"  {_plural(c['pending'], 'record')} not sent, left pending: they will be "
            "settled by the next run"
        )
        _some([e.where for e in report.pending])
    if report.recovered:
        say(
            f"  {_plural(len(report.recovered), 'record')} of earlier runs (left pending by an "
            "interrupted run) "
            + ("to be settled" if report.dry_run else "now settled")
            + ", not counted above:"
        )
        _some([f"{e.where}: {e.outcome or 'pending'}: {e.reason}" for e in report.recovered])
    errors = report.errors
    warnings = [p for p in report.problems if p.severity != "error"]
    if errors:
        say(f"  {_plural(len(errors), 'record')} could not be read:")
        for p in errors:
            say(f"      {p}")
    if warnings:
        say(f"  {_plural(len(warnings), 'warning')}:")
        _some([str(p) for p in warnings])
    if report.gave_up:
        say(
            f"Stopped sending: {report.gave_up} (zotero.conflict_timeout_seconds). Nothing "
            "failed: the records not sent are recorded as pending and the next run (syncd "
            "import again, or syncd run) settles them."
        )
    if report.dry_run:
        say("Dry run: nothing was sent to Zotero or recorded.")
