"""What the Zotero desktop double holds and how its local API answers (Zotero 10.0.0).

:class:`DesktopState` is the app behind ``syncd sandbox --desktop``: databases by Server-ID
(each with its items, collections and ``clientVersion`` counter), the local API keys, the
write-token map, the authorisation dialog (answered by a switch) and the fault switches. Every
rule and every text comes from ``../shared/docs/zotero-desktop.md`` (Zotero's
``server_localAPI.js`` / ``server.js`` at 10.0.0); where this module and that document
disagree, the document is right. The HTTP side (HTTP/1.0, close-delimited answers, the Host
check) is :mod:`syncd.sandbox.desktop`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from syncd.core.keys import ALPHABET, KEY_PATTERN
from syncd.sandbox.schema import fields_of

SCHEMA_VERSION = 44
MAX_WRITE_OBJECTS = 50
ZOTERO_VERSION = "10.0.0"
PROMPTS_PER_MINUTE = 5
ANSWERS = ("always", "allow", "deny", "never")
"""How the authorisation dialog is answered: Always Allow, Allow (once), Deny, never."""
MODES = ("10.0.0", "10.0.3", "9.0.6")
"""10.0.0: as the document; 10.0.3: every create fails per object with ``'primaryData' not
loaded`` (zoteus#88); 9.0.6: older than 10 (no Server-ID, no writes)."""


@dataclass
class Reply:
    """One answer: status, headers, body (bytes; empty for none)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    api_headers: bool = True
    """Whether the local API headers (``Zotero-API-Version``, ``Zotero-Server-ID``...) go
    with it: 401s and server-level errors carry none."""
    drop_after: bool = False
    """Send nothing: close the connection (an answer lost after the write was done)."""


def text(status: int, message: str, **kw: Any) -> Reply:
    return Reply(status, message.encode(), {"Content-Type": "text/plain"}, **kw)


def as_json(status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def _server_id() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


@dataclass
class Library:
    """A group library the app holds (a signed-in user's, synced from zotero.org)."""

    name: str = ""
    version: int = 0
    """The library's ``clientVersion`` counter (one per library)."""
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    """key -> {"version": clientVersion, "data": item data without key/version}."""
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Database:
    """One ``zotero.sqlite``: what a Server-ID names. Its own fields are My Library."""

    server_id: str
    version: int = 0
    """My Library's ``clientVersion`` counter."""
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    """key -> {"version": clientVersion, "data": item data without key/version}."""
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, Library] = field(default_factory=dict)
    """zotero.org group id -> its library (only a signed-in user who syncs has any)."""

    @classmethod
    def load(cls, saved: dict[str, Any]) -> Database:
        groups = {k: Library(**g) for k, g in saved.pop("groups", {}).items()}
        return cls(**saved, groups=groups)


class DesktopState:
    """The app: switches tests and ``syncd sandbox --desktop`` flip, and the local API."""

    def __init__(
        self,
        *,
        answer: str = "always",
        user_id: int = 0,
        mode: str = "10.0.0",
        data: Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.data = data
        """A JSON file that keeps the databases and the keys across restarts of the double
        (as the app keeps ``zotero.sqlite`` and ``localAPIKeys.json``); None: in memory."""
        db = Database(_server_id())
        self.databases = {db.server_id: db}
        self.db = db
        self.lib: Database | Library = db  # the library the request being answered is for
        self.group: int | None = None  # its group id (None: My Library)
        self.enabled = True
        """Settings → Advanced → "Allow other applications on this computer to communicate
        with Zotero"."""
        self.answer = answer
        self.user_id = user_id
        """0: not signed in; N: signed in to zotero.org as user N."""
        self.mode = mode
        self.read_only = False
        self.keys: dict[str, bool] = {}
        """key -> remember (Always Allow); the profile's ``localAPIKeys.json``."""
        self.tokens: dict[str, float] = {}
        self.prompts: list[float] = []
        self.fail_writes: list[str] = []
        """Faults for the next writes, one each: ``500`` (before committing, empty body),
        ``500-after`` (committed, then 500 empty), ``drop`` (committed, no answer)."""
        self.writes = 0
        """Write requests that reached the library (after the key and body checks)."""
        if data is not None and data.exists():
            saved = json.loads(data.read_text(encoding="utf-8"))
            self.databases = {d["server_id"]: Database.load(d) for d in saved["databases"]}
            self.db = self.databases[saved["current"]]
            self.keys = dict(saved["keys"])
        self.latency = 0.0
        """Seconds a write's answer waits after its objects were committed (a slow app)."""
        self.cancel = threading.Event()

    # ---- switches ---------------------------------------------------------------------------

    def save(self) -> None:
        """Write the databases and the keys to :attr:`data` (in one step), if it is set."""
        if self.data is None:
            return
        with self.lock:
            saved = {
                "current": self.db.server_id,
                "databases": [asdict(d) for d in self.databases.values()],
                "keys": self.keys,
            }
            tmp = self.data.with_name(self.data.name + ".tmp")
            tmp.write_text(json.dumps(saved), encoding="utf-8")
            os.replace(tmp, self.data)

    def swap_database(self) -> str:
        """The user opens another ``zotero.sqlite``: a new Server-ID and an empty library."""
        with self.lock:
            db = Database(_server_id())
            self.databases[db.server_id] = db
            self.db = db
            return db.server_id

    def restart(self) -> None:
        """Zotero quits and starts again: write tokens are lost; keys and the database kept."""
        with self.lock:
            self.tokens.clear()
            self.prompts.clear()

    def clear_authorizations(self) -> None:
        """Settings → Advanced → "Clear Write Authorizations"."""
        with self.lock:
            self.keys.clear()

    def add_group(self, group_id: int, name: str) -> None:
        """A group the signed-in user belongs to, synced into the app's database."""
        with self.lock:
            if not self.user_id:
                raise ValueError("group libraries exist in the app only for a signed-in user")
            self.db.groups.setdefault(str(group_id), Library(name=name))

    def group_pmids(self, group_id: int) -> list[str]:
        """The PMIDs of group ``group_id``'s items (see :meth:`pmids`)."""
        with self.lock:
            held, self.db.items = self.db.items, self.db.groups[str(group_id)].items
            try:
                return self.pmids()
            finally:
                self.db.items = held

    def seed(self, key: str, data: dict[str, Any], version: int | None = None) -> None:
        """An item already in the database (``version`` None: 0, untouched since the upgrade
        to 10, as migration 129 left it)."""
        with self.lock:
            if version is None:
                version = 0
            else:
                self.db.version += 1
                version = self.db.version
            self.db.items[key] = {"version": version, "data": dict(data)}

    def other_client_creates(self, data: dict[str, Any]) -> str:
        """Someone (the user, the browser connector) adds an item under a random key."""
        with self.lock:
            key = "".join(secrets.choice(ALPHABET) for _ in range(8))
            self.db.version += 1
            self.db.items[key] = {"version": self.db.version, "data": dict(data)}
            return key

    def user_trashes(self, key: str) -> None:
        with self.lock:
            self.db.version += 1
            item = self.db.items[key]
            item["data"]["deleted"] = 1
            item["version"] = self.db.version

    def user_deletes(self, key: str) -> None:
        """Emptied from the trash: erased, and no log of it kept (there is no /deleted)."""
        with self.lock:
            del self.db.items[key]
            self.db.version += 1

    def pmids(self) -> list[str]:
        """The PMID of every item of the current database that has one (once per item)."""
        out = []
        for item in self.db.items.values():
            data = item["data"]
            if data.get("PMID"):
                out.append(str(data["PMID"]))
            elif m := re.search(r"^PMID:\s*(\d+)", str(data.get("extra", "")), re.M):
                out.append(m.group(1))
        return out

    # ---- the local API ----------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        h = {"Zotero-API-Version": "3", "Zotero-Schema-Version": str(SCHEMA_VERSION)}
        if self.mode != "9.0.6":
            h["Zotero-Server-ID"] = self.db.server_id
        return h

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        """Answer one request that passed the server-level gates (Host, browser check)."""
        if not path.startswith("/api/"):
            return text(404, "No endpoint found\n", api_headers=False)
        route = path[len("/api/") :].rstrip("/")
        if route == "" and method != "GET":
            return text(400, "Endpoint does not support method\n", api_headers=False)
        if self.mode == "9.0.6" and method != "GET":
            return text(400, "Endpoint does not support method\n", api_headers=False)
        if route in ("items/new", "keys/current") or route.startswith("keys/"):
            return text(404, "No endpoint found\n", api_headers=False)
        if not self.enabled:
            return text(403, "Local API is not enabled")
        write = method in ("POST", "PUT", "PATCH", "DELETE")
        sid = headers.get("zotero-server-id")
        if self.mode != "9.0.6":
            if write and sid is None:
                return text(428, "Zotero-Server-ID not provided")
            if sid is not None and sid != self.db.server_id:
                return text(412, "Zotero-Server-ID does not match this server")
        v = headers.get("zotero-api-version") or query.get("v")
        if route and v is not None and v != "3":
            return text(501, f"API version not implemented: {v}")
        if route == "":
            return text(200, "Nothing to see here.")
        if route == "local/authorize":
            return self._authorize(method, headers, body)
        if route == "itemTypeFields":
            fields = fields_of(query.get("itemType", "journalArticle"))
            return as_json(200, [{"field": f, "localized": f} for f in fields])
        m = re.fullmatch(r"(users|groups)/(\d+)(/.*)?", route)
        if not m:
            return text(404, "No endpoint found\n", api_headers=False)
        kind, ident, rest = m.group(1), int(m.group(2)), m.group(3) or ""
        if kind == "groups":
            if str(ident) not in self.db.groups:
                return text(404, "Not found")
            if write:
                refused = self._authenticate(headers, query)
                if refused is not None:
                    return refused
            return self._library(method, rest, query, headers, body, group=ident)
        if ident not in (0, self.user_id):
            also = f" or {self.user_id}" if self.user_id else ""
            return text(
                400,
                f"Only data for the logged-in user is available locally -- use userID 0{also}",
            )
        if write:
            refused = self._authenticate(headers, query)
            if refused is not None:
                return refused
        return self._library(method, rest, query, headers, body)

    def _authorize(self, method: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST":
            return text(400, "Endpoint does not support method\n", api_headers=False)
        if not headers.get("content-type", "").startswith("application/json"):
            return text(400, "Endpoint does not support content-type\n", api_headers=False)
        try:
            app = json.loads(body or b"{}").get("appName")
        except (ValueError, AttributeError):
            return text(400, "Invalid JSON provided\n", api_headers=False)
        if not isinstance(app, str) or not app.strip():
            return text(400, "appName is required")
        now = time.monotonic()
        with self.lock:
            self.prompts = [t for t in self.prompts if now - t < 60]
            if len(self.prompts) >= PROMPTS_PER_MINUTE:
                wait = max(1, min(60, int(60 - (now - self.prompts[0])) + 1))
                reply = text(429, "Too many authorization requests")
                reply.headers["Retry-After"] = str(wait)
                return reply
            self.prompts.append(now)
            answer = self.answer
        if answer == "never":  # the dialog stays open; the request blocks
            self.cancel.wait(120)
            return Reply(0, drop_after=True)
        if answer == "deny":
            return as_json(403, {"denied": True})
        key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        with self.lock:
            self.keys[key] = answer == "always"
        return as_json(200, {"key": key, "remember": answer == "always"})

    def _authenticate(self, headers: dict[str, str], query: dict[str, str]) -> Reply | None:
        key = headers.get("zotero-api-key") or query.get("key")
        bearer = re.fullmatch(r"Bearer\s+([a-zA-Z0-9]+)", headers.get("authorization", ""))
        if key is None and bearer:
            key = bearer.group(1)
        if key is None:
            reply = text(
                401,
                "API key required -- POST /api/local/authorize to obtain one",
                api_headers=False,
            )
            reply.headers["WWW-Authenticate"] = 'Zotero-API-Key realm="Zotero Local API"'
            return reply
        with self.lock:
            if key not in self.keys:
                return text(401, "Invalid or expired API key", api_headers=False)
            if not self.keys[key]:  # "Allow": used up by the write that validates it
                del self.keys[key]
        if self.read_only:
            return text(403, "Write access denied")
        return None

    # ---- the library ------------------------------------------------------------------------

    def _library(
        self,
        method: str,
        rest: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        group: int | None = None,
    ) -> Reply:
        with self.lock:
            self.group = group
            self.lib = self.db if group is None else self.db.groups[str(group)]
            if rest == "/groups" and method == "GET" and group is None:
                return as_json(200, [self._group_json(int(g)) for g in sorted(self.db.groups)])
            if rest in ("/items", "/items/top") and method == "GET":
                return self._list(self.lib.items, rest == "/items/top", query, headers)
            if rest == "/collections" and method == "GET":
                return self._list(self.lib.collections, False, query, headers)
            if rest in ("/items", "/collections") and method == "POST":
                return self._write(rest[1:], body, headers)
            if rest == "/items" and method == "DELETE":
                return self._delete(query, headers)
            m = re.fullmatch(r"/(items|collections)/([A-Z0-9]{8})", rest)
            if m and method == "GET":
                store = self.lib.items if m.group(1) == "items" else self.lib.collections
                if m.group(2) not in store:
                    return text(404, "Not found")
                return as_json(200, self._json(m.group(2), store[m.group(2)]), self._lmv())
            if m and m.group(1) == "items" and method in ("PATCH", "PUT"):
                return self._patch(m.group(2), body, headers)
            if rest.startswith("/items") and method == "POST":
                return text(405, "Method not allowed for this path")
            return text(404, "No endpoint found\n", api_headers=False)

    def _lmv(self) -> dict[str, str]:
        return {"Last-Modified-Version": str(self.lib.version)}

    def _group_json(self, group_id: int) -> dict[str, Any]:
        g = self.db.groups[str(group_id)]
        data = {"id": group_id, "version": g.version, "name": g.name, "owner": self.user_id}
        return {"id": group_id, "version": g.version, "data": data}

    def _json(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        library = {"type": "user", "id": self.user_id, "name": "My Library"}
        if self.group is not None:
            library = {"type": "group", "id": self.group, "name": getattr(self.lib, "name", "")}
        data = {"key": key, "version": obj["version"], **obj["data"]}
        return {"key": key, "version": obj["version"], "library": library, "data": data}

    def _list(
        self, store: dict[str, dict[str, Any]], top: bool, q: dict[str, str], h: dict[str, str]
    ) -> Reply:
        if q.get("format") == "atom":
            return text(501, "Local API does not support Atom output")
        ims = h.get("if-modified-since-version")
        if ims and ims != "0" and ims.isdigit() and int(ims) >= self.lib.version:
            return Reply(304)
        since = int(q.get("since", "0") or 0)
        keys = q.get("itemKey") or q.get("collectionKey")
        wanted = set(keys.split(",")) if keys else None
        out = []
        for key, obj in store.items():
            data = obj["data"]
            if wanted is not None and key not in wanted:
                continue
            if obj["version"] <= since and since:
                continue
            if data.get("deleted") and q.get("includeTrashed") != "1" and store is self.lib.items:
                continue
            if top and data.get("parentItem"):
                continue
            out.append((key, obj))
        total = len(out)
        start = int(q.get("start", "0") or 0)
        end = start + int(q["limit"]) if "limit" in q else None
        out = out[start:end]
        headers = {**self._lmv(), "Total-Results": str(total)}
        fmt = q.get("format", "json")
        if fmt == "versions":
            return as_json(200, {k: o["version"] for k, o in out}, headers)
        if fmt == "keys":
            return Reply(200, "".join(k + "\n" for k, _ in out).encode(), headers)
        return as_json(200, [self._json(k, o) for k, o in out], headers)

    def _parse_array(self, body: bytes) -> list[Any] | Reply:
        if not body:
            return text(400, "Empty request body")
        try:
            value = json.loads(body)
        except ValueError:
            return text(400, "Invalid JSON provided\n", api_headers=False)
        if not isinstance(value, list):
            return text(400, "Uploaded data must be a JSON array")
        if not value:
            return text(400, "No items provided")
        if len(value) > MAX_WRITE_OBJECTS:
            return text(413, f"Cannot add more than {MAX_WRITE_OBJECTS} items at a time")
        return value

    def _write(self, kind: str, body: bytes, headers: dict[str, str]) -> Reply:
        objects = self._parse_array(body)
        if isinstance(objects, Reply):
            return objects
        token = headers.get("zotero-write-token")
        if token is not None:
            if not 5 <= len(token) <= 32:
                return text(400, "Write token must be 5-32 characters in length")
            if token in self.tokens:
                return text(412, "Write token already used")
        guard = headers.get("if-unmodified-since-version")
        if guard is not None:
            if not guard.isdigit():
                return text(400, "Invalid If-Unmodified-Since-Version value")
            if int(guard) != self.lib.version:
                return text(
                    412,
                    "Library has been modified since specified version "
                    f"(expected {guard}, found {self.lib.version})",
                )
        fault = self.fail_writes.pop(0) if self.fail_writes else None
        if fault == "500":
            return Reply(500, api_headers=False)
        self.writes += 1
        store = self.lib.items if kind == "items" else self.lib.collections
        report: dict[str, dict[str, Any]] = {
            "successful": {},
            "success": {},
            "unchanged": {},
            "failed": {},
        }
        for i, obj in enumerate(objects):
            outcome = self._save(kind, store, obj, guard is not None)
            if isinstance(outcome, tuple):
                code, message = outcome
                key = obj.get("key") if isinstance(obj, dict) else None
                report["failed"][str(i)] = {"key": key, "code": code, "message": message}
            elif outcome == "":
                report["unchanged"][str(i)] = obj["key"]
            else:
                report["successful"][str(i)] = self._json(outcome, store[outcome])
                report["success"][str(i)] = outcome
        if token is not None:
            self.tokens[token] = time.monotonic()
        if fault == "500-after":
            return Reply(500, api_headers=False)
        if fault == "drop":
            return Reply(0, drop_after=True)
        return as_json(200, report, self._lmv())

    def _save(
        self, kind: str, store: dict[str, dict[str, Any]], obj: Any, guarded: bool
    ) -> str | tuple[int, str]:
        """Save one object in its own transaction: its key ("" when unchanged) or a failure."""
        if not isinstance(obj, dict):
            return 400, "Invalid value"
        obj = dict(obj)
        key = obj.pop("key", None)
        version = obj.pop("version", None)
        if key is not None:
            if not isinstance(key, str) or not KEY_PATTERN.match(key):
                return 400, f"Invalid key: '{key}'"
            if version is None and not guarded:
                return 428, (
                    "Either If-Unmodified-Since-Version or 'version' property must be "
                    "provided for 'key'-based writes"
                )
        else:
            key = "".join(secrets.choice(ALPHABET) for _ in range(8))
        existing = store.get(key)
        what = "item" if kind == "items" else "collection"
        if existing is None and version not in (None, 0):
            return 404, f"{what} doesn't exist (expected version {version}; use 0 instead)"
        if existing is not None and version is not None and version != existing["version"]:
            return 412, f"{what} version mismatch: expected {version}, found {existing['version']}"
        if existing is None and kind == "items":
            if self.mode == "10.0.3":
                return 400, f"'primaryData' not loaded for item (null/1/{key})"
            if not obj.get("itemType"):
                return 400, "'itemType' property not provided"
        if existing is not None:
            merged = {**existing["data"], **obj}
            if merged == existing["data"]:
                return ""
            obj = merged
        self.lib.version += 1
        store[key] = {"version": self.lib.version, "data": obj}
        return key

    def _patch(self, key: str, body: bytes, headers: dict[str, str]) -> Reply:
        try:
            patch = json.loads(body)
        except ValueError:
            return text(400, "Invalid JSON provided\n", api_headers=False)
        item = self.lib.items.get(key)
        guard = headers.get("if-unmodified-since-version")
        version = patch.pop("version", None) if isinstance(patch, dict) else None
        patch.pop("key", None)
        if guard is None and version is None:
            return text(428, "If-Unmodified-Since-Version not provided")
        if item is None:
            if not patch.get("itemType"):
                return text(404, "Not found")
            self.lib.version += 1
            self.lib.items[key] = {"version": self.lib.version, "data": patch}
            return Reply(204, headers=self._lmv())
        if version is not None and version != item["version"]:
            return text(412, f"item version mismatch: expected {version}, found {item['version']}")
        if guard is not None and int(guard) != item["version"]:
            return text(
                412,
                f"item has been modified since specified version (expected {guard}, "
                f"found {item['version']})",
            )
        self.writes += 1
        self.lib.version += 1
        item["data"] = {**item["data"], **patch}
        item["version"] = self.lib.version
        return Reply(204, headers=self._lmv())

    def _delete(self, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if headers.get("if-unmodified-since-version") is None:
            return text(428, "If-Unmodified-Since-Version not provided")
        keys = [k for k in query.get("itemKey", "").split(",") if k]
        if len(keys) > MAX_WRITE_OBJECTS:
            return text(413, f"Cannot delete more than {MAX_WRITE_OBJECTS} objects at a time")
        for key in keys:
            self.lib.items.pop(key, None)  # erased for good; unknown keys ignored
        self.lib.version += 1
        return Reply(204, headers=self._lmv())
