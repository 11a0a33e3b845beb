"""The target contract: what the engine relies on, held on every target and its memory twin.

Each test runs on the in-package :class:`~syncd.targets.memory.MemoryTarget`, on the Web API
gateway against the sandbox (real HTTP, pyzotero) and on the desktop target against the double
of the Zotero 10 app (signed in as the same user, so that keys are derived alike). Where the
app cannot do something (it has no ``/deleted``), the test reads the target's capability flag.
What another client or the user does (create an item under a key of its own, trash it, delete
it for good) is done by a :class:`World` of each kind: through pyzotero for the sandbox, on the
double's state for the app, on the memory library directly for the twin. A
difference between the two is a bug in the twin (the sandbox follows the recorded real server),
never a reason to loosen a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest
from pyzotero.zotero import Zotero

from syncd.core.keys import item_key
from syncd.errors import ConfigError, RemoteError
from syncd.sandbox import SandboxServer
from syncd.sandbox.desktop import DesktopDouble
from syncd.sandbox.desktop_state import DesktopState
from syncd.targets.base import Capabilities, KeyAccess, Target, VersionConflict
from syncd.targets.desktop import DesktopTarget
from syncd.targets.desktop_auth import authorize
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from syncd.zotero import ZoteroGateway
from tests.contract.conftest import KEY, USER_ID, no_proxy, populate
from tests.helpers import zotero_article

LIBRARY = f"users/{USER_ID}"


class World(Protocol):
    """One library, the targets (processes) that write to it, and everyone else."""

    library: str

    def target(self) -> Target: ...
    def other_client_creates(self, data: dict[str, Any]) -> str: ...
    def user_trashes(self, key: str) -> None: ...
    def user_deletes(self, key: str) -> None: ...


class MemoryWorld:
    library = LIBRARY

    def __init__(self) -> None:
        self.memory = MemoryLibrary(LIBRARY)

    def target(self) -> Target:
        return MemoryTarget(self.memory)

    def other_client_creates(self, data: dict[str, Any]) -> str:
        return self.memory.add(data)

    def user_trashes(self, key: str) -> None:
        self.memory.trash(key)

    def user_deletes(self, key: str) -> None:
        self.memory.delete(key)


class DesktopWorld:
    def __init__(self, app: DesktopDouble) -> None:
        self.app = app
        self.key = authorize(app.url)
        self.library = f"desktop/{self.key.server_id}"
        self.made: list[DesktopTarget] = []

    def target(self) -> Target:
        target = DesktopTarget(self.app.url, self.key, sleep=lambda s: None)
        target.connect()
        self.made.append(target)
        return target

    def other_client_creates(self, data: dict[str, Any]) -> str:
        return self.app.state.other_client_creates(data)

    def user_trashes(self, key: str) -> None:
        self.app.state.user_trashes(key)

    def user_deletes(self, key: str) -> None:
        self.app.state.user_deletes(key)


class WebWorld:
    library = LIBRARY

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.zot = Zotero(USER_ID, "user", KEY)
        self.zot.endpoint = sandbox.url
        self.made: list[ZoteroGateway] = []

    def target(self) -> Target:
        gw = ZoteroGateway(
            library_type="user", library_id=USER_ID, api_key=KEY, api_url=self.sandbox.url
        )
        self.made.append(gw)
        return gw

    def other_client_creates(self, data: dict[str, Any]) -> str:
        answer = self.zot.create_items([data])
        return str(answer["successful"]["0"]["key"])

    def _item(self, key: str) -> dict[str, Any]:
        return dict(self.zot.item(key, includeTrashed=1))

    def user_trashes(self, key: str) -> None:
        item = self._item(key)
        self.zot.update_item({"key": key, "version": item["version"], "deleted": 1})

    def user_deletes(self, key: str) -> None:
        item = self._item(key)
        self.zot.delete_item({"key": key, "version": item["version"]})


@pytest.fixture(params=["memory", "web", "desktop"])
def world(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    if request.param == "memory":
        yield MemoryWorld()
        return
    if request.param == "desktop":
        with DesktopDouble(DesktopState(user_id=USER_ID)) as app:
            desktop = DesktopWorld(app)
            yield desktop
            for t in desktop.made:
                t.close()
        return
    no_proxy(monkeypatch)
    with SandboxServer() as sandbox:
        populate(sandbox)
        web = WebWorld(sandbox)
        yield web
        for gw in web.made:
            gw.close()


@pytest.fixture
def target(world: World) -> Target:
    return world.target()


def article(key: str, pmid: str | None = None) -> dict[str, Any]:
    return zotero_article(key, extra=f"PMID: {pmid}") if pmid else zotero_article(key)


def keys(n: int, salt: str = "") -> list[str]:
    return [item_key(f"contract-{salt}-{i}", LIBRARY) for i in range(n)]


def other_article(pmid: str) -> dict[str, Any]:
    return {"itemType": "journalArticle", "title": f"Theirs {pmid}", "extra": f"PMID: {pmid}"}


# ---- what the target is ---------------------------------------------------------------------


def test_it_names_its_library_and_keeps_every_promise(world: World) -> None:
    target = world.target()
    assert target.library == world.library
    assert target.key_library == LIBRARY  # keys derived alike whichever target writes
    assert target.capabilities.missing() == []
    # Only the Zotero app lacks a log of deletions (the engine does without it).
    assert target.capabilities == Capabilities(
        deleted_log=isinstance(world, WebWorld | MemoryWorld)
    )


def test_access_is_told_in_syncd_values(world: World) -> None:
    target = world.target()
    access = target.check_access()
    assert isinstance(access, KeyAccess)
    assert access.can_read and access.can_write and access.library == world.library
    assert access.user_id == USER_ID
    assert isinstance(target.has_native_ids(), bool)


# ---- creates --------------------------------------------------------------------------------


def test_a_key_that_is_taken_comes_back_existing_never_twice(world: World) -> None:
    a, b, c = keys(3, "taken")
    first = world.target().create_items([article(a), article(b)])
    assert {i: k for i, (k, _) in first.created.items()} == {0: a, 1: b}
    assert not first.existing and not first.failed
    # Another process (or a retry after a lost answer) sends the same keys.
    second = world.target().create_items([article(a), article(c), article(b)])
    assert second.existing == {0: a, 2: b}
    assert [k for k, _ in second.created.values()] == [c]
    versions, version = world.target().item_versions(0)
    assert sorted(versions) == sorted([a, b, c])
    assert version == second.library_version == world.target().library_version()


def test_one_bad_item_fails_alone(target: Target) -> None:
    a, b = keys(2, "bad")
    bad = article(b)
    del bad["itemType"]
    result = target.create_items([article(a), bad])
    assert [k for k, _ in result.created.values()] == [a]
    assert list(result.failed) == [1] and result.failed[1][0] == 400
    assert "itemType" in result.failed[1][1]


def test_what_no_server_accepts_is_refused_before_sending(target: Target) -> None:
    with pytest.raises(ValueError, match="at most 50"):
        target.create_items([article(k) for k in keys(51, "many")])
    with pytest.raises(ValueError, match="key"):
        target.create_items([{**article("x"), "key": "not-a-key"}])
    with pytest.raises(ValueError, match="version"):
        target.create_items([{**article(keys(1, "v")[0]), "version": 3}])
    assert target.item_versions(0)[0] == {}


def test_a_guarded_write_is_refused_whole_once_the_library_moved_on(world: World) -> None:
    target = world.target()
    a, b = keys(2, "guard")
    indexed = target.library_version()
    theirs = world.other_client_creates(other_article("4242"))
    with pytest.raises(VersionConflict) as info:
        target.create_items([article(a), article(b)], if_unmodified_since=indexed)
    assert isinstance(info.value, RemoteError) and not info.value.transient
    assert list(target.item_versions(0)[0]) == [theirs]  # nothing of ours was created
    now = target.library_version()
    result = target.create_items([article(a), article(b)], if_unmodified_since=now)
    assert len(result.created) == 2 and result.library_version > now


# ---- reads ----------------------------------------------------------------------------------


def test_versions_since_list_what_changed_and_the_stream_agrees(world: World) -> None:
    target = world.target()
    a, b = keys(2, "since")
    first = target.create_items([article(a)])
    since = first.library_version
    second = target.create_items([article(b)])
    versions, version = target.item_versions(since)
    assert versions == {b: second.created[0][1]} and version == second.library_version
    pieces: list[list[tuple[str, int]]] = []
    assert target.stream_item_versions(0, pieces.append) == version
    assert dict(p for piece in pieces for p in piece) == target.item_versions(0)[0]


def test_known_items_are_articles_in_syncd_values(world: World) -> None:
    target = world.target()
    a, b = keys(2, "known")
    made = target.create_items([article(a, pmid="31000001"), article(b)])
    note = world.other_client_creates({"itemType": "note", "note": "<p>a note</p>"})
    found = target.known_items([a, b, note, keys(1, "absent")[0]])
    assert sorted(found) == sorted([a, b])  # the note and the empty key are left out
    item = found[a]
    assert item.key == a and item.ids.pmid == "31000001"
    assert item.version == made.created[0][1] and not item.trashed
    assert item.tags == (("syncd", 1),) and item.collections == ()
    assert item.ids.fingerprint  # a title, year and first author to match on


def test_a_trashed_item_is_known_as_trashed(world: World) -> None:
    target = world.target()
    (a,) = keys(1, "trash")
    target.create_items([article(a, pmid="31000002")])
    world.user_trashes(a)
    assert target.known_items([a])[a].trashed
    assert a in target.item_versions(0)[0]


def test_items_deleted_for_good_are_listed_since_a_version(world: World) -> None:
    target = world.target()
    a, b = keys(2, "deleted")
    made = target.create_items([article(a), article(b)])
    world.user_deletes(a)
    if not target.capabilities.deleted_log:
        # Said, not faked: the engine then knows deletions from its own index alone.
        with pytest.raises(RemoteError, match="no log of deleted items"):
            target.deleted_since(made.library_version)
        assert sorted(target.item_versions(0)[0]) == [b]
        assert target.known_items([a]) == {}
        return
    deleted, version = target.deleted_since(made.library_version)
    assert deleted == [a] and version == target.library_version()
    assert target.deleted_since(version)[0] == []
    assert sorted(target.item_versions(0)[0]) == [b]
    assert target.known_items([a]) == {}


# ---- updates --------------------------------------------------------------------------------


def test_a_patch_is_guarded_by_the_item_version(world: World) -> None:
    target = world.target()
    (a,) = keys(1, "patch")
    version = target.create_items([article(a)]).created[0][1]
    tags = [{"tag": "syncd", "type": 1}, {"tag": "new"}]
    new = target.update_item(a, version, {"tags": tags})
    assert new > version
    item = target.known_items([a])[a]
    assert set(item.tags) == {("syncd", 1), ("new", 0)} and item.version == new
    assert item.ids.fingerprint == target.known_items([a])[a].ids.fingerprint  # title kept
    with pytest.raises(VersionConflict):
        world.target().update_item(a, version, {"tags": []})
    assert set(target.known_items([a])[a].tags) == {("syncd", 1), ("new", 0)}


# ---- collections ----------------------------------------------------------------------------


def test_collections_by_name_path_and_key_created_once(world: World) -> None:
    target = world.target()
    assert target.find_collection("Reading/PubMed") is None
    child = target.find_or_create_collection("Reading/PubMed")
    assert world.target().find_or_create_collection(" Reading / PubMed ") == child
    assert target.find_collection("Reading/PubMed") == child
    assert target.find_or_create_collection(child) == child
    parent = target.find_collection("Reading")
    assert parent is not None and parent != child
    other = target.find_or_create_collection("PubMed")  # the same name elsewhere
    assert other not in (child, parent)
    assert target.find_collection("Reading/Other") is None
    with pytest.raises(ConfigError, match="empty name"):
        target.find_or_create_collection("Reading//PubMed")


def test_an_item_put_in_a_collection_is_known_there(world: World) -> None:
    target = world.target()
    coll = target.find_or_create_collection("Inbox")
    (a,) = keys(1, "coll")
    version = target.create_items([article(a)]).created[0][1]
    target.update_item(a, version, {"collections": [coll]})
    assert target.known_items([a])[a].collections == (coll,)
