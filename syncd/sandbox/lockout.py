"""The sandbox's lock-out after bad API keys.

api.zotero.org refuses every key from an address that sent more than 5 bad keys within 300 s
(429 ``Too many authentication failures``). On a machine several people share, that lets one
user's wrong key lock another's valid one out of a local sandbox, so the sandbox can count per
presented key instead (``"key"``): only the bad key itself is then refused.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

AUTH_FAILURE_LIMIT = 5
AUTH_FAILURE_WINDOW = 300.0
# Addresses or keys remembered at once: counted per key, every new wrong key is an entry.
AUTH_FAILURE_ENTRIES = 4096

Lockout = Literal["address", "key"]


class BadKeys:
    """Recent bad-key attempts, by address or by key; thread-safe."""

    def __init__(self, by: Lockout = "address") -> None:
        if by not in ("address", "key"):
            raise ValueError(f"lockout must be 'address' or 'key': {by!r}")
        self.by = by
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _who(self, client: str, api_key: str) -> str:
        return client if self.by == "address" else f"key:{api_key}"

    def locked(self, client: str, api_key: str) -> bool:
        """Whether this attempt is refused for the bad keys before it."""
        who, now = self._who(client, api_key), time.monotonic()
        with self._lock:
            recent = [t for t in self._seen.get(who, []) if now - t < AUTH_FAILURE_WINDOW]
            if recent:
                self._seen[who] = recent
            else:  # (no entry for a good key, nor for a bad one out of the window)
                self._seen.pop(who, None)
            return len(recent) > AUTH_FAILURE_LIMIT

    def failed(self, client: str, api_key: str) -> None:
        """Count a bad key."""
        now = time.monotonic()
        with self._lock:
            self._seen.setdefault(self._who(client, api_key), []).append(now)
            if len(self._seen) > AUTH_FAILURE_ENTRIES:
                self._forget(now)

    def _forget(self, now: float) -> None:
        """Bound the table (the caller holds the lock): drop the entries whose attempts are
        all out of the window, then, while a flood of fresh keys keeps it full, the ones
        quiet the longest."""
        for who, times in list(self._seen.items()):
            if now - times[-1] >= AUTH_FAILURE_WINDOW:
                del self._seen[who]
        excess = len(self._seen) - AUTH_FAILURE_ENTRIES
        if excess > 0:
            for who in sorted(self._seen, key=lambda w: self._seen[w][-1])[:excess]:
                del self._seen[who]
