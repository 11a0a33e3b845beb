"""Watch a folder and import every PubMed export that lands in it, each article once.

The folder is [watch] directory, else your download folder (XDG_DOWNLOAD_DIR, else
~/Downloads). On the very first start in the download folder the exports already there are
recorded as a baseline and not imported (--import-existing imports them); a folder set in the
config, or given with --directory, is imported whole. Files dropped while syncd was stopped are
imported at the next start.

A file is read once it has stopped changing for watch.settle_seconds; browser temporary names
(.crdownload, .part, ...) are never read, the rename to the final name is. A .txt that is not a
PubMed export is ignored. PubMed's PMID lists (named pmid-*.txt, as PubMed names them) and CSV
exports (*.csv with PubMed's header) are imported too, their records fetched from PubMed
through NCBI's E-utilities ([pubmed] in the config); CSV files already there when syncd began
to watch *.csv are a baseline. The same bytes under another name (citations(1).nbib) cost no
request. When Zotero cannot be reached, files wait and are retried for as long as it takes.

Saved PubMed searches ([[search]] in the config) are polled when due (every_hours, spread a
little; the schedule is kept in the state database, so a restart does not poll them all at
once), one line each in the log; --once polls the due ones before it stops ('syncd search').

Runs in the foreground; as a systemd user service see 'syncd service install'. `syncd status`
tells what it did. SIGTERM stops it (exit 0), Ctrl-C too (exit 130), SIGHUP reloads the config.

Exit status: 0 stopped cleanly (or, with --once, everything went in), 1 with --once some
records failed or wait for the server, 2 a configuration, lock or fatal error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.commands import add_config_option

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.pubmed.eutils import Eutils
    from syncd.targets.base import Target

HELP = "watch the download folder and import each new export (the daemon)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--directory",
        type=Path,
        metavar="DIR",
        help="watch this folder instead of [watch] directory (its files are imported)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="import into a local Zotero sandbox started for this run (a trial, no account)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="scan the folder, import what is there, settle what was pending, and exit",
    )
    parser.add_argument(
        "--import-existing",
        action="store_true",
        help="on the first start in the download folder, import the exports already there "
        "instead of recording them as a baseline",
    )


def make_gateway(config: Config, sleep: Callable[[float], None]) -> Target:
    """The target for ``config``, waiting with ``sleep`` (the daemon's, which a stop
    interrupts)."""
    from syncd.app import target_for

    return target_for(config, sleep=sleep, daemon=True)


def resolve(config: Config, directory: Path | None) -> tuple[Config, bool]:
    """The config with the folder to watch filled in, and whether it is the default folder."""
    from syncd.config import default_download_dir

    chosen = directory or config.watch.directory
    default = chosen is None
    folder = (chosen or default_download_dir()).expanduser()
    return replace(config, watch=replace(config.watch, directory=folder.absolute())), default


def run(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    from syncd.commands.import_ import require_library, sandbox_config, sandbox_session
    from syncd.config import load

    # A hung daemon is killed by the systemd watchdog with SIGABRT: leave every thread's stack
    # in the journal; SIGUSR1 shows them without stopping it.
    faulthandler.enable()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    config = load(args.config)
    if not args.sandbox:
        require_library(config)
        return _daemon(args, config, lambda: load(args.config))
    with sandbox_session(config) as (sandboxed, note):
        print(note, flush=True)
        url = sandboxed.zotero.api_url
        return _daemon(args, sandboxed, lambda: sandbox_config(load(args.config), url))


def _daemon(args: argparse.Namespace, config: Config, load_again: Callable[[], Config]) -> int:
    """Run the daemon on ``config``; SIGHUP takes the config from ``load_again``."""
    from syncd.daemon import Daemon
    from syncd.searches import SearchRunner

    config, default = resolve(config, args.directory)
    searches = SearchRunner(make_eutils, make_gateway)  # [[search]]: polled when due
    daemon = Daemon(
        config,
        make_gateway,
        default_dir=default,
        import_existing=args.import_existing,
        once=args.once,
        reload=lambda: resolve(load_again(), args.directory)[0],
        searches=searches,
    )
    try:
        return daemon.run()
    finally:
        searches.close()


SEARCH_NCBI_WAIT = 300.0
"""Seconds one poll of a saved search waits for an NCBI that does not answer. Then the poll
ends (its records pending, the search's status saying why) and the search is tried again on
its own growing schedule, for as long as it takes, while the daemon goes on with its files."""


def make_eutils(config: Config, sleep: Callable[[float], None]) -> Eutils:
    """The E-utilities client of the daemon's saved searches, with the daemon's interruptible
    ``sleep``."""
    from syncd.pubmed.eutils import Eutils

    return Eutils(
        config.pubmed, state_dir=config.state.path.parent, sleep=sleep, deadline=SEARCH_NCBI_WAIT
    )
