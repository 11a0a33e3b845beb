"""Fixtures for the sandbox's own tests: a fresh server per test and a raw HTTP helper."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from syncd.sandbox import SandboxServer

KEY = "SandboxTestKey0123456789"
READ_ONLY_KEY = "ReadOnlyKey0123456789abc"
OTHER_KEY = "OtherUserKey0123456789ab"
USER = 1
OTHER_USER = 2
GROUP = 100


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    def version(self) -> int | None:
        value = self.headers.get("last-modified-version")
        return None if value is None else int(value)


class Client:
    """Raw HTTP against a sandbox: no retries, no client-side rules."""

    def __init__(self, url: str) -> None:
        netloc = urlsplit(url).netloc
        self.host, port = netloc.split(":")
        self.port = int(port)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = KEY,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Reply:
        all_headers = {"Zotero-API-Version": "3"}
        if key is not None:
            all_headers["Zotero-API-Key"] = key
        all_headers.update(headers or {})
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=all_headers)
            resp = conn.getresponse()
            text = resp.read().decode()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, text)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)


def article(title: str = "An article", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "itemType": "journalArticle",
        "title": title,
        "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"}],
        "tags": [],
        "collections": [],
        "relations": {},
    }
    item.update(extra)
    return item


def populate(server: SandboxServer) -> None:
    server.add_user(USER, "tester")
    server.add_user(OTHER_USER, "other")
    server.add_group(GROUP, "Lab", owner=USER, members=[OTHER_USER])
    server.add_key(KEY, USER, files=True)
    server.add_key(READ_ONLY_KEY, USER, write=False, groups={GROUP: (True, False)})
    server.add_key(OTHER_KEY, OTHER_USER)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer()
    populate(server)
    with server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Client:
    return Client(sandbox.url)
