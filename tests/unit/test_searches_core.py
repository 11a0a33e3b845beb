"""The pure rules of saved searches: days, windows, the esearch cap, due times, advancing."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.searches import (
    ESEARCH_CAP,
    JITTER,
    Marks,
    NarrowQuery,
    PollOutcome,
    Window,
    add_days,
    day_number,
    entrez_date,
    first_due,
    identity,
    is_due,
    iso_day,
    may_advance,
    next_due,
    poll_window,
    retry_due,
    split_until_fits,
    stamp_day,
)

days = st.dates(min_value=date(1800, 1, 1), max_value=date(2400, 12, 31))


@given(days)
def test_day_numbers_agree_with_the_calendar(d: date) -> None:
    assert day_number(d.isoformat()) == (d - date(1970, 1, 1)).days
    assert iso_day(day_number(d.isoformat())) == d.isoformat()


@given(days, st.integers(-5000, 5000))
def test_adding_days_agrees_with_the_calendar(d: date, n: int) -> None:
    assert add_days(d.isoformat(), n) == (d + timedelta(days=n)).isoformat()


@pytest.mark.parametrize("bad", ["2025-02-29", "2025-13-01", "2025-1-01", "yesterday", ""])
def test_a_bad_day_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        day_number(bad)


def test_entrez_dates_use_slashes() -> None:
    assert entrez_date("2025-03-07") == "2025/03/07"
    assert stamp_day(0) == "1970-01-01"
    assert stamp_day(86_400 * 365 - 1) == "1970-12-31"


def test_identity_is_name_and_query() -> None:
    assert identity(" k ", "a AND b ") == ("k", "a AND b")
    assert identity("k", "a AND b") != identity("k", "a AND c")
    assert identity("k", "a") != identity("j", "a")


# ---- the window -----------------------------------------------------------------------------


def _plan(today: str, marks: Marks, since: str | None = None, overlap: int = 7, full: int = 30):
    return poll_window(today, marks, since=since, overlap_days=overlap, full_every_days=full)


def test_the_first_poll_without_since_searches_today_only() -> None:
    p = _plan("2026-12-07", Marks())
    assert (p.window, p.full, p.origin) == (Window("2026-12-07", "2026-12-07"), True, "2026-12-07")


def test_the_first_poll_with_since_searches_from_since() -> None:
    p = _plan("2026-12-07", Marks(), since="2025-01-01")
    assert p.window == Window("2025-01-01", "2026-12-07") and p.full


def test_a_later_poll_overlaps_the_last_success() -> None:
    marks = Marks(origin="2025-01-01", last_success="2026-12-01", last_full="2026-11-20")
    p = _plan("2026-12-07", marks, since="2025-01-01")
    assert p.window == Window("2026-11-24", "2026-12-07") and not p.full


def test_the_overlap_never_reaches_before_the_origin() -> None:
    marks = Marks(origin="2026-12-05", last_success="2026-12-06", last_full="2026-12-05")
    assert _plan("2026-12-07", marks).window.first == "2026-12-05"


def test_a_full_run_comes_back_every_full_every_days() -> None:
    marks = Marks(origin="2025-01-01", last_success="2026-12-06", last_full="2026-11-07")
    assert _plan("2026-12-06", marks).full is False
    p = _plan("2026-12-07", marks)
    assert p.full and p.window == Window("2025-01-01", "2026-12-07")


def test_the_remembered_origin_wins_over_a_since_changed_later() -> None:
    # since is read once: the search's window started there (a changed query is a new search).
    marks = Marks(origin="2026-01-01", last_success="2026-12-06", last_full="2026-12-01")
    assert _plan("2026-12-07", marks, since="2020-01-01").origin == "2026-01-01"


@given(
    days,
    st.integers(0, 400),
    st.integers(0, 400),
    st.integers(0, 400),
    st.integers(0, 30),
    st.integers(1, 60),
)
def test_every_window_ends_today_and_covers_the_overlap(
    d: date, back_origin: int, back_success: int, back_full: int, overlap: int, full_every: int
) -> None:
    today = d.isoformat()
    origin = add_days(today, -back_origin)
    success = add_days(today, -min(back_success, back_origin))
    marks = Marks(origin=origin, last_success=success, last_full=add_days(today, -back_full))
    p = _plan(today, marks, overlap=overlap, full=full_every)
    assert p.window.last == today
    assert day_number(p.window.first) >= day_number(origin)
    # Nothing since the last success minus the overlap is ever left out.
    assert day_number(p.window.first) <= max(day_number(origin), day_number(success) - overlap)
    assert p.full == (back_full >= full_every)
    if p.full:
        assert p.window.first == origin


# ---- splitting over the cap -----------------------------------------------------------------


def _hits_per_day(per_day: dict[str, int]):
    calls: list[Window] = []

    def search(w: Window) -> int:
        calls.append(w)
        n = day_number(w.first)
        return sum(per_day.get(iso_day(i), 0) for i in range(n, day_number(w.last) + 1))

    return search, calls


def test_a_window_that_fits_is_searched_once() -> None:
    search, calls = _hits_per_day({"2026-01-02": ESEARCH_CAP})
    w = Window("2026-01-01", "2026-01-31")
    assert split_until_fits(w, search, int) == [(w, ESEARCH_CAP)]
    assert calls == [w]


def test_a_window_over_the_cap_is_split_into_parts_that_fit() -> None:
    search, _ = _hits_per_day({"2026-01-02": 6000, "2026-01-20": 6000})
    parts = split_until_fits(Window("2026-01-01", "2026-01-31"), search, int)
    assert [n for _, n in parts] and all(n <= ESEARCH_CAP for _, n in parts)
    assert sum(n for _, n in parts) == 12_000


def test_one_day_over_the_cap_says_narrow_the_query() -> None:
    search, _ = _hits_per_day({"2026-01-05": 10_000})
    with pytest.raises(NarrowQuery, match="narrow the query: 10000 hits on 2026-01-05"):
        split_until_fits(Window("2026-01-01", "2026-01-31"), search, int)


@given(st.dictionaries(st.integers(0, 60), st.integers(0, 40), max_size=30), st.integers(1, 60))
def test_split_parts_cover_the_window_exactly_and_each_fits(raw: dict[int, int], span: int) -> None:
    start = day_number("2026-01-01")
    per_day = {iso_day(start + k): v for k, v in raw.items()}
    w = Window(iso_day(start), iso_day(start + span - 1))
    search, _ = _hits_per_day(per_day)
    cap = 50
    if any(v > cap for k, v in raw.items() if k < span):
        with pytest.raises(NarrowQuery):
            split_until_fits(w, search, int, cap)
        return
    parts = split_until_fits(w, search, int, cap)
    assert parts[0][0].first == w.first and parts[-1][0].last == w.last
    for (a, _), (b, _) in itertools.pairwise(parts):
        assert day_number(b.first) == day_number(a.last) + 1
    assert all(n <= cap for _, n in parts)
    assert sum(n for _, n in parts) == search(w)


def test_halves_of_one_day_are_refused() -> None:
    with pytest.raises(ValueError):
        Window("2026-01-01", "2026-01-01").halves()
    with pytest.raises(ValueError):
        Window("2026-01-02", "2026-01-01")


# ---- due times ------------------------------------------------------------------------------


@given(st.floats(0, 2e9), st.floats(0.1, 24 * 365), st.floats(0, 1))
def test_the_next_poll_is_the_interval_plus_at_most_ten_percent(
    last: float, hours: float, draw: float
) -> None:
    due = next_due(last, hours, draw)
    assert last + hours * 3600 <= due <= last + hours * 3600 * (1 + JITTER) + 1e-6


def test_draws_spread_searches_polled_together() -> None:
    assert next_due(0, 24, 0.0) != next_due(0, 24, 1.0)


def test_never_polled_searches_are_spread_not_fired_together() -> None:
    dues = [first_due(1000.0, 24, i, 0.5) for i in range(4)]
    assert dues[0] == 1000.0
    assert dues == sorted(dues) and len(set(dues)) == 4
    assert dues[-1] <= 1000.0 + 4 * 60


@given(st.integers(1, 50), st.floats(0, 1))
def test_a_failed_poll_is_retried_sooner_than_its_interval(failures: int, draw: float) -> None:
    due = retry_due(0.0, 24, failures, draw)
    assert 0 < due <= 24 * 3600


def test_a_search_without_a_due_time_is_due() -> None:
    assert is_due(5.0, None) and is_due(5.0, 5.0) and not is_due(4.9, 5.0)


# ---- advancing ------------------------------------------------------------------------------


def test_only_a_settled_poll_advances() -> None:
    assert may_advance(PollOutcome())
    assert not may_advance(PollOutcome(pending=1))
    assert not may_advance(PollOutcome(retryable=2))
    assert not may_advance(PollOutcome(gave_up=True))
