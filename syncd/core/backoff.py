"""The one backoff rule: how long to wait before the n-th try again.

Used for HTTP retries (the gateway's :class:`~syncd.zotero.RetryPolicy`), for writes refused
because the library changed (the engine's conflict waits) and for the daemon's next attempt
after trouble. Exponential with jitter, so that several clients that failed together do not
come back together. Pure: the caller draws the random part.
"""

from __future__ import annotations

# 2 ** 60 seconds is beyond any cap: larger exponents only risk a float overflow.
_MAX_EXPONENT = 60


def ceiling(n: int, base: float, cap: float) -> float:
    """The longest wait before try ``n`` (1 for the first retry): ``min(cap, base * 2**(n-1))``."""
    return min(cap, base * 2.0 ** min(max(0, n - 1), _MAX_EXPONENT))


def backoff(n: int, base: float, cap: float, draw: float) -> float:
    """Seconds to wait before try ``n``: between half and all of :func:`ceiling`, where in
    that range given by ``draw`` (0 to 1, e.g. ``random.random()``)."""
    top = ceiling(n, base, cap)
    return top / 2 + min(max(draw, 0.0), 1.0) * top / 2
