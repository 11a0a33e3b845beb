"""The ``syncd`` command line: argument parsing and the one error boundary.

Each sub-command lives in ``syncd/commands/<name>.py`` (found there by name; a module named
``import_.py`` serves ``syncd import``: a trailing underscore is dropped) and provides ``HELP``
(one line), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules keep heavy
imports (pyzotero, watchdog, the sandbox server) inside ``run`` so that ``syncd --help`` stays
fast.

:func:`main` is the only place where errors become exit codes (see :mod:`syncd.errors`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from syncd import __version__
from syncd.core.text import shown
from syncd.errors import EXIT_FATAL, EXIT_INTERRUPTED, SyncdError, UsageError

# Commands are found by module name in syncd/commands/; this is their order in `syncd --help`
# (a command not listed here comes after these, alphabetically).
_ORDER: tuple[str, ...] = (
    "setup",
    "import",
    "run",
    "status",
    "search",
    "service",
    "convert",
    "doctor",
    "demo",
    "sandbox",
)

logger = logging.getLogger("syncd")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors raise :class:`UsageError` instead of exiting, so that they
    go through the same boundary (and exit code 2) as every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"see '{self.prog} --help'")


def _command_names() -> list[str]:
    import syncd.commands

    found = [m.name for m in pkgutil.iter_modules(syncd.commands.__path__) if not m.ispkg]
    found = [name.rstrip("_") for name in found if not name.startswith("_")]
    return sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))


def _load(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"syncd.commands.{name}")
    except ModuleNotFoundError:
        # `import` is a keyword, so its module is `import_`.
        return importlib.import_module(f"syncd.commands.{name}_")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="syncd",
        description=(
            "Import PubMed/MEDLINE exports (.nbib, .txt), PubMed's PMID lists and CSV exports "
            "(their records fetched from PubMed) into a Zotero library exactly once: articles "
            "the library already holds (same PMID or DOI) are not created again."
        ),
        epilog=(
            "Exit codes: 0 all done, 1 some records failed or could not be read, 2 unusable "
            "input (a file that is not an export, missing or unreadable), usage, config or "
            "fatal error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more detail (-vv: also every HTTP request)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _command_names():
        module = _load(name)
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run syncd with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    from syncd.logs import setup_logging

    verbose = 0
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        verbose = -1 if args.quiet else args.verbose
        setup_logging(verbose)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_FATAL
        return int(args._run(args))
    except SyncdError as exc:
        first, *more = exc.lines()
        print(f"syncd: error: {shown(first)}", file=sys.stderr)
        for line in more:  # one problem a line (a name in one cannot forge another)
            print(shown(line), file=sys.stderr)
        if exc.hint:
            print(f"  hint: {shown(exc.hint)}", file=sys.stderr)
        if verbose > 0:
            logger.exception("details")
        return exc.exit_code
    except KeyboardInterrupt:
        print("syncd: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `syncd convert ... | head`: the reader went away, which is not our error.
        sys.stderr.close()
        return 0
    except Exception as exc:  # the last line of defence: a bug, said plainly
        print(f"syncd: internal error: {type(exc).__name__}: {shown(str(exc))}", file=sys.stderr)
        if verbose > 0:
            logger.exception("details")
        else:
            print("  hint: run again with -v for the details, and report it", file=sys.stderr)
        return EXIT_FATAL
