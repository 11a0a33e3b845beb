"""The Zotero desktop app (Zotero 10+) as a target: its local API on 127.0.0.1:23119.

:class:`DesktopTarget` keeps the same exactly-once protocol as the Web API gateway: keys
derived by syncd with ``"version": 0``, so that a retry after a lost answer comes back as a
per-object 412 ("already there"); ``If-Unmodified-Since-Version`` against the library's
``clientVersion``; patches guarded by the item's version. What differs, and how (facts from
``../shared/docs/zotero-desktop.md``; what each answer means is :mod:`syncd.core.desktop_answers`):

* **Which library**: the app's database, named by its ``Zotero-Server-ID``. The state database
  holds it as ``desktop/<Server-ID>``, so that another database (the user opened another
  ``zotero.sqlite``) is another library with an index of its own: a ``412 Zotero-Server-ID does
  not match`` raises :class:`~syncd.errors.LibraryChanged`, and old versions are never sent.
  Every request carries the Server-ID, reads too, so a swap is seen at the next request.
* **Keys** are derived from ``users/N`` when the app is signed in to zotero.org as user N (the
  app says so when asked for another user's data), as the Web API target derives them, so
  that Zotero's sync meets one object; else from ``users/0``.
* **No ``/deleted``** (``deleted_log=False``): the engine learns deletions from the state
  database's index alone. **No item templates**: the PMID field is looked up in
  ``/api/itemTypeFields``. **No ``/keys/current``**: a key is checked with ``POST items []``
  (400 ``No items provided`` for a good key, 401 for a bad one).
* **A create that the app merged** into an item with the key (one untouched since the upgrade
  to Zotero 10 has ``clientVersion`` 0, which matches ``version: 0``) is "already there": the
  keys are looked up just before the write, and those that exist are not sent.
* **Faults**: connection refused (Zotero closed), 403 ``Local API is not enabled``, 5xx and a
  per-object 400 that is not a validation failure (Zotero 10.0.3's ``'primaryData' not
  loaded``) are transient: retried here a few times, then a transient
  :class:`~syncd.errors.RemoteError`, the records staying pending. A 500 with an empty body on
  a write may have committed some objects: the retry's 412s are then this write's own
  (``answer_lost``). 401 (a revoked key) is fatal: "run ``syncd setup --desktop`` again".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2

from syncd.core.backoff import backoff
from syncd.core.dedup import KnownItem
from syncd.core.desktop_answers import (
    closed,
    key_library,
    library_name,
    refusal,
    signed_in_user,
    sort_report,
    too_old,
)
from syncd.core.keys import KEY_PATTERN, collection_key
from syncd.core.zotero_items import known_item
from syncd.errors import LibraryChanged, RemoteError
from syncd.targets.base import (
    Capabilities,
    KeyAccess,
    VersionConflict,
    WriteResult,
    check_creates,
    collection_path,
)
from syncd.targets.desktop_auth import DesktopKey, write_desktop_key

logger = logging.getLogger(__name__)

_READ_BATCH = 100
_PROBE_USER = 2147483647
"""A user id nobody is signed in as: the app's refusal names the one it is signed in as."""


class DesktopTarget:
    """My Library in the Zotero app at ``url``, written with ``key`` (a :class:`DesktopKey`).

    :param key_file: where ``key`` came from; rewritten with the new Server-ID when the app is
        found on another database at :meth:`connect` (the key belongs to the Zotero profile,
        the Server-ID to the database).
    :param attempts: tries per request for transient failures (the daemon passes few: its own
        schedule waits longer).
    """

    capabilities = Capabilities(deleted_log=False)
    """Keyed creates, the library guard and guarded patches as on the Web API; no log of
    deleted items (Zotero's local API has no ``/deleted``)."""

    def __init__(
        self,
        url: str,
        key: DesktopKey,
        *,
        key_file: Path | None = None,
        attempts: int = 5,
        sleep: Callable[[float], object] = time.sleep,
        timeout: float = 30.0,
        group: int | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.group = group
        """A group library the app holds (None: My Library)."""
        self._root = f"/api/groups/{group}" if group is not None else "/api/users/0"
        self._key = key
        self._key_file = key_file
        self.server_id = key.server_id
        self.library = library_name(key.server_id, group)
        self.user_id = 0
        self.key_library = key_library(0, group)
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._answer_lost = False
        self._native: bool | None = None
        self._http = httpx2.Client(timeout=timeout, trust_env=False)

    def __repr__(self) -> str:
        return f"DesktopTarget({self.library} at {self.url})"

    def close(self) -> None:
        self._http.close()

    # ---- the app, its database and its user -------------------------------------------------

    def connect(self) -> None:
        """Learn which database and which signed-in user the app has now, before the target
        is used (the factory calls this; when Zotero is not running, the key file's Server-ID
        stands until it is: one try, no waiting)."""
        sid = self._hello(tries=1)
        if sid != self.server_id:
            logger.warning(
                "the Zotero app holds another database than when syncd was set up "
                "(Server-ID %s, was %s): a new library for syncd",
                sid,
                self.server_id,
            )
            self.server_id, self.library = sid, library_name(sid, self.group)
            self._key = DesktopKey(sid, self._key.key)
            if self._key_file is not None:
                write_desktop_key(self._key_file, self._key)
        self.user_id = self._signed_in(tries=1)
        self.key_library = key_library(self.user_id, self.group)

    def _hello(self, tries: int | None = None) -> str:
        response = self._send("GET", "/api/", action="GET /api/", hello=True, tries=tries)
        sid = response.headers.get("Zotero-Server-ID")
        if not sid:
            raise too_old(self.url)
        return sid

    def _signed_in(self, tries: int | None = None) -> int:
        path = f"/api/users/{_PROBE_USER}/items"
        response = self._send(
            "GET", path, params={"limit": "1"}, action="GET users", ok=(400,), tries=tries
        )
        user = signed_in_user(response.status_code, response.text)
        return 0 if user is None else user

    def check_access(self, *, require_write: bool = True) -> KeyAccess:
        """Check that the app still holds the database and user this target was built for,
        and (``require_write``) that the key is still good (``POST items []``: 400 ``No items
        provided``)."""
        sid = self._hello()
        if sid != self.server_id:
            raise LibraryChanged(
                f"the Zotero app at {self.url} now holds another database (Server-ID {sid}, "
                f"was {self.server_id})",
                hint="nothing to do: syncd reads the new library's index from scratch",
                status=412,
                transient=True,
            )
        user = self._signed_in()
        if key_library(user, self.group) != self.key_library:
            raise LibraryChanged(
                f"the Zotero app at {self.url} is now signed in as user {user} "
                f"(was {self.user_id}): keys are derived from users/{user} from now on",
                hint="nothing to do",
                transient=True,
            )
        if self.group is not None:
            held = self._send(
                "GET", f"{self._root}/items", params={"limit": "1"}, action="GET group", ok=(404,)
            )
            if held.status_code == 404:
                raise RemoteError(
                    f"the Zotero app at {self.url} holds no group {self.group}",
                    hint="the app holds a group library only while signed in to zotero.org and "
                    "syncing it; run `syncd setup --desktop` to choose a library it holds",
                    status=404,
                )
        if require_write:
            response = self._send(
                "POST", f"{self._root}/items", body=[], action="checking the key", ok=(400,)
            )
            if "No items provided" not in response.text:
                raise RemoteError(
                    f"the Zotero app at {self.url} answered the key check with HTTP "
                    f"{response.status_code} {response.text[:100]!r}",
                    hint="check zotero.desktop_url and the Zotero version",
                )
        return KeyAccess(user, "", True, require_write, self.library)

    def groups(self) -> list[tuple[int, str]]:
        """The group libraries the app holds (id, name): a signed-in user's synced groups."""
        response = self._send("GET", "/api/users/0/groups", action="GET groups")
        return sorted(
            (int(g["id"]), str((g.get("data") or {}).get("name", ""))) for g in response.json()
        )

    def has_native_ids(self) -> bool:
        if self._native is None:
            response = self._send(
                "GET", "/api/itemTypeFields", params={"itemType": "journalArticle"}, action="fields"
            )
            names = {str(f.get("field")) for f in response.json()}
            self._native = {"PMID", "PMCID"} <= names
        return self._native

    # ---- reads ------------------------------------------------------------------------------

    def library_version(self) -> int:
        response = self._send(
            "GET", f"{self._root}/items", params={"format": "versions", "limit": "1"}, action="GET"
        )
        return _version(response)

    def item_versions(self, since: int) -> tuple[dict[str, int], int]:
        params = {"format": "versions", "includeTrashed": "1", "since": str(since)}
        response = self._send("GET", f"{self._root}/items", params=params, action="GET versions")
        return {str(k): int(v) for k, v in response.json().items()}, _version(response)

    def stream_item_versions(
        self, since: int, sink: Callable[[list[tuple[str, int]]], None]
    ) -> int:
        # The app answers with the whole list at once (its local API has no paging limit).
        versions, version = self.item_versions(since)
        pairs = list(versions.items())
        for start in range(0, len(pairs), 5000):
            sink(pairs[start : start + 5000])
        return version

    def _items(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(keys), _READ_BATCH):
            chunk = ",".join(keys[start : start + _READ_BATCH])
            params = {"itemKey": chunk, "includeTrashed": "1", "format": "json"}
            response = self._send("GET", f"{self._root}/items", params=params, action="GET items")
            out.extend(response.json())
        return out

    def known_items(self, keys: Sequence[str]) -> dict[str, KnownItem]:
        out: dict[str, KnownItem] = {}
        for obj in self._items(list(keys)):
            item = known_item(obj)
            if item is not None:
                out[item.key] = item
        return out

    def deleted_since(self, since: int) -> tuple[list[str], int]:
        raise RemoteError(
            "the Zotero app keeps no log of deleted items (its local API has no /deleted)",
            hint="syncd knows what was deleted from its state database (capability deleted_log)",
        )

    # ---- writes -----------------------------------------------------------------------------

    def create_items(
        self, items: Sequence[Mapping[str, Any]], *, if_unmodified_since: int | None = None
    ) -> WriteResult:
        check_creates(items)
        self._answer_lost = False
        keys = [str(item["key"]) for item in items]
        params = {"itemKey": ",".join(keys), "format": "versions", "includeTrashed": "1"}
        before = self._send("GET", f"{self._root}/items", params=params, action="GET versions")
        known = set(before.json())
        if if_unmodified_since is not None and _version(before) != if_unmodified_since:
            raise VersionConflict(
                f"library {self.library} changed since version {if_unmodified_since}; nothing "
                "was created",
                status=412,
            )
        result = WriteResult(library_version=_version(before))
        todo = [i for i, k in enumerate(keys) if k not in known]
        result.existing.update((i, k) for i, k in enumerate(keys) if k in known)
        faults: dict[int, str] = {}
        tries = min(self._attempts, 3)  # a broken app stays broken: the caller's schedule waits
        for attempt in range(1, tries + 1):
            if not todo:
                break
            headers = {}
            if if_unmodified_since is not None and attempt == 1:
                headers["If-Unmodified-Since-Version"] = str(if_unmodified_since)
            response = self._send(
                "POST", f"{self._root}/items", body=[dict(items[i]) for i in todo],
                headers=headers, action=f"POST {len(todo)} items", ok=(412,),
            )  # fmt: skip
            if response.status_code == 412:
                conflict = VersionConflict(
                    f"library {self.library} changed since version {if_unmodified_since}: "
                    f"{response.text[:200]}",
                    status=412,
                )
                # After a lost answer, the change that refused the retry may be our own write.
                conflict.answer_lost = self._answer_lost
                raise conflict
            report = sort_report([items[i] for i in todo], response.json(), known)
            result.library_version = _version(response)
            result.created.update((todo[j], v) for j, v in report.created.items())
            result.existing.update((todo[j], k) for j, k in report.existing.items())
            result.failed.update((todo[j], v) for j, v in report.failed.items())
            faults = {todo[j]: why for j, why in report.faults.items()}
            todo = sorted(faults)
            if todo and attempt < tries:
                logger.warning(
                    "the Zotero app failed to save %d item(s) (%s); retry %d of %d",
                    len(todo), next(iter(faults.values())), attempt, tries - 1,
                )  # fmt: skip
                self._sleep(backoff(attempt, 1.0, 15.0, 0.5))
        result.answer_lost = self._answer_lost
        if faults:
            raise RemoteError(
                f"the Zotero app at {self.url} failed to save {len(faults)} of {len(items)} "
                f"items ({next(iter(faults.values()))}): a fault of the app, not of the "
                "records, which stay pending and are sent again",
                hint="update or restart Zotero if this persists (Zotero 10.0.3 failed every "
                "create this way)",
                status=400,
                transient=True,
            )
        return result

    def update_item(self, key: str, version: int, patch: Mapping[str, Any]) -> int:
        response = self._send(
            "PATCH", f"{self._root}/items/{key}", body=dict(patch),
            headers={"If-Unmodified-Since-Version": str(version)},
            action=f"PATCH item {key}", ok=(412,),
        )  # fmt: skip
        if response.status_code == 412:
            raise VersionConflict(f"item {key} changed since version {version}", status=412)
        return _version(response)

    # ---- collections ------------------------------------------------------------------------

    def find_or_create_collection(self, spec: str) -> str:
        found = self._resolve(spec, create=True)
        assert found is not None
        return found

    def find_collection(self, spec: str) -> str | None:
        return self._resolve(spec, create=False)

    def collection_rows(self) -> list[dict[str, Any]]:
        """Every collection of the library, as the local API lists them (no key needed)."""
        response = self._send("GET", f"{self._root}/collections", action="GET collections")
        return list(response.json())

    def _resolve(self, spec: str, *, create: bool) -> str | None:
        spec = spec.strip()
        rows = [
            (str(c["key"]), str(d.get("name", "")), str(d.get("parentCollection") or ""))
            for c in self.collection_rows()
            if not (d := c["data"]).get("deleted")
        ]
        if KEY_PATTERN.match(spec) and any(k == spec for k, _, _ in rows):
            return spec
        parent = ""
        for name in collection_path(spec):
            matches = sorted(k for k, n, p in rows if n == name and p == parent)
            if matches:
                parent = matches[0]
                continue
            if not create:
                return None
            key = collection_key(self.key_library, parent, name)
            payload = [{"key": key, "version": 0, "name": name, "parentCollection": parent}]
            answer = self._send(
                "POST", f"{self._root}/collections", body=payload, action=f"POST {name!r}"
            )
            failed = (answer.json().get("failed") or {}).get("0")
            if failed and int(failed.get("code", 0)) != 412:
                raise RemoteError(
                    f"could not create collection {name!r} in the Zotero app: "
                    f"{failed.get('message', '')}",
                    hint="create the collection in Zotero and put its key in zotero.collection",
                )
            rows.append((key, name, parent))
            parent = key
        return parent

    # ---- the wire ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
        hello: bool = False,
        tries: int | None = None,
    ) -> httpx2.Response:
        """One request, retried while the failure is transient; the answer when it is a
        success (or a status in ``ok``), else the error :func:`refusal` names."""
        write = method != "GET"
        h = {"Zotero-API-Version": "3", "User-Agent": "syncd", **(headers or {})}
        if not hello:
            h["Zotero-Server-ID"] = self.server_id
        if write:
            h["Zotero-API-Key"] = self._key.key
        failure: RemoteError
        tries = tries or self._attempts
        for attempt in range(1, tries + 1):
            try:
                response = self._http.request(
                    method, self.url + path, params=params, json=body, headers=h
                )
            except httpx2.ConnectError as exc:  # nothing was sent
                failure = closed(self.url, type(exc).__name__)
            except httpx2.TransportError as exc:  # sent; the answer may be lost
                self._answer_lost = self._answer_lost or write
                failure = RemoteError(
                    f"the Zotero app at {self.url} did not answer {action} ({type(exc).__name__})",
                    hint="syncd tries again (nothing is lost: pending items are settled)",
                    transient=True,
                )
            else:
                status = response.status_code
                if status < 400 or status in ok:
                    return response
                error = refusal(status, response.text, action=action, url=self.url)
                if error is None:
                    error = RemoteError(f"{action}: HTTP {status}", status=status)
                if status >= 500 and write:
                    self._answer_lost = True  # objects may be partly committed
                if not error.transient or isinstance(error, LibraryChanged):
                    raise error
                failure = error
            if attempt < tries:
                self._sleep(backoff(attempt, 0.5, 10.0, 0.5))
        raise failure


def _version(response: httpx2.Response) -> int:
    value = response.headers.get("Last-Modified-Version", "")
    if not value.isdigit():
        raise RemoteError(
            "the Zotero app sent no Last-Modified-Version",
            hint="check that zotero.desktop_url is Zotero 10's local API",
        )
    return int(value)
