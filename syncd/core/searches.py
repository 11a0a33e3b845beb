"""Saved PubMed searches: the decisions of a poll, without any clock, network or database.

A saved search (``[[search]]`` in the config) is polled with ``esearch`` over a window of
Entrez dates (``datetype=edat``). Everything here is a rule about that window and about when
the search is next due; the edge (:mod:`syncd.searches`) asks the server, keeps the marks in
the state database and passes today's date and the current time in as arguments.

Dates are ISO days (``YYYY-MM-DD``, UTC); they are turned into day numbers with the civil
calendar algorithm below, as the core may not import :mod:`datetime`.

* **Identity**: a search is its (name, query): renaming it or changing its query starts a new
  search, whose window starts again (:func:`identity`).
* **The window** (:func:`poll_window`): from the last successful poll's day minus
  ``overlap_days`` (PubMed adds citations with Entrez dates a little in the past), or from
  the search's origin (``since``, else the day it first ran) the first time, to today. Every
  ``full_every_days`` the whole window from the origin is run again (PubMed backdates the
  Entrez date of citations added more than 12 months after publication), with its own mark.
* **The esearch cap** (:func:`split_until_fits`): esearch returns at most the first
  :data:`ESEARCH_CAP` PMIDs of a query; a window with more hits is halved until every part
  fits. One day with more hits than that cannot be split: :class:`NarrowQuery`.
* **Due times** (:func:`next_due`): every ``every_hours`` after the last poll, plus a random
  part of up to 10 % of the interval drawn by the caller, so that searches do not fire
  together; a failed poll is tried again sooner, with the backoff rule.
* **Advancing** (:func:`may_advance`): the "last successful poll" moves only once every
  record of the poll is settled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from syncd.core.backoff import backoff

ESEARCH_CAP = 9_999
"""The most PMIDs esearch is trusted to return for one query: NCBI documents 10,000, clients
measured 9,999 on the live server (beyond it: "Restrictions achieved" or an error)."""

JITTER = 0.10
"""The random part added to a search's interval, as a fraction of it."""

RETRY_BASE_SECONDS = 60.0
"""The first wait before a failed poll is tried again (then doubling, capped by the interval)."""

_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DAY_SECONDS = 86_400

T = TypeVar("T")


# ---- days -----------------------------------------------------------------------------------


def day_number(day: str) -> int:
    """Days since 1970-01-01 of the ISO day ``day`` (proleptic Gregorian); ValueError if it
    is not a real ``YYYY-MM-DD`` day."""
    m = _ISO_DAY.match(day)
    if not m:
        raise ValueError(f"not a day (YYYY-MM-DD): {day!r}")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= mo <= 12 or not 1 <= d <= _days_in_month(y, mo):
        raise ValueError(f"not a day of the calendar: {day!r}")
    # Howard Hinnant's days_from_civil.
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def iso_day(number: int) -> str:
    """The ISO day ``number`` days after 1970-01-01 (the inverse of :func:`day_number`)."""
    z = number + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (mo <= 2)
    return f"{y:04d}-{mo:02d}-{d:02d}"


def add_days(day: str, n: int) -> str:
    """``day`` moved by ``n`` days (negative: back)."""
    return iso_day(day_number(day) + n)


def entrez_date(day: str) -> str:
    """``day`` as esearch's ``mindate``/``maxdate`` want it: ``YYYY/MM/DD``."""
    day_number(day)  # a bad day fails here, not at NCBI
    return day.replace("-", "/")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


# ---- identity and window --------------------------------------------------------------------


def identity(name: str, query: str) -> tuple[str, str]:
    """What makes a search the same search: its name and its query, as configured (surrounding
    space aside). Anything else (collection, tags, schedule) may change without restarting
    its window."""
    return name.strip(), query.strip()


@dataclass(frozen=True)
class Window:
    """Entrez dates ``first`` to ``last`` (ISO days, both included)."""

    first: str
    last: str

    def __post_init__(self) -> None:
        if day_number(self.first) > day_number(self.last):
            raise ValueError(f"a window ends before it starts: {self.first}..{self.last}")

    @property
    def days(self) -> int:
        return day_number(self.last) - day_number(self.first) + 1

    def halves(self) -> tuple[Window, Window]:
        """The window cut in two at its middle day (it must span two days or more)."""
        if self.days < 2:
            raise ValueError(f"a single day cannot be split: {self.first}")
        mid = day_number(self.first) + self.days // 2 - 1
        return Window(self.first, iso_day(mid)), Window(iso_day(mid + 1), self.last)

    def __str__(self) -> str:
        return self.first if self.first == self.last else f"{self.first}..{self.last}"


@dataclass(frozen=True)
class Marks:
    """What the state database remembers of one search between polls."""

    origin: str | None = None
    """Where its window starts for good: ``since``, else the day it first ran."""
    last_success: str | None = None
    """The day of the last poll whose every record settled."""
    last_full: str | None = None
    """The day of the last poll that ran the whole window from ``origin``."""


@dataclass(frozen=True)
class Plan:
    """The window of one poll, and whether it is a full run (which sets its own mark)."""

    window: Window
    full: bool
    origin: str


def poll_window(
    today: str,
    marks: Marks,
    *,
    since: str | None,
    overlap_days: int,
    full_every_days: int,
) -> Plan:
    """The window the poll made on ``today`` searches.

    The origin is the one remembered, else ``since``, else today (no backfill). The first poll,
    and every poll at least ``full_every_days`` after the last full run, search from the origin
    (a full run). The others search from the last successful poll minus ``overlap_days``
    (never before the origin); without a successful poll yet, from the origin too.
    """
    if overlap_days < 0 or full_every_days < 1:
        raise ValueError("overlap_days must be >= 0 and full_every_days >= 1")
    t = day_number(today)
    origin = marks.origin or since or today
    o = min(day_number(origin), t)  # a since in the future searches today only
    full = marks.last_full is None or t - day_number(marks.last_full) >= full_every_days
    if full or marks.last_success is None:
        first = o
    else:
        first = min(max(o, day_number(marks.last_success) - overlap_days), t)
    return Plan(Window(iso_day(first), today), full, origin)


# ---- the esearch cap ------------------------------------------------------------------------


class NarrowQuery(ValueError):
    """One day has more hits than esearch can return: the query must be narrowed."""

    def __init__(self, hits: int, day: str) -> None:
        super().__init__(f"narrow the query: {hits} hits on {day}")
        self.hits = hits
        self.day = day


def split_until_fits(
    window: Window,
    search: Callable[[Window], T],
    count: Callable[[T], int],
    cap: int = ESEARCH_CAP,
) -> list[tuple[Window, T]]:
    """Search ``window``; while a part has more than ``cap`` hits, search its two halves
    instead. Returns each part that fits with its answer, in date order; the parts cover
    ``window`` exactly, without overlap. Raises :class:`NarrowQuery` for a day over the cap,
    never cutting silently."""
    done: list[tuple[Window, T]] = []
    todo = [window]
    while todo:
        part = todo.pop()
        answer = search(part)
        hits = count(answer)
        if hits <= cap:
            done.append((part, answer))
        elif part.days == 1:
            raise NarrowQuery(hits, part.first)
        else:
            early, late = part.halves()
            todo += [late, early]  # popped early first: the answers come in date order
    return done


# ---- schedule -------------------------------------------------------------------------------


def interval_seconds(every_hours: float) -> float:
    return every_hours * 3600.0


def next_due(last_poll: float, every_hours: float, draw: float) -> float:
    """When a search polled at ``last_poll`` (epoch seconds) is due again: its interval plus
    up to :data:`JITTER` of it, where in that range given by ``draw`` (0 to 1)."""
    jitter = min(max(draw, 0.0), 1.0) * JITTER
    return last_poll + interval_seconds(every_hours) * (1.0 + jitter)


def first_due(now: float, every_hours: float, position: int, draw: float) -> float:
    """When a search never polled is due: now for the first one, and the next ones spread over
    a small part of the shortest sensible gap (``position`` = its place among the searches
    seen for the first time together), so that a fresh start does not fire them together.
    The spread is at most :data:`JITTER` of the interval and at most a minute per search."""
    if position <= 0:
        return now
    step = min(60.0, interval_seconds(every_hours) * JITTER)
    return now + step * (position - 1 + min(max(draw, 0.0), 1.0))


def retry_due(now: float, every_hours: float, failures: int, draw: float) -> float:
    """When a search whose last poll failed (``failures`` in a row, 1 or more) is tried again:
    the backoff rule, never later than its normal interval."""
    wait = backoff(failures, RETRY_BASE_SECONDS, interval_seconds(every_hours), draw)
    return now + wait


def is_due(now: float, due: float | None) -> bool:
    """A search with no due time yet (never scheduled) is due."""
    return due is None or now >= due


# ---- settling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollOutcome:
    """What a poll's import left, as far as advancing the search is concerned."""

    pending: int = 0
    """Records recorded but not confirmed (the server was lost, a write gave up)."""
    retryable: int = 0
    """Records not settled for a reason a retry can fix (PMIDs not fetched because NCBI
    could not be reached, records not sent)."""
    gave_up: bool = False
    """The import stopped sending before the end."""


def may_advance(outcome: PollOutcome) -> bool:
    """Whether the search's "last successful poll" may move to this poll: only when every
    record of it is settled (created, duplicate, or failed for a reason a retry cannot fix,
    such as "not in PubMed")."""
    return outcome.pending == 0 and outcome.retryable == 0 and not outcome.gave_up


def days_between(first: str, last: str) -> int:
    """Whole days from ``first`` to ``last`` (negative when ``last`` is earlier)."""
    return day_number(last) - day_number(first)


def stamp_day(epoch_seconds: float) -> str:
    """The UTC day of a time given in epoch seconds."""
    return iso_day(int(epoch_seconds // _DAY_SECONDS))


class Scheduled(Protocol):
    """What the daemon knows of saved searches (:class:`syncd.searches.SearchRunner`): when
    the next one is due, and "poll the due ones now" (one after another; the worst exit code
    of their polls, as ``syncd import`` counts them). The arguments are the daemon's current
    config, state database and interruptible sleep."""

    def next_wakeup(self, config: Any, store: Any) -> float: ...

    def run_due(self, config: Any, store: Any, sleep: Callable[[float], None]) -> int: ...
