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
DEFAULT_DESKTOP_PORT = 23122


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
        "--latency",
        choices=("none", "real"),
        default="none",
        help="none (default): each write is applied at once, in one transaction; real: as "
        "api.zotero.org, each object of a write committed on its own, 0.6-2 s per 50 items "
        "(to see how several writers on one library get along)",
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
    desktop = parser.add_argument_group("the Zotero desktop app (Zotero 10's local API)")
    desktop.add_argument(
        "--desktop",
        action="store_true",
        help="serve a double of the Zotero 10 desktop app's local API instead of the Web API "
        f'(on --desktop-port, default {DEFAULT_DESKTOP_PORT}), for target = "desktop"',
    )
    desktop.add_argument(
        "--desktop-port",
        type=int,
        default=DEFAULT_DESKTOP_PORT,
        help=f"port of the desktop double (default {DEFAULT_DESKTOP_PORT}; 0: any)",
    )
    desktop.add_argument(
        "--answer",
        choices=("always", "allow", "deny", "never"),
        default="always",
        help="how the authorisation dialog is answered: Always Allow (default), Allow (a key "
        "used up by its first write), Deny, or never (the dialog stays open)",
    )
    desktop.add_argument(
        "--signed-in-as",
        type=int,
        default=0,
        metavar="USER_ID",
        help="the zotero.org user the app is signed in to (default 0: not signed in)",
    )
    desktop.add_argument(
        "--zotero-version",
        choices=("10.0.0", "10.0.3", "9.0.6"),
        default="10.0.0",
        help="10.0.0 (default); 10.0.3: every create fails with 'primaryData' not loaded; "
        "9.0.6: older than 10 (a read-only local API)",
    )


def run(args: argparse.Namespace) -> int:
    if args.desktop:
        return _run_desktop(args)
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
    from syncd.sandbox.contention import REAL

    latency = REAL if args.latency == "real" else None
    server = SandboxServer(
        data_dir=args.data, port=args.port, admin=args.admin, lockout=args.lockout, latency=latency
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
    print(f"  instance: {server.instance} (named in syncd's messages when it answers)", flush=True)
    print(f"  data:     {args.data if args.data else 'in memory (lost on exit)'}", flush=True)
    if latency is not None:
        print("  latency:  as the real server (each object of a write on its own)", flush=True)
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


def _run_desktop(args: argparse.Namespace) -> int:
    from syncd.sandbox.desktop import DesktopDouble
    from syncd.sandbox.desktop_state import DesktopState

    if not 0 <= args.desktop_port <= 65535:
        raise UsageError(f"--desktop-port {args.desktop_port} is not a port number")
    data = None
    if args.data is not None:
        args.data.mkdir(parents=True, exist_ok=True)
        data = args.data / "zotero-desktop.json"
    state = DesktopState(
        answer=args.answer, user_id=args.signed_in_as, mode=args.zotero_version, data=data
    )
    if args.group_id is not None:
        if not args.signed_in_as or args.group_id <= 0:
            raise UsageError(
                "--group-id with --desktop needs --signed-in-as N",
                hint="the app holds group libraries only for a signed-in user who syncs",
            )
        state.add_group(args.group_id, f"Sandbox group {args.group_id}")
    double = DesktopDouble(state, port=args.desktop_port)
    try:
        double.start()
    except OSError as err:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{args.desktop_port}: {err.strerror}",
            hint="pick another --desktop-port (or 0 for any free one)",
        ) from err
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    print(f"Zotero desktop double (Zotero {args.zotero_version}) listening at {double.url}")
    print(f"  Server-ID:  {state.db.server_id}")
    print(f"  dialog:     answered {args.answer!r}")
    who = f"user {args.signed_in_as}" if args.signed_in_as else "not signed in"
    print(f"  signed in:  {who}")
    if args.group_id is not None:
        print(f"  group id:   {args.group_id}")
    print(f"  data:       {data if data else 'in memory (lost on exit)'}")
    print("To use it, in syncd's config.toml:")
    print(f'  [zotero]\n  target = "desktop"\n  desktop_url = "{double.url}"')
    print(f"  and authorise once: syncd setup --desktop --desktop-url {double.url}")
    print(f"Switches: POST {double.url}/_desktop/close?seconds=N | restart | swap | revoke")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        double.stop()
    print("desktop double stopped", flush=True)
    return 0
