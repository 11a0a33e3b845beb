"""Saved PubMed searches ([[search]] in the config): list them, or poll them now.

  syncd search list [--json]            each search: its query, last poll (time, hits, new,
                                        duplicates, failed), last full run, next poll, last error
  syncd search poll [NAME ...] [--dry-run] [--json]
                                        run the searches (all enabled ones, or those NAMEd,
                                        paused ones included) now, whatever their schedule

A poll asks PubMed (E-utilities esearch, [pubmed] eutils_url) for the entries of the query
from the last successful poll minus overlap_days (the first time: since, else today; every
full_every_days: the whole window again), skips the PMIDs it settled before and those the
library already holds, fetches the others (efetch, MEDLINE text) and imports them like an
export: into the search's collection, with tags.extra and its tags. `syncd run` polls each
search every every_hours by itself. A search is its name and query: changing either starts it
again. See docs/searches.md.

Exit status (poll, as 'syncd import'): 0 everything went in, 1 some records failed or were left
pending (PubMed or Zotero unreachable: the next poll takes them), 2 a query PubMed refuses or
one day with more hits than PubMed returns ("narrow the query"), a configuration or usage
error. list: 1 when the last poll of a search failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import TYPE_CHECKING

from syncd.commands import add_config_option, say
from syncd.core.text import shown_data

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.searches import PollResult
    from syncd.targets.base import Target

HELP = "list saved PubMed searches, or poll them now"

ONE_SHOT_NCBI_WAIT = 120.0
"""Seconds a one-shot poll keeps asking an NCBI that does not answer before it leaves the
records for the next run (exit 1); the daemon asks for as long as it takes."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="each search and its last poll")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    add_config_option(listing)
    poll = sub.add_parser("poll", help="run searches now, whatever their schedule")
    poll.add_argument("names", nargs="*", metavar="NAME", help="only these searches")
    poll.add_argument(
        "--dry-run", action="store_true", help="show what would be imported; write nothing"
    )
    poll.add_argument("--json", action="store_true", help="print the reports as JSON")
    add_config_option(poll)


def run(args: argparse.Namespace) -> int:
    from syncd.config import load

    config = load(args.config)
    if args.action == "list":
        return _list(args, config)
    from syncd.commands.import_ import require_library

    require_library(config)
    return _poll(args, config)


def _list(args: argparse.Namespace, config: Config) -> int:
    from syncd.search_status import describe, failed_last, list_lines
    from syncd.state import StateStore

    if not config.state.path.exists():
        described = describe(config, None)  # nothing polled yet
    else:
        with StateStore(config.state.path, readonly=True) as store:
            described = describe(config, store)
    if args.json:
        print(json.dumps(shown_data(described), ensure_ascii=False, indent=2))
    elif not described:
        say("No saved searches: add a [[search]] table to the config (see docs/searches.md).")
    else:
        for line in list_lines(described):
            say(line)
    return 1 if failed_last(described) else 0


def _poll(args: argparse.Namespace, config: Config) -> int:
    from syncd.app import target_for
    from syncd.pubmed.eutils import Eutils
    from syncd.searches import Poller, import_through_engine, importer_factory
    from syncd.state import StateStore

    with (
        StateStore(config.state.path) as store,
        contextlib.closing(
            Eutils(
                config.pubmed,
                state_dir=config.state.path.parent,
                deadline=ONE_SHOT_NCBI_WAIT,
            )
        ) as client,
        contextlib.ExitStack() as gateways,
    ):

        def gateway_for(cfg: Config) -> Target:
            return gateways.enter_context(contextlib.closing(target_for(cfg)))

        importer_for = importer_factory(
            store, gateway_for, client, dry_run=args.dry_run, deadline=ONE_SHOT_NCBI_WAIT
        )
        poller = Poller(
            config, store, client, import_through_engine, importer_for, dry_run=args.dry_run
        )
        chosen = poller.configured(args.names)
        if not args.names:
            chosen = [s for s in chosen if s.enabled]
        if not chosen:
            say("No saved searches to poll: add a [[search]] table to the config.")
            return 0
        results = [poller.poll(s) for s in chosen]
    if args.json:
        out = {"searches": {r.search.name: r.as_dict(poller.library) for r in results}}
        sys.stdout.write(json.dumps(shown_data(out), ensure_ascii=False))
        sys.stdout.write("\n")
    else:
        for r in results:
            _print(r)
    return max(r.exit_code for r in results)


def _print(result: PollResult) -> None:
    from syncd.commands.import_ import print_summary

    s = result.search
    say(f"Search {s.name!r} ({s.query}):")
    if result.error:
        say(f"  poll failed: {result.error}")
        if result.usage_error:
            say("      hint: try the query at https://pubmed.ncbi.nlm.nih.gov/ and narrow it")
        else:
            say("      the next poll (syncd search poll, or syncd run) tries again")
        return
    windows = f" in {result.windows} date windows" if result.windows > 1 else ""
    full = " (a full run from the start of its window)" if result.full else ""
    say(
        f"  {result.hits} hit{'' if result.hits == 1 else 's'}{windows}{full}, "
        f"{result.candidates} not seen by this search before"
    )
    if result.report is not None and result.candidates:
        print_summary(result.report)
