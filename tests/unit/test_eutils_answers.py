"""The pure decisions about E-utilities answers: what each answer means, how long to wait, and
that a description of a failure never carries NCBI's body raw (it names the API key)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.eutils_answers import (
    EsearchRefused,
    Verdict,
    batches,
    classify,
    describe,
    medline_pmids,
    read_esearch,
    retry_wait,
)

RATE_BODY = b'{"error":"API rate limit exceeded","api-key":"SeCrEt123","count":"11","limit":"3"}'


@pytest.mark.parametrize(
    ("status", "ctype", "body", "verdict"),
    [
        (200, "text/plain", b"PMID- 1\n", Verdict.OK),
        (429, "application/json", RATE_BODY, Verdict.RATE_LIMITED),
        (200, "application/json", RATE_BODY, Verdict.RATE_LIMITED),
        (503, "text/html", b"<html>down</html>", Verdict.TRANSIENT),
        (200, "text/html", b"<!DOCTYPE html><html></html>", Verdict.TRANSIENT),
        (200, "text/plain", b"  <html><body>proxy</body></html>", Verdict.TRANSIENT),
        (400, "text/xml", b"<ERROR>ID list is empty!</ERROR>", Verdict.REFUSED),
        (
            400,
            "text/xml",
            b"<ERROR> Error occurred: cannot get document summary</ERROR>",
            Verdict.TRANSIENT,
        ),
        (414, "text/html", b"", Verdict.REFUSED),
        (302, "text/html", b"", Verdict.TRANSIENT),
    ],
)
def test_classify(status: int, ctype: str, body: bytes, verdict: Verdict) -> None:
    assert classify(status, ctype, body) is verdict


@given(st.binary(max_size=300), st.integers(min_value=100, max_value=599))
def test_a_description_never_carries_the_key(body: bytes, status: int) -> None:
    secret = "SeCrEt123"
    assert secret not in describe(status, body + RATE_BODY, secret)
    assert secret not in describe(status, b"<ERROR>key " + secret.encode() + b"</ERROR>", secret)


def test_describe_keeps_an_xml_error_and_hides_pages() -> None:
    assert describe(400, b"<ERROR>ID list is empty! Possibly it has no correct IDs.</ERROR>") == (
        "HTTP 400: ID list is empty! Possibly it has no correct IDs."
    )
    assert "HTML error page" in describe(502, b"<html><body>" + b"x" * 5000 + b"</body></html>")
    assert describe(None, b"").startswith("no answer")


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=1))
def test_waits_grow_to_a_cap(attempt: int, draw: float) -> None:
    assert 0 < retry_wait(Verdict.RATE_LIMITED, attempt, draw) <= 10.0
    assert 0 < retry_wait(Verdict.TRANSIENT, attempt, draw) <= 120.0


def test_read_esearch() -> None:
    doc = {
        "esearchresult": {
            "count": "12000",
            "idlist": ["3", "2"],
            "querytranslation": "x[All Fields]",
            "errorlist": {"phrasesnotfound": ["zzz"], "fieldsnotfound": []},
            "warninglist": {"outputmessages": ["Restrictions achieved."]},
        }
    }
    answer = read_esearch(json.dumps(doc).encode())
    assert (answer.count, answer.pmids, answer.errors) == (
        12000,
        ["3", "2"],
        ["phrase not found: zzz"],
    )
    assert answer.warnings == ["Restrictions achieved."]
    with pytest.raises(EsearchRefused) as err:
        read_esearch(b'{"esearchresult": {"ERROR": "Unbalanced parentheses"}}')
    assert not err.value.transient
    with pytest.raises(EsearchRefused) as err:
        read_esearch(b'{"esearchresult": {"ERROR": "Search Backend failed: timeout"}}')
    assert err.value.transient
    with pytest.raises(ValueError):
        read_esearch(b'{"error": "API rate limit exceeded"}')


@given(st.lists(st.integers(min_value=1, max_value=999_999_999), max_size=50), st.integers(1, 9))
def test_batches_keep_order_and_size(pmids: list[int], size: int) -> None:
    ids = [str(p) for p in pmids]
    parts = batches(ids, size)
    assert [i for b in parts for i in b] == ids
    assert all(0 < len(b) <= size for b in parts)


def test_medline_pmids() -> None:
    assert medline_pmids(b"PMID- 0012\nTI  - x\n\nPMID- 7\n") == ["12", "7"]
