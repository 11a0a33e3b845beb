"""NCBI's request budget (3 per second, 10 with an API key), shared by every syncd process of
the user that uses the same state folder: the daemon and a one-shot import at the same time
together stay within it.

The shared part is one small file beside the state database holding the moment the next
request may leave. A request takes the file's ``flock``, reserves the later of now and that
moment, writes the moment after it, lets the lock go and only then sleeps until its own slot,
so that no process holds the lock while it waits.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

PACE_FILE = "ncbi-pace"
# A little more than 1/3 s and 1/10 s: the gap seen by NCBI can shrink when one request travels
# slower than the next, and NCBI counts per second.
INTERVAL_WITHOUT_KEY = 0.37
INTERVAL_WITH_KEY = 0.11


class Pacer:
    """Hands out send times at least ``interval`` apart across processes (and threads)."""

    def __init__(
        self,
        folder: Path,
        interval: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = folder / PACE_FILE
        self.interval = interval
        self._clock = clock  # the wall clock: the one every process reads alike
        self._sleep = sleep
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Reserve the next send time and return it (without waiting)."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.pread(fd, 64, 0).decode("ascii", errors="replace").strip()
                try:
                    next_free = float(raw)
                except ValueError:
                    next_free = 0.0
                now = self._clock()
                # A moment far in the future is a clock set back, not a plan: ignore it.
                if next_free > now + 60:
                    next_free = now
                slot = max(now, next_free)
                data = f"{slot + self.interval:.6f}\n".encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
                return slot
            finally:
                os.close(fd)  # closing the descriptor lets the flock go

    def wait(self) -> None:
        """Wait for this process's next turn."""
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
