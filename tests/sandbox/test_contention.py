"""The sandbox at the real server's pace (``latency``): a write committed one object at a time.

What the real dataserver was seen to do: a reader polling ``since=`` during one 50-item POST saw
the items arrive a few at a time, each object with a library version of its own; and a second
writer's guarded write is refused while the first is mid-request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncd.sandbox import SandboxServer
from syncd.sandbox.contention import REAL, Latency
from tests.sandbox.conftest import USER, Client, article, populate

ITEMS = f"/users/{USER}/items"


class Probe:
    """A latency whose waits look at the library through HTTP, as another client would."""

    def __init__(self) -> None:
        self.client: Client | None = None
        self.seen: list[int] = []
        self.on_object: Any = None

    def sleep(self, seconds: float) -> None:
        if self.client is None:
            return
        reply = self.client.get(f"{ITEMS}?format=keys")
        self.seen.append(len(reply.text.split()))
        if self.on_object is not None:
            self.on_object(len(self.seen))


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def slow(probe: Probe) -> Iterator[SandboxServer]:
    server = SandboxServer(latency=Latency(sleep=probe.sleep))
    populate(server)
    with server:
        yield server


def test_the_objects_of_one_write_become_visible_one_by_one(
    slow: SandboxServer, probe: Probe
) -> None:
    client = Client(slow.url)
    start = client.get(ITEMS).version()
    probe.client = client
    reply = client.post(ITEMS, [article(f"Article {i}") for i in range(10)])
    probe.client = None
    assert reply.status == 200 and len(reply.json["successful"]) == 10
    # One wait for the request, then one before each object: 0, 0, 1, 2, ... 9 items seen.
    assert probe.seen == [0, *range(10)]
    versions = sorted(o["version"] for o in reply.json["successful"].values())
    assert start is not None and versions == list(range(start + 1, start + 11))
    assert reply.version() == start + 10


def test_a_guarded_write_is_refused_while_another_is_mid_request(
    slow: SandboxServer, probe: Probe
) -> None:
    client = Client(slow.url)
    start = client.get(ITEMS).version()
    answers: list[int] = []

    def second_writer(n: int) -> None:
        if n == 4:  # the first write is halfway: its precondition held, its objects go on
            headers = {"If-Unmodified-Since-Version": str(start)}
            answers.append(client.post(ITEMS, [article("Other")], headers=headers).status)
            answers.append(client.post(ITEMS, [article("Unguarded")]).status)

    probe.client, probe.on_object = client, second_writer
    first = client.post(
        ITEMS,
        [article(f"A{i}") for i in range(6)],
        headers={"If-Unmodified-Since-Version": str(start)},
    )
    probe.client = None
    assert first.status == 200 and len(first.json["successful"]) == 6
    assert answers == [412, 200]  # refused guarded; an unguarded one commits between objects
    assert len(client.get(f"{ITEMS}?format=keys").text.split()) == 7


def test_a_per_object_failure_leaves_the_others_and_the_token_as_the_dataserver_does(
    slow: SandboxServer,
) -> None:
    client = Client(slow.url)
    token = {"Zotero-Write-Token": "a" * 32}
    bad = {"itemType": "noSuchType"}
    reply = client.post(ITEMS, [article("Good"), bad], headers=token)
    assert sorted(reply.json["successful"]) == ["0"] and sorted(reply.json["failed"]) == ["1"]
    # The last object failed: the token is not recorded, the same request may be sent again.
    assert client.post(ITEMS, [article("Again")], headers=token).status == 200
    assert client.post(ITEMS, [article("Twice")], headers=token).status == 412


def test_the_real_pace_is_the_measured_one() -> None:
    assert REAL.per_object == (0.012, 0.04)  # 0.6-2 s per 50 objects
    fast = REAL.scaled(0.1)
    assert fast.per_object == pytest.approx((0.0012, 0.004))
    waited: list[float] = []
    Latency(per_object=(0.5, 0.5), sleep=waited.append).wait((0.5, 0.5))
    assert waited == [0.5]


def test_the_default_sandbox_applies_a_write_at_once() -> None:
    server = SandboxServer()
    populate(server)
    with server:
        assert server.api.latency is None
        reply = Client(server.url).post(ITEMS, [article(f"B{i}") for i in range(5)])
        assert reply.status == 200 and len(reply.json["successful"]) == 5
