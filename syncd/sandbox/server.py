"""The sandbox HTTP server: sockets, the request log, fault injection and the admin routes.

:class:`SandboxServer` is the public face (its API is agreed with the test writers, see
``docs/sandbox.md``). Requests are parsed here and answered by :class:`syncd.sandbox.api.Api`.
The admin routes live under ``/_sandbox/``, a path the real API never uses, and exist only
when ``admin=True``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from syncd.sandbox.api import Api, ApiError, Request, Response, dumps
from syncd.sandbox.library import State
from syncd.sandbox.schema import SCHEMA_VERSION

logger = logging.getLogger(__name__)

_REDACTED = "<redacted>"
_FAULT_BODIES = {
    429: "Too many requests",
    500: "An error occurred",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


@dataclass
class Fault:
    status: int | None = None
    method: str | None = None
    path: str | None = None
    retry_after: int | None = None
    backoff: int | None = None
    delay: float = 0.0
    drop_after_apply: bool = False
    times: int = 1
    body: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Seconds a connection may stay silent (idle between requests, or stalled in the middle
    # of one) before the sandbox closes it, so that a vanished client cannot hold a handler
    # forever. Well above the 5 s after which HTTP clients drop their idle connections (and
    # the real server closes them), so a client never reuses one the sandbox is closing.
    timeout = 60
    server_version = "syncd-sandbox"
    sys_version = ""
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _serve(self) -> None:
        self.server.sandbox._dispatch(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection: the handlers waiting on them see the end of the stream
        and finish, and keep-alive clients see the connection closed instead of a server
        that no longer reads what they send."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, dropped keep-alive connections) are routine here.
        logger.debug(
            "sandbox: connection from %s ended with an error", client_address, exc_info=True
        )


class SandboxServer:
    """A local Zotero Web API v3 server with SQLite persistence and fault injection."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        admin: bool = True,
        version_mode: Literal["per-object", "per-request"] = "per-object",
        write_token_ttl: float = 12 * 3600,
    ) -> None:
        if version_mode not in ("per-object", "per-request"):
            raise ValueError(
                f"version_mode must be 'per-object' or 'per-request': {version_mode!r}"
            )
        self.host = host
        self.port = port
        self.admin = admin
        self.state = State(Path(data_dir) if data_dir is not None else None, write_token_ttl)
        self.api = Api(self.state, version_mode)
        self.url = ""
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._faults: list[Fault] = []
        self._log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._backoff: int | None = None
        # Requests being answered; stop() lets them finish before the database closes.
        self._active = 0
        self._closing = False
        self._idle = threading.Condition()

    # ---- life cycle -------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        self._httpd = _HTTPServer((self.host, self.port), self)
        port = self._httpd.server_address[1]
        self.url = f"http://{self.host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="syncd-sandbox", daemon=True
        )
        self._thread.start()
        logger.info("sandbox serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, let requests in progress finish (their writes are committed and
        answered), drop any that arrive meanwhile unanswered, close every connection (idle
        keep-alive ones too), then close the database."""
        with self._idle:
            self._closing = True
        if self._httpd is not None:
            self._httpd.shutdown()
            with self._idle:
                self._idle.wait_for(lambda: self._active == 0, timeout=30)
            self._httpd.close_connections()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.state.close()

    def serve_forever(self) -> None:
        """Block until :meth:`shutdown` (used by the CLI in its main thread)."""
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- set-up -------------------------------------------------------------------------------

    def add_user(
        self, user_id: int, username: str | None = None, *, library_version: int = 0
    ) -> None:
        """Create (or rename) a user and their library. ``library_version`` raises the version
        of a library that is behind it (the recorded server's library started at 1)."""
        self.state.add_user(int(user_id), username, library_version)

    def add_group(self, group_id: int, name: str, owner: int, members: Iterable[int] = ()) -> None:
        self.state.add_group(int(group_id), name, int(owner), members)

    def add_key(
        self,
        key: str,
        user_id: int,
        *,
        library: bool = True,
        notes: bool = True,
        write: bool = True,
        files: bool = False,
        groups: Mapping[int | str, tuple[bool, bool]] | None = None,
    ) -> None:
        self.state.add_key(
            key, int(user_id), library=library, notes=notes, write=write, files=files, groups=groups
        )

    # ---- fault injection and introspection ----------------------------------------------------

    def inject(
        self,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: int | None = None,
        backoff: int | None = None,
        delay: float = 0.0,
        drop_after_apply: bool = False,
        times: int = 1,
        body: str | None = None,
    ) -> None:
        fault = Fault(
            status,
            method,
            path,
            retry_after,
            backoff,
            float(delay),
            bool(drop_after_apply),
            int(times),
            body,
        )
        if path is not None:
            re.compile(path)
        for name in ("retry_after", "backoff"):
            value = getattr(fault, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be an integer number of seconds")
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def oob_write(self, library: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        lib = self.state.library(library.strip("/"))
        if lib is None:
            raise KeyError(f"no library {library!r}")
        return self.api.oob_write(lib, items, self.url)

    def library_version(self, library: str) -> int:
        lib = self.state.library(library.strip("/"))
        if lib is None:
            raise KeyError(f"no library {library!r}")
        return lib.version

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def set_backoff(self, seconds: int | None) -> None:
        self._backoff = seconds

    # ---- request handling ---------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, handler: _Handler) -> None:
        try:
            body = _read_body(handler)
        except _Unframed as err:
            # Where this request ends is unknown, so the connection cannot carry another one.
            handler.close_connection = True
            if err.status is not None:
                resp = Response(
                    err.status,
                    err.message.encode(),
                    [("Connection", "close")],
                    zotero_headers=False,
                    content_type="text/plain; charset=UTF-8",
                )
                self._send(handler, resp, head=handler.command == "HEAD")
            return
        # Counted as in progress only once the whole request is in: stop() waits for requests
        # being answered, not for a client that is slow to send (its connection is closed).
        with self._idle:
            if self._closing:
                # Shutting down: not applied, not answered (the client sees a lost connection).
                _drop(handler)
                return
            self._active += 1
        try:
            self._serve(handler, body)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()
            if self._closing:
                handler.close_connection = True

    def _serve(self, handler: _Handler, body: bytes) -> None:
        started = time.monotonic()
        split = urlsplit(handler.path)
        path = split.path
        query = parse_qsl(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        method = handler.command

        if path.startswith("/_sandbox/"):
            if not self.admin:
                self._send(
                    handler, Response(404, b"Not found", content_type="text/html; charset=UTF-8")
                )
                return
            self._send(handler, self._admin(method, path, body))
            return

        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": {k: (_REDACTED if k == "key" else v) for k, v in query},
            "headers": {k: _redact(k, v) for k, v in headers.items()},
            "body": body.decode("utf-8", "replace"),
            "objects": None,
            "status": None,
            "started": started,
            "finished": None,
        }
        with self._lock:
            self._log.append(entry)

        fault = self._take_fault(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            message = fault.body if fault.body is not None else _FAULT_BODIES.get(fault.status, "")
            resp = Response(
                fault.status,
                message.encode(),
                zotero_headers=False,
                content_type="text/html; charset=UTF-8",
            )
            if fault.retry_after is not None:
                resp.headers.append(("Retry-After", str(fault.retry_after)))
        else:
            host = headers.get("host") or f"{self.host}"
            base = f"http://{host}"
            # HEAD is answered like GET, without the body.
            api_method = "GET" if method == "HEAD" else method
            req = Request(api_method, path, query, headers, body, handler.client_address[0], base)
            try:
                resp = self.api.handle(req)
            except Exception:
                logger.exception("sandbox: unexpected error on %s %s", method, path)
                resp = ApiError(500, "An error occurred").response()
        if fault is not None and fault.backoff is not None:
            resp.headers.append(("Backoff", str(fault.backoff)))
        entry["objects"] = (
            resp.objects if resp.objects is not None else _count_objects(method, body)
        )
        entry["status"] = resp.status
        if fault is not None and fault.drop_after_apply and fault.status is None:
            entry["status"] = None  # the client never saw an answer
            entry["dropped"] = True
            entry["finished"] = time.monotonic()
            _drop(handler)
            return
        entry["finished"] = time.monotonic()
        self._send(handler, resp, head=method == "HEAD")

    def _send(self, handler: _Handler, resp: Response, head: bool = False) -> None:
        handler.send_response(resp.status)
        if resp.zotero_headers:
            handler.send_header("Zotero-API-Version", "3")
            handler.send_header("Zotero-Schema-Version", str(SCHEMA_VERSION))
        if self._backoff is not None and not any(k == "Backoff" for k, _ in resp.headers):
            handler.send_header("Backoff", str(self._backoff))
        for name, value in resp.headers:
            handler.send_header(name, value)
        if resp.content_type and resp.status != 304:
            handler.send_header("Content-Type", resp.content_type)
        if resp.status not in (204, 304):
            handler.send_header("Content-Length", str(len(resp.body)))
        handler.end_headers()
        if not head and resp.status not in (204, 304):
            handler.wfile.write(resp.body)
        handler.wfile.flush()

    def _admin(self, method: str, path: str, body: bytes) -> Response:
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return _admin_error(400, "body is not JSON")
        try:
            if path == "/_sandbox/faults" and method == "POST":
                if not isinstance(payload, dict):
                    return _admin_error(400, "expected a JSON object of inject() arguments")
                self.inject(**payload)
                return Response(204, zotero_headers=False)
            if path == "/_sandbox/faults" and method == "DELETE":
                self.clear_faults()
                return Response(204, zotero_headers=False)
            if path == "/_sandbox/requests" and method == "GET":
                return Response(
                    200,
                    dumps(self.requests()),
                    zotero_headers=False,
                    content_type="application/json",
                )
            if path == "/_sandbox/requests" and method == "DELETE":
                self.clear_requests()
                return Response(204, zotero_headers=False)
            if path == "/_sandbox/backoff" and method == "POST":
                seconds = payload.get("seconds") if isinstance(payload, dict) else None
                self.set_backoff(None if seconds is None else int(seconds))
                return Response(204, zotero_headers=False)
            m = re.fullmatch(r"/_sandbox/oob/((?:users|groups)/\d+)/items", path)
            if m and method == "POST":
                if not isinstance(payload, list):
                    return _admin_error(400, "expected a JSON array of items")
                return Response(
                    200,
                    dumps(self.oob_write(m.group(1), payload)),
                    zotero_headers=False,
                    content_type="application/json",
                )
            m = re.fullmatch(r"/_sandbox/libraries/((?:users|groups)/\d+)", path)
            if m and method == "GET":
                return Response(
                    200,
                    dumps({"version": self.library_version(m.group(1))}),
                    zotero_headers=False,
                    content_type="application/json",
                )
        except (TypeError, ValueError, re.error) as err:
            return _admin_error(400, str(err))
        except KeyError as err:
            return _admin_error(404, str(err))
        return _admin_error(404, f"no admin route {method} {path}")


def _admin_error(status: int, message: str) -> Response:
    return Response(
        status, message.encode(), zotero_headers=False, content_type="text/plain; charset=UTF-8"
    )


def _redact(name: str, value: str) -> str:
    if name == "zotero-api-key":
        return _REDACTED
    if name == "authorization":
        scheme, _, _ = value.partition(" ")
        return f"{scheme} {_REDACTED}" if scheme else _REDACTED
    return value


def _count_objects(method: str, body: bytes) -> int | None:
    if method not in ("POST", "PUT", "PATCH") or not body:
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, list):
        return len(value)
    return 1 if isinstance(value, dict) else None


class _Unframed(Exception):
    """A request whose body cannot be delimited; ``status`` None: the client went away."""

    def __init__(self, status: int | None, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_MAX_LINE = 65536


def _read_body(handler: _Handler) -> bytes:
    """The whole request body, by ``Content-Length`` or chunked transfer coding.

    Every request is read to its very end, even one that is about to be refused: on a
    keep-alive connection, bytes left unread would be taken for the next request line.
    """
    coding = handler.headers.get("Transfer-Encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise _Unframed(501, f"Transfer-Encoding {coding.strip()!r} is not supported")
        return _read_chunked(handler.rfile)
    lengths = {v.strip() for v in handler.headers.get_all("Content-Length") or []}
    if not lengths:
        return b""
    value = lengths.pop()
    if lengths or not value.isascii() or not value.isdigit():
        raise _Unframed(400, "Invalid Content-Length")
    length = int(value)
    body = handler.rfile.read(length) if length else b""
    if len(body) < length:
        raise _Unframed(None)
    return body


def _read_chunked(rfile: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n"):
            if not line:
                raise _Unframed(None)
            raise _Unframed(400, "Invalid chunk size line")
        size_text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise _Unframed(400, "Invalid chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise _Unframed(None if len(chunk) < size else 400, "Invalid chunk")
        chunks.append(chunk)
    while True:  # trailer fields, up to the empty line
        line = rfile.readline(_MAX_LINE + 1)
        if not line:
            raise _Unframed(None)
        if line in (b"\r\n", b"\n"):
            return b"".join(chunks)


def _drop(handler: _Handler) -> None:
    """Close the connection without answering (the write has been applied)."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)
