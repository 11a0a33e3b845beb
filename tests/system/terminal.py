"""A program run on a pseudo-terminal, driven as a person would: wait for a prompt, type an
answer, press Ctrl-C. The stdlib's :mod:`pty` makes the terminal the child's controlling
terminal, so ``getpass`` reads from it without echo and Ctrl-C (``\\x03``) reaches the child
as SIGINT from the terminal's line discipline, not from a signal the test sends. (Test modules
import from here, never from each other.)"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import time
from collections.abc import Mapping, Sequence

CTRL_C = "\x03"


class Terminal:
    """``argv`` running on a new pseudo-terminal, with ``env``."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None):
        pid, fd = pty.fork()
        if pid == 0:  # the child: exec at once (nothing else is safe after fork)
            try:
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], list(argv), dict(env))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = ""  # everything the terminal showed, \r\n made \n
        self._seen = 0  # how far expect() has read
        self.status: int | None = None

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        """Wait until ``pattern`` (a regular expression) appears after what was seen
        before; return the text up to and including it."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.output, self._seen)
            if match:
                seen = self.output[self._seen : match.end()]
                self._seen = match.end()
                return seen
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(
                    f"no {pattern!r} on the terminal; it shows:\n{self.output[self._seen :]}"
                )

    def ctrl_c(self, timeout: float = 30.0) -> None:
        """Press Ctrl-C once the program waits for the terminal. (Pressed while it is
        between showing a prompt and reading, CPython notes the signal and then blocks in
        read() until a line comes: a window of microseconds for a person, but one a test
        that types at once falls into.)"""
        deadline = time.monotonic() + timeout
        while _state(self.pid) != "S" and time.monotonic() < deadline:
            time.sleep(0.01)
        self.type(CTRL_C)

    def type(self, text: str) -> None:
        """Type ``text`` (add ``\\n`` for Enter)."""
        os.write(self.fd, text.encode())

    def line(self, text: str) -> None:
        self.type(text + "\n")

    def wait(self, timeout: float = 30.0) -> int:
        """The exit status, once the program has ended (reading what it still shows)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"still running; the terminal shows:\n{self.output}")
            self._read(0.1)
        while self._read(0.2):
            pass
        return self.status

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)

    def close(self) -> None:
        if self.status is None:
            self.kill()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child has closed the terminal
            return False
        if not data:
            return False
        self.output += data.decode("utf-8", "replace").replace("\r\n", "\n")
        return True

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _state(pid: int) -> str:
    """The process state letter from /proc (S: asleep, waiting for input)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def nothing_listens() -> str:
    """An http:// address on 127.0.0.1 where nothing listens (a port that was just free): a
    Zotero app that does not run, whatever else runs on this machine."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
