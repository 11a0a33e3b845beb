"""Reading a ``format=versions`` answer of the Zotero Web API as it arrives.

A library's key list (``{"KEY": version, ...}``, some 20 bytes an item) can be hundreds of
megabytes for a large library: :class:`VersionsParser` turns it into ``(key, version)`` pairs
piece by piece, so that it is never held whole.
"""

from __future__ import annotations

import re


class VersionsParser:
    """An incremental parser of a ``format=versions`` answer: ``{"KEY": version, ...}``.

    Anything else (HTML, an array, a stray token) raises ``ValueError``, which the Web API
    gateway reports as an answer that is not what the Zotero API sends."""

    _PAIR = re.compile(rb'\s*"([A-Za-z0-9]{1,32})"\s*:\s*(\d{1,18})\s*')

    def __init__(self) -> None:
        self._buffer = b""
        self._opened = False
        self._closed = False

    def feed(self, data: bytes) -> list[tuple[str, int]]:
        self._buffer += data
        if not self._opened:
            stripped = self._buffer.lstrip()
            if not stripped:
                return []
            if not stripped.startswith(b"{"):
                raise ValueError("the answer is not a JSON object")
            self._buffer = stripped[1:]
            self._opened = True
        cut = self._buffer.rfind(b",")
        if cut < 0:
            return []
        complete, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
        return [self._pair(piece) for piece in complete.split(b",")]

    def close(self) -> list[tuple[str, int]]:
        if not self._opened:
            raise ValueError("the answer is empty")
        rest = self._buffer.rstrip()
        if not rest.endswith(b"}"):
            raise ValueError("the answer ends before its end")
        rest = rest[:-1]
        self._buffer = b""
        if not rest.strip():
            return []
        return [self._pair(rest)]

    def _pair(self, piece: bytes) -> tuple[str, int]:
        m = self._PAIR.fullmatch(piece)
        if m is None:
            raise ValueError(f"unexpected text in the answer: {piece[:40]!r}")
        return m.group(1).decode("ascii"), int(m.group(2))
