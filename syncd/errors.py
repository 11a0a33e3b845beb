"""The one error hierarchy of syncd.

Every failure a user can meet is a :class:`SyncdError` with a ``message`` (what went wrong, naming
the file, key or library concerned) and an optional ``hint`` (what to do about it). The CLI's
single error boundary (:func:`syncd.cli.main`) turns these into text on stderr and an exit code;
nothing else in syncd prints errors or calls ``sys.exit``.

This module is pure (no I/O) so the core may raise these too.

Exit codes, used by every command:

* ``0`` everything went in (or there was nothing to do),
* ``1`` the run finished but some records or files had problems,
* ``2`` unusable input, usage, configuration or a fatal error (nothing or not all was done),
* ``130`` interrupted with Ctrl-C.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FATAL = 2
EXIT_INTERRUPTED = 130


class SyncdError(Exception):
    """Base class: a failure with a message for the user and a hint on how to fix it."""

    exit_code: int = EXIT_FATAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def lines(self) -> list[str]:
        """The message as the lines a person reads (each is escaped on its own when shown)."""
        return [self.message]


class UsageError(SyncdError):
    """The command line was wrong (unknown option, missing argument, bad value)."""


class ConfigError(SyncdError):
    """The configuration is invalid. ``problems`` lists every problem found, one per line."""

    def __init__(
        self, message: str, hint: str | None = None, problems: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hint)
        self.problems = problems

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + "".join(f"\n  - {p}" for p in self.problems)

    def lines(self) -> list[str]:
        return [self.message, *(f"  - {p}" for p in self.problems)]


class InputError(SyncdError):
    """A whole input file is unusable (missing, unreadable, not MEDLINE at all)."""

    def __init__(
        self, message: str, hint: str | None = None, *, source: str = "", line: int | None = None
    ) -> None:
        super().__init__(message, hint)
        self.source = source
        self.line = line


class StateError(SyncdError):
    """The state database is unusable (corrupt, from a newer syncd, locked for too long).

    ``transient`` is true for trouble worth waiting out (a full disk, an I/O error, a read-only
    file, folder or file system): the same database works again once space is freed or the
    disk is writable again, with nothing for syncd to change.
    """

    def __init__(self, message: str, hint: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message, hint)
        self.transient = transient


class StateDamagedError(StateError):
    """The state database is damaged: not a database, corrupt pages, a missing table."""


class StateNotWritableError(StateError):
    """The state database (or the folder it lives in, which holds its journal) cannot be
    written: read-only file, read-only folder, read-only file system, permission denied."""


class StateNoSpaceError(StateError):
    """Writing the state database failed for lack of room: a full disk, a file-size limit
    (``ulimit -f``), or an I/O error of the disk."""


class RemoteError(SyncdError):
    """The Zotero server refused or failed a request.

    ``transient`` is true for failures worth retrying later (rate limits, 5xx, network errors);
    false for ones that need the user (invalid key, no write access, missing library).
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.transient = transient


class LibraryChanged(RemoteError):
    """The target now holds another library than the one it was opened on (the Zotero app was
    pointed at another database: its ``Zotero-Server-ID`` changed). Transient: a new target,
    with an index of its own, is built for the next attempt; nothing is sent to the old one's
    keys and versions."""
