"""Logging set-up: the only place in syncd that adds handlers.

Every other module does ``logger = logging.getLogger(__name__)`` and logs with lazy ``%s``
arguments. Under systemd (``JOURNAL_STREAM`` set) messages go to stderr without timestamps,
because journald adds its own; on a terminal they carry a short time stamp.
"""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(verbosity: int = 0) -> None:
    """Configure the root logger: ``-q`` → warnings, default → info, ``-v`` → debug."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s" if under_journald else "%(asctime)s %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter (HTTP client request lines) only when asked for twice.
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "watchdog"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
