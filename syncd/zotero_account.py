"""What `syncd setup` asks the Zotero Web API before any library is configured: whose an API
key is and what it may do (``GET /keys/current``), the user's groups (``GET /users/N/groups``)
and a library's top-level collections (``GET /{library}/collections/top``).

These are a handful of reads made once, in the foreground, with a person waiting: plain
``urllib`` with a short timeout and no retries beyond one for a rate limit, every failure a
:class:`~syncd.errors.RemoteError` saying what to do. The key travels only in the
``Zotero-API-Key`` header and never appears in a message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from syncd import __version__
from syncd.config_keys import is_loopback, plain_http_problem
from syncd.errors import RemoteError, UsageError

TIMEOUT = 20.0
_PAGE = 100
_KEY_CHECK = "checking the API key"


class ZoteroAccount:
    """The Web API at ``api_url`` as seen with ``api_key``."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        url = api_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or not urlsplit(url).netloc:
            raise UsageError(
                f"--api-url {api_url!r}: not an http:// or https:// address",
                hint="e.g. --api-url http://127.0.0.1:23120 for `syncd sandbox`",
            )
        if problem := plain_http_problem(url):
            raise UsageError(f"--api-url: {problem}")
        self.api_url = url
        self._key = api_key
        self._sleep = sleep
        host = urlsplit(url).hostname or ""
        # A proxy from the environment is no use for this machine (and would see the key).
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(host) else []
        self._open = urllib.request.build_opener(*handlers).open

    def key_info(self) -> dict[str, Any]:
        """``GET /keys/current``: ``{key, userID, username, access}``."""
        info, _ = self._get("/keys/current", _KEY_CHECK)
        if not isinstance(info, dict):
            raise RemoteError(f"{self.api_url} answered /keys/current with no key information")
        info.pop("key", None)  # nothing downstream needs the key back
        return info

    def groups(self, user_id: int) -> list[dict[str, Any]]:
        """Every group of ``user_id`` this key can access (all pages)."""
        return self._all(f"/users/{user_id}/groups", "listing your groups")

    def top_collections(self, library: str) -> list[dict[str, Any]]:
        """The top-level collections of ``library`` (``users/N`` or ``groups/N``)."""
        return self._all(f"/{library}/collections/top", f"listing the collections of {library}")

    # ---- internals -------------------------------------------------------------------------

    def _all(self, path: str, doing: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        start = 0
        while True:
            page, headers = self._get(f"{path}?limit={_PAGE}&start={start}", doing)
            if not isinstance(page, list):
                raise RemoteError(f"{self.api_url} answered {path} with no list ({doing})")
            rows += [r for r in page if isinstance(r, dict)]
            total = headers.get("Total-Results", "")
            start += len(page)
            if not page or not total.isdigit() or start >= int(total):
                return rows

    def _get(self, path: str, doing: str, *, retried: bool = False) -> tuple[Any, Any]:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in __init__
            self.api_url + path,
            headers={
                "Zotero-API-Key": self._key,
                "Zotero-API-Version": "3",
                "User-Agent": f"syncd/{__version__} (setup)",
            },
        )
        try:
            with self._open(request, timeout=TIMEOUT) as response:
                body = response.read()
                headers = response.headers
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace").strip()[:200]
            wait = exc.headers.get("Retry-After", "") if exc.headers else ""
            short_wait = wait.isdigit() and int(wait) <= 10
            if exc.code == 429 and not retried and short_wait and self._sleep is not None:
                self._sleep(int(wait))
                return self._get(path, doing, retried=True)
            raise self._refused(exc.code, text, doing) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(
                f"cannot reach {self.api_url} ({doing}): {reason}",
                hint="check the network (and --api-url); nothing was written",
                transient=True,
            ) from None
        try:
            return json.loads(body), headers
        except ValueError:
            raise RemoteError(
                f"{self.api_url} did not answer with JSON ({doing})",
                hint="is --api-url the Zotero Web API (https://api.zotero.org)?",
            ) from None

    def _refused(self, status: int, text: str, doing: str) -> RemoteError:
        if status == 403 and doing == _KEY_CHECK:
            return RemoteError(
                "Zotero does not accept this API key" + (f" ({text})" if text else ""),
                hint="copy the key again from https://www.zotero.org/settings/keys (24 "
                "letters and digits); a deleted or mistyped key is refused",
                status=status,
            )
        if status == 429:
            return RemoteError(
                f"{self.api_url} asks to slow down ({doing}): {text or 'too many requests'}",
                hint="wait a minute and run 'syncd setup' again",
                status=status,
                transient=True,
            )
        return RemoteError(
            f"{self.api_url} refused {doing}: HTTP {status}" + (f": {text}" if text else ""),
            hint="run 'syncd setup' again later; if it persists, see docs/troubleshooting.md",
            status=status,
            transient=status >= 500,
        )
