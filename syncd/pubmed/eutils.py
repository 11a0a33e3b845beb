"""syncd's own small client of NCBI's E-utilities, on httpx2: ``esearch`` (PMIDs of a query in
an Entrez-date window) and ``efetch`` (MEDLINE text of PMIDs, the format syncd's reader reads).

It keeps NCBI's etiquette: the shared pace of :mod:`syncd.pubmed.pace` (3 requests a second,
10 with a key, across the user's syncd processes), ``tool`` and ``email`` on every request,
``efetch`` in batches of at most 500 ids and by POST above 200. It never shows the NCBI key:
not in messages, not in logs (with a key every request is a POST, so that the key is in no
URL), and NCBI's error bodies (which name it) are only described
(:func:`syncd.core.eutils_answers.describe`).

What an answer means and how long to wait is decided in the pure core
(:mod:`syncd.core.eutils_answers`); here the requests are sent and the waits slept. A
rate limit, a 5xx, an HTML error page, a reset or a timeout is asked again, with growing waits;
with ``deadline`` (a one-shot command) the client gives up once its waits would pass that
many seconds, with a transient :class:`~syncd.errors.RemoteError` (the records are left for the
next run); without (the daemon) it asks for as long as it takes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx2

from syncd import __version__
from syncd.config_keys import plain_http_problem
from syncd.config_pubmed import PubmedConfig
from syncd.core.eutils_answers import (
    EsearchRefused,
    Verdict,
    batches,
    classify,
    describe,
    read_esearch,
    retry_wait,
)
from syncd.errors import ConfigError, RemoteError
from syncd.pubmed.pace import INTERVAL_WITH_KEY, INTERVAL_WITHOUT_KEY, Pacer

log = logging.getLogger("syncd.pubmed")
T = TypeVar("T")

BATCH = 500  # ids per efetch
POST_ABOVE = 200  # NCBI: "if more than about 200 UIDs are to be provided ... use HTTP POST"
MAX_RETMAX = 10000
TIMEOUT = httpx2.Timeout(60.0, connect=15.0)


class QueryError(ConfigError):
    """esearch refused the query (its ``ERROR``): the user's query is wrong."""


@dataclass(frozen=True)
class SearchHits:
    count: int  # every hit of the query in the window, even beyond what esearch returns
    pmids: list[str]  # at most what esearch returns (9,999 on PubMed), newest first
    query_translation: str | None
    errors: list[str] = field(default_factory=list)  # PubMed's remarks (phrase not found, ...)


class Eutils:
    """One client; ``state_dir`` is the state database's folder (where the shared pace lives)."""

    def __init__(
        self,
        config: PubmedConfig,
        *,
        state_dir: Path,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        if problem := plain_http_problem(config.eutils_url):
            raise ConfigError(f"pubmed.eutils_url: {problem.replace('API key', 'NCBI key')}")
        self.config = config
        self.deadline = deadline
        self.requests = 0  # requests sent (tries included), for reports and benchmarks
        self._sleep = sleep
        self._rng = random.Random()
        self._secret = config.api_key.reveal() if config.api_key else None
        interval = INTERVAL_WITH_KEY if config.api_key else INTERVAL_WITHOUT_KEY
        self._pacer = Pacer(state_dir, interval)
        self._http = httpx2.Client(
            timeout=TIMEOUT,
            transport=transport,
            headers={"User-Agent": f"syncd/{__version__} ({config.tool})"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Eutils:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the two utilities -------------------------------------------------------------------

    def esearch(
        self,
        term: str,
        *,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "edat",
        retmax: int = MAX_RETMAX,
    ) -> SearchHits:
        """The PMIDs PubMed finds for ``term`` (dates as ``YYYY/MM/DD``; both or neither)."""
        params = {"db": "pubmed", "term": term, "retmode": "json", "retmax": str(retmax)}
        if mindate is not None or maxdate is not None:
            params |= {"datetype": datetype, "mindate": mindate or "", "maxdate": maxdate or ""}
        try:
            answer = self._call("esearch", params, post=len(term) > 1000, read=read_esearch)
        except EsearchRefused as exc:
            raise QueryError(
                f"PubMed cannot run the query {term!r}: {exc.message}",
                hint="try the query at https://pubmed.ncbi.nlm.nih.gov/ and copy it as "
                "PubMed accepts it",
            ) from None
        return SearchHits(answer.count, answer.pmids, answer.query_translation, answer.errors)

    def efetch(self, pmids: Sequence[str]) -> bytes:
        """The MEDLINE text of ``pmids`` (PMIDs PubMed does not have are simply absent)."""
        wanted = list(dict.fromkeys(str(p).strip() for p in pmids))
        bad = [p for p in wanted if not (p.isdigit() and 0 < len(p) <= 9 and int(p) > 0)]
        if bad:
            raise ValueError(f"not PMIDs: {', '.join(bad[:3])}")
        out: list[bytes] = []
        for batch in batches(wanted, BATCH):
            params = {"db": "pubmed", "id": ",".join(batch), "rettype": "medline"}
            params["retmode"] = "text"
            text = self._call("efetch", params, post=len(batch) > POST_ABOVE, read=bytes)
            text = text.strip(b"\r\n")
            if text:
                out.append(text)
        return b"\n\n".join(out) + b"\n" if out else b""

    # --- sending -----------------------------------------------------------------------------

    def _call(
        self, utility: str, params: dict[str, str], *, post: bool, read: Callable[[bytes], T]
    ) -> T:
        """Send until an answer is usable and ``read`` reads it (a ValueError, or a transient
        EsearchRefused, from ``read`` counts as a failed answer and is asked again)."""
        url = f"{self.config.eutils_url}/{utility}.fcgi"
        params = dict(params, tool=self.config.tool)
        if self.config.email:
            params["email"] = self.config.email
        if self._secret:
            # In the form body, never in a URL: HTTP libraries log URLs (syncd -vv), and
            # proxies keep them.
            params["api_key"] = self._secret
            post = True
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            self._pacer.wait()
            self.requests += 1
            try:
                if post:
                    response = self._http.post(url, data=params)
                else:
                    response = self._http.get(url, params=params)
                body = response.content
            except httpx2.TransportError as exc:
                verdict, why = Verdict.TRANSIENT, f"{describe(None, b'')}: {type(exc).__name__}"
            else:
                ctype = response.headers.get("content-type", "")
                verdict = classify(response.status_code, ctype, body)
                why = describe(response.status_code, body, self._secret)
                if verdict is Verdict.OK:
                    try:
                        return read(body)
                    except EsearchRefused as exc:
                        if not exc.transient:
                            raise
                        verdict, why = Verdict.TRANSIENT, f"HTTP 200: {exc.message[:200]}"
                    except ValueError:
                        verdict, why = (
                            Verdict.TRANSIENT,
                            f"HTTP 200: an unreadable {utility} answer",
                        )
                if verdict is Verdict.REFUSED:
                    raise RemoteError(
                        f"NCBI's {utility} refused the request: {why}",
                        hint="this is syncd's mistake or a changed E-utilities; please report it",
                        status=response.status_code,
                    )
            waited = self._wait_again(verdict, attempt, f"{utility}: {why}", waited)

    def _wait_again(self, verdict: Verdict, attempt: int, why: str, waited: float) -> float:
        """Sleep before trying again, or give up past the deadline; the seconds waited now."""
        delay = retry_wait(verdict, attempt, self._rng.random())
        if self.deadline is not None and waited + delay > self.deadline:
            raise RemoteError(
                f"NCBI's E-utilities did not answer usably for {waited:.0f} s ({why})",
                hint="the records are left for the next run; check the network, or "
                "https://www.ncbi.nlm.nih.gov/ for an outage",
                transient=True,
            )
        log.warning("E-utilities %s; trying again in %.1f s", why, delay)
        self._sleep(delay)
        return waited + delay
