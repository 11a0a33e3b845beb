"""The in-memory twin of a Zotero library: a :class:`~syncd.targets.base.Target` without sockets.

:class:`MemoryLibrary` holds one library as a server would: items with versions, the library
version, the log of deleted keys, collections. :class:`MemoryTarget` is one client of it (a
process); several targets on one library are several writers. It keeps the promises that
exactly-once rests on, as the Web API does (the contract suite holds both to them): keys chosen
by the client with ``"version": 0``, a key that is taken comes back ``existing``, a write
guarded by a library version is refused whole once the library moved on, a patch is guarded by
the item's version.

Faults for tests are set on the library (they hit whichever client calls next): transient
failures, an answer lost after the write was applied, and the process dying at the n-th call
(before or after applying a write), raised as :attr:`MemoryLibrary.crash` — a
``BaseException``, so that nothing on the way catches it, as nothing survives a kill -9.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from syncd.core.dedup import KnownItem
from syncd.core.identity import item_identifiers
from syncd.core.keys import ALPHABET, KEY_PATTERN
from syncd.core.zotero_items import known_item
from syncd.errors import RemoteError
from syncd.targets.base import (
    Capabilities,
    KeyAccess,
    VersionConflict,
    WriteResult,
    check_creates,
    collection_path,
)


def _other_key(first: str, n: int) -> str:
    """The ``n``-th key of a series starting with ``first``: keys another client chose, never
    one that syncd derives the same way twice."""
    return first + "".join(ALPHABET[n // len(ALPHABET) ** i % len(ALPHABET)] for i in range(7))


class SimulatedCrash(BaseException):
    """The process dies here (not an Exception: nothing on the way catches it)."""


class MemoryLibrary:
    """One library as the server holds it, shared by every target (process) that uses it."""

    def __init__(self, library: str = "users/1", *, native_ids: bool = True) -> None:
        self.library = library
        self.native_ids = native_ids
        self.version = 0
        self.items: dict[str, tuple[int, dict[str, Any]]] = {}
        """key -> (version, data without key and version)."""
        self.deleted: dict[str, int] = {}
        """key -> the library version at which it was deleted for good."""
        self.collections: dict[str, tuple[str, str, int]] = {}
        """key -> (name, parent key or "", version)."""
        self.fail_next = 0
        """Transient failures (HTTP 503) of the next calls."""
        self.lose_next_answer = False
        """The next write is applied and its answer lost."""
        self.crash_in: int | None = None
        """Calls until the process dies (raising :attr:`crash`)."""
        self.crash_after_apply = False
        """When the process dies in a write: after applying it, rather than before."""
        self.crash: type[BaseException] = SimulatedCrash
        self.writes = 0
        """Create and update requests that reached the library (applied or refused)."""
        self._other_keys = itertools.count()

    # ---- what another client or the user does -----------------------------------------------

    def add(self, data: Mapping[str, Any], key: str | None = None) -> str:
        """Another client creates an item (a key of its own unless given); returns the key."""
        if key is None:
            key = _other_key("Z", next(self._other_keys))
        self.version += 1
        self.items[key] = (self.version, dict(data))
        self.deleted.pop(key, None)
        return key

    def delete(self, key: str) -> None:
        """The user deletes the item for good (emptied from the trash)."""
        del self.items[key]
        self.version += 1
        self.deleted[key] = self.version

    def trash(self, key: str) -> None:
        """The user moves the item to the trash."""
        self.version += 1
        self.items[key] = (self.version, {**self.items[key][1], "deleted": 1})

    def pmids(self) -> list[str]:
        """The PMID of each item that has one (a PMID twice is an article held twice)."""
        return [p for _, d in self.items.values() if (p := item_identifiers(d).pmid)]


class MemoryTarget:
    """One client (process) of a :class:`MemoryLibrary`."""

    capabilities = Capabilities()

    def __init__(self, server: MemoryLibrary, *, can_write: bool = True) -> None:
        self.s = server
        self.library = self.key_library = server.library
        self.can_write = can_write
        self.closed = False

    def _enter(self, write: bool = False) -> bool:
        """Faults before a call; True when the process is to die after applying it."""
        s = self.s
        if s.crash_in is not None:
            s.crash_in -= 1
            if s.crash_in <= 0:
                s.crash_in = None
                if write and s.crash_after_apply:
                    return True
                raise s.crash
        if s.fail_next > 0:
            s.fail_next -= 1
            raise RemoteError("HTTP 503 from the memory library", status=503, transient=True)
        return False

    def check_access(self, *, require_write: bool = True) -> KeyAccess:
        self._enter()
        if require_write and not self.can_write:
            raise RemoteError(
                f"the key may not write to {self.library}",
                hint="allow write access for this library",
                status=403,
            )
        user = int(self.library.split("/")[1]) if self.library.startswith("users/") else 1
        return KeyAccess(user, "memory", True, self.can_write, self.library)

    def has_native_ids(self) -> bool:
        self._enter()
        return self.s.native_ids

    def library_version(self) -> int:
        self._enter()
        return self.s.version

    def item_versions(self, since: int) -> tuple[dict[str, int], int]:
        self._enter()
        return {k: v for k, (v, _) in self.s.items.items() if v > since}, self.s.version

    def stream_item_versions(
        self, since: int, sink: Callable[[list[tuple[str, int]]], None]
    ) -> int:
        self._enter()
        pairs = [(k, v) for k, (v, _) in self.s.items.items() if v > since]
        for start in range(0, len(pairs), 3):  # in small pieces, as a stream arrives
            sink(pairs[start : start + 3])
        return self.s.version

    def known_items(self, keys: Sequence[str]) -> dict[str, KnownItem]:
        self._enter()
        out: dict[str, KnownItem] = {}
        for k in keys:
            if k in self.s.items:
                v, d = self.s.items[k]
                item = known_item({"key": k, "version": v, "data": {**d, "key": k, "version": v}})
                if item is not None:
                    out[k] = item
        return out

    def deleted_since(self, since: int) -> tuple[list[str], int]:
        self._enter()
        return [k for k, v in self.s.deleted.items() if v > since], self.s.version

    def create_items(
        self, items: Sequence[Mapping[str, Any]], *, if_unmodified_since: int | None = None
    ) -> WriteResult:
        check_creates(items)
        die = self._enter(write=True)
        s = self.s
        s.writes += 1
        if not self.can_write:
            raise RemoteError(f"the key may not write to {self.library}", status=403)
        if if_unmodified_since is not None and if_unmodified_since != s.version:
            raise VersionConflict(
                f"library {self.library} changed since version {if_unmodified_since}; "
                "nothing was created",
                status=412,
            )
        result = WriteResult()
        created = False
        for i, item in enumerate(items):
            key = item["key"]
            if key in s.items:
                result.existing[i] = key
                continue
            if not item.get("itemType"):
                result.failed[i] = (400, "'itemType' property not provided")
                continue
            if not created:
                s.version += 1  # one write, one new library version
                created = True
            data = {k: v for k, v in item.items() if k not in ("key", "version")}
            s.items[key] = (s.version, data)
            s.deleted.pop(key, None)
            result.created[i] = (key, s.version)
        result.library_version = s.version
        if die:
            raise s.crash
        if s.lose_next_answer:
            s.lose_next_answer = False
            raise RemoteError("connection lost after the write (memory library)", transient=True)
        return result

    def update_item(self, key: str, version: int, patch: Mapping[str, Any]) -> int:
        self._enter(write=True)
        s = self.s
        s.writes += 1
        if key not in s.items or s.items[key][0] != version:
            raise VersionConflict(f"item {key} changed since version {version}", status=412)
        s.version += 1
        s.items[key] = (s.version, {**s.items[key][1], **patch})
        return s.version

    def find_or_create_collection(self, spec: str) -> str:
        self._enter()
        found = self._resolve_collection(spec, create=True)
        assert found is not None
        return found

    def find_collection(self, spec: str) -> str | None:
        self._enter()
        return self._resolve_collection(spec, create=False)

    def _resolve_collection(self, spec: str, *, create: bool) -> str | None:
        s = self.s
        spec = spec.strip()
        if KEY_PATTERN.match(spec) and spec in s.collections:
            return spec
        names = collection_path(spec)
        parent = ""
        for name in names:
            found = min(
                (k for k, (n, p, _) in s.collections.items() if n == name and p == parent),
                default=None,
            )
            if found is None:
                if not create:
                    return None
                s.version += 1
                found = _other_key("C", len(s.collections))
                s.collections[found] = (name, parent, s.version)
            parent = found
        return parent

    def close(self) -> None:
        self.closed = True
