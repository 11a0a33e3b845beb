"""Contract: raw HTTP cases that pyzotero cannot produce, replayed against the sandbox.

The recordings made some requests raw (write-token reuse, 51 items, 304, format=keys); these
tests send the same requests with a plain HTTP client and compare status, content type and
body with the recording (cited by file name) or with ../shared/docs/zotero-api.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from syncd.sandbox import SandboxServer
from tests.contract.conftest import KEY, USER_ID, article, recording

ITEMS = f"/users/{USER_ID}/items"
TEXT = "text/html; charset=UTF-8"


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(
        base_url=sandbox.url,
        headers={"Zotero-API-Key": KEY, "Zotero-API-Version": "3"},
        trust_env=False,
        timeout=10,
    ) as client:
        yield client


def _post(http: httpx2.Client, items: Any, **headers: str) -> httpx2.Response:
    return http.post(ITEMS, content=json.dumps(items), headers=headers)


def test_keys_current_matches_the_recording(http: httpx2.Client) -> None:
    # 01a_get_keys_current.
    expected = recording("01a_get_keys_current")["response"]["body_json"]
    expected["key"] = KEY
    response = http.get("/keys/current")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


def test_keys_current_without_a_key_is_forbidden(sandbox: SandboxServer) -> None:
    # zotero-api.md 2.5.
    response = httpx2.get(f"{sandbox.url}/keys/current", trust_env=False)
    assert response.status_code == 403


@pytest.mark.parametrize("how", ["header", "bearer", "query"])
def test_the_key_is_accepted_in_each_place(sandbox: SandboxServer, how: str) -> None:
    # zotero-api.md 1.1 step 3: Authorization: Bearer, Zotero-API-Key, or ?key=.
    headers = {"Zotero-API-Key": KEY} if how == "header" else {}
    if how == "bearer":
        headers = {"Authorization": f"Bearer {KEY}"}
    params = {"key": KEY} if how == "query" else {}
    response = httpx2.get(f"{sandbox.url}{ITEMS}", headers=headers, params=params, trust_env=False)
    assert response.status_code == 200
    assert response.json() == []


def test_bad_key_is_a_plain_text_403(http: httpx2.Client) -> None:
    # 09c_bad_key.
    expected = recording("09c_bad_key")["response"]
    response = http.get(ITEMS, headers={"Zotero-API-Key": "x" * 24})
    assert response.status_code == expected["status"] == 403
    assert response.text == expected["body_text"]
    assert response.headers["content-type"] == TEXT
    assert "last-modified-version" not in response.headers


def test_write_token_is_refused_the_second_time(http: httpx2.Client) -> None:
    # 07a_write_token_first, 07b_write_token_repeat.
    first = recording("07a_write_token_first")["request"]
    token = dict(first["headers"])["zotero-write-token"]
    assert _post(http, first["body"], **{"Zotero-Write-Token": token}).status_code == 200
    again = _post(http, first["body"], **{"Zotero-Write-Token": token})
    expected = recording("07b_write_token_repeat")["response"]
    assert again.status_code == expected["status"] == 412
    assert again.text == expected["body_text"]
    assert again.headers["content-type"] == TEXT
    assert len(http.get(ITEMS).json()) == 1


def test_write_token_of_bad_length_is_a_400(http: httpx2.Client) -> None:
    # zotero-api.md 1.1 step 4.
    response = _post(http, [article("t")], **{"Zotero-Write-Token": "abcd"})
    assert response.status_code == 400
    assert response.text == "Write token must be 5-32 characters in length"


def test_fifty_one_items_are_a_413(http: httpx2.Client) -> None:
    # 08_create_51_items.
    exchange = recording("08_create_51_items")
    response = _post(http, exchange["request"]["body"])
    assert response.status_code == exchange["response"]["status"] == 413
    assert response.text == exchange["response"]["body_text"]
    assert response.headers["content-type"] == TEXT
    assert http.get(ITEMS).json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "POST data not provided"),
        ('{"itemType": "book"}', "Uploaded data must be a JSON array"),
        ("[{", "JSON Error: Syntax error, malformed JSON"),
    ],
)
def test_malformed_bodies_are_400s(http: httpx2.Client, body: str, message: str) -> None:
    # zotero-api.md 1.1 steps 2, 9, 10.
    response = http.post(ITEMS, content=body)
    assert response.status_code == 400
    assert response.text == message
    assert "last-modified-version" not in response.headers


def test_non_numeric_if_unmodified_since_version_is_a_400(http: httpx2.Client) -> None:
    response = _post(http, [article("t")], **{"If-Unmodified-Since-Version": "soon"})
    assert response.status_code == 400
    assert response.text == "Invalid If-Unmodified-Since-Version value"


def test_if_modified_since_version_gives_an_empty_304(http: httpx2.Client) -> None:
    # 09e_get_items_not_modified: no body, none of the Zotero headers.
    _post(http, [article("t")])
    current = http.get(ITEMS).headers["last-modified-version"]
    response = http.get(ITEMS, headers={"If-Modified-Since-Version": current})
    assert response.status_code == 304
    assert response.content == b""
    assert "last-modified-version" not in response.headers
    older = http.get(ITEMS, headers={"If-Modified-Since-Version": str(int(current) - 1)})
    assert older.status_code == 200


def test_format_keys_and_versions(http: httpx2.Client) -> None:
    # 10e_get_items_keys (newline-separated text/plain), 09a_get_items_versions.
    report = _post(http, [article(f"k{n}") for n in range(3)]).json()
    keys = set(report["success"].values())
    as_keys = http.get(ITEMS, params={"format": "keys"})
    assert as_keys.status_code == 200
    assert as_keys.headers["content-type"].replace(" ", "") == "text/plain;charset=UTF-8"
    assert as_keys.text.endswith("\n")
    assert set(as_keys.text.split()) == keys
    assert as_keys.headers["total-results"] == "3"
    versions = http.get(ITEMS, params={"format": "versions"}).json()
    assert set(versions) == keys
    assert max(versions.values()) == int(as_keys.headers["last-modified-version"])


def test_deleted_needs_since(http: httpx2.Client) -> None:
    # zotero-api.md 2.3.
    response = http.get(f"/users/{USER_ID}/deleted")
    assert response.status_code == 400
    assert response.text == "'since' parameter must be provided"
