"""Fixtures for the pyzotero contract tests: an in-process sandbox and pyzotero clients on it.

Every test gets a fresh in-memory :class:`syncd.sandbox.SandboxServer` on 127.0.0.1 with user 1
(``testuser``, as in the recordings), a group 2 owned by that user and a key with full access,
and talks to it with pyzotero 1.16 itself over real HTTP. Tests that take ``pyzotero_sleeps``
give pyzotero a clock that records its waits (Backoff / Retry-After) instead of sleeping, so
they can assert exactly how long pyzotero was told to wait without making the suite slow.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyzotero import _client as pyzotero_client
from pyzotero.zotero import Zotero

from syncd.sandbox import SandboxServer
from tests.conftest import shared_path

USER_ID = 1
USERNAME = "testuser"
GROUP_ID = 2
GROUP_NAME = "Contract Group"
# Real keys are 24 characters of [a-zA-Z0-9].
KEY = "CoNtRaCt0123456789abcdEF"

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyzotero's default client trusts the environment; a proxy must not see 127.0.0.1."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A running in-memory sandbox with user 1, group 2 and the full-access key ``KEY``."""
    no_proxy(monkeypatch)
    with SandboxServer(admin=True) as server:
        populate(server)
        yield server


def populate(server: SandboxServer) -> SandboxServer:
    """Give a started sandbox the recordings' user, a group it owns and the full-access key."""
    server.add_user(USER_ID, USERNAME)
    server.add_group(GROUP_ID, GROUP_NAME, owner=USER_ID)
    server.add_key(KEY, USER_ID, files=True)
    return server


@pytest.fixture
def make_zot(sandbox: SandboxServer) -> Callable[..., Zotero]:
    """Build a pyzotero client pointed at the sandbox: ``make_zot(library_id, type, key)``."""

    def make(
        library_id: int = USER_ID, library_type: str = "user", key: str | None = KEY
    ) -> Zotero:
        zot = Zotero(library_id, library_type, key)
        zot.endpoint = sandbox.url
        return zot

    return make


@pytest.fixture
def zot(make_zot: Callable[..., Zotero]) -> Zotero:
    """pyzotero on the sandbox's user library 1 with the full-access key."""
    return make_zot()


@pytest.fixture
def group_zot(make_zot: Callable[..., Zotero]) -> Zotero:
    """pyzotero on the sandbox's group library 2 with the full-access key."""
    return make_zot(GROUP_ID, "group")


class PyzoteroClock:
    """Stands in for the ``time`` module inside pyzotero's client: a clock that only moves when
    pyzotero sleeps, and records every sleep.

    pyzotero waits out Backoff / Retry-After with ``time.sleep`` just before its next request.
    With this clock the wait it asks for is exactly the header's value, whatever the load on the
    machine, and the suite does not spend that time asleep.
    """

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def pyzotero_sleeps(monkeypatch: pytest.MonkeyPatch) -> PyzoteroClock:
    clock = PyzoteroClock()
    monkeypatch.setattr(pyzotero_client, "time", clock)
    return clock


def recording(name: str) -> dict[str, Any]:
    """One real exchange from ../shared/zotero-recorded (skips the test when it is absent)."""
    path: Path = shared_path("zotero-recorded", f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def article(title: str, **fields: Any) -> dict[str, Any]:
    """A small journalArticle as a client would send it (the server fills in the other fields)."""
    item: dict[str, Any] = {
        "itemType": "journalArticle",
        "title": title,
        "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"}],
        "tags": [],
    }
    item.update(fields)
    return item


def create_ok(zot: Zotero, items: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    """create_items that must fully succeed; returns the new keys in request order."""
    report = zot.create_items(items, **kwargs)
    assert report["failed"] == {}, report["failed"]
    assert sorted(report["success"], key=int) == [str(i) for i in range(len(items))]
    return [report["success"][str(i)] for i in range(len(items))]


def last_modified(zot: Zotero) -> int:
    """The Last-Modified-Version of the last response pyzotero received."""
    assert zot.request is not None
    return int(zot.request.headers["last-modified-version"])
