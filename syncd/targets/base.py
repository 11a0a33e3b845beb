"""What a target is: the library syncd writes to, seen through syncd's own values.

The engine talks to every target through :class:`Target`: the items it knows
(:class:`~syncd.core.dedup.KnownItem`), the outcome of a write (:class:`WriteResult`), what the
credentials may do (:class:`KeyAccess`) and a refused write (:class:`VersionConflict`). It never
sees an HTTP status or a server's JSON: a target turns those into these values, so that a second
target (the Zotero desktop app) is one more module and the engine does not change.

Exactly-once rests on four things a target promises, named in :class:`Capabilities`: creates
under keys chosen by syncd that come back ``existing`` when the key is taken (``keyed_create``),
a write refused as a whole when the library changed since a version (``library_guard``), a log of
deleted keys (``deleted_log``) and a patch of one item guarded by its version (``patch``).
``deleted_log`` is the one the engine can do without: a target without it (the Zotero desktop
app has no ``/deleted``) is written to, and deletions are then known from the state database's
index alone (an item syncd indexed that is no longer listed) — so after a lost state database,
an article the user deleted is not known as deleted and is created again.

Implementations: :class:`syncd.zotero.ZoteroGateway` (the Web API),
:class:`syncd.targets.desktop.DesktopTarget` (the Zotero 10 desktop app) and
:class:`syncd.targets.memory.MemoryTarget` (the in-memory twin). One contract suite
(``tests/contract/test_target_contract.py``) holds them to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from syncd.core.dedup import KnownItem
from syncd.core.keys import KEY_PATTERN
from syncd.errors import ConfigError, RemoteError

MAX_WRITE_BATCH = 50
"""Items per create request: the Zotero API's limit, and every target's."""


@dataclass(frozen=True)
class Capabilities:
    """What a target can promise; the engine writes only to one that promises all that
    :meth:`missing` names (``deleted_log`` is optional, see the module doc)."""

    keyed_create: bool = True
    library_guard: bool = True
    deleted_log: bool = True
    patch: bool = True

    def missing(self) -> list[str]:
        """The promises exactly-once needs that this target cannot keep (empty when it holds);
        ``deleted_log`` is not among them."""
        return [n for n, held in vars(self).items() if not held and n != "deleted_log"]


@dataclass(frozen=True)
class KeyAccess:
    """What the credentials may do in the configured library."""

    user_id: int
    username: str
    can_read: bool
    can_write: bool
    library: str


@dataclass
class WriteResult:
    """The outcome of one create request of at most 50 items, by index into the items sent."""

    created: dict[int, tuple[str, int]] = field(default_factory=dict)
    """index -> (key, version) of the item created."""
    existing: dict[int, str] = field(default_factory=dict)
    """index -> key: per-object 412 (or ``unchanged``), an item with that key exists already."""
    failed: dict[int, tuple[int, str]] = field(default_factory=dict)
    """index -> (code, message): per-object 400 / 409 / 413 and the like."""
    library_version: int = 0
    """The library's version after the write."""
    answer_lost: bool = False
    """An earlier attempt of this request may have been applied without its answer arriving (a
    network error or a 5xx other than 503 before the retry that answered): an item reported
    ``existing`` may then be this write's own."""


class VersionConflict(RemoteError):
    """The library or the object changed since the version the write was guarded by (HTTP 412
    on the Web API); nothing was written.

    ``answer_lost``: an earlier attempt of the same request may have been applied without its
    answer arriving, so the change may be that request's own."""

    answer_lost: bool = False


def check_creates(items: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, before anything is sent, a create no target accepts: more than
    :data:`MAX_WRITE_BATCH` items, an item without a valid key of its own, or one that does not
    carry ``"version": 0`` (what makes a retry come back ``existing`` instead of a twin)."""
    if len(items) > MAX_WRITE_BATCH:
        raise ValueError(f"at most {MAX_WRITE_BATCH} items per write, got {len(items)}")
    for i, item in enumerate(items):
        key = item.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise ValueError(f"item {i} has no valid Zotero key: {key!r}")
        if item.get("version") != 0:
            raise ValueError(f"item {i} ({key}) must carry 'version': 0")


def collection_path(spec: str) -> list[str]:
    """The names in a collection ``spec`` (``"Parent/Child"``), top first; a spec with an
    empty name in it is a config error (it names no collection)."""
    spec = spec.strip()
    names = [part.strip() for part in spec.split("/")]
    if not spec or any(not n for n in names):
        raise ConfigError(
            f"collection {spec!r} has an empty name in it",
            hint="write the collection as a name, 'Parent/Child', or an 8-character key",
        )
    return names


class Target(Protocol):
    """One library that syncd creates items in. Transient failures are retried inside the
    target; what reaches the caller is a :class:`~syncd.errors.RemoteError` (``transient``
    when trying later may help) or a :class:`VersionConflict`."""

    library: str
    """The library's name in the state database and in messages, e.g. ``users/123``."""

    key_library: str
    """The library name syncd derives item and collection keys from: ``library`` on the Web
    API; the signed-in user's ``users/N`` (or ``users/0``) in the desktop app, whose
    ``library`` names its database instead."""

    capabilities: Capabilities

    def check_access(self, *, require_write: bool = True) -> KeyAccess:
        """What the credentials may do; raise when they may not read (or write, if asked)."""
        ...

    def has_native_ids(self) -> bool:
        """Whether items have the PMID and PMCID fields (Zotero's schema 38+)."""
        ...

    def library_version(self) -> int:
        """The library's current version."""
        ...

    def item_versions(self, since: int) -> tuple[dict[str, int], int]:
        """Keys and versions of the items changed after ``since``, and the library version."""
        ...

    def stream_item_versions(
        self, since: int, sink: Callable[[list[tuple[str, int]]], None]
    ) -> int:
        """The same as :meth:`item_versions`, handed to ``sink`` piece by piece as it arrives
        (a large library is never held whole); returns the library version."""
        ...

    def known_items(self, keys: Sequence[str]) -> dict[str, KnownItem]:
        """The articles among ``keys`` (notes and attachments left out), by key; a key that
        holds nothing is absent."""
        ...

    def deleted_since(self, since: int) -> tuple[list[str], int]:
        """Keys of the items deleted after ``since``, and the library version."""
        ...

    def create_items(
        self, items: Sequence[Mapping[str, Any]], *, if_unmodified_since: int | None = None
    ) -> WriteResult:
        """Create up to :data:`MAX_WRITE_BATCH` items, each with its own ``key`` and
        ``"version": 0``; a key that is taken comes back ``existing``. With
        ``if_unmodified_since``, raise :class:`VersionConflict` and create nothing when the
        library changed since that version."""
        ...

    def update_item(self, key: str, version: int, patch: Mapping[str, Any]) -> int:
        """Apply ``patch`` to item ``key`` if it is still at ``version``; return its new
        version, or raise :class:`VersionConflict`."""
        ...

    def find_or_create_collection(self, spec: str) -> str:
        """The key of the collection named by ``spec`` (a key, a name or a path ``A/B``),
        created when missing."""
        ...

    def find_collection(self, spec: str) -> str | None:
        """The key of the collection named by ``spec``, or None when there is none."""
        ...

    def close(self) -> None:
        """Release what the target holds (connections); it is not used afterwards."""
        ...
