"""The one backoff rule (syncd.core.backoff)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.backoff import backoff, ceiling

tries = st.integers(min_value=-3, max_value=5000)
bases = st.floats(min_value=0.01, max_value=100)
caps = st.floats(min_value=0.01, max_value=3600)
draws = st.floats(min_value=0.0, max_value=1.0)


@given(tries, bases, caps, draws)
def test_a_wait_is_between_half_and_all_of_its_ceiling(
    n: int, base: float, cap: float, draw: float
) -> None:
    top = ceiling(n, base, cap)
    assert top <= cap
    assert top / 2 <= backoff(n, base, cap, draw) <= top


@given(st.integers(min_value=1, max_value=5000), bases, caps)
def test_the_ceiling_doubles_until_the_cap(n: int, base: float, cap: float) -> None:
    assert ceiling(n + 1, base, cap) == min(cap, 2 * ceiling(n, base, cap)) or (
        ceiling(n, base, cap) == cap
    )


def test_by_name() -> None:
    assert [ceiling(n, 1.0, 60.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(3, 1.0, 60.0, 0.0) == 2.0
    assert backoff(3, 1.0, 60.0, 1.0) == 4.0
    assert ceiling(0, 2.0, 900.0) == 2.0  # the first try waits as the first retry does
    assert ceiling(10**9, 2.0, 900.0) == 900.0  # no overflow
