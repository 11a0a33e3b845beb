"""The sandbox's state: users, groups, API keys, libraries of objects, write tokens.

Everything lives in memory for fast reads and is written through to SQLite
(:class:`syncd.sandbox.db.Database`). A write goes through a :class:`Txn`: changes are staged,
committed to SQLite in one transaction, and only then published to memory. Each library has
one lock, held around the precondition checks and the whole apply, so racing writers
serialise and exactly one of two requests with the same ``If-Unmodified-Since-Version`` wins.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.sandbox.db import Database
from syncd.sandbox.model import KEY_ALPHABET


@dataclass
class Obj:
    """A stored item or collection: ``data`` is the normalised editable data."""

    key: str
    version: int
    seq: int
    data: dict[str, Any]


@dataclass
class Library:
    path: str  # "users/1" or "groups/2"
    kind: str  # "user" or "group"
    id: int
    internal_id: int
    version: int = 0
    items: dict[str, Obj] = field(default_factory=dict)
    collections: dict[str, Obj] = field(default_factory=dict)
    deleted: dict[tuple[str, str], int] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)
    seq: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Sorted item lists keyed by (version, sort, direction): reads page through big libraries
    # without re-sorting for every page.
    sort_cache: dict[tuple[int, str, str], list[Obj]] = field(default_factory=dict)
    # Results of plain listings (no filter but the trash and notes flags) by (version, sort,
    # direction, flags): pages by ``start`` slice them instead of filtering every item again.
    listing_cache: dict[tuple[Any, ...], list[Obj]] = field(default_factory=dict)
    # (version, key) of the items in the order their versions were written, so that a
    # ``since=`` read finds what changed without looking at the rest: entries whose item has
    # changed again or gone are skipped, and dropped when they are as many as the items.
    by_version: list[tuple[int, str]] = field(default_factory=list)
    by_version_sorted: bool = True

    def table(self, kind: str) -> dict[str, Obj]:
        return self.items if kind == "items" else self.collections

    def note_item_version(self, key: str, version: int) -> None:
        if self.by_version and version < self.by_version[-1][0]:
            self.by_version_sorted = False
        self.by_version.append((version, key))

    def items_since(self, since: int) -> list[Obj]:
        """The items whose version is above ``since``, in the order they were written."""
        if not self.by_version_sorted or len(self.by_version) > 2 * len(self.items) + 1024:
            self.by_version = sorted((o.version, o.key) for o in self.items.values())
            self.by_version_sorted = True
        out: list[Obj] = []
        seen: set[str] = set()
        start = bisect.bisect_right(self.by_version, (since, "\U0010ffff"))
        for version, key in self.by_version[start:]:
            obj = self.items.get(key)
            if obj is not None and obj.version == version and key not in seen:
                seen.add(key)
                out.append(obj)
        return out


@dataclass
class KeyInfo:
    key: str
    user_id: int
    user: dict[str, bool]
    groups: dict[str, tuple[bool, bool]]


class Txn:
    """Staged changes of one write request to one library."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.version = lib.version
        self.puts: dict[tuple[str, str], Obj] = {}
        self.removes: set[tuple[str, str]] = set()
        self.deleted_add: dict[tuple[str, str], int] = {}
        self.deleted_remove: set[tuple[str, str]] = set()
        self.seq = lib.seq

    def get(self, kind: str, key: str) -> Obj | None:
        if (kind, key) in self.puts:
            return self.puts[(kind, key)]
        if (kind, key) in self.removes:
            return None
        return self.lib.table(kind).get(key)

    def exists(self, kind: str, key: str) -> bool:
        return self.get(kind, key) is not None

    def was_deleted(self, kind: str, key: str) -> bool:
        if (kind, key) in self.deleted_add:
            return True
        return (kind, key) in self.lib.deleted and (kind, key) not in self.deleted_remove

    def put(self, kind: str, obj: Obj) -> None:
        self.puts[(kind, obj.key)] = obj
        self.removes.discard((kind, obj.key))
        if self.was_deleted(kind, obj.key):
            self.deleted_add.pop((kind, obj.key), None)
            self.deleted_remove.add((kind, obj.key))

    def remove(self, kind: str, key: str, version: int, log: bool = True) -> None:
        self.puts.pop((kind, key), None)
        self.removes.add((kind, key))
        if log:
            self.deleted_add[(kind, key)] = version
            self.deleted_remove.discard((kind, key))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_key(self, kind: str) -> str:
        while True:
            key = "".join(secrets.choice(KEY_ALPHABET) for _ in range(8))
            if not self.exists(kind, key) and not self.was_deleted(kind, key):
                return key

    def items(self, kind: str) -> Iterable[Obj]:
        """All live objects of ``kind`` as this transaction sees them."""
        for key, obj in self.lib.table(kind).items():
            if (kind, key) not in self.puts and (kind, key) not in self.removes:
                yield obj
        for (k, _), obj in self.puts.items():
            if k == kind:
                yield obj


class State:
    """Users, groups, keys and libraries, backed by SQLite."""

    def __init__(self, data_dir: Path | None, write_token_ttl: float) -> None:
        self.db = Database(data_dir)
        self.write_token_ttl = write_token_ttl
        self.lock = threading.RLock()
        self.users: dict[int, str] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.keys: dict[str, KeyInfo] = {}
        self.libraries: dict[str, Library] = {}
        self.tokens: dict[str, float] = {}
        self._load()

    # ---- loading and set-up ----------------------------------------------------------------

    def _load(self) -> None:
        rows = self.db.load()
        for uid, username in rows["users"]:
            self.users[uid] = username
            self._library(f"users/{uid}")
        for gid, name, owner, members in rows["groups_"]:
            self.groups[gid] = {"name": name, "owner": owner, "members": json.loads(members)}
            self._library(f"groups/{gid}")
        for key, uid, access in rows["api_keys"]:
            acc = json.loads(access)
            self.keys[key] = KeyInfo(
                key, uid, acc["user"], {g: (v[0], v[1]) for g, v in acc["groups"].items()}
            )
        for path, version in rows["libraries"]:
            self._library(path).version = version
        for path, kind, key, version, seq, data in rows["objects"]:
            lib = self._library(path)
            obj = Obj(key, version, seq, json.loads(data))
            lib.table(kind)[key] = obj
            lib.seq = max(lib.seq, seq)
            if kind == "items" and obj.data.get("parentItem"):
                lib.children.setdefault(obj.data["parentItem"], set()).add(key)
        for lib in self.libraries.values():
            lib.by_version = sorted((o.version, o.key) for o in lib.items.values())
        for path, kind, key, version in rows["deleted"]:
            self._library(path).deleted[(kind, key)] = version
        now = time.time()
        self.tokens = {h: exp for h, exp in rows["write_tokens"] if exp > now}

    def _library(self, path: str) -> Library:
        lib = self.libraries.get(path)
        if lib is None:
            kind, _, ident = path.partition("/")
            lib = Library(path, kind[:-1], int(ident), len(self.libraries) + 1)
            self.libraries[path] = lib
        return lib

    def add_user(self, user_id: int, username: str | None, library_version: int = 0) -> None:
        with self.lock:
            name = username or self.users.get(user_id) or f"user{user_id}"
            self.users[user_id] = name
            self.db.put_user(user_id, name)
            lib = self._library(f"users/{user_id}")
            if library_version > lib.version:
                with lib.lock:
                    self.db.write(lib.path, library_version, [], [], [], [])
                    lib.version = library_version

    def add_group(self, group_id: int, name: str, owner: int, members: Iterable[int]) -> None:
        with self.lock:
            member_list = sorted({int(m) for m in members} | {owner})
            self.groups[group_id] = {"name": name, "owner": owner, "members": member_list}
            self.db.put_group(group_id, name, owner, member_list)
            self._library(f"groups/{group_id}")

    def add_key(
        self,
        key: str,
        user_id: int,
        *,
        library: bool,
        notes: bool,
        write: bool,
        files: bool,
        groups: Mapping[int | str, tuple[bool, bool]] | None,
    ) -> None:
        with self.lock:
            user = {"library": library, "files": files, "notes": notes, "write": write}
            grp = {str(g): (bool(v[0]), bool(v[1])) for g, v in (groups or {}).items()}
            if groups is None:
                grp = {"all": (True, True)}
            self.keys[key] = KeyInfo(key, user_id, user, grp)
            self.db.put_key(key, user_id, {"user": user, "groups": grp})

    # ---- permissions -----------------------------------------------------------------------

    def library(self, path: str) -> Library | None:
        return self.libraries.get(path)

    def library_name(self, lib: Library) -> str:
        if lib.kind == "user":
            return self.users.get(lib.id, f"user{lib.id}")
        return str(self.groups.get(lib.id, {}).get("name", lib.id))

    def _group_access(self, key: KeyInfo, group_id: int) -> tuple[bool, bool]:
        group = self.groups.get(group_id)
        if group is None or key.user_id not in group["members"]:
            return (False, False)
        specific = key.groups.get(str(group_id))
        if specific is not None:
            return specific
        return key.groups.get("all", (False, False))

    def can_read(self, key: KeyInfo | None, lib: Library) -> bool:
        if key is None:
            return False
        if lib.kind == "user":
            return key.user_id == lib.id and key.user.get("library", False)
        return self._group_access(key, lib.id)[0]

    def can_write(self, key: KeyInfo | None, lib: Library) -> bool:
        if key is None:
            return False
        if lib.kind == "user":
            return (
                key.user_id == lib.id
                and key.user.get("library", False)
                and key.user.get("write", False)
            )
        access = self._group_access(key, lib.id)
        return access[0] and access[1]

    def key_json(self, key: KeyInfo) -> dict[str, Any]:
        access: dict[str, Any] = {}
        user = {k: v for k, v in key.user.items() if v}
        if user:
            access["user"] = user
        groups = {
            g: {"library": lib_ok, "write": write_ok}
            for g, (lib_ok, write_ok) in key.groups.items()
            if lib_ok or write_ok
        }
        if groups:
            access["groups"] = groups
        return {
            "key": key.key,
            "userID": key.user_id,
            "username": self.users.get(key.user_id, f"user{key.user_id}"),
            "displayName": "",
            "access": access,
        }

    # ---- write tokens ----------------------------------------------------------------------

    @staticmethod
    def token_hash(api_key: str, token: str) -> str:
        return hashlib.sha256(f"{api_key}_{token}".encode()).hexdigest()

    def token_used(self, token_hash: str) -> bool:
        with self.lock:
            expires = self.tokens.get(token_hash)
            return expires is not None and expires > time.time()

    # ---- commits ---------------------------------------------------------------------------

    def commit(self, txn: Txn, token_hash: str | None = None) -> None:
        """Write ``txn`` to SQLite in one transaction, then publish it to memory. The caller
        holds the library's lock."""
        lib = txn.lib
        token = (token_hash, time.time() + self.write_token_ttl) if token_hash else None
        self.db.write(
            lib.path,
            txn.version,
            [(kind, o.key, o.version, o.seq, o.data) for (kind, _), o in txn.puts.items()],
            list(txn.removes),
            [(kind, key, v) for (kind, key), v in txn.deleted_add.items()],
            list(txn.deleted_remove),
            token,
        )
        if token is not None:
            with self.lock:
                self.tokens[token[0]] = token[1]
        for kind, key in txn.removes:
            old = lib.table(kind).pop(key, None)
            if old is not None and kind == "items" and old.data.get("parentItem"):
                lib.children.get(old.data["parentItem"], set()).discard(key)
        for (kind, key), obj in txn.puts.items():
            old = lib.table(kind).get(key)
            if kind == "items":
                old_parent = old.data.get("parentItem") if old else None
                new_parent = obj.data.get("parentItem")
                if old_parent and old_parent != new_parent:
                    lib.children.get(old_parent, set()).discard(key)
                if new_parent:
                    lib.children.setdefault(new_parent, set()).add(key)
            lib.table(kind)[key] = obj
            if kind == "items":
                lib.note_item_version(key, obj.version)
        for dkey, version in txn.deleted_add.items():
            lib.deleted[dkey] = version
        for dkey in txn.deleted_remove:
            lib.deleted.pop(dkey, None)
        lib.version = txn.version
        lib.seq = txn.seq
        lib.sort_cache.clear()
        lib.listing_cache.clear()

    def record_token(self, token_hash: str) -> None:
        expires = time.time() + self.write_token_ttl
        self.db.put_token(token_hash, expires)
        with self.lock:
            self.tokens[token_hash] = expires

    def close(self) -> None:
        self.db.close()
