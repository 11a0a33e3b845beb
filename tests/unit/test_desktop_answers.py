"""Every answer of the Zotero 10 local API is read into the right syncd value or error."""

from __future__ import annotations

import pytest

from syncd.core.desktop_answers import (
    is_validation_failure,
    refusal,
    signed_in_user,
    sort_report,
)
from syncd.errors import LibraryChanged

URL = "http://127.0.0.1:23119"
A, B, C, D = "AAAA2345", "BBBB2345", "CCCC2345", "DDDD2345"


def payload(*keys: str) -> list[dict[str, object]]:
    return [{"key": k, "version": 0, "itemType": "journalArticle"} for k in keys]


@pytest.mark.parametrize(
    "message",
    [
        "'itemType' property not provided",
        "'foo' is not a valid itemType",
        "Invalid property 'foo'",
        "'ISBN' is not a valid field for type 'journalArticle'",
        "creator object must contain 'firstName'/'lastName' or 'name'",
        "Invalid tag type 'x'",
        "Invalid key: 'abc'",
    ],
)
def test_validation_messages_fail_the_record(message: str) -> None:
    assert is_validation_failure(400, message)


@pytest.mark.parametrize(
    "message",
    ["'primaryData' not loaded for item (null/1/ABCD2345)", "TypeError: x is undefined", ""],
)
def test_other_per_object_400s_are_faults_of_the_app(message: str) -> None:
    assert not is_validation_failure(400, message)


def test_report_sorts_created_existing_failed_and_faults() -> None:
    report = {
        "successful": {"0": {"key": A, "version": 5}, "3": {"key": D, "version": 6}},
        "unchanged": {},
        "failed": {
            "1": {"key": B, "code": 412, "message": "item version mismatch: expected 0, found 3"},
            "2": {"key": C, "code": 400, "message": "'primaryData' not loaded for item (null/1/C)"},
        },
    }
    out = sort_report(payload(A, B, C, D), report, known={D})
    assert out.created == {0: (A, 5)}
    assert out.existing == {1: B, 3: D}  # 412, and a success on a key that was there: merged
    assert out.failed == {}
    assert list(out.faults) == [2] and "primaryData" in out.faults[2]


def test_an_item_the_report_leaves_out_is_a_fault_not_a_failure() -> None:
    out = sort_report(payload(A, B), {"successful": {"0": {"key": A, "version": 1}}}, set())
    assert out.faults == {1: "the app's report does not mention this item"}


def test_signed_in_user_from_the_answer_for_another_user() -> None:
    prefix = "Only data for the logged-in user is available locally -- "
    assert signed_in_user(400, prefix + "use userID 0 or 12345") == 12345
    assert signed_in_user(400, prefix + "use userID 0") == 0
    assert signed_in_user(200, "[]") is None


def test_request_level_answers() -> None:
    off = refusal(403, "Local API is not enabled", action="x", url=URL)
    assert off is not None and off.transient and "Settings → Advanced" in (off.hint or "")
    denied = refusal(403, "Write access denied", action="x", url=URL)
    assert denied is not None and not denied.transient
    revoked = refusal(401, "Invalid or expired API key", action="x", url=URL)
    assert revoked is not None and not revoked.transient
    assert "syncd setup --desktop" in (revoked.hint or "")
    swapped = refusal(412, "Zotero-Server-ID does not match this server", action="x", url=URL)
    assert isinstance(swapped, LibraryChanged) and swapped.transient
    old = refusal(400, "Endpoint does not support method\n", action="x", url=URL)
    assert old is not None and not old.transient and "web" in (old.hint or "")
    empty = refusal(500, "", action="x", url=URL)
    assert empty is not None and empty.transient
    assert (
        refusal(412, "Library has been modified since specified version", action="x", url=URL)
        is None
    )
    assert refusal(200, "", action="x", url=URL) is None
