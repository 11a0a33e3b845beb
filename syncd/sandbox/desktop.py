"""A test double of the Zotero 10 desktop app's local API (``syncd sandbox --desktop``).

:class:`DesktopDouble` listens on 127.0.0.1 as Zotero's HTTP server does: HTTP/1.0, one
request per connection, answers with a body carry no ``Content-Length`` (the end of the body is
the close), every answer has ``X-Zotero-Version`` and ``X-Zotero-Connector-API-Version``, a
``Host`` other than ``127.0.0.1`` / ``localhost`` / ``[::1]`` gets 400 ``Invalid Host header``,
a request that looks like a browser's is dropped without an answer. The app itself (its local
API, the dialog, the switches) is :class:`~syncd.sandbox.desktop_state.DesktopState`.

The switches a test flips in process are methods here and on :attr:`DesktopDouble.state`;
for a double in another process they are ``POST /_desktop/<switch>`` routes (loopback Host
only), e.g. ``/_desktop/close?seconds=5`` (Zotero quits for 5 s: connections refused),
``/_desktop/restart`` (write tokens lost), ``/_desktop/swap`` (another database: a new
Server-ID), ``/_desktop/revoke`` ("Clear Write Authorizations"), ``/_desktop/set?answer=deny``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from syncd.sandbox.desktop_state import ANSWERS, MODES, ZOTERO_VERSION, DesktopState, Reply, text

logger = logging.getLogger(__name__)

DEFAULT_PORT = 23122
_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_MAX_BODY = 16 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def version_string(self) -> str:
        return f"Zotero/{ZOTERO_VERSION}"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        double = self.server.double
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if name not in _HOSTS:
            self._send(text(400, "Invalid Host header\n", api_headers=False))
            return
        browser = headers.get("user-agent", "").startswith("Mozilla/") or "origin" in headers
        allowed = "x-zotero-connector-api-version" in headers or "zotero-allowed-request" in headers
        if browser and not allowed:
            return  # the connection is closed without an answer
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.command in ("HEAD", "OPTIONS"):
            self._send(Reply(200, api_headers=False))  # before any endpoint logic runs
            return
        body = b""
        length = headers.get("content-length", "")
        if parts.path.startswith("/_desktop/"):  # the switches: not Zotero's, not its rules
            body = self.rfile.read(min(int(length), _MAX_BODY)) if length.isdigit() else b""
            self._send(double.admin(self.command, parts.path[len("/_desktop/") :], query, body))
            double.state.save()
            return
        if self.command in ("POST", "PUT", "PATCH"):
            if not length.isdigit():
                self._send(text(400, "Content-length not provided\n", api_headers=False))
                return
            body = self.rfile.read(min(int(length), _MAX_BODY))
        elif length.isdigit():
            body = self.rfile.read(min(int(length), _MAX_BODY))
        try:
            reply = double.state.handle(self.command, parts.path, query, headers, body)
        except Exception:  # an exception escaping an endpoint: 500, empty body
            logger.exception("desktop double: %s %s", self.command, self.path)
            reply = Reply(500, api_headers=False)
        if self.command != "GET":
            double.state.save()
        if double.state.latency and self.command == "POST" and parts.path.endswith("/items"):
            time.sleep(double.state.latency)  # committed; the answer is slow to come
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.drop_after:
            return
        state = self.server.double.state
        self.send_response(reply.status)
        self.send_header("X-Zotero-Version", ZOTERO_VERSION)
        self.send_header("X-Zotero-Connector-API-Version", "3")
        if reply.api_headers:
            for k, v in state.headers().items():
                self.send_header(k, v)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()  # no Content-Length: the close ends the body
        if reply.body:
            self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], double: DesktopDouble) -> None:
        self.double = double
        super().__init__(address, _Handler)


class DesktopDouble:
    """The Zotero app on 127.0.0.1:``port`` (0: any free port; :attr:`url` says which)."""

    def __init__(self, state: DesktopState | None = None, *, port: int = 0) -> None:
        self.state = state or DesktopState()
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reopen: threading.Timer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> DesktopDouble:
        with self._lock:
            if self._server is None:
                server = _Server(("127.0.0.1", self.port), self)
                self.port = server.server_address[1]
                self._server = server
                self._thread = threading.Thread(
                    target=server.serve_forever, name="desktop-double", daemon=True
                )
                self._thread.start()
        return self

    def _close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def stop(self) -> None:
        """Zotero quits (and, for a test, for good)."""
        if self._reopen is not None:
            self._reopen.cancel()
        self.state.cancel.set()
        self._close()

    def close_for(self, seconds: float) -> None:
        """Zotero is closed for ``seconds`` (connections refused), then starts again (a
        restart: write tokens lost, keys and the database kept)."""
        self._close()
        self.state.restart()
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = threading.Timer(seconds, self.start)
        self._reopen.daemon = True
        self._reopen.start()

    def restart(self) -> None:
        """Zotero quits and starts again at once."""
        self._close()
        self.state.restart()
        self.start()

    def __enter__(self) -> DesktopDouble:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- the switches, for a double in another process ----------------------------------------

    def admin(self, method: str, action: str, query: dict[str, str], body: bytes) -> Reply:
        s = self.state
        if action == "info" and method == "GET":
            with s.lock:
                info = {
                    "server_id": s.db.server_id,
                    "items": len(s.db.items),
                    "pmids": s.pmids(),
                    "writes": s.writes,
                    "keys": len(s.keys),
                }
            return Reply(
                200, json.dumps(info).encode(), {"Content-Type": "application/json"}, False
            )
        if method != "POST":
            return text(405, "POST a switch\n", api_headers=False)
        if action == "close":
            # Answered first, closed just after: the caller learns that it worked.
            threading.Timer(0.05, self.close_for, [float(query.get("seconds", "5"))]).start()
        elif action == "restart":
            threading.Timer(0.05, self.restart).start()
        elif action == "swap":
            s.swap_database()
        elif action == "revoke":
            s.clear_authorizations()
        elif action == "fail":
            s.fail_writes.extend(query.get("writes", "500").split(","))
        elif action == "group":  # the signed-in user joined a group, synced into the app
            try:
                s.add_group(int(query.get("id", "0")), query.get("name", "Group"))
            except ValueError as err:
                return text(400, f"{err}\n", api_headers=False)
        elif action == "seed":
            for obj in json.loads(body or b"[]"):
                s.seed(obj.pop("key"), obj)
        elif action == "set":
            problem = self._set(query)
            if problem:
                return text(400, problem + "\n", api_headers=False)
        else:
            return text(404, f"no switch {action!r}\n", api_headers=False)
        return text(200, "ok\n", api_headers=False)

    def _set(self, query: dict[str, str]) -> str | None:
        s = self.state
        with s.lock:
            if "answer" in query:
                if query["answer"] not in ANSWERS:
                    return f"answer must be one of {', '.join(ANSWERS)}"
                s.answer = query["answer"]
            if "mode" in query:
                if query["mode"] not in MODES:
                    return f"mode must be one of {', '.join(MODES)}"
                s.mode = query["mode"]
            if "enabled" in query:
                s.enabled = query["enabled"] == "1"
            if "read_only" in query:
                s.read_only = query["read_only"] == "1"
            if "user_id" in query:
                s.user_id = int(query["user_id"])
        return None
