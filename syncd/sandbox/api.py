"""The Zotero Web API v3 surface of the sandbox: routing, auth, preconditions, writes, reads.

:func:`Api.handle` takes a parsed :class:`Request` and returns a :class:`Response`; the socket
side lives in :mod:`syncd.sandbox.server`. The order of the request-level checks, the status
codes and the plain-text messages follow Zotero's dataserver (see ``docs/sandbox.md``): checks
made while the real server is still initialising (auth, write token, library lookup, 304)
answer without the ``Zotero-API-Version`` and ``Zotero-Schema-Version`` headers, later ones
with them.
"""

from __future__ import annotations

import html
import json
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

from syncd.sandbox import contention, model, schema
from syncd.sandbox.contention import Latency, new_report, write_into
from syncd.sandbox.library import KeyInfo, Library, Obj, State, Txn
from syncd.sandbox.lockout import BadKeys, Lockout
from syncd.sandbox.model import KEY_RE, ObjectError

MAX_WRITE_OBJECTS = 50
MAX_OBJECT_KEYS = 100
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
JSON_MAX_DEPTH = 20
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_BODIES = {
    400: "Invalid request",
    401: "Access denied",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many requests",
    500: "An error occurred",
    503: "Service unavailable",
}


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    client: str = "127.0.0.1"
    base: str = "http://127.0.0.1"
    auth: KeyInfo | None = None  # set once the key is known

    def param(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    zotero_headers: bool = True
    content_type: str | None = None
    objects: int | None = None  # number of objects in a write body (for the request log)


class ApiError(Exception):
    """A request-level failure: plain-text (HTML-escaped) body, no JSON."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        zotero_headers: bool = True,
        version: int | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message if message is not None else _DEFAULT_BODIES.get(status, "")
        self.zotero_headers = zotero_headers
        self.version = version
        self.headers = headers or []

    def response(self) -> Response:
        headers = list(self.headers)
        if self.version is not None:
            headers.append(("Last-Modified-Version", str(self.version)))
        return Response(
            self.status,
            html.escape(self.message, quote=False).replace('"', "&quot;").encode(),
            headers,
            zotero_headers=self.zotero_headers,
            content_type="text/html; charset=UTF-8",
        )


def dumps(value: Any) -> bytes:
    """JSON the way the dataserver prints it (pretty, 4 spaces, unescaped slashes/unicode)."""
    return json.dumps(value, indent=4, ensure_ascii=False).encode()


def _json_response(
    value: Any, version: int | None, extra: Iterable[tuple[str, str]] = ()
) -> Response:
    headers = list(extra)
    if version is not None:
        headers.append(("Last-Modified-Version", str(version)))
    return Response(200, dumps(value), headers, content_type="application/json")


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value) is not None


def _fold(text: str) -> str:
    """Case- and accent-insensitive form for `q` searches (like MySQL's unicode_520_ci)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _now() -> str:
    return model.utc_stamp(datetime.now(UTC))


# ---- read parameters --------------------------------------------------------------------------


@dataclass
class ReadParams:
    format: str = "json"
    limit: int | None = DEFAULT_LIMIT
    start: int = 0
    since: int | None = None
    item_keys: list[str] | None = None
    collection_keys: list[str] | None = None
    include_trashed: bool = False
    tags: list[str] = field(default_factory=list)
    item_type_values: list[str] = field(default_factory=list)
    q: str | None = None
    qmode: str = "titleCreatorYear"
    sort: str = "dateModified"
    direction: str = "desc"
    link_params: list[tuple[str, str]] = field(default_factory=list)


_SORTS = frozenset(
    {
        "dateAdded",
        "dateModified",
        "title",
        "creator",
        "itemType",
        "date",
        "publisher",
        "publicationTitle",
        "journalAbbreviation",
        "language",
        "accessDate",
        "libraryCatalog",
        "callNumber",
        "rights",
        "extra",
        "serverDateModified",
        "addedBy",
        "numItems",
    }
)


def _default_direction(sort: str) -> str:
    return "desc" if sort.startswith("date") else "asc"


def parse_read_params(req: Request, action: str = "items") -> ReadParams:
    """Parse the query string of a read as the dataserver does (defaults, clamps, the 400s it
    sends before the API headers) and note the non-default parameters for ``Link`` URLs."""
    p = ReadParams()
    nondefault: dict[str, str] = {}
    fmt = req.param("format") or "json"
    if fmt not in ("json", "keys", "versions"):
        raise ApiError(400, f"Invalid 'format' value '{fmt}'", zotero_headers=False)
    p.format = fmt
    if fmt != "json":
        nondefault["format"] = fmt
    # keys and versions come all in one response unless a limit is asked for.
    default_limit = DEFAULT_LIMIT if fmt == "json" else 0
    limit = default_limit
    raw_limit = req.param("limit")
    if raw_limit is not None and _is_int(raw_limit) and int(raw_limit) > 0:
        limit = int(raw_limit)
        if fmt == "json":
            limit = min(limit, MAX_LIMIT)
    raw_start = req.param("start")
    if raw_start is not None and _is_int(raw_start):
        p.start = max(int(raw_start), 0)
    since = req.param("since") if req.param("since") is not None else req.param("newer")
    if since is not None:
        if not _is_int(since):
            raise ApiError(400, "Invalid value for 'since' parameter", zotero_headers=False)
        p.since = int(since)
        nondefault["since"] = str(p.since)
    for name in ("itemKey", "collectionKey"):
        raw = req.param(name)
        if raw is None:
            continue
        keys = [k for k in raw.strip(",").split(",") if KEY_RE.match(k)]
        if name == "itemKey":
            p.item_keys = keys
        else:
            p.collection_keys = keys
        if keys:
            nondefault[name] = ",".join(keys)
        limit = MAX_OBJECT_KEYS  # explicit object keys force the limit
    p.limit = limit or None
    if limit != default_limit:
        nondefault["limit"] = str(limit)
    if req.param("includeTrashed") not in (None, "", "0", "false"):
        p.include_trashed = True
        nondefault["includeTrashed"] = "1"
    p.tags = [t for t in req.params("tag") if t != ""]
    if p.tags:
        nondefault["tag"] = ",".join(p.tags)
    item_types = [t for t in req.params("itemType") if t.strip()]
    if item_types:
        p.item_type_values = item_types
        nondefault["itemType"] = item_types[0]
    p.q = req.param("q") or None
    if p.q:
        nondefault["q"] = p.q
    qmode = req.param("qmode")
    if qmode:
        valid = (
            ("contains", "startswith") if action == "tags" else ("titlecreatoryear", "everything")
        )
        if qmode.lower() not in valid:
            raise ApiError(400, f"Invalid 'qmode' value '{qmode}'", zotero_headers=False)
        p.qmode = qmode.lower()
        nondefault["qmode"] = p.qmode
    direction = req.param("direction")
    sort = req.param("sort")
    if sort in ("asc", "desc"):  # an old-style direction given as `sort`
        direction, sort = sort, None
    if sort is not None:
        if sort not in _SORTS:
            raise ApiError(400, f"Invalid 'sort' value '{sort}'", zotero_headers=False)
        p.sort = sort
        if sort != "dateModified":
            nondefault["sort"] = sort
    p.direction = _default_direction(p.sort)
    if direction is not None:
        if direction not in ("asc", "desc"):
            raise ApiError(400, f"Invalid 'direction' value '{direction}'", zotero_headers=False)
        if direction != p.direction:
            nondefault["direction"] = direction
        p.direction = direction
    p.link_params = sorted(nondefault.items())
    return p


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _ascii_lower(text: str) -> str:
    """MySQL's LOWER() as the tag lookup uses it: ASCII letters only."""
    return text.translate(_ASCII_LOWER)


def search_sets(values: list[str]) -> list[tuple[bool, list[str]]]:
    """``tag``/``itemType`` values as the dataserver reads them: a leading ``-`` negates the
    whole value, ``\\-`` is a literal hyphen, `` || `` (with spaces) separates alternatives."""
    sets = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        negation = value.startswith("-")
        if negation or value.startswith("\\-"):
            value = value[1:]
        sets.append((negation, re.split(r"\s+\|\|\s+", value)))
    return sets


def _matches_sets(sets: list[tuple[bool, list[str]]], names: set[str]) -> bool:
    for negation, alternatives in sets:
        hit = any(a in names for a in alternatives)
        if hit == negation:
            return False
    return True


def _q_terms(q: str) -> list[str]:
    terms = re.findall(r'"([^"]*)"|(\S+)', q)
    return [_fold(a or b) for a, b in terms if (a or b)]


def _item_matches_q(data: dict[str, Any], terms: list[str]) -> bool:
    item_type = data["itemType"]
    haystacks = []
    for field_name in schema.fields_of(item_type):
        if schema.base_field(item_type, field_name) == "title" and data.get(field_name):
            haystacks.append(_fold(data[field_name]))
    if item_type == "note" and data.get("note"):
        haystacks.append(_fold(re.sub(r"<[^>]+>", "", data["note"]).strip().split("\n")[0]))
    for creator in data.get("creators", []):
        name = (
            creator.get("name") or f"{creator.get('firstName', '')} {creator.get('lastName', '')}"
        )
        haystacks.append(_fold(name))
    years = {
        str(data[f])[:4]
        for f in schema.fields_of(item_type)
        if schema.base_field(item_type, f) == "date" and data.get(f)
    }
    return all(any(term in h for h in haystacks) or term in years for term in terms)


# ---- the API ----------------------------------------------------------------------------------


class Api:
    """Routes and serves API requests against a :class:`State`."""

    def __init__(
        self,
        state: State,
        version_mode: Literal["per-object", "per-request"] = "per-object",
        clock: Callable[[], str] = _now,
        lockout: Lockout = "address",
        latency: Latency | None = None,
    ) -> None:
        if version_mode not in ("per-object", "per-request"):
            raise ValueError(
                f"version_mode must be 'per-object' or 'per-request': {version_mode!r}"
            )
        self.state = state
        self.version_mode = version_mode
        self.clock = clock
        self.bad_keys = BadKeys(lockout)
        self.latency = latency
        """None: a write is one transaction (fast); a :class:`Latency`: the real server's pace."""

    # ---- entry point ---------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        try:
            return self._handle(req)
        except ApiError as err:
            return err.response()

    def _handle(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if req.method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ApiError(501, "Method not implemented", zotero_headers=False)
        if req.method == "OPTIONS":  # CORS preflight: answered before anything else
            return Response(200, zotero_headers=False)
        is_write = req.method in _WRITE_METHODS
        if req.method in ("POST", "PUT", "PATCH") and not req.body:
            raise ApiError(400, f"{req.method} data not provided", zotero_headers=False)
        api_key, key = self._authenticate(req)
        req.auth = key
        token_hash = None
        if is_write and api_key is not None:
            token = req.headers.get("zotero-write-token")
            if token is not None:
                if not 5 <= len(token) <= 32:
                    raise ApiError(
                        400, "Write token must be 5-32 characters in length", zotero_headers=False
                    )
                token_hash = self.state.token_hash(api_key, token)
                if self.state.token_used(token_hash):
                    raise ApiError(412, "Write token already used", zotero_headers=False)
        if is_write and key is None and not (parts[:1] == ["keys"]):
            raise ApiError(403, "An API key is required for write requests.", zotero_headers=False)

        if not parts:
            raise ApiError(400, "Invalid Request")
        head = parts[0]
        if head in ("users", "groups") and len(parts) >= 3:
            return self._library_route(req, parts, key, token_hash)
        if head == "keys" and len(parts) == 2:
            return self._keys(req, parts[1], api_key, key)
        if len(parts) == 1 or parts == ["items", "new"]:
            return self._mapping(req, parts)
        raise ApiError(404, "Not found", zotero_headers=False)

    def _authenticate(self, req: Request) -> tuple[str | None, KeyInfo | None]:
        api_key = req.headers.get("zotero-api-key") or None
        query_key = req.param("key")
        if query_key is not None:
            if api_key is None:
                api_key = query_key
            elif query_key != api_key:
                raise ApiError(
                    400, "Zotero-API-Key header and 'key' parameter differ", zotero_headers=False
                )
        if api_key is None:
            auth = req.headers.get("authorization", "")
            if auth[:6].lower() == "bearer":
                m = re.fullmatch(r"bearer +([a-z0-9]+)", auth, re.IGNORECASE)
                if not m:
                    raise ApiError(400, "Invalid Authorization header format", zotero_headers=False)
                api_key = m.group(1)
        if api_key is None:
            return None, None
        if self.bad_keys.locked(req.client, api_key):
            raise ApiError(429, "Too many authentication failures", zotero_headers=False)
        key = self.state.keys.get(api_key)
        if key is None:
            self.bad_keys.failed(req.client, api_key)
            raise ApiError(403, "Invalid key", zotero_headers=False)
        return api_key, key

    # ---- keys and mapping endpoints ---------------------------------------------------------

    def _keys(self, req: Request, which: str, api_key: str | None, key: KeyInfo | None) -> Response:
        if req.method != "GET":
            raise ApiError(405, headers=[("Allow", "GET")])
        if which == "current":
            if key is None:
                raise ApiError(403, "Forbidden")
            return _json_response(self.state.key_json(key), None)
        info = self.state.keys.get(which)
        if info is None:
            raise ApiError(404, f"Key '{which}' not found")
        return _json_response(self.state.key_json(info), None)

    def _mapping(self, req: Request, parts: list[str]) -> Response:
        if req.method != "GET":
            raise ApiError(405, headers=[("Allow", "GET")])
        name = "/".join(parts)
        item_type = req.param("itemType")
        if name in ("itemTypeFields", "itemTypeCreatorTypes", "items/new"):
            if item_type is None:
                raise ApiError(400, "'itemType' not provided")
            if not schema.is_valid_type(item_type) or item_type == "annotation":
                raise ApiError(400, f"Invalid item type '{item_type}'")
        if name == "itemTypes":
            return _json_response(schema.item_types(), None)
        if name == "itemFields":
            return _json_response(schema.item_fields(), None)
        if name == "creatorFields":
            return _json_response(schema.creator_fields(), None)
        if name == "itemTypeFields":
            assert item_type is not None
            return _json_response(schema.item_type_fields(item_type), None)
        if name == "itemTypeCreatorTypes":
            assert item_type is not None
            if not schema.creator_types(item_type):
                raise ApiError(400, f"Item type '{item_type}' has no creator types")
            return _json_response(schema.item_type_creator_types(item_type), None)
        if name == "items/new":
            assert item_type is not None
            link_mode = req.param("linkMode")
            if item_type == "attachment":
                if not link_mode:
                    raise ApiError(400, "linkMode required for itemType=attachment")
                if link_mode not in ("imported_file", "imported_url", "linked_file", "linked_url"):
                    raise ApiError(400, f"Invalid linkMode '{link_mode}'")
            return _json_response(schema.item_template(item_type, link_mode), None)
        raise ApiError(404, "Not found", zotero_headers=False)

    # ---- library routes ---------------------------------------------------------------------

    def _library_route(
        self, req: Request, parts: list[str], key: KeyInfo | None, token_hash: str | None
    ) -> Response:
        kind, ident, rest = parts[0], parts[1], parts[2:]
        if not ident.isdigit() or int(ident) == 0:
            label = "user" if kind == "users" else "group"
            raise ApiError(400, f"Invalid {label} ID", zotero_headers=False)
        lib = self.state.library(f"{kind}/{int(ident)}")
        if lib is None:
            if kind == "users":
                raise ApiError(404, f"User {int(ident)} not found", zotero_headers=False)
            raise ApiError(404, zotero_headers=False)
        action = rest[0]
        single = (
            len(rest) >= 2
            and action in ("items", "collections", "searches")
            and rest[1] not in ("top", "trash")
            and len(rest) == 2
        )
        # If-Modified-Since-Version: 304 for multi-object reads of an unchanged library
        ims = req.headers.get("if-modified-since-version")
        if (
            ims is not None
            and not single
            and req.method == "GET"
            and action in ("items", "collections", "searches", "settings", "tags")
            and self.state.can_read(key, lib)
            and _is_int(ims)
            and lib.version <= int(ims)
        ):
            return Response(304, zotero_headers=False)
        params = parse_read_params(req, action) if req.method == "GET" else ReadParams()

        if action == "groups" and kind == "users" and len(rest) == 1:
            return self._user_groups(req, lib, key, params)
        if req.method in _WRITE_METHODS:
            if not self.state.can_write(key, lib):
                raise ApiError(403, "Write access denied")
        elif not self.state.can_read(key, lib):
            raise ApiError(403, "Forbidden")

        if action == "items":
            return self._items_route(req, lib, rest[1:], params, token_hash)
        if action == "collections":
            return self._collections_route(req, lib, rest[1:], params, token_hash)
        if action == "tags" and len(rest) == 1:
            return self._tags(req, lib, params)
        if action == "deleted" and len(rest) == 1:
            return self._deleted(req, lib)
        if action == "searches" and len(rest) == 1 and req.method == "GET":
            return self._list_response(req, lib, [], params, lambda o: {})
        if action == "settings" and len(rest) == 1 and req.method == "GET":
            return _json_response({}, lib.version)
        raise ApiError(404, "Not found")

    def _user_groups(
        self, req: Request, lib: Library, key: KeyInfo | None, params: ReadParams
    ) -> Response:
        # The dataserver (Zotero_Groups::getAllAdvanced): the user's groups, less those the
        # key cannot access (every sandbox group is private), paged as any multi-object read.
        rows = []
        for gid, group in sorted(self.state.groups.items()):
            glib = self.state.library(f"groups/{gid}")
            if lib.id not in group["members"] or glib is None or not self.state.can_read(key, glib):
                continue
            version = glib.version
            rows.append(
                {
                    "id": gid,
                    "version": version,
                    "links": {
                        "self": {"href": f"{req.base}/groups/{gid}", "type": "application/json"},
                        "alternate": {"href": f"{req.base}/groups/{gid}", "type": "text/html"},
                    },
                    "meta": {"numItems": len(glib.items)},
                    "data": {
                        "id": gid,
                        "version": version,
                        "name": group["name"],
                        "owner": group["owner"],
                        "type": "Private",
                        "description": "",
                        "url": "",
                        "libraryEditing": "members",
                        "libraryReading": "members",
                        "fileEditing": "none",
                        "members": [m for m in group["members"] if m != group["owner"]],
                    },
                }
            )
        total, start = len(rows), params.start
        page = rows[start : start + params.limit] if params.limit else rows[start:]
        headers = [("Total-Results", str(total)), ("Link", self._link(req, params, total))]
        return _json_response(page, None, headers)

    # ---- items --------------------------------------------------------------------------------

    def _items_route(
        self,
        req: Request,
        lib: Library,
        rest: list[str],
        params: ReadParams,
        token_hash: str | None,
    ) -> Response:
        m = req.method
        if not rest:
            if m == "GET":
                return self._read_items(req, lib, params)
            if m == "POST":
                return self._multi_write(req, lib, "items", token_hash)
            if m == "DELETE":
                return self._multi_delete(req, lib, "items", req.param("itemKey"))
            raise ApiError(405, headers=[("Allow", "GET, POST, DELETE")])
        if rest in (["top"], ["trash"]):
            if m != "GET":
                raise ApiError(405, headers=[("Allow", "GET")])
            return self._read_items(req, lib, params, top=rest == ["top"], trash=rest == ["trash"])
        item_key = rest[0]
        if len(rest) == 1:
            if m == "GET":
                with lib.lock:
                    obj = lib.items.get(item_key)
                    if obj is None:
                        raise ApiError(404, "Item does not exist")
                    return self._single_response(req, lib, obj, params)
            if m in ("PUT", "PATCH", "DELETE"):
                return self._single_write(req, lib, "items", item_key, token_hash)
            raise ApiError(405, headers=[("Allow", "GET, PUT, PATCH, DELETE")])
        if rest[1:] == ["children"] and m == "GET":
            with lib.lock:
                if item_key not in lib.items:
                    raise ApiError(404, "Item not found")
                return self._read_items(req, lib, params, parent=item_key)
        if rest[1:] == ["tags"] and m == "GET":
            with lib.lock:
                obj = lib.items.get(item_key)
                if obj is None:
                    raise ApiError(404, "Item not found")
                return self._tags(req, lib, params, only=[obj])
        raise ApiError(404, "Not found")

    def _visible_items(
        self,
        lib: Library,
        params: ReadParams,
        *,
        top: bool = False,
        trash: bool = False,
        parent: str | None = None,
        collection: str | None = None,
        notes: bool = True,
    ) -> list[Obj]:
        """The items a read returns, in order. Filters as the dataserver's search: own trash
        flag, `since`, keys, type and tag sets, `q`; in /top mode a matching child stands for
        its top-level item."""
        if len(params.item_type_values) > 1:
            raise ApiError(400, "Cannot specify 'itemType' more than once")
        type_sets = search_sets(params.item_type_values)
        for _, alternatives in type_sets:
            for name in alternatives:
                if not schema.is_valid_type(name):
                    raise ApiError(400, f"Invalid itemType '{name}'")
        tag_sets = [
            (negation, [_ascii_lower(a) for a in alternatives])
            for negation, alternatives in search_sets(params.tags)
        ]
        keys = set(params.item_keys) if params.item_keys is not None else None
        terms = _q_terms(params.q) if params.q else None
        include_trashed = params.include_trashed or trash
        # Plain /top reads skip children; with filters, children may match for their parent.
        skip_children = top and keys is None and not type_sets and not terms and not tag_sets
        plain = not (keys is not None or params.since is not None or type_sets or tag_sets)
        plain = plain and not (terms or top or trash or parent or collection)
        listing = (lib.version, params.sort, params.direction, include_trashed, notes)
        if plain and listing in lib.listing_cache:
            return lib.listing_cache[listing]
        # Reads by key or by version look only at those items (time independent of the
        # library's size); /top needs every item's position for the children it maps.
        if keys is not None and not top:
            order = self._sorted(lib, params, [o for k in keys if (o := lib.items.get(k))])
        elif params.since is not None and not top:
            order = self._sorted(lib, params, lib.items_since(params.since))
        else:
            order = self._sorted(lib, params)
        out: list[Obj] = []
        mapped = False
        seen: set[str] = set()
        for obj in order:
            data = obj.data
            if keys is not None and obj.key not in keys:
                continue
            if params.since is not None and obj.version <= params.since:
                continue
            deleted = bool(data.get("deleted"))
            if (trash and not deleted) or (deleted and not include_trashed):
                continue
            if not notes and data["itemType"] == "note":
                continue
            if parent is not None and data.get("parentItem") != parent:
                continue
            if collection is not None and collection not in data.get("collections", ()):
                continue
            if type_sets and not _matches_sets(type_sets, {data["itemType"]}):
                continue
            if tag_sets:
                names = {_ascii_lower(t["tag"]) for t in data.get("tags", ())}
                if not _matches_sets(tag_sets, names):
                    continue
            if terms and not _item_matches_q(data, terms):
                continue
            if top and data.get("parentItem"):
                if skip_children:
                    continue
                top_obj = lib.items.get(data["parentItem"])
                if top_obj is None or (top_obj.data.get("deleted") and not include_trashed):
                    continue
                obj = top_obj
                mapped = True
            if obj.key in seen:
                continue
            seen.add(obj.key)
            out.append(obj)
        if mapped:
            position = {o.key: i for i, o in enumerate(order)}
            out.sort(key=lambda o: position[o.key])
        if plain:
            lib.listing_cache[listing] = out
        return out

    def _sorted(
        self, lib: Library, params: ReadParams, subset: list[Obj] | None = None
    ) -> list[Obj]:
        """Every item (or ``subset``) in the read's order; the whole library's order is cached
        for its version."""
        cache_key = (lib.version, params.sort, params.direction)
        if subset is None:
            cached = lib.sort_cache.get(cache_key)
            if cached is not None:
                return cached
        sort = params.sort

        def sort_value(obj: Obj) -> str:
            data = obj.data
            if sort in ("dateAdded", "dateModified"):
                return str(data.get(sort, ""))
            if sort == "title":
                title = data.get("title") or re.sub(r"<[^>]+>", "", data.get("note", ""))
                return str(title).casefold()
            if sort == "creator":
                return (
                    model.creator_summary(data["itemType"], data.get("creators", [])) or ""
                ).casefold()
            if sort == "itemType":
                return str(data["itemType"])
            if sort == "date":
                return model.parse_date(data.get("date", "")) or ""
            return str(data.get(sort, "")).casefold()

        reverse = params.direction == "desc"
        # Ties are broken by version, then creation order, in the same direction (as the
        # dataserver's ORDER BY ..., version, itemID does).
        items = sorted(
            lib.items.values() if subset is None else subset,
            key=lambda o: (sort_value(o), o.version, o.seq),
            reverse=reverse,
        )
        if sort not in ("dateAdded", "dateModified"):
            # Empty values sort last in either direction.
            items.sort(key=lambda o: sort_value(o) == "")
        if subset is None:
            lib.sort_cache[cache_key] = items
        return items

    def _read_items(
        self,
        req: Request,
        lib: Library,
        params: ReadParams,
        *,
        top: bool = False,
        trash: bool = False,
        parent: str | None = None,
        collection: str | None = None,
    ) -> Response:
        with lib.lock:
            # A key without notes access does not see notes in a user library.
            notes = not (
                lib.kind == "user" and req.auth is not None and not req.auth.user.get("notes")
            )
            found = self._visible_items(
                lib, params, top=top, trash=trash, parent=parent, collection=collection, notes=notes
            )
            return self._list_response(
                req, lib, found, params, lambda o: self._item_json(req, lib, o)
            )

    def _list_response(
        self,
        req: Request,
        lib: Library,
        found: list[Obj],
        params: ReadParams,
        render: Callable[[Obj], dict[str, Any]],
    ) -> Response:
        total = len(found)
        if params.limit is None:
            page = found[params.start :]
        else:
            page = found[params.start : params.start + params.limit]
        headers = [("Total-Results", str(total)), ("Link", self._link(req, params, total))]
        if params.format == "keys":
            body = "".join(f"{o.key}\n" for o in page).encode()
            headers.append(("Last-Modified-Version", str(lib.version)))
            return Response(200, body, headers, content_type="text/plain;charset=UTF-8")
        if params.format == "versions":
            return _json_response({o.key: o.version for o in page}, lib.version, headers)
        return _json_response([render(o) for o in page], lib.version, headers)

    def _link(self, req: Request, params: ReadParams, total: int) -> str:
        """The ``Link`` header, built as the dataserver builds it: only non-default parameters,
        sorted; ``first``/``last`` only when they differ from this page; ``next`` only when
        more results exist; ``alternate`` always."""
        base = req.base + req.path

        def url(start: int) -> str:
            query = list(params.link_params)
            if start > 0:
                query = sorted([*query, ("start", str(start))])
            return f"{base}?{urlencode(query)}" if query else base

        limit = params.limit or 0
        start = params.start
        this = url(start)
        parts = []
        if url(0) != this:
            parts.append(f'<{url(0)}>; rel="first"')
        if start:
            parts.append(f'<{url(start - limit)}>; rel="prev"')
        if not (not start and limit >= total) and limit:
            if start >= total:
                last = total - limit
            else:
                last = total - (total % limit)
                if last == total:
                    last = total - limit
            if start + limit < total:
                parts.append(f'<{url(start + limit)}>; rel="next"')
            if url(last) != this:
                parts.append(f'<{url(last)}>; rel="last"')
        parts.append(f'<{base}>; rel="alternate"')
        return ", ".join(parts)

    def _library_json(self, req: Request, lib: Library) -> dict[str, Any]:
        name = self.state.library_name(lib)
        href = f"{req.base}/{name}" if lib.kind == "user" else f"{req.base}/groups/{lib.id}"
        return {
            "type": lib.kind,
            "id": lib.id,
            "name": name,
            "links": {"alternate": {"href": href, "type": "text/html"}},
        }

    def _web_base(self, req: Request, lib: Library) -> str:
        if lib.kind == "user":
            return f"{req.base}/{self.state.library_name(lib)}"
        return f"{req.base}/groups/{lib.id}"

    def _item_json(
        self, req: Request, lib: Library, obj: Obj, txn: Txn | None = None
    ) -> dict[str, Any]:
        children = set(lib.children.get(obj.key, ()))
        if txn is not None:
            # Only the (at most 50) staged objects can differ from the published index.
            for (kind, key), staged in txn.puts.items():
                if kind == "items":
                    if staged.data.get("parentItem") == obj.key:
                        children.add(key)
                    else:
                        children.discard(key)
            children -= {key for kind, key in txn.removes if kind == "items"}
        num_children = len(children)
        out: dict[str, Any] = {
            "key": obj.key,
            "version": obj.version,
            "library": self._library_json(req, lib),
            "links": {
                "self": {
                    "href": f"{req.base}/{lib.path}/items/{obj.key}",
                    "type": "application/json",
                },
                "alternate": {
                    "href": f"{self._web_base(req, lib)}/items/{obj.key}",
                    "type": "text/html",
                },
            },
            "meta": model.item_meta(
                obj.data,
                num_children,
                self._user_json(req, obj.data.get("_createdByUserID")),
                self._user_json(req, obj.data.get("_lastModifiedByUserID")),
            ),
            "data": model.item_data(obj.key, obj.version, obj.data),
        }
        if obj.data.get("parentItem"):
            out["links"]["up"] = {
                "href": f"{req.base}/{lib.path}/items/{obj.data['parentItem']}",
                "type": "application/json",
            }
        return out

    def _user_json(self, req: Request, user_id: int | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        username = self.state.users.get(user_id, f"user{user_id}")
        return {
            "id": user_id,
            "username": username,
            "name": "",
            "links": {"alternate": {"href": f"{req.base}/{username}", "type": "text/html"}},
        }

    @staticmethod
    def _collection_counts(
        lib: Library, txn: Txn | None = None
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(subcollections per collection, non-trashed items per collection), in one pass."""
        collections: Iterable[Obj] = txn.items("collections") if txn else lib.collections.values()
        items: Iterable[Obj] = txn.items("items") if txn else lib.items.values()
        subs: dict[str, int] = {}
        for c in collections:
            parent = c.data.get("parentCollection")
            if parent:
                subs[parent] = subs.get(parent, 0) + 1
        members: dict[str, int] = {}
        for i in items:
            if not i.data.get("deleted"):
                for ckey in i.data.get("collections", ()):
                    members[ckey] = members.get(ckey, 0) + 1
        return subs, members

    def _collection_json(
        self,
        req: Request,
        lib: Library,
        obj: Obj,
        txn: Txn | None = None,
        counts: tuple[dict[str, int], dict[str, int]] | None = None,
    ) -> dict[str, Any]:
        subs, members = counts if counts is not None else self._collection_counts(lib, txn)
        num_collections = subs.get(obj.key, 0)
        num_items = members.get(obj.key, 0)
        return {
            "key": obj.key,
            "version": obj.version,
            "library": self._library_json(req, lib),
            "links": {
                "self": {
                    "href": f"{req.base}/{lib.path}/collections/{obj.key}",
                    "type": "application/json",
                },
                "alternate": {
                    "href": f"{self._web_base(req, lib)}/collections/{obj.key}",
                    "type": "text/html",
                },
            },
            "meta": {"numCollections": num_collections, "numItems": num_items},
            "data": model.collection_data(obj.key, obj.version, obj.data),
        }

    def _single_response(
        self, req: Request, lib: Library, obj: Obj, params: ReadParams, kind: str = "items"
    ) -> Response:
        if kind == "items":
            body = self._item_json(req, lib, obj)
        else:
            body = self._collection_json(req, lib, obj)
        return _json_response(body, obj.version)

    # ---- writes ---------------------------------------------------------------------------

    @staticmethod
    def _unmodified_since(req: Request) -> int | None:
        raw = req.headers.get("if-unmodified-since-version")
        if raw is None:
            return None
        if not _is_int(raw):
            raise ApiError(400, "Invalid If-Unmodified-Since-Version value")
        return int(raw)

    @staticmethod
    def _check_library_version(lib: Library, expected: int | None) -> None:
        if expected is not None and lib.version > expected:
            raise ApiError(
                412,
                "Library has been modified since specified version "
                f"(expected {expected}, found {lib.version})",
            )

    @contextmanager
    def _library_write(self, req: Request, lib: Library) -> Iterator[int | None]:
        """Hold the library's lock for a write that its If-Unmodified-Since-Version allows
        (400 for a bad header, before the lock; 412 once the library has moved past it).
        Yields that version (None without the header)."""
        expected = self._unmodified_since(req)
        with lib.lock:
            self._check_library_version(lib, expected)
            yield expected

    @staticmethod
    def _parse_body(req: Request) -> Any:
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(
                400, "JSON Error: Malformed UTF-8 characters, possibly incorrectly encoded"
            ) from None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise ApiError(400, "JSON Error: Syntax error, malformed JSON") from None
        if _depth(value) >= JSON_MAX_DEPTH:
            raise ApiError(400, "JSON Error: Maximum stack depth exceeded")
        return model.clean_strings(value)

    def _multi_write(
        self, req: Request, lib: Library, kind: str, token_hash: str | None
    ) -> Response:
        if self.latency is not None:  # as the real server: each object committed on its own
            report, version, n = contention.write_each(
                self, req, lib, kind, token_hash, self.latency
            )
            resp = _json_response(report, version)
            resp.objects = n
            return resp
        with self._library_write(req, lib) as expected:
            body = self._batch_body(req, kind)
            txn = Txn(lib)
            report = new_report()
            now = self.clock()
            legacy_version = lib.version + 1
            last_failed = False
            for i, raw in enumerate(body):
                last_failed = write_into(
                    self,
                    report,
                    req,
                    txn,
                    kind,
                    raw,
                    i,
                    require_version=expected is None,
                    now=now,
                    legacy_version=legacy_version,
                )
            if self.version_mode == "per-request":
                txn.version = legacy_version if txn.puts or txn.removes else lib.version
            # The dataserver records the token unless the last object failed ([] records it).
            self.state.commit(txn, token_hash if not last_failed else None)
            resp = _json_response(report, lib.version)
            resp.objects = len(body)
            return resp

    def _batch_body(self, req: Request, kind: str) -> list[Any]:
        """The objects of a multi-object write (400 unless a JSON array, 413 over 50)."""
        body = self._parse_body(req)
        if not isinstance(body, list):
            raise ApiError(400, "Uploaded data must be a JSON array")
        if len(body) > MAX_WRITE_OBJECTS:
            raise ApiError(413, f"Cannot add more than {MAX_WRITE_OBJECTS} {kind} at a time")
        return body

    def _write_object(
        self,
        req: Request,
        lib: Library,
        txn: Txn,
        kind: str,
        raw: Any,
        index: int,
        *,
        require_version: bool,
        now: str,
        legacy_version: int,
        replace: bool = False,
        url_key: str | None = None,
    ) -> tuple[Obj, bool]:
        singular = "item" if kind == "items" else "collection"
        if not isinstance(raw, dict):
            raise ObjectError(
                400,
                f"Invalid value for index {index} in uploaded data; "
                f"expected JSON {singular} object",
            )
        obj_json: dict[str, Any] = raw["data"] if isinstance(raw.get("data"), dict) else raw
        key = url_key
        if "key" in obj_json and url_key is None:
            key = obj_json["key"]
            if not isinstance(key, str):
                raise ObjectError(400, "'key' must be a string")
            if not KEY_RE.match(key):
                raise ObjectError(400, f"'{key}' is not a valid {singular} key")
        existing = txn.get(kind, key) if key else None
        if url_key is None:
            self._check_object_version(obj_json, key, existing, singular, require_version)
        if key is None:
            key = txn.new_key(kind)
        if kind == "items":
            data = model.validate_item(
                obj_json,
                existing.data if existing else None,
                key=key,
                library_id=lib.internal_id,
                collection_exists=lambda k: txn.exists("collections", k),
                item_exists=lambda k: txn.exists("items", k),
                now=now,
                replace=replace,
            )
        else:
            data = model.validate_collection(
                obj_json,
                existing.data if existing else None,
                collection_exists=lambda k: txn.exists("collections", k),
            )
            if data.get("parentCollection") == key:
                raise ObjectError(400, "Cannot make a collection its own parent")
        if existing is None:
            changed = content_changed = True
        else:
            changed, content_changed = model.differs(data, existing.data)
            # The server counts a non-empty `tags` array as a change even when identical.
            if kind == "items" and obj_json.get("tags"):
                changed = content_changed = True
        if kind == "items" and lib.kind == "group":
            # Group items remember who created and who last changed them.
            user_id = req.auth.user_id if req.auth else self.state.groups[lib.id]["owner"]
            if existing is None:
                data["_createdByUserID"] = user_id
            if content_changed:
                data["_lastModifiedByUserID"] = user_id
        if kind == "items":
            model.settle_dates(
                data, existing.data if existing else None, now, content_changed=content_changed
            )
            if existing is not None and not changed:
                changed = data != existing.data
        if self.version_mode == "per-object":
            txn.version += 1
            version = txn.version
        else:
            version = legacy_version
        if not changed and existing is not None:
            return existing, False
        obj = Obj(key, version, existing.seq if existing else txn.next_seq(), data)
        txn.put(kind, obj)
        return obj, True

    @staticmethod
    def _check_object_version(
        obj_json: dict[str, Any],
        key: str | None,
        existing: Obj | None,
        singular: str,
        require_version: bool,
    ) -> None:
        for old, new in ((f"{singular}Key", "key"), (f"{singular}Version", "version")):
            if old in obj_json:
                raise ObjectError(400, f"'{old}' property is now '{new}'")
        if "version" in obj_json:
            raw = obj_json["version"]
            if not _is_int(raw):
                raise ObjectError(400, "'version' must be an integer")
            if key is None:
                raise ObjectError(400, f"'version' is valid only if {singular} key is provided")
            version = int(raw)
            current = existing.version if existing else 0
            if current > version:
                raise ObjectError(
                    412,
                    f"{singular.capitalize()} has been modified since specified version "
                    f"(expected {version}, found {current})",
                )
            if version > 0 and existing is None:
                raise ObjectError(
                    404,
                    f"{singular.capitalize()} doesn't exist (expected version {version}; "
                    "use 0 instead)",
                )
        elif require_version and key is not None:
            raise ObjectError(
                428,
                "Either If-Unmodified-Since-Version or 'version' property must be provided "
                "for 'key'-based writes",
            )

    def _single_write(
        self, req: Request, lib: Library, kind: str, key: str, token_hash: str | None
    ) -> Response:
        singular = "item" if kind == "items" else "collection"
        header = req.headers.get("if-unmodified-since-version")
        with lib.lock:
            existing = lib.table(kind).get(key)
            body = self._parse_body(req) if req.method != "DELETE" else None
            if body is not None and not isinstance(body, dict):
                raise ApiError(400, "Uploaded data must be a JSON object")
            obj_json = None
            if body is not None:
                obj_json = body["data"] if isinstance(body.get("data"), dict) else body
            if req.method == "DELETE" and header is None:
                raise ApiError(
                    428, "If-Unmodified-Since-Version must be provided for delete requests"
                )
            header_version = None
            if header is not None:
                if not _is_int(header):
                    raise ApiError(400, f"Invalid If-Unmodified-Since-Version value '{header}'")
                header_version = int(header)
            prop_version = None
            if obj_json is not None and "version" in obj_json:
                if not _is_int(obj_json["version"]):
                    raise ApiError(
                        400, f"Invalid JSON 'version' property value '{obj_json['version']}'"
                    )
                prop_version = int(obj_json["version"])
            if (
                header_version is not None
                and prop_version is not None
                and header_version != prop_version
            ):
                raise ApiError(
                    400,
                    "If-Unmodified-Since-Version value does not match JSON 'version' property "
                    f"({header_version} != {prop_version})",
                )
            version = header_version if header_version is not None else prop_version
            if req.method == "DELETE":
                return self._delete_one(lib, kind, key, existing, version)
            if existing is None:
                if req.method == "PATCH" and version is None:
                    raise ApiError(
                        404,
                        f"{singular.capitalize()} not found (to create, use "
                        "If-Unmodified-Since-Version: 0, JSON 'version' 0, or PUT method)",
                    )
                if version is not None and version > 0:
                    raise ApiError(
                        412, f"{singular.capitalize()} not found (expected version {version})"
                    )
            else:
                if version is None:
                    raise ApiError(
                        428,
                        "Either If-Unmodified-Since-Version or object version property must be "
                        "provided for key-based writes",
                    )
                if existing.version > version:
                    raise ApiError(
                        412,
                        f"{singular.capitalize()} has been modified since specified version "
                        f"(expected {version}, found {existing.version})",
                        version=existing.version,
                    )
            assert obj_json is not None
            if "key" in obj_json and obj_json["key"] != key:
                raise ApiError(
                    400, f"{singular.capitalize()} key provided in body does not match URL"
                )
            txn = Txn(lib)
            old_version = lib.version
            try:
                _, changed = self._write_object(
                    req,
                    lib,
                    txn,
                    kind,
                    obj_json,
                    0,
                    require_version=False,
                    now=self.clock(),
                    legacy_version=lib.version + 1,
                    replace=req.method == "PUT",
                    url_key=key,
                )
            except ObjectError as err:
                raise ApiError(err.code, err.message) from None
            # The library version advances even when nothing changed; the response then
            # reports the old one (as the dataserver does).
            txn.version = lib.version + 1
            self.state.commit(txn, token_hash)
            headers = [("Last-Modified-Version", str(lib.version if changed else old_version))]
            return Response(204, b"", headers, objects=1)

    def _commit_no_content(self, txn: Txn) -> Response:
        """Commit a write that answers 204, with the library's version once it is applied."""
        self.state.commit(txn)
        return Response(204, b"", [("Last-Modified-Version", str(txn.lib.version))])

    def _delete_one(
        self, lib: Library, kind: str, key: str, existing: Obj | None, version: int | None
    ) -> Response:
        singular = "item" if kind == "items" else "collection"
        if existing is not None and version is not None and existing.version > version:
            raise ApiError(
                412,
                f"{singular.capitalize()} has been modified since specified version "
                f"(expected {version}, found {existing.version})",
                version=existing.version,
            )
        txn = Txn(lib)
        txn.version = lib.version + 1
        if existing is not None:
            self._remove(txn, kind, key, txn.version)
        return self._commit_no_content(txn)

    def _remove(self, txn: Txn, kind: str, key: str, version: int, log: bool = True) -> None:
        txn.remove(kind, key, version, log=log)
        if kind == "items":
            for child in sorted(txn.lib.children.get(key, ())):
                if txn.exists("items", child):
                    txn.remove("items", child, version)
        else:
            # Subcollections go too, but only the collection asked for is logged in /deleted.
            for sub in list(txn.items("collections")):
                if sub.data.get("parentCollection") == key:
                    self._remove(txn, kind, sub.key, version, log=False)
            # Its items leave it without a version bump (as on the dataserver).
            for item in list(txn.items("items")):
                if key in item.data.get("collections", ()):
                    data = dict(item.data)
                    data["collections"] = [c for c in data["collections"] if c != key]
                    txn.put("items", Obj(item.key, item.version, item.seq, data))

    def _multi_delete(self, req: Request, lib: Library, kind: str, keys: str | None) -> Response:
        with self._library_write(req, lib):
            txn = Txn(lib)
            txn.version = lib.version + 1
            # Without keys nothing is deleted, but the library version still advances.
            for key in (keys or "").strip(",").split(","):
                key = key.strip()
                if KEY_RE.match(key) and txn.exists(kind, key):
                    self._remove(txn, kind, key, txn.version)
            return self._commit_no_content(txn)

    # ---- collections ------------------------------------------------------------------------

    def _collections_route(
        self,
        req: Request,
        lib: Library,
        rest: list[str],
        params: ReadParams,
        token_hash: str | None,
    ) -> Response:
        m = req.method
        if not rest or rest == ["top"]:
            if m == "GET":
                return self._read_collections(req, lib, params, top=rest == ["top"])
            if m == "POST" and not rest:
                return self._multi_write(req, lib, "collections", token_hash)
            if m == "DELETE" and not rest:
                return self._multi_delete(req, lib, "collections", req.param("collectionKey"))
            raise ApiError(405, headers=[("Allow", "GET, POST, DELETE")])
        ckey = rest[0]
        if len(rest) == 1:
            if m == "GET":
                with lib.lock:
                    obj = lib.collections.get(ckey)
                    if obj is None:
                        raise ApiError(404, "Collection not found")
                    return self._single_response(req, lib, obj, params, kind="collections")
            if m in ("PUT", "PATCH", "DELETE"):
                return self._single_write(req, lib, "collections", ckey, token_hash)
            raise ApiError(405, headers=[("Allow", "GET, PUT, PATCH, DELETE")])
        with lib.lock:
            if ckey not in lib.collections:
                raise ApiError(404, "Collection not found")
        sub = rest[1:]
        if sub == ["collections"] and m == "GET":
            return self._read_collections(req, lib, params, parent=ckey)
        if sub in (["items"], ["items", "top"]):
            if m == "GET":
                return self._read_items(
                    req, lib, params, top=sub == ["items", "top"], collection=ckey
                )
            if m == "POST" and sub == ["items"]:
                return self._add_to_collection(req, lib, ckey)
            raise ApiError(405, headers=[("Allow", "GET, POST")])
        if len(sub) == 2 and sub[0] == "items" and m == "DELETE":
            # What the live dataserver does here (verified): an error, and nothing changes.
            raise ApiError(500, "An error occurred")
        raise ApiError(404, "Not found")

    def _add_to_collection(self, req: Request, lib: Library, ckey: str) -> Response:
        with self._library_write(req, lib):
            keys = req.body.decode("utf-8", "replace").split()
            txn = Txn(lib)
            for key in keys:
                item = txn.get("items", key)
                if item is None:
                    raise ApiError(400, f"Item {key} not found")
                if ckey in item.data.get("collections", ()):
                    continue
                data = dict(item.data)
                data["collections"] = sorted([*data.get("collections", []), ckey])
                # The items get the current library version; the library does not advance.
                txn.put("items", Obj(item.key, lib.version, item.seq, data))
            return self._commit_no_content(txn)

    def _read_collections(
        self,
        req: Request,
        lib: Library,
        params: ReadParams,
        *,
        top: bool = False,
        parent: str | None = None,
    ) -> Response:
        with lib.lock:
            found = []
            q = _fold(params.q) if params.q else None
            keys = set(params.collection_keys) if params.collection_keys is not None else None
            for obj in lib.collections.values():
                data = obj.data
                if keys is not None and obj.key not in keys:
                    continue
                if params.since is not None and obj.version <= params.since:
                    continue
                if data.get("deleted") and not params.include_trashed:
                    continue
                if top and data.get("parentCollection"):
                    continue
                if parent is not None and data.get("parentCollection") != parent:
                    continue
                if q is not None and q not in _fold(data["name"]):
                    continue
                found.append(obj)
            counts = self._collection_counts(lib)
            if params.sort == "title":
                found.sort(
                    key=lambda o: o.data["name"].casefold(), reverse=params.direction == "desc"
                )
            else:
                found.sort(key=lambda o: (o.version, o.seq), reverse=params.direction == "desc")
            return self._list_response(
                req,
                lib,
                found,
                params,
                lambda o: self._collection_json(req, lib, o, counts=counts),
            )

    # ---- tags and deleted -----------------------------------------------------------------

    def _tags(
        self, req: Request, lib: Library, params: ReadParams, only: list[Obj] | None = None
    ) -> Response:
        if req.method == "DELETE":
            return self._delete_tags(req, lib)
        if req.method != "GET":
            raise ApiError(405, headers=[("Allow", "GET, DELETE")])
        with lib.lock:
            counts: dict[tuple[str, int], int] = {}
            source = only if only is not None else sorted(lib.items.values(), key=lambda o: o.seq)
            for obj in source:
                if obj.data.get("deleted") and not params.include_trashed and only is None:
                    continue
                for tag in obj.data.get("tags", ()):
                    tkey = (tag["tag"], tag.get("type", 0))
                    counts[tkey] = counts.get(tkey, 0) + 1
            names = list(counts)
            if params.q:
                q = _fold(params.q)
                names = [n for n in names if q in _fold(n[0])]
            names.sort(key=lambda n: n[0])
            rows = [
                {
                    "tag": name,
                    "links": {
                        "self": {
                            "href": f"{req.base}/{lib.path}/tags/{quote(name, safe='')}",
                            "type": "application/json",
                        },
                        "alternate": {
                            "href": f"{req.base}/{lib.path}/tags/{quote(name, safe='')}",
                            "type": "text/html",
                        },
                    },
                    "meta": {"type": ttype, "numItems": counts[(name, ttype)]},
                }
                for name, ttype in names
            ]
            total = len(rows)
            page = (
                rows[params.start :]
                if params.limit is None
                else rows[params.start : params.start + params.limit]
            )
            headers = [("Total-Results", str(total)), ("Link", self._link(req, params, total))]
            return _json_response(page, lib.version, headers)

    def _delete_tags(self, req: Request, lib: Library) -> Response:
        with self._library_write(req, lib):
            raw = req.param("tag")
            if not raw:
                raise ApiError(400, "'tag' not provided")
            names = {t.strip() for t in raw.split("||") if t.strip()}
            txn = Txn(lib)
            txn.version = lib.version + 1
            found: set[str] = set()
            for item in list(txn.items("items")):
                tags = [t for t in item.data.get("tags", ()) if t["tag"] not in names]
                if len(tags) != len(item.data.get("tags", ())):
                    found |= {t["tag"] for t in item.data["tags"]} & names
                    data = dict(item.data)
                    data["tags"] = tags
                    txn.put("items", Obj(item.key, txn.version, item.seq, data))
            for name in found:
                txn.deleted_add[("tags", name)] = txn.version
            return self._commit_no_content(txn)

    def _deleted(self, req: Request, lib: Library) -> Response:
        if req.method != "GET":
            raise ApiError(405, headers=[("Allow", "GET")])
        since = req.param("since") if req.param("since") is not None else req.param("newer")
        if since is None:
            raise ApiError(400, "'since' parameter must be provided")
        since_v = int(since)
        with lib.lock:
            out: dict[str, list[str]] = {
                "collections": [],
                "items": [],
                "searches": [],
                "tags": [],
                "settings": [],
            }
            for (kind, key), version in lib.deleted.items():
                if version > since_v and kind in out:
                    out[kind].append(key)
            for keys in out.values():
                keys.sort()
            return _json_response(out, lib.version)

    # ---- out-of-band writes (admin) ---------------------------------------------------------

    def oob_write(self, lib: Library, objects: list[Any], base: str) -> dict[str, Any]:
        """Create or update items as another client would (keys with PATCH semantics, no
        version checks): used by tests to move the library version behind a client's back."""
        req = Request("POST", f"/{lib.path}/items", [], {}, b"", base=base)
        with lib.lock:
            txn = Txn(lib)
            report = new_report()
            now = self.clock()
            for i, raw in enumerate(model.clean_strings(objects)):
                write_into(
                    self,
                    report,
                    req,
                    txn,
                    "items",
                    raw,
                    i,
                    require_version=False,
                    now=now,
                    legacy_version=lib.version + 1,
                )
            if self.version_mode == "per-request":
                txn.version = lib.version + 1 if txn.puts else lib.version
            self.state.commit(txn)
            return report
