"""Logging set-up: the only place in syncd that adds handlers.

Every other module does ``logger = logging.getLogger(__name__)`` and logs with lazy ``%s``
arguments. Under systemd (``JOURNAL_STREAM`` names our stderr) messages go to stderr without
timestamps, because journald adds its own, each with a syslog priority prefix (``<6>`` for
info, ``<4>`` for warnings, ...) so that ``journalctl -p warning`` works; on a terminal they
carry a short time stamp.
"""

from __future__ import annotations

import logging
import os
import sys

from syncd.core.text import shown

_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class _ShownMessage(logging.Filter):
    """Every message as one line a person can trust: a file name from the Downloads folder
    may hold a newline (that would forge a second log line), terminal escapes, bidi controls
    or bytes that are not UTF-8; :func:`syncd.core.text.shown` escapes them. (A traceback is
    not part of the message and keeps its lines.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = shown(message)
        if safe is not message:
            record.msg, record.args = safe, None
        return True


class _OwnDetail(logging.Filter):
    """Below warnings, only syncd's own messages, unless HTTP detail was asked for (``-vv``).

    The HTTP stack logs every connection step at debug level (httpcore2's ``connect_tcp``,
    ``send_request_headers`` ...) under logger names that change between versions, so a list
    of names to silence always misses one: a single ``-v`` would drown syncd's own debug lines.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return record.levelno >= logging.WARNING or name == "syncd" or name.startswith("syncd.")


_http_detail = False


def http_detail() -> bool:
    """Whether ``-vv`` asked for HTTP detail (request lines, the HTTP library's own logs)."""
    return _http_detail


class _JournalFormatter(logging.Formatter):
    """``<priority>message``: the prefix journald reads from a service's stderr."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        # A multi-line message (a traceback) keeps its priority on every line.
        return "\n".join(prefix + line for line in super().format(record).splitlines())


# The loggers of HTTP libraries (request lines, connection events) and the sandbox's access
# log: HTTP detail, shown only with -vv.
_HTTP_DETAIL = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "h11",
    "h2",
    "hpack",
    "urllib3",
    "pyzotero",
    "watchdog",
    "syncd.sandbox.server.access",
)


def under_journald() -> bool:
    """Whether stderr is the journal stream systemd gave us (not merely inherited)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return bool(value) and f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def setup_logging(verbosity: int = 0) -> None:
    """Configure the root logger: ``-q`` → warnings, default → info, ``-v`` → syncd's debug
    lines, ``-vv`` → also the HTTP library's and the local sandbox's request lines."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ShownMessage())
    if under_journald():
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    global _http_detail
    _http_detail = verbosity > 1
    # Third-party chatter (HTTP client request lines) only when asked for twice.
    if not _http_detail:
        handler.addFilter(_OwnDetail())
    for noisy in _HTTP_DETAIL:
        logging.getLogger(noisy).setLevel(logging.DEBUG if _http_detail else logging.WARNING)
