"""Tell systemd how the daemon is doing (``sd_notify``), with nothing but the stdlib's socket.

Under a ``Type=notify`` unit systemd puts the address of its notification socket into
``$NOTIFY_SOCKET``: a file-system path, or an abstract socket name when it starts with ``@``.
:func:`notify` sends ``KEY=value`` lines to it as one datagram, e.g.
``notify("READY=1", "STATUS=watching ~/Downloads")``; :func:`watchdog_interval` says how often
the main loop should send ``WATCHDOG=1`` (half of ``$WATCHDOG_USEC``, as sd_watchdog_enabled(3)
recommends).

Outside systemd (no ``$NOTIFY_SOCKET``) both are no-ops, and a notification that cannot be sent
never disturbs the daemon: it is logged at debug level and :func:`notify` returns False. The
socket is created on first use and kept for later calls (the daemon notifies every few
seconds); a lock makes :func:`notify` safe to call from several threads.

The protocol is in sd_notify(3); the few lines below are what maestral does too, because the
PyPI packages for it are unmaintained.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

logger = logging.getLogger(__name__)

# Seconds a send may block when systemd does not read its socket (it always does in practice):
# the daemon's main loop must not hang on a notification.
_SEND_TIMEOUT = 1.0

_lock = threading.Lock()
_sock: socket.socket | None = None


def _address(value: str) -> str | None:
    """The ``AF_UNIX`` address for ``$NOTIFY_SOCKET``, or None when it is not one."""
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace: a leading NUL byte instead of the '@'
    if value.startswith("/"):
        return value
    return None  # e.g. "vsock:..." (systemd >= 254 in VMs), which syncd does not speak


def _one_line(line: str) -> str:
    """``line`` without line breaks or NUL bytes: a newline inside ``STATUS=...`` would start a
    new assignment (a STATUS text could otherwise say ``READY=1`` or ``MAINPID=1``)."""
    parts = line.replace("\0", "").splitlines()
    return " ".join(part.strip() for part in parts if part.strip())


def notify(*lines: str) -> bool:
    """Send ``lines`` (``KEY=value`` each) as one datagram to ``$NOTIFY_SOCKET``.

    Returns True when the datagram was sent; False when ``$NOTIFY_SOCKET`` is unset or not a
    Unix socket address, when there is nothing to send, or when sending failed (never raises).
    """
    target = os.environ.get("NOTIFY_SOCKET", "")
    if not target:
        return False
    address = _address(target)
    if address is None:
        logger.debug("sd_notify: unsupported NOTIFY_SOCKET address %r", target)
        return False
    clean = [one for one in map(_one_line, lines) if one]
    if not clean:
        return False
    data = "\n".join(clean).encode("utf-8")
    global _sock
    with _lock:
        try:
            if _sock is None:
                _sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                _sock.settimeout(_SEND_TIMEOUT)
            _sock.sendto(data, address)
        except OSError as exc:
            logger.debug("sd_notify: cannot send %s to %s: %s", clean, target, exc)
            return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings: half of ``$WATCHDOG_USEC``.

    None when no watchdog is asked for: ``$WATCHDOG_USEC`` is unset, not a positive integer, or
    ``$WATCHDOG_PID`` names another process (the variables were inherited from a parent).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    try:
        if pid and int(pid) != os.getpid():
            return None
        micro = int(usec)
    except ValueError:
        logger.debug("sd_notify: ignoring WATCHDOG_USEC=%r WATCHDOG_PID=%r", usec, pid)
        return None
    if micro <= 0:
        return None
    return micro / 2_000_000


def _close() -> None:
    """Close the kept socket (the next :func:`notify` opens a new one); for tests."""
    global _sock
    with _lock:
        if _sock is not None:
            _sock.close()
            _sock = None
