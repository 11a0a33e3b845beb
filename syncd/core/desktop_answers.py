"""Every answer of the Zotero desktop app's local API (Zotero 10), read into syncd's values.

The desktop target (:mod:`syncd.targets.desktop`) sends the requests; what an answer *means*
is decided here, without I/O: which request-level answers are the app closed, not enabled,
older than 10, a revoked key, a swapped database or the Web API's conflict; and, per object of
a write, which 400s are validation failures of the record (an allow-list: the validation texts
of Zotero's item code) and which are faults of the app (Zotero 10.0.3 answered every create
with ``'primaryData' not loaded``): those keep the record pending, never failed for good.
Facts and texts from ``../shared/docs/zotero-desktop.md`` (Part B §1.2-1.4, §1.8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncd.errors import LibraryChanged, RemoteError

SETUP_AGAIN = "run `syncd setup --desktop` again (and answer Zotero's dialog with Always Allow)"
CHECKBOX = (
    "in Zotero: Settings → Advanced → tick 'Allow other applications on this computer to "
    "communicate with Zotero'"
)
TOO_OLD_HINT = (
    "update Zotero to version 10 or later (Help → Check for Updates), or use the web target: "
    '[zotero] target = "web" with an API key from https://www.zotero.org/settings/keys'
)

VALIDATION_MESSAGES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"^'itemType' property not provided",
        r"^'itemType' must be a string",
        r"^'.*' is not a valid itemType",
        r"^Invalid property '.*'",
        r"^'.*' is not a valid field for type '.*'",
        r"^Unexpected array for property '.*'",
        r"^'.*' is valid only for attachment items",
        r"^'note' property is valid only for note and attachment items",
        r"^'(accessDate|dateAdded|dateModified)' must be in ISO 8601",
        r"field value '.*' too long",
        r"^'creators' property must be an array",
        r"^creator object must contain",
        r"is not a valid creator type",
        r"creator field must be set if",
        r"creator fields are mutually exclusive",
        r"^Invalid creator property '.*'",
        r"^Creator object is empty",
        r"^The creator name .* is too long",
        r"^'tags' property must be an array",
        r"^Tag must be an object",
        r"^Invalid tag (name|type|property)",
        r"^Tag object is empty",
        r"^Tag '.*' too long",
        r"^'collections' property must be an array",
        r"is not a valid collection key",
        r"^Collection [A-Z0-9]{8} not found",
        r"^Child items cannot be assigned to collections",
        r"^Invalid key: '.*'",
        r"^Unsupported predicate '.*'",
        r"^Parent item [A-Z0-9]{8} not found",
    )
)
"""The per-object messages that are about the record (Zotero's item validation, the same
texts as the Web API's, zotero-api.md §1.5). Any other per-object 400 is a fault of the app."""


def is_validation_failure(code: int, message: str) -> bool:
    """Whether a per-object failure is the record's (fail it) rather than the app's (retry)."""
    if code in (409, 413):  # a missing collection or parent; a value too long
        return True
    return code == 400 and any(p.search(message) for p in VALIDATION_MESSAGES)


_OTHER_USER = re.compile(r"use userID 0(?: or (\d+))?")


def signed_in_user(status: int, message: str) -> int | None:
    """The zotero.org user id the app is signed in to, from its answer to a read for another
    user id (``... use userID 0 or N``): N, 0 when not signed in, None when the answer does
    not say."""
    if status != 400:
        return None
    m = _OTHER_USER.search(message)
    if m is None:
        return None
    return int(m.group(1)) if m.group(1) else 0


def key_library(user_id: int, group: int | None = None) -> str:
    """The library name syncd derives item keys from: a group's ``groups/N``, as the Web API
    target does (the group is the same on zotero.org); else the signed-in user's ``users/N``
    (so that an article has one key whichever target wrote it), else ``users/0``."""
    return f"groups/{group}" if group is not None else f"users/{user_id}"


def library_name(server_id: str, group: int | None = None) -> str:
    """The name of the app's library in the state database: one per Zotero database (and, for
    a group the app holds, one per group in it)."""
    return f"desktop/{server_id}" + (f"/groups/{group}" if group is not None else "")


@dataclass
class LocalReport:
    """A write's per-object outcomes by index into the objects sent."""

    created: dict[int, tuple[str, int]] = field(default_factory=dict)
    existing: dict[int, str] = field(default_factory=dict)
    failed: dict[int, tuple[int, str]] = field(default_factory=dict)
    faults: dict[int, str] = field(default_factory=dict)
    """Per-object failures that are the app's, not the record's: kept pending and retried."""


def sort_report(
    payload: Sequence[Mapping[str, Any]], report: Mapping[str, Any], known: set[str]
) -> LocalReport:
    """Sort a ``POST /api/users/0/items`` report; ``known``: the keys that existed before the
    write. A create answered ``successful`` / ``unchanged`` for such a key is "already there"
    (Zotero 10 merges into an object untouched since the upgrade instead of answering 412)."""
    out = LocalReport()
    for index, obj in (report.get("successful") or {}).items():
        i = int(index)
        key = str(obj.get("key") or payload[i]["key"])
        if key in known:
            out.existing[i] = key
        else:
            out.created[i] = (key, int(obj.get("version", 0)))
    for index, key in (report.get("unchanged") or {}).items():
        out.existing[int(index)] = str(key)
    for index, failure in (report.get("failed") or {}).items():
        i = int(index)
        code, message = int(failure.get("code", 0)), str(failure.get("message", ""))
        if code == 412:
            out.existing[i] = str(payload[i]["key"])
        elif is_validation_failure(code, message):
            out.failed[i] = (code, message)
        else:
            out.faults[i] = f"{code} {message}"
    for i in range(len(payload)):
        if not any(i in d for d in (out.created, out.existing, out.failed, out.faults)):
            out.faults[i] = "the app's report does not mention this item"
    return out


def refusal(status: int, body: str, *, action: str, url: str) -> RemoteError | None:
    """The error for a request-level answer that is not a success, or None when the caller
    must read it itself (2xx, 304, a 412 ``Library has been modified``, a 500 on a write)."""
    text = " ".join(body.split())[:200]
    where = f"the Zotero app at {url}"
    if status < 400 or status == 304:
        return None
    if status == 403 and "Local API is not enabled" in body:
        return RemoteError(
            f"{where} does not let other programs in (its local API is not enabled: "
            "Settings → Advanced → 'Allow other applications on this computer to communicate "
            "with Zotero')",
            hint=CHECKBOX + "; syncd waits and tries again",
            status=403,
            transient=True,
        )
    if status == 403 and "Write access denied" in body:
        return RemoteError(
            f"{where} refused to let syncd write ({action}: Write access denied)",
            hint="the library is read-only in Zotero; import into My Library",
            status=403,
        )
    if status == 401:
        return RemoteError(
            f"{where} does not accept syncd's key any more ({text or 'HTTP 401'}): it was "
            "revoked (Settings → Advanced → 'Clear Write Authorizations'), or it was an "
            "'Allow' (once) key: run `syncd setup --desktop` again",
            hint=SETUP_AGAIN,
            status=401,
        )
    if status == 412 and "Zotero-Server-ID does not match" in body:
        return LibraryChanged(
            f"{where} now holds another database (its Zotero-Server-ID changed): syncd treats "
            "it as a new library and reads its index from scratch",
            hint="nothing to do; to go back, open the earlier database in Zotero",
            status=412,
            transient=True,
        )
    if status == 400 and "Endpoint does not support method" in body:
        return too_old(url)
    if status == 429:
        return RemoteError(
            f"{where} refused {action}: too many requests",
            hint="wait a minute and try again",
            status=429,
            transient=True,
        )
    if status == 412 and "Library has been modified" in body:
        return None
    if status >= 500:
        return RemoteError(
            f"{where} failed {action} (HTTP {status}{': ' + text if text else ', no message'})",
            hint="syncd tries again; if it keeps failing, restart Zotero",
            status=status,
            transient=True,
        )
    return RemoteError(
        f"{where} refused {action}: HTTP {status} {text}",
        hint="this answer is unexpected; check zotero.desktop_url and the Zotero version",
        status=status,
    )


def too_old(url: str) -> RemoteError:
    """The app answers but cannot take writes: a Zotero older than 10."""
    return RemoteError(
        f"the Zotero app at {url} is older than Zotero 10: its local API cannot take writes",
        hint=TOO_OLD_HINT,
        status=400,
    )


def closed(url: str, detail: str) -> RemoteError:
    """Nothing answers at ``url``: Zotero is not running (a wait, as for an outage)."""
    return RemoteError(
        f"the Zotero app is not running (nothing answers at {url}: {detail})",
        hint="start Zotero; syncd waits and sends what is pending once it runs"
        " (check zotero.desktop_url if Zotero is running)",
        transient=True,
    )
