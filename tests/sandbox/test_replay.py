"""Replay every recorded exchange with the real dataserver against one fresh sandbox.

The recordings in ``../shared/zotero-recorded/`` were made in order against one library
(user 1, ``testuser``, library version 1 at the start). They are replayed in the same order
against one sandbox set up the same way; each response is compared with the recorded one:
status, the presence (and value) of the Zotero headers, ``Link`` rels, content type, plain-text
bodies exactly, JSON bodies after normalisation (object keys mapped, timestamps and the links'
host ignored). Item keys are server-generated, so keys returned by creates are mapped
position by position and later requests are rewritten with the sandbox's keys.

Differences that cannot be helped are listed in ``ALLOWED`` with their reason; there are no
silent skips.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from syncd.sandbox import SandboxServer
from tests.conftest import SHARED, shared_path

RECORDED = SHARED / "zotero-recorded"
RECORDED_HOST = "http://127.0.0.1:8080"
# Headers whose presence and value must match (when the recording has them, so must we).
COMPARED_HEADERS = (
    "last-modified-version",
    "zotero-api-version",
    "zotero-schema-version",
    "total-results",
    "retry-after",
    "backoff",
)
# Request headers not replayed: the transport's own.
_SKIP_REQUEST_HEADERS = {"host", "content-length", "accept-encoding", "connection"}
_TIMESTAMP_FIELDS = ("dateAdded", "dateModified")

# file -> {aspect: reason}. Aspects: "status", "headers", "content-type", "link", "body".
ALLOWED: dict[str, dict[str, str]] = {}


def _index() -> list[Any]:
    if not RECORDED.exists():
        # One test, rather than pytest's "empty parameter set", which skips with the reason
        # every test that needs the reference data gives.
        return ["(none)"]
    return [e["file"] for e in json.loads((RECORDED / "_index.json").read_text())]


FILES = _index()


class KeyMap:
    """Recorded item keys <-> sandbox item keys."""

    def __init__(self) -> None:
        self.to_sandbox: dict[str, str] = {}
        self.to_recorded: dict[str, str] = {}

    def add(self, recorded: str, sandbox: str) -> None:
        self.to_sandbox[recorded] = sandbox
        self.to_recorded[sandbox] = recorded

    def rewrite(self, text: str, mapping: dict[str, str]) -> str:
        if not mapping:
            return text
        pattern = re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)))
        return pattern.sub(lambda m: mapping[m.group(0)], text)


def _normalise(value: Any, keys: KeyMap, base: str) -> Any:
    """Map sandbox keys to recorded ones, drop timestamps, replace the links' host."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _TIMESTAMP_FIELDS:
                out[k] = "<timestamp>"
                continue
            out[keys.to_recorded.get(k, k)] = _normalise(v, keys, base)
        return out
    if isinstance(value, list):
        return [_normalise(v, keys, base) for v in value]
    if isinstance(value, str):
        if value.startswith(base):
            value = RECORDED_HOST + value[len(base) :]
        return keys.rewrite(value, keys.to_recorded)
    return value


def _normalise_recorded(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("<timestamp>" if k in _TIMESTAMP_FIELDS else _normalise_recorded(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalise_recorded(v) for v in value]
    return value


def _link_rels(header: str | None, base: str | None = None) -> dict[str, str]:
    if not header:
        return {}
    out = {}
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>;\s*rel="([^"]+)"', part)
        assert m, f"malformed Link part {part!r}"
        url = m.group(1)
        if base and url.startswith(base):
            url = RECORDED_HOST + url[len(base) :]
        out[m.group(2)] = url
    return out


def _refresh_dates(value: Any, latest: dict[str, dict[str, str]]) -> Any:
    """A client sends back the timestamps it read: put the sandbox's timestamps for the item
    into a request body that carries the recorded server's ones."""
    if isinstance(value, dict):
        out = {k: _refresh_dates(v, latest) for k, v in value.items()}
        key = out.get("key")
        if isinstance(key, str) and key in latest:
            for name in _TIMESTAMP_FIELDS:
                if name in out:
                    out[name] = latest[key][name]
        return out
    if isinstance(value, list):
        return [_refresh_dates(v, latest) for v in value]
    return value


def _remember_dates(value: Any, latest: dict[str, dict[str, str]]) -> None:
    if isinstance(value, dict):
        data = value.get("data")
        if isinstance(data, dict) and "key" in data and "dateModified" in data:
            latest[data["key"]] = {n: data[n] for n in _TIMESTAMP_FIELDS}
        for v in value.values():
            _remember_dates(v, latest)
    elif isinstance(value, list):
        for v in value:
            _remember_dates(v, latest)


def _replay_all() -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    keys = KeyMap()
    latest_dates: dict[str, dict[str, str]] = {}
    with SandboxServer() as server:
        server.add_user(1, "testuser", library_version=1)
        recorded_key = None
        for name in FILES:
            rec = json.loads((RECORDED / name).read_text())
            req = rec["request"]
            for header, value in req["headers"]:
                if header in ("zotero-api-key",) and recorded_key is None:
                    recorded_key = value
            if recorded_key is None:
                recorded_key = next(
                    v.split()[-1] for h, v in req["headers"] if h == "authorization"
                )
            server.add_key(recorded_key, 1, files=True)
            split = urlsplit(req["url"])
            target = keys.rewrite(split.path, keys.to_sandbox)
            if split.query:
                target += "?" + keys.rewrite(split.query, keys.to_sandbox)
            headers = {h: v for h, v in req["headers"] if h not in _SKIP_REQUEST_HEADERS}
            body = None
            if req["body"] is not None:
                payload = req["body"]
                if isinstance(payload, (dict, list)):
                    payload = json.loads(keys.rewrite(json.dumps(payload), keys.to_sandbox))
                    payload = _refresh_dates(payload, latest_dates)
                    body = json.dumps(payload).encode()
                else:
                    body = keys.rewrite(str(payload), keys.to_sandbox).encode()
            host, port = urlsplit(server.url).netloc.split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                conn.request(req["method"], target, body=body, headers=headers)
                resp = conn.getresponse()
                resp_body = resp.read().decode()
                resp_headers = {k.lower(): v for k, v in resp.getheaders()}
                status = resp.status
            finally:
                conn.close()
            body_json = None
            if resp_headers.get("content-type", "").startswith("application/json"):
                body_json = json.loads(resp_body)
                _remember_dates(body_json, latest_dates)
            recorded_json = rec["response"]["body_json"]
            # Keys created by this request: recorded position i <-> sandbox position i.
            if isinstance(recorded_json, dict) and isinstance(body_json, dict):
                for index, rkey in recorded_json.get("success", {}).items():
                    skey = body_json.get("success", {}).get(index)
                    if skey is not None and rkey not in keys.to_sandbox:
                        keys.add(rkey, skey)
            results[name] = {
                "status": status,
                "headers": resp_headers,
                "body": resp_body,
                "json": body_json,
                "base": server.url,
            }
        results["_keys"] = {"map": keys}
    return results


@pytest.fixture(scope="module")
def replayed() -> Iterator[dict[str, dict[str, Any]]]:
    # Without the recordings there is nothing to replay; the test itself then skips (a skip
    # raised in a fixture is reported at the test's line, not folded with the others).
    yield _replay_all() if RECORDED.exists() else {}


def _allowed(name: str, aspect: str) -> bool:
    return aspect in ALLOWED.get(name, {})


@pytest.mark.parametrize("name", FILES)
def test_replay(name: str, replayed: dict[str, dict[str, Any]]) -> None:
    shared_path("zotero-recorded", "_index.json")
    rec = json.loads(Path(RECORDED / name).read_text())
    got = replayed[name]
    keys: KeyMap = replayed["_keys"]["map"]
    base = got["base"]
    expected = rec["response"]
    exp_headers = {k: v for k, v in expected["headers"]}

    if not _allowed(name, "status"):
        assert got["status"] == expected["status"], got["body"]

    if not _allowed(name, "headers"):
        for header in COMPARED_HEADERS:
            assert (header in got["headers"]) == (header in exp_headers), (
                f"{header}: recorded {exp_headers.get(header)!r}, "
                f"sandbox {got['headers'].get(header)!r}"
            )
            if header in exp_headers:
                assert got["headers"][header] == exp_headers[header], header

    if not _allowed(name, "content-type"):
        assert got["headers"].get("content-type") == exp_headers.get("content-type")

    if not _allowed(name, "link"):
        exp_links = _link_rels(exp_headers.get("link"))
        got_links = {
            rel: keys.rewrite(url, keys.to_recorded)
            for rel, url in _link_rels(got["headers"].get("link"), base).items()
        }
        assert got_links == exp_links

    if not _allowed(name, "body"):
        if expected["body_json"] is not None:
            assert _normalise(got["json"], keys, base) == _normalise_recorded(expected["body_json"])
        else:
            assert keys.rewrite(got["body"], keys.to_recorded) == expected["body_text"]


def test_every_allowance_names_a_recorded_file() -> None:
    for name in ALLOWED:
        assert name in FILES, f"ALLOWED lists {name}, which is not a recording"
