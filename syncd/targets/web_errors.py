"""What an HTTP error answer of the Web API means for the user: one :class:`RemoteError` with
the message and the hint of what to change (the key, its rights, the library id), and, for a
server on this machine, that it may be another user's sandbox holding the port.

A sandbox names itself in every answer (``Syncd-Sandbox-Instance``, printed when it starts):
the message quotes the instance that answered, so that a user can tell their sandbox from
someone else's. The real server sends no such header.
"""

from __future__ import annotations

from syncd.errors import RemoteError

KEYS_URL = "https://www.zotero.org/settings/keys"
SANDBOX_INSTANCE = "Syncd-Sandbox-Instance"
"""The header a syncd sandbox names its running instance in (never sent by api.zotero.org)."""


def another_sandbox(instance: str | None) -> str:
    """The hint's tail for a server on this machine that may not be the user's sandbox."""
    answered = (
        f" (this answer came from sandbox instance {instance}; yours printed its instance when "
        "it started)"
        if instance
        else ""
    )
    return (
        f"; on a shared machine another user's sandbox may hold that port{answered}: start "
        "yours with --port 0 or another port"
    )


def access_error(library: str, group_id: int | None, right: str) -> RemoteError:
    """The key may not ``right`` (``read`` or ``write``) ``library``; ``group_id`` for a group."""
    what = "write to" if right == "write" else "read"
    if group_id is not None:
        fix = (
            f"give the key {'read/write' if right == 'write' else 'read'} access to group "
            f"{group_id} at {KEYS_URL} (and make sure the user is a member)"
        )
    else:
        fix = (
            f"edit the key at {KEYS_URL}: tick "
            f"'{'Allow write access' if right == 'write' else 'Allow library access'}'"
        )
    return RemoteError(
        f"The API key may not {what} library {library} (missing right: {right})",
        hint=fix,
        status=403,
    )


def error_for(
    status: int,
    body: str,
    action: str,
    *,
    library: str,
    group_id: int | None,
    local: str | None,
) -> RemoteError:
    """The error for an HTTP ``status`` answered with ``body`` (short, secrets scrubbed) to
    ``action``; ``local``: the hint's tail for a server on this machine (None: not local)."""
    if status in (401, 403):
        if "invalid key" in body.lower():
            return RemoteError(
                f"Zotero rejected the API key for library {library} (Invalid key)",
                hint=f"check zotero.api_key / api_key_file; create a key at {KEYS_URL}"
                + (local or ""),
                status=status,
            )
        return access_error(library, group_id, "write" if "write" in body.lower() else "read")
    if status == 404:
        return RemoteError(
            f"{action}: not found in library {library} ({body})",
            hint="check zotero.library_type and zotero.library_id",
            status=404,
        )
    return RemoteError(f"{action} in library {library} failed: HTTP {status} {body}", status=status)
