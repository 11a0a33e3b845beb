"""Property tests of the version arithmetic, straight against the API layer (no sockets)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from syncd.sandbox.api import Api, Request
from syncd.sandbox.library import State

KEY = "PropertyKey0123456789abc"
ITEMS = "/users/1/items"

# One object of a batch: a new valid item, an invalid one, or a re-post of an earlier key.
objects = st.lists(
    st.one_of(
        st.just(("new", None)),
        st.just(("invalid", None)),
        st.tuples(st.just("again"), st.integers(min_value=0, max_value=30)),
        st.tuples(st.just("edit"), st.integers(min_value=0, max_value=30)),
    ),
    max_size=12,
)


def _api(mode: str) -> Api:
    state = State(None, 3600)
    state.add_user(1, "prop")
    state.add_key(KEY, 1, library=True, notes=True, write=True, files=False, groups=None)
    return Api(state, mode)  # type: ignore[arg-type]


def _post(api: Api, body: list[dict[str, Any]]) -> tuple[int, dict[str, Any], int]:
    req = Request(
        "POST",
        ITEMS,
        [],
        {"zotero-api-key": KEY, "if-unmodified-since-version": str(_version(api))},
        json.dumps(body).encode(),
    )
    resp = api.handle(req)
    version = dict(resp.headers).get("Last-Modified-Version")
    return resp.status, json.loads(resp.body), int(version) if version else -1


def _version(api: Api) -> int:
    lib = api.state.library("users/1")
    assert lib is not None
    return lib.version


@given(
    batches=st.lists(objects, min_size=1, max_size=5),
    mode=st.sampled_from(["per-object", "per-request"]),
)
def test_versions_follow_the_objects(
    batches: list[list[tuple[str, int | None]]], mode: str
) -> None:
    api = _api(mode)
    known: dict[str, int] = {}  # key -> version as last reported
    for batch in batches:
        before = _version(api)
        body: list[dict[str, Any]] = []
        keys = sorted(known)
        for kind, pick in batch:
            if kind in ("again", "edit") and keys:
                key = keys[(pick or 0) % len(keys)]
                title = "edited" if kind == "edit" else None
                obj: dict[str, Any] = {"key": key}
                if title:
                    obj["title"] = f"{title} {len(body)} {before}"
                body.append(obj)
            elif kind == "invalid":
                body.append({"itemType": "journalArticle", "notAField": 1})
            else:
                body.append({"itemType": "journalArticle", "title": f"t{len(body)}"})
        status, report, header = _post(api, body)
        assert status == 200
        done = len(report["success"]) + len(report["unchanged"])
        assert len(report["failed"]) + done == len(body)
        after = _version(api)
        assert header == after
        if mode == "per-object":
            # One bump per object that did not fail, unchanged ones included.
            assert after == before + done
            versions = [
                o["version"]
                for _, o in sorted(report["successful"].items(), key=lambda kv: int(kv[0]))
            ]
            assert versions == sorted(set(versions))
            assert all(before < v <= after for v in versions)
        else:
            assert after == before + (1 if report["success"] else 0)
            assert all(o["version"] == after for o in report["successful"].values())
        for index, key in report["success"].items():
            known[key] = report["successful"][index]["version"]
        for key, version in known.items():
            lib = api.state.library("users/1")
            assert lib is not None and lib.items[key].version == version
