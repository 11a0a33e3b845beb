"""Getting and keeping the Zotero app's permission to write: the local API key.

:func:`authorize` does what ``syncd setup --desktop`` needs in the foreground: ``GET /api/`` (the
app's ``Zotero-Server-ID``, which also tells a Zotero 10+), then ``POST /api/local/authorize``,
which shows Zotero's dialog (Allow / Always Allow / Deny) and blocks until the user answers.
Only an **Always Allow** key is of use to a daemon: an "Allow" key is used up by its first
write, so it is refused here with an explanation. Each way this can fail has its own message:
Zotero not running, its local API not enabled, Deny, too many prompts, a Zotero older than 10.

:func:`write_desktop_key` / :func:`read_desktop_key` keep ``{"server_id", "key"}`` as JSON in a
file only its owner may read (0600, folders 0700): ``~/.config/syncd/zotero-desktop-key`` by
default. The key is 32 characters; it is never shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx2

from syncd.core.desktop_answers import CHECKBOX, closed, refusal, too_old
from syncd.errors import ConfigError, RemoteError

APP_NAME = "syncd (PubMed to Zotero)"
DEFAULT_URL = "http://127.0.0.1:23119"
_KEY = re.compile(r"[A-Za-z0-9]{32}")
_SERVER_ID = re.compile(r"[A-Za-z0-9]{12}")
DIALOG_TIMEOUT = 300.0
"""Seconds syncd waits for the user to answer Zotero's dialog."""


@dataclass(frozen=True)
class DesktopKey:
    """The app's permission: its database's Server-ID and the local API key it gave syncd."""

    server_id: str
    key: str

    def __repr__(self) -> str:  # the key is never shown
        return f"DesktopKey(server_id={self.server_id!r}, key=<redacted>)"


class Denied(RemoteError):
    """The user answered Zotero's dialog with Deny."""


def _client(timeout: float) -> httpx2.Client:
    return httpx2.Client(timeout=timeout, trust_env=False, headers={"User-Agent": "syncd"})


def server_id(url: str, *, timeout: float = 10.0) -> str:
    """The ``Zotero-Server-ID`` of the app at ``url`` (``GET /api/``)."""
    with _client(timeout) as http:
        try:
            response = http.get(f"{url.rstrip('/')}/api/")
        except httpx2.TransportError as exc:
            raise closed(url, type(exc).__name__) from None
    error = refusal(response.status_code, response.text, action="GET /api/", url=url)
    if error is not None:
        raise error
    sid = response.headers.get("Zotero-Server-ID")
    if not sid:
        raise too_old(url)
    return sid


def authorize(
    url: str = DEFAULT_URL, *, app_name: str = APP_NAME, timeout: float = DIALOG_TIMEOUT
) -> DesktopKey:
    """Ask the app at ``url`` for a key that stays valid (Zotero shows its dialog and this
    blocks until the user answers, at most ``timeout`` seconds). Raises a
    :class:`~syncd.errors.RemoteError` with a message of its own for each way it can fail."""
    url = url.rstrip("/")
    sid = server_id(url)
    with _client(timeout) as http:
        try:
            response = http.post(
                f"{url}/api/local/authorize",
                json={"appName": app_name},
                headers={"Zotero-Server-ID": sid, "Zotero-API-Version": "3"},
            )
        except httpx2.TimeoutException:
            raise RemoteError(
                f"nobody answered Zotero's dialog within {timeout:.0f} s",
                hint="run the command again and answer the dialog in the Zotero window",
            ) from None
        except httpx2.TransportError as exc:
            raise closed(url, type(exc).__name__) from None
    status = response.status_code
    if status == 403 and '"denied"' in response.text:
        raise Denied(
            "the authorisation was denied in Zotero's dialog: syncd may not write to it",
            hint="run the command again and choose Always Allow",
            status=403,
        )
    if status == 429:
        after = response.headers.get("Retry-After", "60")
        raise RemoteError(
            "Zotero refuses to show its dialog again for now (too many authorisation "
            "requests in a minute)",
            hint=f"wait {after} seconds, then run the command again",
            status=429,
            transient=True,
        )
    error = refusal(status, response.text, action="POST /api/local/authorize", url=url)
    if error is not None:
        if status == 403:
            error.hint = CHECKBOX + "; then run the command again"
        raise error
    answer = response.json()
    key = str(answer.get("key", ""))
    if not _KEY.fullmatch(key):
        raise RemoteError(f"the Zotero app at {url} sent no usable key", status=status)
    if answer.get("remember") is not True:
        raise RemoteError(
            "Zotero's dialog was answered with 'Allow': that key is used up by syncd's first "
            "write, and a service writes again and again",
            hint="run the command again and choose 'Always Allow' (it can be withdrawn at any "
            "time: Settings → Advanced → 'Clear Write Authorizations')",
            status=200,
        )
    return DesktopKey(sid, key)


def write_desktop_key(path: Path, key: DesktopKey) -> None:
    """Store ``key`` in ``path`` as ``{"server_id", "key"}`` (0600; missing folders made
    0700), replacing the file in one step."""
    path = path.expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps({"server_id": key.server_id, "key": key.key}) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".zotero-desktop-key.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_desktop_key(path: Path) -> DesktopKey:
    """The key stored in ``path``; a :class:`ConfigError` (never showing the key) when it is
    missing, not private to its owner, or not what :func:`write_desktop_key` writes."""
    path = path.expanduser()
    setup = "run `syncd setup --desktop` (with Zotero 10 running)"
    try:
        raw = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"there is no key for the Zotero app: {path} does not exist", hint=setup
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", hint=setup) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: holds the Zotero app's key but others may read or change it "
            f"(mode {stat.S_IMODE(mode):o})",
            hint=f"run 'chmod 600 {path}'",
        )
    try:
        data = json.loads(raw)
        sid, key = str(data["server_id"]), str(data["key"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is not a Zotero app key file", hint=setup) from None
    if not (_SERVER_ID.fullmatch(sid) and _KEY.fullmatch(key)):
        raise ConfigError(f"{path} is not a Zotero app key file", hint=setup)
    return DesktopKey(sid, key)
