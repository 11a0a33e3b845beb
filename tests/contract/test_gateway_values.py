"""The gateway's small pure parts: retry delays, header values, derived keys, write reports."""

from __future__ import annotations

import email.utils
import random
import re
import time

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.keys import digest_key as derive_key
from syncd.targets.web_report import write_result as _write_result
from syncd.zotero import RetryPolicy, _seconds

KEY_SHAPE = re.compile(r"^[23456789ABCDEFGHIJKLMNPQRSTUVWXYZ]{8}$")


@given(
    st.integers(min_value=1, max_value=40),
    st.floats(min_value=0.01, max_value=10),
    st.floats(min_value=0.01, max_value=600),
    st.integers(),
)
def test_retry_delay_is_jittered_exponential_and_capped(
    retry: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    ceiling = min(cap, base * 2.0 ** (retry - 1))
    delay = policy.delay(retry, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling


def test_retry_delays_grow_then_stop_growing() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(0)
    ceilings = [max(policy.delay(n, rng) for _ in range(200)) for n in range(1, 7)]
    assert ceilings[0] <= 1.0 < ceilings[1] <= 2.0 < ceilings[2] <= 4.0 < ceilings[3] <= 8.0
    assert ceilings[4] <= 8.0 and ceilings[5] <= 8.0


def test_header_seconds() -> None:
    assert _seconds("7") == 7.0
    assert _seconds(" 12 ") == 12.0
    assert _seconds(None) is None and _seconds("") is None
    assert _seconds("soon") is None
    assert _seconds("-3") == 0.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_seconds(later) or 0) <= 31


@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_derived_keys_are_valid_and_stable(parts: list[str]) -> None:
    key = derive_key(*parts)
    assert KEY_SHAPE.match(key)
    assert derive_key(*parts) == key


def test_derived_keys_differ_by_parent_and_name() -> None:
    keys = {
        derive_key("collection", "users/1", "", "A"),
        derive_key("collection", "users/1", "", "B"),
        derive_key("collection", "users/1", "PARENT23", "A"),
        derive_key("collection", "groups/1", "", "A"),
    }
    assert len(keys) == 4


def test_write_report_by_index() -> None:
    payload = [{"key": k, "version": 0} for k in ("AAAAAAA2", "AAAAAAA3", "AAAAAAA4", "AAAAAAA5")]
    report = {
        "successful": {"0": {"key": "AAAAAAA2", "version": 11, "data": {}}},
        "success": {"0": "AAAAAAA2"},
        "unchanged": {"3": "AAAAAAA5"},
        "failed": {
            "1": {"code": 412, "message": "Item has been modified since specified version"},
            "2": {"code": 400, "message": "&#039;ISBN&#039; is not a valid field &amp; more"},
        },
    }
    result = _write_result(payload, report, 12)
    assert result.created == {0: ("AAAAAAA2", 11)}
    assert result.existing == {1: "AAAAAAA3", 3: "AAAAAAA5"}
    assert result.failed == {2: (400, "'ISBN' is not a valid field & more")}
    assert result.library_version == 12


def test_write_report_missing_an_index_marks_it_failed() -> None:
    payload = [{"key": "AAAAAAA2", "version": 0}, {"key": "AAAAAAA3", "version": 0}]
    report = {"successful": {"0": {"key": "AAAAAAA2", "version": 3}}, "failed": {}}
    result = _write_result(payload, report, 3)
    assert set(result.failed) == {1}
