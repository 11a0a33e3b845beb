"""A small progress line on stderr for ``syncd import``: records read, then items created.

:func:`progress_for` returns a callback for :func:`syncd.engine.import_paths` that draws one
line (rewritten in place with ``\\r``) when the stream is a terminal, and a callback that does
nothing otherwise (pipes, files, systemd), so that logs and ``--json`` output stay clean.
Redraws are limited to about ten a second.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

_INTERVAL = 0.1


class Bar:
    """Draws ``reading  1234 records`` and ``sending [#####.....]  120/400 items``.

    The import reads, plans and sends in batches, so while it is still reading, the number of
    items to send is only what the batches so far planned: a bar of that would fill to 100 %
    and drop back with every batch. Until the reading is over (a ``read`` call with its total)
    the line counts the items sent and says that it is still counting; then the total is
    known and the bar is drawn."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = 0.0
        self._shown = False
        self._read_all = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "read" and total:
            self._read_all = True
        now = time.monotonic()
        final = total > 0 and done >= total and (stage == "read" or self._read_all)
        if not final and now - self._last < _INTERVAL:
            return
        self._last = now
        width = shutil.get_terminal_size((80, 20)).columns
        if stage == "send" and not self._read_all:
            text = f"sending  {done} items sent (still reading: counting the rest)"
        elif stage == "send" and total:
            label = f" {done}/{total} items sent"
            room = max(10, min(40, width - len(label) - 12))
            filled = room * min(done, total) // total
            text = f"sending [{'#' * filled}{'.' * (room - filled)}]{label}"
        else:
            text = f"reading  {done} records"
        self.stream.write("\r" + text[: width - 1].ljust(width - 1))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Clear the line so that the summary starts on a clean one."""
        if self._shown:
            width = shutil.get_terminal_size((80, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self._shown = False


def _nothing(stage: str, done: int, total: int) -> None:
    return None


def progress_for(
    stream: TextIO | None = None,
) -> tuple[Callable[[str, int, int], None], Bar | None]:
    """A progress callback for ``stream`` (stderr by default) and the bar to close, or a
    no-op and None when the stream is not a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return _nothing, None
    bar = Bar(stream)
    return bar, bar
