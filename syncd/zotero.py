"""The Zotero gateway: the one place where syncd talks to the Zotero Web API.

:class:`ZoteroGateway` wraps pyzotero 1.16 and makes it fit for an exactly-once importer:

* every transient failure (429, 5xx, dropped connections, timeouts) is retried here, honouring
  the server's ``Backoff`` and ``Retry-After`` headers (seconds or an HTTP date, each capped at
  :data:`MAX_SERVER_WAIT`), otherwise with exponential backoff and jitter, up to
  :attr:`RetryPolicy.max_attempts`; a wait the server asked for is logged as a WARNING with the
  time it ends, goes through the injectable ``sleep`` (Ctrl-C, or a daemon's stop request, ends
  it) and shows in :attr:`ZoteroGateway.backoff_until` meanwhile;
* creates carry client-chosen keys with ``"version": 0``, so a retry after a lost response comes
  back as a per-object 412 that :meth:`ZoteroGateway.create_items` reports as ``existing``, never
  as a second item;
* one request is in flight per library at a time (gateways for the same library in one process
  share a lock and the server's backoff);
* everything pyzotero or the HTTP client raises becomes a :mod:`syncd.errors` class: a
  :class:`~syncd.errors.RemoteError` with ``status`` and ``transient``; fatal ones name the
  library and the missing right, with a hint. The API key never appears in a message, and no
  message quotes a request header (the key is checked to be header-safe before anything is
  sent);
* the key is sent only to ``api_url``'s origin: a redirect to another scheme, host or port is
  refused (an error naming the target), not followed; and a 2xx answer that is not JSON (an HTML
  login page of a proxy) is an error naming the cause, never data.

Where pyzotero falls short, and what this module does about it:

* ``create_items`` raises ``json.JSONDecodeError`` on a 429 and ignores ``Retry-After`` on a
  503; it and every other pyzotero call leave 5xx and network errors to the caller. A response
  hook on the HTTP client sees every response first and turns 429 / 5xx into one retryable
  failure before pyzotero can misread it, so pyzotero's own retry loops never run.
* pyzotero waits out ``Backoff`` with ``time.sleep`` on its own clock, and gives every read
  a fixed 30 s timeout; the subclass :class:`_Client` routes the wait through the gateway's
  injectable ``sleep`` and applies the gateway's timeout instead.
* The new library version after a write is only on the last response
  (``zot.request.headers``); it is read from there.
* ``key_info()`` puts the API key in the URL path (and so in error texts); access is checked
  with ``GET /keys/current`` and the key in a header.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import httpx2
from pyzotero import errors as pz_errors
from pyzotero.zotero import Zotero

from syncd.core.backoff import backoff
from syncd.core.dedup import KnownItem
from syncd.core.keys import KEY_PATTERN, collection_key
from syncd.core.versions import VersionsParser
from syncd.core.zotero_items import known_item
from syncd.errors import ConfigError, RemoteError
from syncd.targets.base import (
    MAX_WRITE_BATCH,
    Capabilities,
    KeyAccess,
    VersionConflict,
    WriteResult,
    check_creates,
    collection_path,
)
from syncd.targets.web_errors import (
    KEYS_URL,
    SANDBOX_INSTANCE,
    access_error,
    another_sandbox,
    error_for,
)
from syncd.targets.web_report import write_result

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_API_URL = "https://api.zotero.org"
_READ_BATCH = 100
"""``itemKey=`` takes up to 100 keys per request (the desktop client's batch size)."""
_HEADER_SAFE_KEY = re.compile(r"[A-Za-z0-9]+")
_TIMEOUT = 30.0
_REDACTED = "<redacted>"
MAX_SERVER_WAIT = 3600.0
"""The longest wait (seconds) syncd makes because a server asked for it (``Retry-After`` in
seconds or as an HTTP date, ``Backoff``): a longer request is taken as this long, so that a
broken or hostile server cannot make syncd sleep for decades."""


# --------------------------------------------------------------------------------------------
# Public values


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    The n-th retry waits ``Retry-After`` when the server sent it, else a random time between
    half and all of ``min(max_delay, base_delay * 2 ** (n - 1))`` (exponential backoff with
    jitter, so that several clients that failed together do not come back together).
    """

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return backoff(retry, self.base_delay, self.max_delay, (rng or random).random())


# --------------------------------------------------------------------------------------------
# Internals: the per-library channel, the retryable failure, the pyzotero subclass


class _Retryable(Exception):
    """A failure worth retrying: 429, 5xx, or a network error (``status`` None)."""

    def __init__(self, status: int | None, detail: str, retry_after: float | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class _Channel:
    """What all gateways of one library in this process share: the request lock (one request
    in flight per library) and the time before which no request may be sent (``Backoff``,
    ``Retry-After``)."""

    def __init__(self, library: str) -> None:
        self.library = library
        self.lock = threading.RLock()
        self._not_before = 0.0
        self._until: datetime | None = None  # the same moment on the wall clock
        self._reason: str | None = None  # set when the server asked for the wait

    def defer(self, seconds: float, reason: str | None = None) -> None:
        """No request before ``seconds`` from now; ``reason``: the server asked for it (the
        wait is then logged as a WARNING when it starts)."""
        not_before = time.monotonic() + seconds
        if not_before > self._not_before:
            self._not_before = not_before
            self._until = datetime.now(UTC) + timedelta(seconds=seconds)
            self._reason = reason

    def until(self) -> datetime | None:
        """When the current wait ends (UTC), or None when requests may go now."""
        until = self._until
        if until is None or self._not_before <= time.monotonic():
            return None
        return until

    def wait(self, sleep: Callable[[float], object]) -> None:
        remaining = self._not_before - time.monotonic()
        if remaining > 0:
            if self._reason is not None and self._until is not None:
                logger.warning(
                    "%s; no requests to %s until %s (%.0f s)",
                    self._reason,
                    self.library,
                    _local_time(self._until),
                    remaining,
                )
            else:
                logger.debug("waiting %.1f s before the next request", remaining)
            # A sleep that raises (KeyboardInterrupt, a daemon's stop) leaves the wait on
            # record: until() still tells when it ends.
            sleep(remaining)
        # Cleared rather than recomputed: an injected sleep may not let the clock move.
        self._not_before = 0.0
        self._until = self._reason = None


def _local_time(when: datetime) -> str:
    """``when`` as the user reads it: local date and time, with the zone."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()


_CHANNELS: dict[tuple[str, str], _Channel] = {}
_CHANNELS_LOCK = threading.Lock()


def _channel(api_url: str, library: str) -> _Channel:
    with _CHANNELS_LOCK:
        return _CHANNELS.setdefault((api_url, library), _Channel(library))


class _Client(Zotero):
    """pyzotero's client with its backoff wait routed through the gateway.

    pyzotero records ``Backoff`` / ``Retry-After`` itself and sleeps with ``time.sleep``
    before its next request. The gateway's response hook records them instead (for every
    gateway of the library), so pyzotero's own bookkeeping is switched off here and its wait
    goes to the gateway's channel, whose ``sleep`` tests can replace.
    """

    def __init__(
        self, *args: Any, wait: Callable[[], None], read_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._syncd_wait = wait
        self._syncd_read_timeout = read_timeout

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx2.Response:
        # pyzotero passes its fixed 30 s to every read; the gateway's timeout applies instead.
        if method == "GET" and "timeout" in kwargs:
            kwargs["timeout"] = self._syncd_read_timeout
        return super()._send(method, url, **kwargs)

    def _set_backoff(self, duration: str | float) -> None:
        pass  # recorded by the gateway's response hook

    def _check_backoff(self) -> None:
        self._syncd_wait()


def _seconds(value: str | None) -> float | None:
    """A ``Backoff`` / ``Retry-After`` value in seconds (integer seconds, or an HTTP date),
    at most :data:`MAX_SERVER_WAIT`."""
    if not value:
        return None
    value = value.strip()
    seconds: float | None = None
    try:
        seconds = float(value)
    except ValueError:
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:  # "-0000": UTC, as HTTP dates are
                when = when.replace(tzinfo=UTC)
            seconds = when.timestamp() - time.time()
    if seconds is None or seconds != seconds:  # unparsable, or NaN
        return None
    if seconds > MAX_SERVER_WAIT:
        logger.debug(
            "the server asked to wait %s; waiting the most syncd waits, %.0f s",
            _short(value, 60),
            MAX_SERVER_WAIT,
        )
    return min(MAX_SERVER_WAIT, max(0.0, seconds))


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port filled in for http and https."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The gateway


class ZoteroGateway:
    """One Zotero library (``users/N`` or ``groups/N``) seen through the Web API: a
    :class:`syncd.targets.base.Target`.

    :param library_type: ``"user"`` or ``"group"``.
    :param library_id: the numeric user or group id.
    :param api_key: the API key; it is sent in a header and never shown.
    :param api_url: the API root (the sandbox's URL for trials).
    :param retry: how transient failures are retried.
    :param sleep: how to wait (tests pass a recorder so that backoff costs no time; a daemon
        passes a wait that its stop request interrupts, e.g. ``threading.Event().wait``; a
        ``sleep`` that raises ends the call with that exception, the wait still on record in
        :attr:`backoff_until`). The return value is ignored.
    :param timeout: seconds to wait for an answer; writes (up to 50 items) get twice as long.
    """

    def __init__(
        self,
        *,
        library_type: str,
        library_id: int,
        api_key: str,
        api_url: str = DEFAULT_API_URL,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], object] = time.sleep,
        timeout: float = _TIMEOUT,
    ) -> None:
        if library_type not in ("user", "group"):
            raise ConfigError(
                f"library type {library_type!r} is not 'user' or 'group'",
                hint="set zotero.library_type to user or group",
            )
        if not isinstance(library_id, int) or library_id <= 0:
            raise ConfigError(
                f"library id {library_id!r} is not a positive integer",
                hint="set zotero.library_id to the number shown at " + KEYS_URL,
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ValueError(f"timeout must be a number of seconds, got {timeout!r}")
        if not 0 < timeout < float("inf"):
            # A lost answer (dropped connection, stalled server) must end in a retry, never
            # in a wait without end: httpx2 takes None as "no timeout".
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        if not isinstance(api_key, str) or not _HEADER_SAFE_KEY.fullmatch(api_key):
            # Never quoted: a key with a line break would otherwise travel into exception
            # texts (the HTTP client quotes a header it cannot send).
            raise ConfigError(
                "the API key is not a Zotero API key: it is empty or has characters that are "
                "not letters and digits (spaces, line breaks, non-ASCII)",
                hint="a key is 24 letters and digits; copy it again from " + KEYS_URL,
            )
        self.library_type = library_type
        self.library_id = library_id
        self.library = self.key_library = f"{library_type}s/{library_id}"
        self.api_url = api_url.rstrip("/")
        self._origin = _origin(self.api_url)
        self._api_key = api_key
        self._retry = retry
        self._sleep = sleep
        self._rng = random.Random()
        self._channel = _channel(self.api_url, self.library)
        self._last_status: int | None = None
        self._last_text = ""
        self._instance: str | None = None  # the sandbox that answered last (none: not one)
        self._answer_lost = False
        self._native_ids: bool | None = None
        # The server may take a while to acknowledge 50 items (pyzotero suggests 60 s).
        self._write_timeout = 2 * timeout
        host = urlsplit(self.api_url).hostname or ""
        self._http = client = httpx2.Client(
            follow_redirects=True,
            timeout=timeout,
            # Proxies from the environment apply to the real API, never to a local sandbox.
            trust_env=host not in ("127.0.0.1", "localhost", "::1"),
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )
        self._zot = _Client(
            library_id,
            library_type,
            api_key,
            client=client,
            wait=self._wait_for_backoff,
            read_timeout=timeout,
        )
        self._zot.endpoint = self.api_url

    capabilities = Capabilities()
    """The Web API keeps every promise exactly-once needs (client keys with version 0,
    ``If-Unmodified-Since-Version``, ``/deleted``, version-guarded PATCH)."""

    @property
    def _local(self) -> bool:
        """Whether ``api_url`` is a server on this machine (a sandbox: maybe someone else's)."""
        return _origin(self.api_url)[1] in ("127.0.0.1", "localhost", "::1")

    def __repr__(self) -> str:
        return f"ZoteroGateway({self.library} at {self.api_url})"

    @property
    def backoff_until(self) -> datetime | None:
        """When the wait before this library's next request ends (a timezone-aware UTC
        datetime), or None when a request may go now.

        Set while the server's ``Backoff`` / ``Retry-After`` (at most :data:`MAX_SERVER_WAIT`)
        or a retry delay is pending, for every gateway of the library in this process; a
        long-running caller reads it (from any thread) to report "backing off until …".
        """
        return self._channel.until()

    def close(self) -> None:
        """Close the HTTP connections (the gateway is not usable afterwards)."""
        self._http.close()

    def __enter__(self) -> ZoteroGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- access and schema ------------------------------------------------------------------

    def check_access(self, *, require_write: bool = True) -> KeyAccess:
        """Check the key against the library with ``GET /keys/current``.

        Raise a fatal :class:`RemoteError` naming the library and the missing right when the
        key is invalid, belongs to another user, cannot read the library, or (with
        ``require_write``) cannot write to it.
        """

        def request() -> dict[str, Any]:
            response = self._http.get(
                f"{self.api_url}/keys/current", headers=self._zot.default_headers()
            )
            if response.status_code >= 400:
                self._raise_for(response.status_code, response.text, "checking the API key")
            return dict(response.json())

        info = self._call("GET /keys/current", request)
        user_id = int(info.get("userID", 0))
        username = str(info.get("username", ""))
        access = info.get("access") or {}
        if self.library_type == "user":
            if user_id != self.library_id:
                message = (
                    f"The API key belongs to user {user_id} ({username}), not to library "
                    f"{self.library}"
                )
                hint = (
                    f"use zotero.library_id = {user_id}, or a key of user {self.library_id} "
                    f"(see {KEYS_URL})"
                )
                if self._local:
                    message += f": {self.api_url} may be another server than the one you mean"
                    hint += another_sandbox(self._instance)
                raise RemoteError(message, hint=hint, status=403)
            rights = access.get("user") or {}
            can_read = bool(rights.get("library"))
            can_write = can_read and bool(rights.get("write"))
        else:
            groups = access.get("groups") or {}
            rights = groups.get(str(self.library_id)) or groups.get("all") or {}
            can_read = bool(rights.get("library"))
            can_write = can_read and bool(rights.get("write"))
        result = KeyAccess(user_id, username, can_read, can_write, self.library)
        if not can_read:
            raise self._access_error("read")
        if require_write and not can_write:
            raise self._access_error("write")
        return result

    def has_native_ids(self) -> bool:
        """True when the server's ``journalArticle`` has ``PMID`` and ``PMCID`` fields."""
        if self._native_ids is None:
            template = self._call(
                "GET /items/new", lambda: self._zot.item_template("journalArticle")
            )
            self._native_ids = "PMID" in template and "PMCID" in template
        return self._native_ids

    # ---- reads for the library index --------------------------------------------------------

    def library_version(self) -> int:
        """The library's current version."""
        return self._call("GET items?limit=1", lambda: int(self._zot.last_modified_version()))

    def item_versions(self, since: int) -> tuple[dict[str, int], int]:
        """Keys and versions of the items (trash included) changed after version ``since``,
        and the library version they reflect."""

        def request() -> tuple[dict[str, int], int]:
            versions = self._zot.item_versions(since=since, includeTrashed=1)
            return {str(k): int(v) for k, v in versions.items()}, self._response_version()

        return self._call("GET items?format=versions", request)

    def stream_item_versions(
        self, since: int, sink: Callable[[list[tuple[str, int]]], None], *, chunk: int = 5000
    ) -> int:
        """Like :meth:`item_versions`, for a library of any size: the answer (one request,
        ~20 bytes an item) is parsed as it arrives and handed to ``sink`` in lists of at most
        ``chunk`` (key, version) pairs, never held whole. Returns the library version. After a
        retry (a connection lost mid-answer) ``sink`` may see some keys twice."""
        url = f"{self.api_url}/{self.library}/items"
        params = {"format": "versions", "includeTrashed": "1", "since": str(since)}

        def request() -> int:
            with self._http.stream(
                "GET", url, params=params, headers=self._zot.default_headers()
            ) as response:
                if response.status_code >= 400:
                    self._raise_for(
                        response.status_code, response.text, "GET items?format=versions"
                    )
                version = response.headers.get("Last-Modified-Version")
                if version is None or not version.isdigit():
                    raise ValueError("no Last-Modified-Version")
                parser = VersionsParser()
                for data in response.iter_bytes():
                    pairs = parser.feed(data)
                    for start in range(0, len(pairs), chunk):
                        sink(pairs[start : start + chunk])
                sink(parser.close())
                return int(version)

        return self._call("GET items?format=versions", request)

    def get_items(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The full JSON objects of the items with ``keys`` (trashed ones carry
        ``data.deleted``); keys that do not exist are left out."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(keys), _READ_BATCH):
            chunk = ",".join(keys[start : start + _READ_BATCH])

            def request(chunk: str = chunk) -> list[dict[str, Any]]:
                return list(self._zot.items(itemKey=chunk, includeTrashed=1, limit=_READ_BATCH))

            out.extend(self._call("GET items?itemKey=", request))
        return out

    def known_items(self, keys: Sequence[str]) -> dict[str, KnownItem]:
        """The articles among ``keys`` (notes and attachments left out), by key."""
        found = (known_item(obj) for obj in self.get_items(keys))
        return {item.key: item for item in found if item is not None}

    def deleted_since(self, since: int) -> tuple[list[str], int]:
        """Keys of the items deleted for good after version ``since``, and the library
        version."""

        def request() -> tuple[list[str], int]:
            deleted = self._zot.deleted(since=since)
            return [str(k) for k in deleted.get("items", [])], self._response_version()

        return self._call("GET deleted", request)

    # ---- writes ----------------------------------------------------------------------------

    def create_items(
        self, items: Sequence[Mapping[str, Any]], *, if_unmodified_since: int | None = None
    ) -> WriteResult:
        """Create up to 50 items, each with its own ``key`` and ``"version": 0``.

        Transient failures are retried with the same keys, so an item whose first POST was
        applied but whose response was lost comes back as ``existing``, not as a second item.

        With ``if_unmodified_since`` (the library version the caller's index reflects) the
        server refuses the whole request when anything changed in the library since; this
        raises :class:`VersionConflict` and nothing is created, so that an article added by
        another client after the index was read is not created a second time. (A retry after
        a lost response also ends that way, as the lost write itself changed the library.)
        """
        check_creates(items)
        if not items:
            return WriteResult(library_version=self.library_version())
        payload = [dict(item) for item in items]

        def request() -> WriteResult:
            report = self._zot.create_items(
                payload, last_modified=if_unmodified_since, timeout=self._write_timeout
            )
            return write_result(payload, report, self._response_version())

        try:
            result = self._call(f"POST {len(payload)} items", request)
        except VersionConflict as exc:
            conflict = VersionConflict(
                f"library {self.library} changed since version {if_unmodified_since}; "
                "nothing was created",
                hint="refresh the library index and plan again",
                status=412,
            )
            conflict.answer_lost = self._answer_lost
            raise conflict from exc
        result.answer_lost = self._answer_lost
        logger.debug(
            "%s: %d created, %d existing, %d failed (library version %d)",
            self.library,
            len(result.created),
            len(result.existing),
            len(result.failed),
            result.library_version,
        )
        return result

    def update_item(self, key: str, version: int, patch: Mapping[str, Any]) -> int:
        """PATCH the item ``key`` with ``patch`` if it is still at ``version``; return its new
        version. Raise :class:`VersionConflict` when it changed in the meantime."""

        def request() -> int:
            self._zot.update_item({**patch, "key": key, "version": version})
            return self._response_version()

        return self._call(f"PATCH item {key}", request)

    def find_or_create_collection(self, spec: str) -> str:
        """The key of the collection ``spec``: an 8-character key, a name, or a
        ``Parent/Child`` path of names; missing collections on the path are created (with a
        key derived from the library, parent and name, so concurrent syncd processes create
        each one once)."""
        key = self._resolve_collection(spec, create=True)
        assert key is not None  # created when missing
        return key

    def find_collection(self, spec: str) -> str | None:
        """The key of the collection ``spec`` (as for :meth:`find_or_create_collection`), or
        None when it (or a collection on its path) does not exist yet. Creates nothing."""
        return self._resolve_collection(spec, create=False)

    def _resolve_collection(self, spec: str, *, create: bool) -> str | None:
        spec = spec.strip()
        if KEY_PATTERN.match(spec):
            found = self._collection_by_key(spec)
            if found is not None:
                return found
        names = collection_path(spec)
        existing = self._all_collections()
        parent = ""
        for name in names:
            matches = sorted(
                (c for c in existing if c[1] == name and c[2] == parent),
                key=lambda c: (c[3], c[0]),
            )
            if matches:
                if len(matches) > 1:
                    logger.warning(
                        "%s has %d collections named %r; using %s",
                        self.library,
                        len(matches),
                        name,
                        matches[0][0],
                    )
                parent = matches[0][0]
                continue
            if not create:
                return None
            created = self._create_collection(name, parent)
            existing.append((created, name, parent, 0))
            parent = created
        return parent

    # ---- internals -------------------------------------------------------------------------

    def _collection_by_key(self, key: str) -> str | None:
        def request() -> str | None:
            try:
                self._zot.collection(key)
            except pz_errors.ResourceNotFoundError:
                return None
            return key

        return self._call(f"GET collection {key}", request)

    def _all_collections(self) -> list[tuple[str, str, str, int]]:
        """(key, name, parent key or "", version) of every collection not in the trash."""
        out: list[tuple[str, str, str, int]] = []
        start = 0
        while True:

            def request(start: int = start) -> list[dict[str, Any]]:
                return list(self._zot.collections(limit=_READ_BATCH, start=start))

            page = self._call("GET collections", request)
            for c in page:
                data = c.get("data", {})
                if data.get("deleted"):
                    continue
                out.append(
                    (
                        str(c["key"]),
                        str(data.get("name", "")),
                        str(data.get("parentCollection") or ""),
                        int(c.get("version", 0)),
                    )
                )
            if len(page) < _READ_BATCH:
                return out
            start += _READ_BATCH

    def _create_collection(self, name: str, parent: str) -> str:
        key = collection_key(self.library, parent, name)
        payload = [{"key": key, "version": 0, "name": name, "parentCollection": parent}]
        report = self._call(
            f"POST collection {name!r}",
            lambda: self._zot.create_collections([dict(p) for p in payload]),
        )
        failed = (report.get("failed") or {}).get("0")
        if failed and int(failed.get("code", 0)) != 412:  # 412: it exists already
            raise RemoteError(
                f"Could not create collection {name!r} in library {self.library}: "
                f"{html.unescape(str(failed.get('message', '')))}",
                hint="create the collection in Zotero and put its key in zotero.collection",
                status=int(failed.get("code", 0)) or None,
            )
        logger.info("collection %r in %s: key %s", name, self.library, key)
        return key

    def _response_version(self) -> int:
        request = self._zot.request
        value = request.headers.get("Last-Modified-Version") if request is not None else None
        if value is None:
            raise RemoteError(
                f"Zotero sent no Last-Modified-Version for library {self.library}",
                hint=f"check that zotero.api_url ({self.api_url}) is a Zotero Web API v3",
            )
        return int(value)

    def _wait_for_backoff(self) -> None:
        self._channel.wait(self._sleep)

    def _on_request(self, request: httpx2.Request) -> None:
        """Every HTTP request passes here before it is sent (redirects too)."""
        target = _origin(str(request.url))
        if target != self._origin:
            # The key travels in a header, which the HTTP client keeps on a redirect to another
            # host: such a redirect is refused rather than followed.
            scheme, host, port = target
            raise RemoteError(
                f"{self.api_url} redirected a request for library {self.library} to another "
                f"address ({scheme}://{host}:{port}); syncd sends the API key only to "
                "zotero.api_url, so it did not follow",
                hint="if that address is the Zotero API you mean, set zotero.api_url to it; "
                "otherwise check zotero.api_url (a proxy or a network login page may be "
                "answering in Zotero's place)",
            )

    def _on_response(self, response: httpx2.Response) -> None:
        """Every HTTP response passes here before pyzotero sees it."""
        backoff = _seconds(response.headers.get("Backoff"))
        if backoff:
            logger.debug("Zotero asks to back off: no requests for %.0f s", backoff)
            self._channel.defer(backoff, f"Zotero asked to back off (Backoff: {backoff:.0f} s)")
        status = response.status_code
        self._last_status, self._instance = status, response.headers.get(SANDBOX_INSTANCE)
        content_type = response.headers.get("Content-Type", "")
        if 200 <= status < 300 and status != 204 and "json" not in content_type.lower():
            # Every answer syncd asks for is JSON; pyzotero would hand anything else on as
            # bytes (an HTML page read as a list of numbers).
            raise RemoteError(
                f"{self.api_url} answered a request for library {self.library} with "
                f"{_short(content_type, 60) or 'no content type'} (HTTP {status}), not the "
                "JSON the Zotero API sends",
                hint=f"check that zotero.api_url ({self.api_url}) is the Zotero Web API "
                "(https://api.zotero.org, or a sandbox's URL); a proxy or a network login page "
                "may be answering in its place",
                status=status,
            )
        if status == 429 or status >= 500:
            response.read()
            if status == 429 and "authentication failures" in response.text.lower():
                # The server locks out an address after a few bad keys (for 5 minutes):
                # retrying cannot help, and the cause is the key.
                raise RemoteError(
                    f"Zotero refuses requests for library {self.library} after too many "
                    "attempts with an invalid API key",
                    hint=f"fix zotero.api_key / api_key_file (see {KEYS_URL}), then wait five "
                    "minutes before trying again",
                    status=429,
                )
            retry_after = _seconds(response.headers.get("Retry-After"))
            if backoff:
                retry_after = max(retry_after or 0.0, backoff)
            raise _Retryable(status, self._scrub(_short(response.text)), retry_after)
        if status >= 400:
            response.read()
            # From the bytes, not ``response.text``: once ``text`` is read, pyzotero's own
            # ``response.encoding = ...`` fails, and every 4xx would look like a broken server.
            self._last_text = response.content.decode("utf-8", "replace")

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Run one pyzotero call under the library's lock, retrying transient failures."""
        attempt = 0
        # Whether an attempt may have been applied without its answer arriving: a network error
        # or a 5xx other than 503 (429 and 503 are refusals before anything is done).
        self._answer_lost = False
        while True:
            attempt += 1
            with self._channel.lock:
                self._wait_for_backoff()
                try:
                    with self._converting(action):
                        return fn()
                except _Retryable as exc:
                    failure = exc
            if failure.status not in (429, 503):
                self._answer_lost = True
            what = f"HTTP {failure.status}" if failure.status else "network error"
            if attempt >= self._retry.max_attempts:
                raise RemoteError(
                    f"Zotero kept failing for {action} in library {self.library} "
                    f"({what}: {failure.detail}; {attempt} attempts)",
                    hint="the server is busy or unreachable; run syncd again later "
                    "(nothing is lost: pending items are settled on the next run)",
                    status=failure.status,
                    transient=True,
                )
            if failure.retry_after is not None:
                delay = failure.retry_after
            else:
                delay = self._retry.delay(attempt, self._rng)
            logger.warning(
                "Zotero %s for %s in %s (%s); retry %d of %d in %.1f s (at %s)",
                what,
                action,
                self.library,
                failure.detail,
                attempt,
                self._retry.max_attempts - 1,
                delay,
                _local_time(datetime.now(UTC) + timedelta(seconds=delay)),
            )
            self._channel.defer(delay)

    @contextlib.contextmanager
    def _converting(self, action: str) -> Iterator[None]:
        """Turn pyzotero and HTTP-client exceptions into syncd errors (or :class:`_Retryable`)."""
        self._last_status, self._last_text = None, ""
        try:
            yield
        except (_Retryable, RemoteError, ConfigError):
            raise
        except httpx2.UnsupportedProtocol as exc:
            raise ConfigError(
                f"zotero.api_url {self.api_url!r} is not an http(s) URL",
                hint="use https://api.zotero.org, or the URL the sandbox prints",
            ) from self._chainable(exc)
        except httpx2.LocalProtocolError as exc:
            # The request could not be sent as HTTP (a header value it cannot carry): the
            # client's text quotes the header, so it is not shown, nor chained.
            raise RemoteError(
                f"{action} in library {self.library}: the request could not be sent "
                f"({type(exc).__name__}; a request header is not valid HTTP)",
                hint="check the API key (24 letters and digits) and zotero.api_url",
            ) from None
        except httpx2.TransportError as exc:
            raise _Retryable(
                None, self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc))
            ) from self._chainable(exc)
        except pz_errors.PreConditionFailedError as exc:
            raise VersionConflict(
                f"{action} in library {self.library}: the object changed on the server "
                f"({self._scrub(_short(self._last_text))})",
                hint="re-read it and try again",
                status=412,
            ) from self._chainable(exc)
        except pz_errors.TooManyRetriesError as exc:
            raise _Retryable(429, "rate limited without Retry-After") from self._chainable(exc)
        except pz_errors.PyZoteroError as exc:
            status = self._last_status
            if status is not None and status >= 400:
                self._raise_for(status, self._last_text, action, exc)
            raise RemoteError(
                f"{action} in library {self.library} failed: {self._scrub(_short(str(exc)))}",
                status=status,
            ) from self._chainable(exc)
        except ValueError as exc:  # includes json.JSONDecodeError on a 429 body
            if self._last_status == 429:
                raise _Retryable(429, "rate limited") from self._chainable(exc)
            raise RemoteError(
                f"{action} in library {self.library}: the server's answer is not what the "
                f"Zotero API sends ({self._scrub(_short(str(exc)))})",
                hint=f"check that zotero.api_url ({self.api_url}) is a Zotero Web API v3",
                status=self._last_status,
            ) from self._chainable(exc)

    def _raise_for(
        self, status: int, text: str, action: str, cause: BaseException | None = None
    ) -> NoReturn:
        """Raise the fatal error for an HTTP error response."""
        body = self._scrub(_short(html.unescape(text)))
        group = self.library_id if self.library_type == "group" else None
        local = another_sandbox(self._instance) if self._local else None
        error = error_for(status, body, action, library=self.library, group_id=group, local=local)
        raise error from (self._chainable(cause) if cause else None)

    def _access_error(self, right: str) -> RemoteError:
        group = self.library_id if self.library_type == "group" else None
        return access_error(self.library, group, right)

    def _key_forms(self) -> list[str]:
        """The key as it may appear in a text: as is, and escaped as ``repr`` of str and bytes
        write it."""
        key = self._api_key
        forms = {key, repr(key)[1:-1], repr(key.encode("utf-8", "replace"))[2:-1]}
        return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for form in self._key_forms():
            text = text.replace(form, _REDACTED)
        return text

    def _chainable(self, exc: BaseException) -> BaseException | None:
        """``exc`` as the cause of a syncd error, or None when its text (or its own causes')
        holds the key."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            text = f"{current!s} {current!r}"
            if any(form in text for form in self._key_forms()):
                return None
            current = current.__cause__ or current.__context__
        return exc


__all__ = [
    "DEFAULT_API_URL",
    "MAX_SERVER_WAIT",
    "MAX_WRITE_BATCH",
    "KeyAccess",
    "RetryPolicy",
    "VersionConflict",
    "WriteResult",
    "ZoteroGateway",
]
