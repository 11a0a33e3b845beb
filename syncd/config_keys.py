"""The pieces the configuration's spec is made of, shared by :mod:`syncd.config` and the
sections kept in their own modules (:mod:`syncd.config_pubmed`): :class:`Key` (one key of the
spec), the validators its keys use, :class:`Secret` (a key that never shows) and the checks
that a URL may carry a key and that a file holding one is private.
"""

from __future__ import annotations

import ipaddress
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syncd.errors import ConfigError

LOOPBACK_NAMES = ("localhost",)


class Secret:
    """A string that stays out of logs, reprs and tracebacks: read it with :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # a Secret must not travel by pickle (e.g. into a crash dump)
        raise TypeError("a Secret cannot be pickled")


# --- the spec -------------------------------------------------------------------------------

Validator = Callable[[Any], str | None]  # a problem ("must be ...") or None


@dataclass(frozen=True)
class Key:
    """One configuration key. ``kind`` is one of str, int, float, bool, list, path;
    ``default`` None means "not set" (the description says what that means)."""

    name: str
    kind: str
    default: Any
    description: str
    validate: Validator | None = None
    example: str | None = None  # shown (commented out) in config.example.toml when default is None


def _choice(*allowed: str) -> Validator:
    def check(value: Any) -> str | None:
        if value not in allowed:
            return f"must be one of {', '.join(repr(a) for a in allowed)}, not {value!r}"
        return None

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be a positive integer, not {value}"


def _positive_number(value: Any) -> str | None:
    return None if value > 0 else f"must be more than zero, not {value}"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else f"must be zero or more, not {value}"


def is_loopback(host: str) -> bool:
    """True for a host name that can only mean this machine: ``localhost``, 127.0.0.0/8, ::1."""
    host = host.strip("[]").lower().rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: Any) -> str | None:
    if not re.match(r"^https?://[^\s/]+", value):
        return f"must be an http:// or https:// URL, not {value!r}"
    return plain_http_problem(value)


def plain_http_problem(url: str) -> str | None:
    """Why ``url`` must not carry the API key (plain http to another machine), or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return None
    try:
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if is_loopback(host):
        return None
    return (
        f"plain http:// to {host or url!r} would send the API key unencrypted; use https:// "
        "(http:// is only allowed to this machine: localhost, 127.0.0.0/8 or ::1, "
        "as for the sandbox)"
    )


def _not_empty(value: Any) -> str | None:
    return None if str(value).strip() else "must not be empty"


def _match(value: Any) -> str | None:
    allowed = {"pmid", "doi", "title"}
    bad = [v for v in value if v not in allowed]
    if bad:
        return f"unknown identifier {bad[0]!r}: use some of 'pmid', 'doi', 'title'"
    if not value:
        return "must name at least one of 'pmid', 'doi', 'title'"
    return None


def _non_empty_list(value: Any) -> str | None:
    return None if value else "must not be empty"


def _check_private(path: Path, holds: str, alternative: str) -> None:
    """Refuse ``path`` (which ``holds`` the key) when its group or others may read or change
    it."""
    mode = path.stat().st_mode
    who_can: list[str] = []
    for who, r, w, x in (
        ("its group", stat.S_IRGRP, stat.S_IWGRP, stat.S_IXGRP),
        ("others", stat.S_IROTH, stat.S_IWOTH, stat.S_IXOTH),
    ):
        verbs = [v for v, bit in (("readable", r), ("writable", w)) if mode & bit]
        if not verbs and mode & x:
            verbs = ["executable"]
        if verbs:
            who_can.append(f"{' and '.join(verbs)} by {who}")
    if who_can:
        raise ConfigError(
            f"{path}: holds {holds} but is {' and '.join(who_can)} (mode {stat.S_IMODE(mode):o})",
            hint=f"run 'chmod 600 {path}'{alternative}",
        )
