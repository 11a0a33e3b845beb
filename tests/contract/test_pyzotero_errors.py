"""Contract: every error path raises (or returns) in pyzotero 1.16 what the real server causes.

The expected exception of each case comes from the recordings' ``pyzotero_exception`` (cited
by file name) or from ../shared/docs/zotero-api.md §4.4 for the rate-limit and 5xx cases that
the recordings do not hold. Faults are injected through the sandbox's Python API.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest
from pyzotero import zotero_errors as ze
from pyzotero.zotero import Zotero

from syncd.sandbox import SandboxServer
from tests.contract.conftest import (
    KEY,
    USER_ID,
    PyzoteroClock,
    article,
    create_ok,
    last_modified,
    recording,
)

ITEMS = rf"^/users/{USER_ID}/items$"
LIBRARY = f"users/{USER_ID}"


def _statuses(sandbox: SandboxServer, method: str, path: str) -> list[int]:
    return [r["status"] for r in sandbox.requests() if r["method"] == method and r["path"] == path]


# --- request-level errors ---------------------------------------------------------------------


def test_missing_item_raises_resource_not_found(zot: Zotero) -> None:
    # 09b_get_item_not_found: 404 `Item does not exist` → ResourceNotFoundError.
    expected = recording("09b_get_item_not_found")
    assert expected["pyzotero_exception"].startswith("pyzotero.errors.ResourceNotFoundError")
    with pytest.raises(ze.ResourceNotFoundError, match="Item does not exist"):
        zot.item("ZZZZZZZZ")
    assert zot.request is not None
    assert zot.request.headers["content-type"] == "text/html; charset=UTF-8"


def test_unknown_key_raises_user_not_authorised(make_zot: Callable[..., Zotero]) -> None:
    # 09c_bad_key: 403 `Invalid key`, without version headers; pyzotero maps 403 to
    # UserNotAuthorisedError (zotero-api.md 4.4).
    stranger = make_zot(key="x" * 24)
    with pytest.raises(ze.UserNotAuthorisedError, match="Invalid key"):
        stranger.items()
    assert stranger.request is not None
    assert "last-modified-version" not in stranger.request.headers


def test_write_without_a_key_is_refused(make_zot: Callable[..., Zotero]) -> None:
    # zotero-api.md 1.1 step 3: 403 `An API key is required for write requests.`
    anonymous = make_zot(key=None)
    with pytest.raises(ze.UserNotAuthorisedError, match="An API key is required"):
        anonymous.create_items([article("Anonymous")])


def test_key_without_write_access_is_refused(
    sandbox: SandboxServer, make_zot: Callable[..., Zotero]
) -> None:
    # zotero-api.md 1.1 step 7: 403 `Write access denied`.
    reader = "ReadOnlyUserKey012345678"
    sandbox.add_key(reader, USER_ID, write=False)
    read_only = make_zot(key=reader)
    assert read_only.items() == []
    with pytest.raises(ze.UserNotAuthorisedError, match="Write access denied"):
        read_only.create_items([article("Not allowed")])


def test_stale_library_version_raises_precondition_failed(zot: Zotero) -> None:
    # 06_create_stale_version_412: text/html body with expected/found, no Last-Modified-Version.
    exchange = recording("06_create_stale_version_412")
    assert exchange["pyzotero_exception"].startswith("pyzotero.errors.PreConditionFailedError")
    old = zot.last_modified_version()
    create_ok(zot, [article("Moves the library on")])
    found = zot.last_modified_version()
    with pytest.raises(ze.PreConditionFailedError) as exc:
        zot.create_items(exchange["request"]["body"], last_modified=old)
    message = f"Library has been modified since specified version (expected {old}, found {found})"
    assert message in str(exc.value)
    assert zot.request is not None
    assert zot.request.status_code == 412
    assert zot.request.headers["content-type"] == "text/html; charset=UTF-8"
    assert "last-modified-version" not in zot.request.headers
    assert zot.last_modified_version() == found


def test_out_of_band_write_makes_a_conditional_create_fail(
    sandbox: SandboxServer, zot: Zotero
) -> None:
    # Emulator contract 20: another client's write advances the library → 412.
    version = zot.last_modified_version()
    report = sandbox.oob_write(LIBRARY, [article("From another client")])
    assert list(report["success"]) == ["0"]
    assert sandbox.library_version(LIBRARY) == version + 1
    with pytest.raises(ze.PreConditionFailedError):
        zot.create_items([article("Mine")], last_modified=version)
    assert [i["data"]["title"] for i in zot.items()] == ["From another client"]
    create_ok(zot, [article("Mine")], last_modified=version + 1)


def test_fifty_one_items_are_refused_before_any_request(
    sandbox: SandboxServer, zot: Zotero
) -> None:
    # 08_create_51_items: pyzotero raises TooManyItemsError itself.
    sandbox.clear_requests()
    with pytest.raises(ze.TooManyItemsError):
        zot.create_items([article(f"n{n}") for n in range(51)])
    assert sandbox.requests() == []


def test_stale_delete_raises_precondition_failed(zot: Zotero) -> None:
    (key,) = create_ok(zot, [article("Doomed")])
    stale = zot.item(key)
    fresh = zot.item(key)
    fresh["data"]["title"] = "Renamed"
    zot.update_item(fresh)
    with pytest.raises(ze.PreConditionFailedError):
        zot.delete_item(stale)
    assert zot.item(key)["data"]["title"] == "Renamed"


# --- per-object failures: returned, never raised ------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["05a_create_invalid_field", "05b_create_field_not_in_type", "05c_create_invalid_item_type"],
)
def test_invalid_objects_fail_in_the_report(zot: Zotero, name: str) -> None:
    exchange = recording(name)
    assert exchange["pyzotero_exception"] is None
    before = zot.last_modified_version()
    report = zot.create_items(exchange["request"]["body"])
    assert report == exchange["response"]["body_json"]
    assert zot.last_modified_version() == before


def test_mixed_batch_creates_the_valid_object_only(zot: Zotero) -> None:
    # 05d_create_mixed_valid_invalid: success "0", failed "1", version +1.
    exchange = recording("05d_create_mixed_valid_invalid")
    before = zot.last_modified_version()
    report = zot.create_items(exchange["request"]["body"])
    assert list(report["success"]) == ["0"]
    assert report["failed"] == exchange["response"]["body_json"]["failed"]
    assert report["unchanged"] == {}
    assert last_modified(zot) == before + 1
    assert [i["data"]["title"] for i in zot.items()] == ["Good one in mixed batch"]


def test_existing_key_with_version_zero_fails_with_412(zot: Zotero) -> None:
    # Addendum: "per-object 412 `Item has been modified since specified version (expected 0,
    # found N)`" — how the daemon recognises a create that already happened.
    first = zot.create_items([article("Once", key="REPT2345", version=0)])
    found = first["successful"]["0"]["version"]
    before = zot.last_modified_version()
    again = zot.create_items([article("Once", key="REPT2345", version=0)])
    assert again["success"] == {} and again["successful"] == {}
    message = f"Item has been modified since specified version (expected 0, found {found})"
    assert again["failed"] == {"0": {"code": 412, "message": message}}
    assert zot.last_modified_version() == before
    assert len(zot.items()) == 1


def test_missing_key_with_a_version_fails_with_404(zot: Zotero) -> None:
    # zotero-api.md 1.3 step 5.
    report = zot.create_items([article("Ghost", key="GHST2345", version=5)])
    assert report["failed"] == {
        "0": {"code": 404, "message": "Item doesn't exist (expected version 5; use 0 instead)"}
    }


def test_keyed_write_without_version_or_header_fails_with_428(zot: Zotero) -> None:
    # zotero-api.md 1.3 step 5.
    create_ok(zot, [article("Exists", key="EXST2345", version=0)])
    report = zot.create_items([article("Exists", key="EXST2345")])
    assert report["failed"] == {
        "0": {
            "code": 428,
            "message": (
                "Either If-Unmodified-Since-Version or 'version' property must be provided "
                "for 'key'-based writes"
            ),
        }
    }


# --- rate limits, backoff, server errors (zotero-api.md 4.4) -----------------------------------


def test_create_items_429_with_retry_after_surfaces_as_json_error(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    before = zot.last_modified_version()
    sandbox.inject(status=429, method="POST", path=ITEMS, retry_after=1)
    with pytest.raises(json.JSONDecodeError):
        zot.create_items([article("Rate limited")])
    assert zot.request is not None
    assert zot.request.status_code == 429
    assert zot.request.headers["retry-after"] == "1"
    assert sandbox.library_version(LIBRARY) == before
    assert pyzotero_sleeps.sleeps == []
    # The next call on this instance waits out the Retry-After before it is sent.
    assert zot.items() == []
    assert pyzotero_sleeps.sleeps == [1.0]
    create_ok(zot, [article("After the wait")])


def test_create_items_429_without_retry_after_raises_too_many_retries(
    sandbox: SandboxServer, zot: Zotero
) -> None:
    sandbox.inject(status=429, method="POST", path=ITEMS)
    with pytest.raises(ze.TooManyRetriesError):
        zot.create_items([article("Rate limited")])
    assert zot.items() == []


def test_get_429_without_retry_after_raises_at_once(sandbox: SandboxServer, zot: Zotero) -> None:
    sandbox.inject(status=429, method="GET", path=ITEMS)
    sandbox.clear_requests()
    with pytest.raises(ze.TooManyRetriesError):
        zot.items()
    assert _statuses(sandbox, "GET", f"/users/{USER_ID}/items") == [429]


def test_get_429_with_retry_after_is_retried_then_succeeds(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    (key,) = create_ok(zot, [article("Patience")])
    sandbox.inject(status=429, method="GET", path=ITEMS, retry_after=1)
    sandbox.clear_requests()
    assert [i["key"] for i in zot.items()] == [key]
    assert _statuses(sandbox, "GET", f"/users/{USER_ID}/items") == [429, 200]
    assert pyzotero_sleeps.sleeps == [1.0]


def test_get_429_three_times_gives_up(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    sandbox.inject(status=429, method="GET", path=ITEMS, retry_after=1, times=3)
    sandbox.clear_requests()
    with pytest.raises(ze.TooManyRetriesError):
        zot.items()
    assert _statuses(sandbox, "GET", f"/users/{USER_ID}/items") == [429, 429, 429]
    assert pyzotero_sleeps.sleeps == [1.0, 1.0]
    assert zot.items() == []  # the fault is used up; the third Retry-After is waited out first
    assert pyzotero_sleeps.sleeps == [1.0, 1.0, 1.0]


def test_update_item_429_with_retry_after_is_retried(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    (key,) = create_ok(zot, [article("Before")])
    item = zot.item(key)
    item["data"]["title"] = "After"
    sandbox.inject(status=429, method="PATCH", retry_after=1)
    assert zot.update_item(item) is True
    assert _statuses(sandbox, "PATCH", f"/users/{USER_ID}/items/{key}") == [429, 204]
    assert zot.item(key)["data"]["title"] == "After"
    assert pyzotero_sleeps.sleeps == [1.0]


def test_delete_item_429_with_retry_after_is_retried(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    (key,) = create_ok(zot, [article("Going")])
    sandbox.inject(status=429, method="DELETE", retry_after=1)
    assert zot.delete_item(zot.item(key)) is True
    assert _statuses(sandbox, "DELETE", f"/users/{USER_ID}/items/{key}") == [429, 204]
    assert pyzotero_sleeps.sleeps == [1.0]
    assert zot.items() == []


@pytest.mark.parametrize("retry_after", [None, 1])
def test_503_raises_http_error_and_records_no_backoff(
    sandbox: SandboxServer, zot: Zotero, retry_after: int | None
) -> None:
    sandbox.inject(status=503, method="POST", path=ITEMS, retry_after=retry_after)
    with pytest.raises(ze.HTTPError) as exc:
        zot.create_items([article("Maintenance")])
    assert "Code: 503" in str(exc.value)
    assert zot.backoff_until == 0.0
    assert zot.items() == []


def test_500_raises_http_error(sandbox: SandboxServer, zot: Zotero) -> None:
    sandbox.inject(status=500, method="GET", path=ITEMS)
    with pytest.raises(ze.HTTPError, match="Code: 500"):
        zot.items()
    assert zot.items() == []


def test_backoff_on_a_success_makes_the_next_call_wait(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    # zotero-api.md 1.6: Backoff can come with any response, successes included.
    sandbox.inject(method="GET", path=ITEMS, backoff=1)
    assert zot.items() == []
    assert zot.request is not None
    assert zot.request.status_code == 200
    assert zot.request.headers["backoff"] == "1"
    assert pyzotero_sleeps.sleeps == []
    create_ok(zot, [article("After the backoff")])
    assert pyzotero_sleeps.sleeps == [1.0]


def test_set_backoff_adds_the_header_to_every_response(
    sandbox: SandboxServer, zot: Zotero, pyzotero_sleeps: PyzoteroClock
) -> None:
    sandbox.set_backoff(1)
    create_ok(zot, [article("One")])
    assert zot.request is not None
    assert zot.request.headers["backoff"] == "1"
    with pytest.raises(ze.ResourceNotFoundError):
        zot.item("ZZZZZZZZ")
    assert pyzotero_sleeps.sleeps == [1.0]
    # Error responses carry it too, but pyzotero raises before it records a backoff.
    assert zot.request.headers["backoff"] == "1"
    zot.items()
    assert pyzotero_sleeps.sleeps == [1.0]
    assert zot.request.headers["backoff"] == "1"
    sandbox.set_backoff(None)
    zot.items()
    assert "backoff" not in zot.request.headers
    assert pyzotero_sleeps.sleeps == [1.0, 1.0]
    zot.items()
    assert pyzotero_sleeps.sleeps == [1.0, 1.0]


def test_faults_apply_in_order_and_only_where_they_match(
    sandbox: SandboxServer, zot: Zotero
) -> None:
    sandbox.inject(status=500, method="GET", path=r"/collections", times=2)
    sandbox.inject(status=503, method="GET", path=r"/collections")
    assert zot.items() == []  # another path: untouched
    for code in (500, 500, 503):
        with pytest.raises(ze.HTTPError, match=f"Code: {code}"):
            zot.collections()
    assert zot.collections() == []


# --- lost responses and timeouts --------------------------------------------------------------


def test_dropped_response_after_apply_then_retry_is_recognised(
    sandbox: SandboxServer, zot: Zotero
) -> None:
    # Emulator contract 20 / zotero-api.md 7.1: the write happened, the answer was lost; the
    # retry with the same key and version 0 comes back as a per-object 412.
    payload = [article("Lost answer", key="LSTX2345", version=0)]
    sandbox.inject(method="POST", path=ITEMS, drop_after_apply=True)
    with pytest.raises(httpx2.TransportError):
        zot.create_items(payload)
    assert zot.item("LSTX2345")["data"]["title"] == "Lost answer"
    retry = zot.create_items(payload)
    assert retry["failed"]["0"]["code"] == 412
    assert len(zot.items()) == 1


def test_slow_response_times_the_client_out(sandbox: SandboxServer, zot: Zotero) -> None:
    sandbox.inject(method="POST", path=ITEMS, delay=1.0)
    with pytest.raises(httpx2.TimeoutException):
        zot.create_items([article("Slow")], timeout=0.2)


# --- the request log --------------------------------------------------------------------------


def test_request_log_counts_objects_and_hides_the_key(sandbox: SandboxServer, zot: Zotero) -> None:
    sandbox.clear_requests()
    create_ok(zot, [article("a"), article("b"), article("c")])
    zot.items(limit=2)
    log = sandbox.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", f"/users/{USER_ID}/items", 200),
        ("GET", f"/users/{USER_ID}/items", 200),
    ]
    assert log[0]["objects"] == 3
    assert log[1]["objects"] is None
    assert log[1]["query"]["limit"] == "2"
    assert "<redacted>" in log[0]["headers"]["authorization"]
    assert "zotero-write-token" in log[0]["headers"]
    assert KEY not in json.dumps(log)


def test_repeated_bad_keys_lock_the_address_out(make_zot: Callable[..., Zotero]) -> None:
    # zotero-api.md 1.1 step 3 and the addendum: after more than 5 bad keys from one address,
    # every request from it gets 429 `Too many authentication failures` (no Retry-After, so
    # pyzotero gives up at once).
    stranger = make_zot(key="y" * 24)
    for _ in range(6):
        with pytest.raises(ze.UserNotAuthorisedError):
            stranger.items()
    with pytest.raises(ze.TooManyRetriesError):
        stranger.items()
    with pytest.raises(ze.TooManyRetriesError):
        make_zot().items()
