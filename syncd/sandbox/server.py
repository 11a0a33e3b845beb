"""The sandbox HTTP server: sockets, the request log, fault injection and the admin routes.

:class:`SandboxServer` is the public face (its API is agreed with the test writers, see
``docs/sandbox.md``). Requests are parsed here and answered by :class:`syncd.sandbox.api.Api`.
The admin routes live under ``/_sandbox/``, a path the real API never uses, and exist only
when ``admin=True``; they answer only requests that carry one of the sandbox's API keys in
``Zotero-API-Key`` and name a loopback ``Host`` (so that a web page cannot reach them by CSRF or
DNS rebinding).

A local server must not be a local hole: what the headers decide is decided before the body is
read (a keyless write gets the real server's 403, a body over :data:`MAX_BODY` a 413), and such
a body is never held in memory (a small one is read and dropped in chunks, a large one is not
read: the answer goes out with ``Connection: close``); at most ``max_connections``
connections (default :data:`MAX_CONNECTIONS`) are served at once, each by its own thread: when
they are all taken, the connection idle the longest is closed to make room, and when none is
idle the newcomer gets a 503.
"""

from __future__ import annotations

import contextlib
import ipaddress
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
from syncd.sandbox.contention import Latency
from syncd.sandbox.library import State
from syncd.sandbox.lockout import Lockout
from syncd.sandbox.schema import SCHEMA_VERSION
from syncd.targets.web_errors import SANDBOX_INSTANCE

logger = logging.getLogger(__name__)
access = logging.getLogger(f"{__name__}.access")

_REDACTED = "<redacted>"
MAX_BODY = 50 * 1024 * 1024
"""The largest request body the sandbox accepts (bytes); a larger one gets 413 unread."""
MAX_CONNECTIONS = 64
"""Connections served at once (one thread each), unless ``SandboxServer(max_connections=)``."""
_DISCARD_LIMIT = 1024 * 1024
"""A refused body up to this size is read and dropped (the connection goes on); larger: closed."""
_LINGER_BYTES = 8 * 1024 * 1024
_LINGER_SECONDS = 2.0
_CHUNK = 65536
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost"})
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
        # One line per request: HTTP detail, shown with -vv (see syncd.logs).
        access.debug("%s - %s", self.address_string(), format % args)

    def _serve(self) -> None:
        self.server.sandbox._dispatch(self)

    def handle_one_request(self) -> None:
        # Between requests (waiting for the next request line) a connection is idle, and may
        # be closed to make room for a new one.
        self.server.mark_idle(self.connection, True)
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.mark_idle(self.connection, False)
        return super().parse_request()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], sandbox: SandboxServer, max_connections: int
    ) -> None:
        self.sandbox = sandbox
        # connection -> monotonic time since which it is idle (None: a request is in progress)
        self._connections: dict[socket.socket, float | None] = {}
        self._connections_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._close_idlest()
            if not self._slots.acquire(timeout=0.5):
                self._turn_away(request)
                return
        with self._connections_lock:
            self._connections[request] = time.monotonic()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.shutdown_request(request)
            raise

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            served = self._connections.pop(request, ...) is not ...
        if served:
            self._slots.release()
        super().shutdown_request(request)

    def mark_idle(self, connection: socket.socket, idle: bool) -> None:
        with self._connections_lock:
            if connection in self._connections:
                self._connections[connection] = time.monotonic() if idle else None

    def _close_idlest(self) -> None:
        """Make room: end the connection that has been idle the longest (its handler sees the
        end of the stream and finishes, freeing its slot)."""
        with self._connections_lock:
            idle = [(since, id(c), c) for c, since in self._connections.items() if since]
            if not idle:
                return
            _, _, connection = min(idle)
            self._connections[connection] = None  # not chosen twice
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)

    def _turn_away(self, request: socket.socket) -> None:
        """Every connection is busy with a request: answer 503 and close."""
        body = b"Service unavailable: too many connections"
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
            f"Content-Type: text/plain; charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.settimeout(1.0)
            request.sendall(head.encode() + body)
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
        logger.debug("sandbox: connection from %s ended in an error", client_address, exc_info=True)


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
        max_connections: int = MAX_CONNECTIONS,
        max_body: int = MAX_BODY,
        lockout: Lockout = "address",
        latency: Latency | None = None,
    ) -> None:
        if max_connections < 1 or max_body < 0:
            raise ValueError("max_connections must be at least 1 and max_body at least 0")
        self.host = host
        self.port = port
        self.admin = admin
        self.max_connections = max_connections
        self.max_body = max_body
        self.state = State(Path(data_dir) if data_dir is not None else None, write_token_ttl)
        self.api = Api(self.state, version_mode, lockout=lockout, latency=latency)
        self.url, self.instance = "", f"{time.time_ns() % 16**8:08x}"  # in every answer
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
        self._httpd = _HTTPServer((self.host, self.port), self, self.max_connections)
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

    def _refusal(self, handler: _Handler) -> Response | None:
        """The answer the headers alone decide, before any of the body is read: admin routes
        that are off or not allowed, a keyless write, a body over the cap."""
        split = urlsplit(handler.path)
        method = handler.command
        if split.path.startswith("/_sandbox/"):
            if not self.admin:
                return Response(404, b"Not found", content_type="text/html; charset=UTF-8")
            problem = self._admin_problem(handler)
            if problem is not None:
                return _admin_error(403, problem)
        length = _declared_length(handler)
        has_body = bool(length) or handler.headers.get("Transfer-Encoding") is not None
        if (
            method in _WRITE_METHODS
            and has_body
            and not split.path.startswith(("/_sandbox/", "/keys/"))
            and not _carries_key(handler, split.query)
        ):
            # The real server's answer, without reading the body first.
            return ApiError(
                403, "An API key is required for write requests.", zotero_headers=False
            ).response()
        if length is not None and length > self.max_body:
            return Response(
                413,
                _too_large(self.max_body).encode(),
                zotero_headers=False,
                content_type="text/plain; charset=UTF-8",
            )
        return None

    def _admin_problem(self, handler: _Handler) -> str | None:
        """Why an admin request is refused (None: allowed). The key is one the sandbox has
        issued, in ``Zotero-API-Key``; the ``Host`` is a loopback name, so a page a browser
        loads from elsewhere (even through DNS rebinding) cannot use these routes."""
        host = _host_name(handler.headers.get("Host"))
        if host is None or not _is_loopback(host):
            return (
                "Admin routes answer only requests to a loopback Host "
                "(127.0.0.1, localhost or [::1])"
            )
        key = handler.headers.get("Zotero-API-Key")
        if not key or key not in self.state.keys:
            return "Admin routes need one of the sandbox's API keys in Zotero-API-Key"
        return None

    def _refuse(self, handler: _Handler, resp: Response) -> None:
        """Answer ``resp`` to a request whose body is unread: drop a small body in chunks (the
        connection then carries on), or answer and close without reading a large one."""
        length = _declared_length(handler)
        chunked = handler.headers.get("Transfer-Encoding") is not None
        if not chunked and not handler.headers.get_all("Content-Length"):
            length = 0  # no body at all
        keep = (
            not chunked
            and length is not None
            and length <= _DISCARD_LIMIT
            and _discard(handler.rfile, length)
        )
        split = urlsplit(handler.path)
        if not split.path.startswith("/_sandbox/"):
            self._log_request(handler, "", resp.status)  # the body was never read
        if not keep:
            handler.close_connection = True
            resp.headers.append(("Connection", "close"))
        with contextlib.suppress(OSError):
            self._send(handler, resp, head=handler.command == "HEAD")
        if not keep:
            _linger(handler)

    def _log_request(
        self, handler: _Handler, body: str, status: int | None = None
    ) -> dict[str, Any]:
        """Append the request to the log (its secrets redacted) and return the entry, for the
        caller to complete with ``objects``, ``status`` and ``finished``."""
        split = urlsplit(handler.path)
        started = time.monotonic()
        entry: dict[str, Any] = {
            "method": handler.command,
            "path": split.path,
            "query": {
                k: (_REDACTED if k == "key" else v)
                for k, v in parse_qsl(split.query, keep_blank_values=True)
            },
            "headers": {k.lower(): _redact(k.lower(), v) for k, v in handler.headers.items()},
            "body": body,
            "objects": None,
            "status": status,
            "started": started,
            "finished": started if status is not None else None,
        }
        with self._lock:
            self._log.append(entry)
        return entry

    def _dispatch(self, handler: _Handler) -> None:
        refusal = self._refusal(handler)
        if refusal is not None:
            self._refuse(handler, refusal)
            return
        try:
            body = _read_body(handler, self.max_body)
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

        entry = self._log_request(handler, body.decode("utf-8", "replace"))
        entry["started"] = started

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
        handler.send_header(SANDBOX_INSTANCE, self.instance)  # not the real server's: see there
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


def _declared_length(handler: _Handler) -> int | None:
    """The length ``Content-Length`` declares; None: chunked, absent or invalid (_read_body)."""
    if handler.headers.get("Transfer-Encoding") is not None:
        return None
    values = {v.strip() for v in handler.headers.get_all("Content-Length") or []}
    if len(values) != 1:
        return None
    value = values.pop()
    return int(value) if value.isascii() and value.isdigit() else None


def _too_large(limit: int) -> str:
    return f"Request body too large (the sandbox accepts at most {limit} bytes)"


def _carries_key(handler: _Handler, query: str) -> bool:
    """Whether the request names an API key at all (the API decides whether it is valid)."""
    if handler.headers.get("Zotero-API-Key") or handler.headers.get("Authorization"):
        return True
    return any(k == "key" for k, _ in parse_qsl(query, keep_blank_values=True))


def _host_name(value: str | None) -> str | None:
    """The host of a ``Host`` header without its port (``[::1]:80`` -> ``::1``)."""
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else None
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_loopback(host: str) -> bool:
    if host.rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _discard(rfile: Any, length: int) -> bool:
    """Read ``length`` bytes in chunks and drop them; False when the client went away."""
    remaining = length
    while remaining > 0:
        try:
            chunk = rfile.read(min(_CHUNK, remaining))
        except OSError:
            return False
        if not chunk:
            return False
        remaining -= len(chunk)
    return True


def _linger(handler: _Handler) -> None:
    """After answering a request whose body stays unread: stop sending, and drop what the
    client still sends for a short while (bounded in bytes and time), so that it can read the
    answer before the connection closes."""
    connection = handler.connection
    with contextlib.suppress(OSError):
        handler.wfile.flush()
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(0.25)
        deadline = time.monotonic() + _LINGER_SECONDS
        drained = 0
        while drained < _LINGER_BYTES and time.monotonic() < deadline:
            data = connection.recv(_CHUNK)
            if not data:
                break
            drained += len(data)


def _read_body(handler: _Handler, limit: int = MAX_BODY) -> bytes:
    """The whole request body, by ``Content-Length`` or chunked transfer coding (a chunked
    body longer than ``limit`` is refused with 413 once it gets there).

    Every request is read to its very end, even one that is about to be refused: on a
    keep-alive connection, bytes left unread would be taken for the next request line.
    """
    coding = handler.headers.get("Transfer-Encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise _Unframed(501, f"Transfer-Encoding {coding.strip()!r} is not supported")
        return _read_chunked(handler.rfile, limit)
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


def _read_chunked(rfile: Any, limit: int = MAX_BODY) -> bytes:
    chunks: list[bytes] = []
    total = 0
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
        total += size
        if total > limit:
            raise _Unframed(413, _too_large(limit))
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
