"""Persistence with --data: a stopped (or killed) sandbox restarts with its state intact."""

from __future__ import annotations

from pathlib import Path

from syncd.sandbox import SandboxServer
from tests.sandbox.conftest import GROUP, KEY, USER, Client, article, populate

ITEMS = f"/users/{USER}/items"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = SandboxServer(data_dir=tmp_path)
    populate(first)
    with first:
        client = Client(first.url)
        token = {"Zotero-Write-Token": "persisted-token"}
        made = client.post(ITEMS, [article("kept", key="KEPT2345", version=0)], headers=token)
        assert made.status == 200
        client.post(ITEMS, [article("gone", key="GQNE2345", version=0)])
        client.call("DELETE", f"{ITEMS}/GQNE2345", headers={"If-Unmodified-Since-Version": "2"})
        coll = client.post(f"/users/{USER}/collections", [{"name": "Shelf"}]).json["success"]["0"]
        client.post(f"/groups/{GROUP}/items", [article("group item")])
        versions = client.get(f"{ITEMS}?format=versions").json
        library_version = client.get(ITEMS).version()

    second = SandboxServer(data_dir=tmp_path)
    with second:
        client = Client(second.url)
        # Keys, users and groups came back without being added again.
        assert client.get("/keys/current").json["key"] == KEY
        assert client.get(f"{ITEMS}?format=versions").json == versions
        assert client.get(ITEMS).version() == library_version
        assert client.get(f"{ITEMS}/KEPT2345").json["data"]["title"] == "kept"
        assert client.get(f"/users/{USER}/deleted?since=0").json["items"] == ["GQNE2345"]
        assert client.get(f"/users/{USER}/collections/{coll}").json["data"]["name"] == "Shelf"
        assert len(client.get(f"/groups/{GROUP}/items").json) == 1
        # The write token is remembered too.
        again = client.post(ITEMS, [article()], headers={"Zotero-Write-Token": "persisted-token"})
        assert again.status == 412
        # And versions carry on from where they were.
        assert client.post(ITEMS, [article("next")]).version() == library_version + 1


def test_in_memory_sandboxes_are_independent() -> None:
    for _ in range(2):
        server = SandboxServer()
        populate(server)
        with server:
            client = Client(server.url)
            assert client.get(ITEMS).json == []
            client.post(ITEMS, [article()])
