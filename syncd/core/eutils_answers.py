"""What an answer of NCBI's E-utilities means, and what to do about it: the pure decisions of
syncd's E-utilities client (:mod:`syncd.pubmed.eutils`), which only sends and sleeps.

* :func:`classify` sorts an HTTP answer into usable, rate-limited (wait and ask again),
  transient (5xx, an HTML error page where data was expected: back off and ask again) or
  refused (another 4xx: asking again changes nothing).
* :func:`read_esearch` reads an esearch JSON answer: hits, the query's translation, the
  errors PubMed found in the query (``errorlist``) and an ``ERROR`` that refuses it.
* :func:`retry_wait` is how long to wait before the n-th try again.
* :func:`describe` says what went wrong in a few safe words. NCBI's error bodies name the
  client's API key (``"api-key": "..."``), so a body is never shown raw: only the text of an
  XML ``<ERROR>`` element, cut short, and never anything that looks like the key.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from syncd.core.backoff import backoff

# Waits before asking again: short for NCBI's rate limit (its window is one second), longer
# and growing for a failing server.
RATE_LIMIT_BASE, RATE_LIMIT_CAP = 1.0, 10.0
TRANSIENT_BASE, TRANSIENT_CAP = 2.0, 120.0

T = TypeVar("T")
_ERROR_ELEMENT = re.compile(rb"<ERROR>(.*?)</ERROR>", re.S)
_PMID_LINE = re.compile(rb"^PMID- *(\d+)", re.M)


class Verdict(Enum):
    OK = "ok"
    RATE_LIMITED = "rate-limited"
    TRANSIENT = "transient"
    REFUSED = "refused"


def _looks_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def is_rate_limit_body(body: bytes) -> bool:
    """NCBI's ``{"error":"API rate limit exceeded",...}``, which may come under a 2xx too."""
    head = body[:512].lstrip()
    if not head.startswith(b"{"):
        return False
    try:
        doc = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError:
        return False
    error = doc.get("error") if isinstance(doc, dict) else None
    return isinstance(error, str) and "rate limit" in error.lower()


def classify(status: int, content_type: str, body: bytes, *, expect_html: bool = False) -> Verdict:
    """What an answer means. ``expect_html`` is never true for E-utilities: they answer JSON,
    XML or MEDLINE text, so an HTML page is a proxy's or the server's error page."""
    if status == 429 or is_rate_limit_body(body):
        return Verdict.RATE_LIMITED
    if status >= 500 or status == 408:
        return Verdict.TRANSIENT
    if status >= 400:
        # NCBI's backend says "cannot get document summary" under 400 when it stumbles.
        if b"cannot get document summary" in body:
            return Verdict.TRANSIENT
        return Verdict.REFUSED
    if 200 <= status < 300:
        if not expect_html and ("html" in content_type.lower() or _looks_html(body)):
            return Verdict.TRANSIENT
        return Verdict.OK
    return Verdict.TRANSIENT  # 1xx/3xx where an answer was expected: a confused proxy


def retry_wait(verdict: Verdict, attempt: int, draw: float) -> float:
    """Seconds to wait before try ``attempt`` + 1 after an answer of this kind."""
    if verdict is Verdict.RATE_LIMITED:
        return backoff(attempt, RATE_LIMIT_BASE, RATE_LIMIT_CAP, draw)
    return backoff(attempt, TRANSIENT_BASE, TRANSIENT_CAP, draw)


def describe(status: int | None, body: bytes, secret: str | None = None) -> str:
    """A few safe words on a failed answer (``status`` None: no answer at all)."""
    if status is None:
        return "no answer (connection failed or timed out)"
    if status == 429 or is_rate_limit_body(body):
        what = "NCBI's rate limit was exceeded"
    elif _looks_html(body):
        what = "an HTML error page instead of data"
    elif m := _ERROR_ELEMENT.search(body):
        what = " ".join(html.unescape(m.group(1).decode("utf-8", errors="replace")).split())
        what = what[:200]
    else:
        what = "an answer syncd cannot read"
    if secret:
        what = what.replace(secret, "********")
    return f"HTTP {status}: {what}"


class EsearchRefused(Exception):
    """esearch's ``ERROR``: the query cannot run (``transient`` when the backend stumbled)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class EsearchAnswer:
    count: int
    pmids: list[str]
    query_translation: str | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    webenv: str | None = None


def read_esearch(body: bytes) -> EsearchAnswer:
    """Read an esearch ``retmode=json`` answer; :class:`EsearchRefused` for its ``ERROR``,
    ValueError for an answer that is not one."""
    doc = json.loads(body.decode("utf-8", errors="replace"))
    result = doc.get("esearchresult") if isinstance(doc, dict) else None
    if not isinstance(result, dict):
        raise ValueError("not an esearch answer")
    if "ERROR" in result:
        message = " ".join(str(result["ERROR"]).split())
        # "Search Backend failed" about a position is a request syncd must not make; any
        # other backend failure is the server's trouble of the moment.
        transient = "backend failed" in message.lower() and "retstart" not in message.lower()
        raise EsearchRefused(message, transient=transient)
    ids = result.get("idlist")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.isdigit() for i in ids):
        raise ValueError("esearch answer without an id list")
    errors: list[str] = []
    errorlist = result.get("errorlist")
    if isinstance(errorlist, dict):
        for kind, label in (
            ("phrasesnotfound", "phrase not found"),
            ("fieldsnotfound", "field not found"),
        ):
            errors += [f"{label}: {v}" for v in errorlist.get(kind) or [] if str(v).strip()]
    warnings: list[str] = []
    warninglist = result.get("warninglist")
    if isinstance(warninglist, dict):
        for values in warninglist.values():
            if isinstance(values, list):
                warnings += [str(v) for v in values if str(v).strip()]
    translation = result.get("querytranslation")
    webenv = result.get("webenv")
    return EsearchAnswer(
        count=int(result.get("count", len(ids))),
        pmids=list(ids),
        query_translation=str(translation) if translation is not None else None,
        errors=errors,
        warnings=warnings,
        webenv=str(webenv) if webenv else None,
    )


def medline_pmids(text: bytes) -> list[str]:
    """The PMIDs of the records in MEDLINE text, in order (as numbers, without zeros)."""
    return [str(int(m)) for m in _PMID_LINE.findall(text)]


def batches(items: list[T], size: int) -> list[list[T]]:
    """``items`` in consecutive batches of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
