"""Run a local Zotero-compatible Web API server (no account needed) for trying syncd out and
for tests. It keeps its libraries in SQLite under --data (in memory without it) and stops
cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import secrets
import signal
import string
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from syncd.errors import UsageError

if TYPE_CHECKING:
    from syncd.sandbox.eutils import EutilsDouble

HELP = "run a local Zotero Web API sandbox server (and, with --eutils, an NCBI E-utilities one)"
DEFAULT_PORT = 23120  # next to Zotero desktop's 23119, not on it
DEFAULT_EUTILS_PORT = 23121


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument(
        "--data", type=Path, metavar="DIR", help="keep libraries in DIR (default: in memory)"
    )
    parser.add_argument("--user-id", type=int, default=1, help="user library id (default 1)")
    parser.add_argument(
        "--api-key", metavar="KEY", help="API key to create (default: a random 24-char key)"
    )
    parser.add_argument("--group-id", type=int, help="also create a group library with this id")
    parser.add_argument(
        "--lockout",
        choices=("key", "address"),
        default="key",
        help="after 5 bad keys in 5 minutes, refuse that key (default: safe when several users "
        "share this machine) or, as api.zotero.org does, every key from that address",
    )
    parser.add_argument(
        "--admin",
        action="store_true",
        help="enable the /_sandbox/ fault-injection and request-log routes (they need the "
        "API key in Zotero-API-Key, and a loopback Host)",
    )
    parser.add_argument(
        "--eutils",
        action="store_true",
        help="also serve a local double of NCBI's E-utilities (esearch, efetch of MEDLINE "
        "text, NCBI's rate limit), so that PMID lists, PubMed CSV and saved searches can be "
        f"tried without network (on --eutils-port, default {DEFAULT_EUTILS_PORT})",
    )
    parser.add_argument(
        "--eutils-port",
        type=int,
        default=DEFAULT_EUTILS_PORT,
        help=f"port of the E-utilities double (default {DEFAULT_EUTILS_PORT}; 0: any)",
    )
    parser.add_argument(
        "--eutils-records",
        type=Path,
        metavar="DIR",
        help="the PubMed records the E-utilities double serves: every .nbib file in DIR "
        "(default: none)",
    )


def run(args: argparse.Namespace) -> int:
    from syncd.config import API_KEY_SHAPE
    from syncd.sandbox import SandboxServer

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number", hint="use 0-65535")
    if args.user_id <= 0 or (args.group_id is not None and args.group_id <= 0):
        raise UsageError("--user-id and --group-id must be positive integers")
    key = args.api_key or "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(24)
    )
    if not (len(key) == 24 and key.isalnum()):
        # syncd refuses any other key later, when it reads its config: say it now.
        raise UsageError(
            f"--api-key must be {API_KEY_SHAPE}, as a Zotero API key is "
            f"(this one has {len(key)} characters)"
        )

    if not 0 <= args.eutils_port <= 65535:
        raise UsageError(f"--eutils-port {args.eutils_port} is not a port number")
    if args.eutils_records is not None and not args.eutils_records.is_dir():
        raise UsageError(f"--eutils-records {args.eutils_records}: not a folder")
    server = SandboxServer(
        data_dir=args.data, port=args.port, admin=args.admin, lockout=args.lockout
    )
    try:
        earlier = [k for k in server.state.keys if k != key]  # kept in --data from earlier starts
        server.add_user(args.user_id)
        groups: dict[int | str, tuple[bool, bool]] = {"all": (True, True)}
        if args.group_id is not None:
            server.add_group(args.group_id, f"Sandbox group {args.group_id}", owner=args.user_id)
        server.add_key(key, args.user_id, files=True, groups=groups)
        try:
            server.start()
        except OSError as err:
            raise UsageError(
                f"cannot listen on 127.0.0.1:{args.port}: {err.strerror}",
                hint="pick another --port (or --port 0 for any free one)",
            ) from err
    except BaseException:
        server.state.close()
        raise

    try:
        eutils = _start_eutils(args) if args.eutils else None
    except BaseException:
        server.stop()
        raise
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    print(f"Zotero sandbox listening at {server.url}", flush=True)
    print(f"  user id:  {args.user_id}", flush=True)
    print(f"  API key:  {key}", flush=True)
    if args.group_id is not None:
        print(f"  group id: {args.group_id}", flush=True)
    print(f"  data:     {args.data if args.data else 'in memory (lost on exit)'}", flush=True)
    if earlier:
        n = len(earlier)
        print(
            f"  ({n} key{'' if n == 1 else 's'} printed by earlier starts on this data still "
            f"work{'s' if n == 1 else ''})",
            flush=True,
        )
    print("To use it, in syncd's config.toml:", flush=True)
    print(f'  [zotero]\n  api_url = "{server.url}"\n  library_id = {args.user_id}', flush=True)
    print(f"  and export ZOTERO_API_KEY={key}", flush=True)
    print(
        f"In pyzotero: zot = zotero.Zotero({args.user_id}, 'user', '{key}'); "
        f"zot.endpoint = '{server.url}'",
        flush=True,
    )
    if eutils is not None:
        print(f"E-utilities double listening at {eutils.url}", flush=True)
        print(f"  records:  {len(eutils.corpus)}", flush=True)
        print(f'  [pubmed]\n  eutils_url = "{eutils.url}"', flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        if eutils is not None:
            eutils.stop()
    print("sandbox stopped", flush=True)
    return 0


def _start_eutils(args: argparse.Namespace) -> EutilsDouble:
    from syncd.sandbox.eutils import Corpus, EutilsDouble

    corpus = Corpus()
    if args.eutils_records is not None:
        corpus.load_dir(args.eutils_records)
    try:
        return EutilsDouble(corpus, port=args.eutils_port).start()
    except OSError as err:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{args.eutils_port}: {err.strerror}",
            hint="pick another --eutils-port (or 0 for any free one)",
        ) from err
