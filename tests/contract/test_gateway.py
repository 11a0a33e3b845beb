"""The Zotero gateway against the sandbox over real HTTP: every method, every pyzotero quirk.

Each test gets a fresh in-process sandbox (the ``sandbox`` fixture of this package's conftest:
user 1, group 2 owned by user 1, the full-access key ``KEY``) and a :class:`ZoteroGateway`
whose ``sleep`` records instead of sleeping, so that the waits the gateway was told to make
(Retry-After, Backoff, exponential backoff) can be asserted without costing time.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from syncd import zotero
from syncd.core.keys import digest_key as derive_key
from syncd.errors import ConfigError, RemoteError
from syncd.sandbox import SandboxServer
from syncd.zotero import (
    MAX_SERVER_WAIT,
    KeyAccess,
    RetryPolicy,
    VersionConflict,
    ZoteroGateway,
)
from tests.contract.conftest import GROUP_ID, KEY, USER_ID
from tests.helpers import Redirector
from tests.helpers import zotero_article as article

READ_ONLY_KEY = "ReadOnly0123456789abcdEF"
OTHER_USER_KEY = "OtherUser123456789abcdEF"
NO_GROUP_KEY = "NoGroups0123456789abcdEF"

MakeGateway = Callable[..., ZoteroGateway]


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the gateway asked for, in order."""
    return []


@pytest.fixture
def make_gateway(sandbox: SandboxServer, sleeps: list[float]) -> Iterator[MakeGateway]:
    """``make_gateway(library_type="user", library_id=1, api_key=KEY, **kwargs)``."""
    made: list[ZoteroGateway] = []

    def make(
        library_type: str = "user",
        library_id: int = USER_ID,
        api_key: str = KEY,
        **kwargs: Any,
    ) -> ZoteroGateway:
        kwargs.setdefault("sleep", sleeps.append)
        gateway = ZoteroGateway(
            library_type=library_type,
            library_id=library_id,
            api_key=api_key,
            api_url=sandbox.url,
            **kwargs,
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: MakeGateway) -> ZoteroGateway:
    return make_gateway()


def keys_for(n: int, salt: str = "") -> list[str]:
    return [derive_key("test", salt, str(i)) for i in range(n)]


def posts(sandbox: SandboxServer, path_end: str = "/items") -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["method"] == "POST" and r["path"].endswith(path_end)]


def library_items(sandbox: SandboxServer, gateway: ZoteroGateway) -> dict[str, int]:
    versions, _ = gateway.item_versions(0)
    return versions


# ---- access ---------------------------------------------------------------------------------


def test_check_access_full_key(gateway: ZoteroGateway) -> None:
    access = gateway.check_access()
    assert access == KeyAccess(USER_ID, "testuser", True, True, "users/1")


def test_check_access_group_library(make_gateway: MakeGateway) -> None:
    access = make_gateway("group", GROUP_ID).check_access()
    assert access.library == "groups/2"
    assert access.can_read and access.can_write


def test_invalid_key_is_fatal_and_names_the_library(make_gateway: MakeGateway) -> None:
    bad = "WrongKey0123456789abcdEF"
    with pytest.raises(RemoteError) as info:
        make_gateway(api_key=bad).check_access()
    err = info.value
    assert not err.transient
    assert err.status == 403
    assert "users/1" in err.message and "invalid key" in err.message.lower()
    assert err.hint and "api_key" in err.hint
    # The sandbox is on this machine: there the key may be fine and the server someone else's.
    assert "another user's sandbox may hold that port" in err.hint
    assert bad not in _everything_printed(err)


def test_a_sandbox_that_rejects_the_key_is_named_by_its_instance(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    # The instance the sandbox printed at its start: a user compares it with theirs.
    with pytest.raises(RemoteError) as info:
        make_gateway(api_key="WrongKey0123456789abcdEF").check_access()
    assert info.value.hint and f"sandbox instance {sandbox.instance}" in info.value.hint


def test_an_invalid_key_at_api_zotero_org_is_not_blamed_on_a_sandbox() -> None:
    gw = ZoteroGateway(library_type="user", library_id=1, api_key=KEY)
    try:
        with pytest.raises(RemoteError) as info:
            gw._raise_for(403, "Invalid key", "checking the API key")
    finally:
        gw.close()
    assert info.value.hint and "sandbox" not in info.value.hint


def test_invalid_key_on_a_write_is_fatal_too(make_gateway: MakeGateway) -> None:
    bad = "WrongKey0123456789abcdEF"
    with pytest.raises(RemoteError) as info:
        make_gateway(api_key=bad).create_items([article(keys_for(1)[0])])
    assert not info.value.transient and info.value.status == 403
    assert bad not in _everything_printed(info.value)


@pytest.mark.parametrize(
    "call",
    ["item_versions", "get_items", "deleted_since", "update_item", "library_version"],
)
def test_a_key_revoked_mid_run_is_said_as_such_on_every_call(
    make_gateway: MakeGateway, call: str
) -> None:
    # Any 4xx once read the answer's text before pyzotero set its encoding, and came out as
    # "the server's answer is not what the Zotero API sends" with a hint about api_url.
    gw = make_gateway(api_key="RevokedKey0123456789abcd")
    calls = {
        "item_versions": lambda: gw.item_versions(0),
        "get_items": lambda: gw.get_items(keys_for(1)),
        "deleted_since": lambda: gw.deleted_since(0),
        "update_item": lambda: gw.update_item(keys_for(1)[0], 1, {"tags": []}),
        "library_version": lambda: gw.library_version(),
    }
    with pytest.raises(RemoteError) as info:
        calls[call]()
    assert "rejected the API key" in info.value.message, info.value.message
    assert not info.value.transient


def test_an_unknown_library_on_a_read_is_not_found(make_gateway: MakeGateway) -> None:
    with pytest.raises(RemoteError) as info:
        make_gateway(library_type="group", library_id=999).item_versions(0)
    assert "not found in library groups/999" in info.value.message
    assert info.value.hint and "library_id" in info.value.hint


def test_read_only_key_is_refused_naming_the_missing_right(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    sandbox.add_key(READ_ONLY_KEY, USER_ID, write=False)
    gateway = make_gateway(api_key=READ_ONLY_KEY)
    with pytest.raises(RemoteError) as info:
        gateway.check_access()
    err = info.value
    assert not err.transient and err.status == 403
    assert "users/1" in err.message and "write" in err.message
    assert err.hint and "write access" in err.hint.lower()
    # A dry run only reads, and may go on.
    access = gateway.check_access(require_write=False)
    assert access.can_read and not access.can_write


def test_read_only_key_write_is_a_fatal_error_not_a_silent_failure(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    sandbox.add_key(READ_ONLY_KEY, USER_ID, write=False)
    with pytest.raises(RemoteError) as info:
        make_gateway(api_key=READ_ONLY_KEY).create_items([article(keys_for(1)[0])])
    err = info.value
    assert not err.transient and err.status == 403
    assert "users/1" in err.message and "write" in err.message
    assert READ_ONLY_KEY not in _everything_printed(err)
    assert sandbox.library_version("users/1") == 0


def test_key_of_another_user_never_writes_to_its_own_library(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    sandbox.add_user(7, "someone")
    sandbox.add_key(OTHER_USER_KEY, 7)
    with pytest.raises(RemoteError) as info:
        make_gateway(api_key=OTHER_USER_KEY).check_access()
    assert "user 7" in info.value.message and "users/1" in info.value.message
    assert not info.value.transient
    # A server on this machine (the sandbox here) may be someone else's: it says so.
    assert "may be another server" in info.value.message
    assert info.value.hint and "another user's sandbox" in info.value.hint
    assert f"sandbox instance {sandbox.instance}" in info.value.hint


def test_group_without_access_is_refused(sandbox: SandboxServer, make_gateway: MakeGateway) -> None:
    sandbox.add_key(NO_GROUP_KEY, USER_ID, groups={})
    with pytest.raises(RemoteError) as info:
        make_gateway("group", GROUP_ID, api_key=NO_GROUP_KEY).check_access()
    assert "groups/2" in info.value.message and "read" in info.value.message
    assert not info.value.transient


def test_bad_library_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        ZoteroGateway(library_type="team", library_id=1, api_key=KEY)
    with pytest.raises(ConfigError):
        ZoteroGateway(library_type="user", library_id=0, api_key=KEY)


def test_has_native_ids_on_the_current_schema(gateway: ZoteroGateway) -> None:
    assert gateway.has_native_ids() is True


def test_streamed_versions_equal_the_plain_read(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    """The first index build streams the key listing in chunks (never the whole answer in
    memory); it gives what ``item_versions`` gives, trash included, in one request."""
    chunks: list[list[tuple[str, int]]] = []
    assert gateway.stream_item_versions(0, chunks.append) == 0
    assert [p for c in chunks for p in c] == []
    keys = keys_for(7, "stream")
    sandbox.oob_write("users/1", [article(k) for k in keys])
    sandbox.oob_write("users/1", [{"key": keys[0], "version": 0, "deleted": 1}])
    sandbox.clear_requests()
    chunks = []
    version = gateway.stream_item_versions(0, chunks.append, chunk=3)
    assert len(sandbox.requests()) == 1
    assert all(len(c) <= 3 for c in chunks)
    assert (dict(p for c in chunks for p in c), version) == gateway.item_versions(0)


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b"[]", b'{"ABCD2345": 1', b'{"ABCD2345": "x"}', b"", b'{"A": 1,, }'],
)
def test_a_versions_answer_that_is_not_one_is_refused(body: bytes) -> None:
    from syncd.core.versions import VersionsParser as _VersionsParser

    parser = _VersionsParser()
    with pytest.raises(ValueError):
        for i in range(0, len(body), 2):
            parser.feed(body[i : i + 2])
        parser.close()


def test_the_versions_parser_reads_any_split() -> None:
    from syncd.core.versions import VersionsParser as _VersionsParser

    body = b' {"ABCD2345": 12,\n "EFGH6789":3 , "JKLM2345" : 100000}\n'
    for size in range(1, len(body) + 1):
        parser = _VersionsParser()
        got = [p for i in range(0, len(body), size) for p in parser.feed(body[i : i + size])]
        got += parser.close()
        assert got == [("ABCD2345", 12), ("EFGH6789", 3), ("JKLM2345", 100000)]


# ---- reads ----------------------------------------------------------------------------------


def test_reads_for_the_library_index(sandbox: SandboxServer, gateway: ZoteroGateway) -> None:
    assert gateway.library_version() == 0
    assert gateway.item_versions(0) == ({}, 0)
    a, b, c = keys_for(3)
    sandbox.oob_write("users/1", [article(a), article(b), article(c, extra="PMID: 123")])
    v1 = sandbox.library_version("users/1")
    assert gateway.library_version() == v1

    versions, at = gateway.item_versions(0)
    assert set(versions) == {a, b, c} and at == v1

    # Trashed items are part of the index.
    sandbox.oob_write("users/1", [{"key": b, "version": versions[b], "deleted": 1}])
    changed, v2 = gateway.item_versions(v1)
    assert set(changed) == {b} and v2 == sandbox.library_version("users/1")
    got = {item["key"]: item for item in gateway.get_items([a, b, c, "ZZZZZZZZ"])}
    assert set(got) == {a, b, c}
    assert got[b]["data"].get("deleted") in (1, True)
    assert got[c]["data"]["extra"] == "PMID: 123"
    assert got[a]["version"] == versions[a]

    assert gateway.deleted_since(v2) == ([], v2)


def test_get_items_batches_large_key_lists(sandbox: SandboxServer, gateway: ZoteroGateway) -> None:
    keys = keys_for(130, "batch")
    for start in range(0, 130, 50):
        sandbox.oob_write("users/1", [article(k) for k in keys[start : start + 50]])
    sandbox.clear_requests()
    got = gateway.get_items(keys)
    assert sorted(item["key"] for item in got) == sorted(keys)
    reads = [r for r in sandbox.requests() if r["method"] == "GET"]
    assert len(reads) == 2  # 100 keys per request


def test_deleted_since_lists_items_deleted_for_good(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    a, b = keys_for(2, "del")
    result = gateway.create_items([article(a), article(b)])
    since = result.library_version
    from pyzotero.zotero import Zotero

    zot = Zotero(USER_ID, "user", KEY)
    zot.endpoint = sandbox.url
    zot.delete_item({"key": a, "version": result.created[0][1]})
    deleted, version = gateway.deleted_since(since)
    assert deleted == [a] and version == sandbox.library_version("users/1")


# ---- creates --------------------------------------------------------------------------------


def test_create_items_reports_created_existing_and_failed(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    a, b, c = keys_for(3, "create")
    first = gateway.create_items([article(a), article(b)])
    assert set(first.created) == {0, 1} and not first.existing and not first.failed
    assert first.created[0][0] == a and first.created[1][0] == b
    assert first.library_version == sandbox.library_version("users/1")

    # The same keys again (another process, or a retry) are "existing"; a bad one fails alone.
    second = gateway.create_items([article(a), article(c, notAField="x"), article(b)])
    assert second.existing == {0: a, 2: b}
    assert second.created == {}
    assert second.failed[1][0] == 400 and "notAField" in second.failed[1][1]
    assert len(library_items(sandbox, gateway)) == 2


def test_create_items_refuses_what_the_server_would_reject(gateway: ZoteroGateway) -> None:
    with pytest.raises(ValueError, match="at most 50"):
        gateway.create_items([article(k) for k in keys_for(51)])
    with pytest.raises(ValueError, match="key"):
        gateway.create_items([{"itemType": "journalArticle", "version": 0}])
    with pytest.raises(ValueError, match="version"):
        gateway.create_items([{"key": keys_for(1)[0], "itemType": "journalArticle"}])


def test_create_50_items_in_one_request(sandbox: SandboxServer, gateway: ZoteroGateway) -> None:
    sandbox.clear_requests()
    result = gateway.create_items([article(k) for k in keys_for(50, "fifty")])
    assert len(result.created) == 50
    assert [r["objects"] for r in posts(sandbox)] == [50]


# ---- the quirks, one test each --------------------------------------------------------------


def test_429_with_retry_after_on_create_waits_and_retries(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    # pyzotero's create_items would raise json.JSONDecodeError here.
    sandbox.inject(status=429, method="POST", path=r"/items$", retry_after=7)
    result = gateway.create_items([article(keys_for(1)[0])])
    assert len(result.created) == 1
    assert sleeps == [pytest.approx(7, abs=0.5)]
    assert [r["status"] for r in posts(sandbox)] == [429, 200]


def test_429_without_retry_after_on_create_backs_off_exponentially(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    # pyzotero raises TooManyRetriesError at once here.
    gateway = make_gateway(retry=RetryPolicy(base_delay=2.0))
    sandbox.inject(status=429, method="POST", path=r"/items$", times=3)
    result = gateway.create_items([article(keys_for(1)[0])])
    assert len(result.created) == 1
    assert len(sleeps) == 3
    # Retry n waits between half and all of base * 2 ** (n - 1).
    for n, slept in enumerate(sleeps, start=1):
        cap = 2.0 * 2 ** (n - 1)
        assert cap / 2 - 0.01 <= slept <= cap + 0.01


def test_503_with_retry_after_is_honoured(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    # pyzotero raises HTTPError and forgets the Retry-After.
    sandbox.inject(status=503, method="POST", path=r"/items$", retry_after=12)
    result = gateway.create_items([article(keys_for(1)[0])])
    assert len(result.created) == 1
    assert sleeps == [pytest.approx(12, abs=0.5)]


def test_500_storm_then_success_creates_each_item_once(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    keys = keys_for(5, "storm")
    sandbox.inject(status=500, method="POST", path=r"/items$", times=5)
    result = gateway.create_items([article(k) for k in keys])
    assert sorted(k for k, _ in result.created.values()) == sorted(keys)
    assert [r["status"] for r in posts(sandbox)] == [500] * 5 + [200]
    assert len(sleeps) == 5
    assert sorted(library_items(sandbox, gateway)) == sorted(keys)


def test_5xx_on_reads_is_retried_too(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    sandbox.inject(status=502, method="GET", times=2)
    assert gateway.item_versions(0) == ({}, 0)
    assert len(sleeps) == 2
    # A 429 on a read: pyzotero would sleep on its own clock and retry at most 3 times.
    sandbox.inject(status=429, method="GET", retry_after=9, times=4)
    assert gateway.deleted_since(0) == ([], 0)
    assert sleeps[2:] == [pytest.approx(9, abs=0.5)] * 4


def test_backoff_on_a_success_delays_the_next_request(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    sandbox.inject(method="GET", backoff=30)  # alters a normal response
    gateway.library_version()
    assert sleeps == []
    gateway.library_version()
    assert sleeps == [pytest.approx(30, abs=1)]
    gateway.library_version()
    assert len(sleeps) == 1  # waited once, not again


def test_backoff_is_shared_by_gateways_of_one_library(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    first, second = make_gateway(), make_gateway()
    sandbox.inject(method="GET", backoff=20)
    first.library_version()
    second.library_version()
    assert sleeps == [pytest.approx(20, abs=1)]


def test_dropped_connection_after_apply_gives_existing_not_a_second_item(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    keys = keys_for(3, "drop")
    sandbox.inject(method="POST", path=r"/items$", drop_after_apply=True)
    result = gateway.create_items([article(k) for k in keys])
    # The first POST was applied but its answer lost; the retry with the same keys finds them.
    assert result.existing == dict(enumerate(keys))
    assert result.created == {} and result.failed == {}
    assert len(posts(sandbox)) == 2
    assert sorted(library_items(sandbox, gateway)) == sorted(keys)
    assert len(sleeps) == 1


@pytest.mark.slow
def test_slow_response_times_out_and_is_retried(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    gateway = make_gateway(timeout=0.5)  # writes get twice as long
    key = keys_for(1, "slow")[0]
    sandbox.inject(method="POST", path=r"/items$", delay=2.0)
    result = gateway.create_items([article(key)])
    assert result.created or result.existing == {0: key}
    assert list(library_items(sandbox, gateway)) == [key]
    assert len(posts(sandbox)) == 2 and len(sleeps) == 1  # timed out once, then retried


def test_giving_up_after_max_attempts_is_a_transient_error(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    gateway = make_gateway(retry=RetryPolicy(max_attempts=3))
    sandbox.inject(status=503, method="POST", path=r"/items$", times=10)
    with pytest.raises(RemoteError) as info:
        gateway.create_items([article(keys_for(1)[0])])
    assert info.value.transient and info.value.status == 503
    assert "users/1" in info.value.message and "3 attempts" in info.value.message
    assert len(posts(sandbox)) == 3 and len(sleeps) == 2


def test_network_errors_are_retried_then_transient(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    gateway = make_gateway(retry=RetryPolicy(max_attempts=2))
    sandbox.stop()
    with pytest.raises(RemoteError) as info:
        gateway.library_version()
    assert info.value.transient and info.value.status is None
    assert len(sleeps) == 1


def test_one_request_in_flight_per_library(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    gateways = [make_gateway() for _ in range(3)]
    in_flight = 0
    most = 0
    guard = threading.Lock()

    def started(_request: Any) -> None:
        nonlocal in_flight, most
        with guard:
            in_flight += 1
            most = max(most, in_flight)

    def finished(_response: Any) -> None:
        nonlocal in_flight
        with guard:
            in_flight -= 1

    for g in gateways:
        g._http.event_hooks["request"].append(started)
        g._http.event_hooks["response"].insert(0, finished)
    sandbox.inject(method="GET", delay=0.2, times=3)
    threads = [threading.Thread(target=g.library_version) for g in gateways]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    assert len([r for r in sandbox.requests() if r["method"] == "GET"]) == 3


# ---- updates --------------------------------------------------------------------------------


def test_update_item_patches_and_detects_conflicts(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    key = keys_for(1, "upd")[0]
    created = gateway.create_items([article(key)])
    version = created.created[0][1]
    new_version = gateway.update_item(key, version, {"tags": [{"tag": "syncd"}, {"tag": "new"}]})
    assert new_version > version
    item = gateway.get_items([key])[0]
    assert {t["tag"] for t in item["data"]["tags"]} == {"syncd", "new"}
    assert item["data"]["title"] == f"Article {key}"  # PATCH leaves other fields alone

    with pytest.raises(VersionConflict) as info:
        gateway.update_item(key, version, {"tags": []})
    assert info.value.status == 412 and not info.value.transient


# ---- collections ----------------------------------------------------------------------------


def collections(sandbox: SandboxServer) -> list[dict[str, Any]]:
    from pyzotero.zotero import Zotero

    zot = Zotero(USER_ID, "user", KEY)
    zot.endpoint = sandbox.url
    return list(zot.everything(zot.collections()))


def test_find_or_create_collection_by_name_creates_once(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    first = make_gateway().find_or_create_collection("PubMed inbox")
    again = make_gateway().find_or_create_collection(" PubMed inbox ")
    assert first == again
    assert [c["data"]["name"] for c in collections(sandbox)] == ["PubMed inbox"]


def test_find_or_create_collection_path_and_key(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    child = gateway.find_or_create_collection("Reading/PubMed")
    by_key = {c["key"]: c["data"] for c in collections(sandbox)}
    assert by_key[child]["name"] == "PubMed"
    parent = by_key[child]["parentCollection"]
    assert by_key[parent]["name"] == "Reading" and by_key[parent]["parentCollection"] is False
    assert gateway.find_or_create_collection(child) == child
    assert gateway.find_or_create_collection("Reading") == parent
    # The same name under another parent is another collection.
    other = gateway.find_or_create_collection("PubMed")
    assert other != child
    assert len(collections(sandbox)) == 3


def test_find_or_create_collection_uses_an_existing_one(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    from pyzotero.zotero import Zotero

    zot = Zotero(USER_ID, "user", KEY)
    zot.endpoint = sandbox.url
    made = zot.create_collections([{"name": "Made by hand"}])
    assert gateway.find_or_create_collection("Made by hand") == made["success"]["0"]


def test_concurrent_collection_creation_makes_one(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    # Two processes that both saw no collection: the derived key makes the second POST a 412.
    first, second = make_gateway(), make_gateway()
    key = first.find_or_create_collection("Shared")
    assert second._create_collection("Shared", "") == key
    assert len(collections(sandbox)) == 1


def test_collection_spec_with_an_empty_part_is_a_config_error(gateway: ZoteroGateway) -> None:
    with pytest.raises(ConfigError):
        gateway.find_or_create_collection("Parent//Child")


# ---- the key never shows --------------------------------------------------------------------


def test_the_api_key_never_appears_in_errors_or_logs(
    sandbox: SandboxServer, make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A server error whose body echoes the key (a proxy might): it is scrubbed.
    sandbox.inject(status=500, method="GET", times=5, body=f"boom {KEY}")
    gateway = make_gateway(retry=RetryPolicy(max_attempts=2))
    with pytest.raises(RemoteError) as info:
        gateway.library_version()
    assert KEY not in _everything_printed(info.value)
    assert KEY not in caplog.text
    assert KEY not in repr(gateway)


def _everything_printed(err: BaseException) -> str:
    """What a user could ever see of an error: message, hint, and the whole traceback."""
    text = "".join(traceback.format_exception(err))
    return f"{err} {getattr(err, 'hint', '')} {text}"


def test_unknown_group_is_a_fatal_error_naming_it(make_gateway: MakeGateway) -> None:
    with pytest.raises(RemoteError) as info:
        make_gateway("group", 99).library_version()
    assert not info.value.transient
    assert info.value.status in (403, 404)
    assert "groups/99" in info.value.message


def test_create_with_a_stale_library_version_creates_nothing(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    # What the engine does against an out-of-band write between its index refresh and its POST.
    a, b = keys_for(2, "stale")
    indexed = gateway.library_version()
    sandbox.oob_write("users/1", [article(a, extra="PMID: 424242")])
    with pytest.raises(VersionConflict) as info:
        gateway.create_items([article(b)], if_unmodified_since=indexed)
    assert info.value.status == 412 and "users/1" in info.value.message
    assert list(library_items(sandbox, gateway)) == [a]
    current = gateway.library_version()
    result = gateway.create_items([article(b)], if_unmodified_since=current)
    assert result.created[0][0] == b


def test_find_collection_never_creates(sandbox: SandboxServer, gateway: ZoteroGateway) -> None:
    assert gateway.find_collection("Reading/PubMed") is None
    assert gateway.find_collection("Reading") is None
    assert collections(sandbox) == []
    child = gateway.find_or_create_collection("Reading/PubMed")
    assert gateway.find_collection("Reading/PubMed") == child
    assert gateway.find_collection(child) == child
    assert gateway.find_collection("Reading/Other") is None
    assert len(collections(sandbox)) == 2


def test_lockout_after_bad_keys_is_fatal_not_retried(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    bad = make_gateway(api_key="WrongKey0123456789abcdEF")
    for _ in range(6):
        with pytest.raises(RemoteError, match="Invalid key"):
            bad.check_access()
    # Now the server answers 429 "Too many authentication failures", even to a good key.
    with pytest.raises(RemoteError) as info:
        make_gateway().library_version()
    assert not info.value.transient and info.value.status == 429
    assert "invalid API key" in info.value.message and "users/1" in info.value.message
    assert sleeps == []


def test_slow_read_times_out_with_the_gateway_timeout_and_is_retried(
    sandbox: SandboxServer, make_gateway: MakeGateway, sleeps: list[float]
) -> None:
    # pyzotero would wait its own fixed 30 s for every read.
    gateway = make_gateway(timeout=0.5)
    sandbox.inject(method="GET", path=r"/items$", delay=1.5)
    assert gateway.item_versions(0) == ({}, 0)
    assert len(sleeps) == 1


@pytest.mark.timeout(60)
def test_every_request_has_a_finite_timeout(
    sandbox: SandboxServer, make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lost answer must end in a timeout (and a retry), never in a wait without end.
    timeouts: list[tuple[str, dict[str, float | None]]] = []
    send = httpx2.Client.send

    def recording(client: httpx2.Client, request: httpx2.Request, **kw: Any) -> httpx2.Response:
        timeouts.append((f"{request.method} {request.url.path}", request.extensions["timeout"]))
        return send(client, request, **kw)

    monkeypatch.setattr(httpx2.Client, "send", recording)
    gateway = make_gateway(timeout=7.0)
    gateway.check_access()
    gateway.has_native_ids()
    gateway.library_version()
    gateway.item_versions(0)
    gateway.deleted_since(0)
    key = keys_for(1, "timeouts")[0]
    gateway.create_items([article(key)])
    gateway.get_items([key])
    gateway.update_item(key, gateway.item_versions(0)[0][key], {"title": "Renamed"})
    gateway.find_or_create_collection("Timeouts/Inner")
    methods = {what.split()[0] for what, _ in timeouts}
    assert methods == {"GET", "POST", "PATCH"}
    for what, timeout in timeouts:
        assert set(timeout) == {"connect", "read", "write", "pool"}, what
        assert all(v is not None and 0 < v <= 14.0 for v in timeout.values()), (what, timeout)


@pytest.mark.parametrize("timeout", [None, 0, -1.0, float("inf"), float("nan"), "30"])
def test_a_gateway_without_a_finite_timeout_is_refused(timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        ZoteroGateway(library_type="user", library_id=1, api_key=KEY, timeout=timeout)


# ---- issue 9 §4: a server cannot make syncd sleep for ever ---------------------------------


def test_a_huge_retry_after_is_capped(
    sandbox: SandboxServer, gateway: ZoteroGateway, sleeps: list[float]
) -> None:
    sandbox.inject(status=429, method="GET", retry_after=999_999_999)
    gateway.library_version()
    assert sleeps == [pytest.approx(MAX_SERVER_WAIT, abs=1)]


def test_a_huge_backoff_is_capped_logged_with_its_end_and_visible_meanwhile(
    sandbox: SandboxServer,
    make_gateway: MakeGateway,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[float, datetime | None]] = []
    gateway = make_gateway(sleep=lambda s: seen.append((s, gateway.backoff_until)))
    assert gateway.backoff_until is None
    sandbox.inject(method="GET", backoff=999_999_999)
    before = datetime.now(UTC)
    gateway.library_version()
    # The wait is known before it starts, to any caller (a daemon reports it).
    until = gateway.backoff_until
    assert until is not None and until.tzinfo is not None
    assert until - before == pytest.approx(timedelta(seconds=MAX_SERVER_WAIT), abs=timedelta(5))
    caplog.set_level(logging.WARNING, logger="syncd")
    gateway.library_version()
    assert [s for s, _ in seen] == [pytest.approx(MAX_SERVER_WAIT, abs=1)]
    assert seen[0][1] == until  # still on record while sleeping
    assert gateway.backoff_until is None  # and cleared once waited out
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    text = warning[0].getMessage()
    assert "Backoff" in text and "users/1" in text
    assert until.astimezone().strftime("%H:%M:%S") in text


def test_a_sleep_that_raises_ends_the_call_and_leaves_the_wait_on_record(
    sandbox: SandboxServer, make_gateway: MakeGateway
) -> None:
    class Stop(Exception):
        pass

    def interrupted(seconds: float) -> bool:
        raise Stop

    gateway = make_gateway(sleep=interrupted)
    sandbox.inject(method="GET", backoff=120)
    gateway.library_version()
    sandbox.clear_requests()
    with pytest.raises(Stop):
        gateway.library_version()
    assert sandbox.requests() == []  # nothing was sent
    assert gateway.backoff_until is not None


@pytest.mark.parametrize(
    "value",
    ["999999999", "Thu, 01 Jan 2099 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "1e308"],
)
def test_every_server_requested_wait_is_capped(value: str) -> None:
    assert zotero._seconds(value) == MAX_SERVER_WAIT


def test_short_server_requested_waits_are_kept() -> None:
    assert zotero._seconds("7") == 7
    assert zotero._seconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0
    assert zotero._seconds("soon") is None and zotero._seconds("nan") is None


# ---- issue 9 §3 and §5: what a key or a server cannot make the gateway do -------------------


@pytest.mark.parametrize(
    "bad", [KEY + "\nsecondline", KEY[:23] + "é", f" {KEY}", "", KEY[:12] + "\r" + KEY[12:]]
)
def test_a_key_that_cannot_be_a_header_is_a_config_error_never_shown(
    sandbox: SandboxServer, bad: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ZoteroGateway(library_type="user", library_id=USER_ID, api_key=bad, api_url=sandbox.url)
    assert KEY[:12] not in _everything_printed(info.value)
    assert "secondline" not in _everything_printed(info.value)
    assert sandbox.requests() == []


def test_a_header_the_client_cannot_send_is_never_quoted(
    sandbox: SandboxServer,
    gateway: ZoteroGateway,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: httpx2.Client, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        raise httpx2.LocalProtocolError(f"Illegal header value b'{KEY}\\nsecondline'")

    monkeypatch.setattr(httpx2.Client, "send", refuse)
    with pytest.raises(RemoteError) as info:
        gateway.library_version()
    printed = _everything_printed(info.value)
    assert KEY not in printed and "secondline" not in printed
    assert "could not be sent" in info.value.message
    assert not info.value.transient and sleeps == []  # not retried as a "network error"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_redirect_to_another_address_is_refused_and_the_key_stays_home(
    sandbox: SandboxServer, host: str
) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    redirector = Redirector(f"http://{host}:{port}")
    try:
        with (
            ZoteroGateway(
                library_type="user", library_id=USER_ID, api_key=KEY, api_url=redirector.url
            ) as gateway,
            pytest.raises(RemoteError) as info,
        ):
            gateway.check_access()
    finally:
        redirector.close()
    assert redirector.requests  # it was asked, and redirected
    assert sandbox.requests() == []  # the key never went to the other address
    message = info.value.message
    assert "redirected" in message and f"http://{host}:{port}" in message
    assert "may not" not in message and info.value.status != 403
    assert "zotero.api_url" in (info.value.hint or "")


def test_an_html_page_with_200_is_an_error_not_data(
    sandbox: SandboxServer, gateway: ZoteroGateway
) -> None:
    for call in (
        gateway.library_version,
        lambda: gateway.item_versions(0),
        lambda: gateway.get_items(["ABCD2345"]),
        lambda: gateway.deleted_since(0),
    ):
        sandbox.inject(status=200, method="GET", body="<html><body>Sign in</body></html>")
        with pytest.raises(RemoteError) as info:
            call()
        assert "text/html" in info.value.message and "not the JSON" in info.value.message
        assert "zotero.api_url" in (info.value.hint or "")
