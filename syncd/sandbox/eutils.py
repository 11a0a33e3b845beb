"""A local double of NCBI's E-utilities (``esearch.fcgi``, ``efetch.fcgi``) for tests and the
demo, so that nothing in syncd's tests or ``make demo`` talks to NCBI's shared server.

Built from NCBI's documentation (NBK25499) and the answers recorded in
``docs/pubmed-inputs.md`` of the reference material, not from any client library:

* ``esearch`` answers JSON (``retmode=json``) or XML with ``count``, ``retmax``, ``retstart``,
  ``idlist``, ``querytranslation`` and, with ``usehistory=y``, ``webenv``/``querykey``;
  ``mindate``/``maxdate`` filter on the Entrez date (``datetype=edat``, the only date kept);
  ``retmax`` defaults to 20; PubMed's cap: at most 9,999 ids come back ("Restrictions achieved"
  in the warnings) and a ``retstart`` above 9,998 is the backend's ``ERROR``; a term with no
  hit names its phrase in ``errorlist.phrasesnotfound``; unbalanced parentheses are an
  ``ERROR``.
* ``efetch`` (``rettype=medline&retmode=text``, GET or form POST) returns the MEDLINE text of
  the known ids in request order, leaves unknown ones out, and answers 400 with the
  ``eFetchResult`` error when no id is a number.
* A rate limiter per API key (per address without one): above 3 requests in any second (10
  with ``api_key``) it answers 429 with NCBI's JSON body, which names the key, and counts
  every 429 it sent (:attr:`EutilsDouble.throttled`), so tests can assert syncd never provokes
  one.
* Faults to inject (:meth:`EutilsDouble.inject`): a 5xx with an HTML page, an HTML error page
  under 200, the rate-limit JSON under 200, a connection closed without an answer.

The records it serves are a :class:`Corpus`: MEDLINE records, each with its PMID and Entrez
date, from generated text or from a folder of ``.nbib`` files.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

PATH = "/entrez/eutils"
STATS_PATH = "/_double/stats"
CAP = 9999  # what PubMed's esearch returns at most, as measured on the live server
DEFAULT_RETMAX = 20
LIMIT_WITHOUT_KEY = 3
LIMIT_WITH_KEY = 10
FAULTS = ("429", "500", "502", "503", "html", "ratelimit-200", "reset")

_EDAT = re.compile(r"^EDAT- (\d{4})/(\d{2})/(\d{2})", re.M)
_PMID = re.compile(r"^PMID- *(\d+)", re.M)
_DATE = re.compile(r"^(\d{4})(?:/(\d{1,2})(?:/(\d{1,2}))?)?$")

_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body>"
    "<h1>{reason}</h1><p>The server is temporarily unable to service your request.</p>"
    "</body></html>"
)


@dataclass(frozen=True)
class Entry:
    pmid: str
    edat: date
    text: str  # the MEDLINE record, without the blank line that separates records


class Corpus:
    """The MEDLINE records the double serves, by PMID (thread-safe)."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def add_medline(self, text: str, edat: date | None = None) -> list[str]:
        """Add every record of a MEDLINE export; a record's Entrez date is its ``EDAT`` line,
        else ``edat``, else today. Returns the PMIDs added."""
        added = []
        for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n").lstrip("\ufeff")):
            m = _PMID.search(chunk)
            if not m:
                continue
            when = _EDAT.search(chunk)
            day = date(*map(int, when.groups())) if when else (edat or date.today())  # noqa: DTZ011 - a day, not a moment
            entry = Entry(str(int(m.group(1))), day, chunk.strip("\n"))
            with self._lock:
                self._entries[entry.pmid] = entry
            added.append(entry.pmid)
        return added

    def load_dir(self, folder: Path) -> int:
        """Add the records of every ``.nbib`` and ``.txt`` file in ``folder``; how many."""
        n = 0
        for path in sorted([*folder.glob("*.nbib"), *folder.glob("*.txt")]):
            n += len(self.add_medline(path.read_text(encoding="utf-8", errors="replace")))
        return n

    def get(self, pmid: str) -> Entry | None:
        with self._lock:
            return self._entries.get(pmid)

    def search(self, term: str, mindate: date | None, maxdate: date | None) -> list[Entry]:
        """The entries matching ``term`` in the Entrez-date window, newest first (PubMed's
        default order), ties by PMID descending."""
        with self._lock:
            entries = list(self._entries.values())
        hits = [
            e
            for e in entries
            if _matches(term, e)
            and (mindate is None or e.edat >= mindate)
            and (maxdate is None or e.edat <= maxdate)
        ]
        hits.sort(key=lambda e: (e.edat, int(e.pmid)), reverse=True)
        return hits

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _words(term: str) -> list[str]:
    """The double's query language: words joined by AND (the only operator it knows); a
    ``[field]`` tag is ignored, ``all[sb]`` matches every record, ``N[pmid]`` / ``N[uid]``
    that record."""
    parts = re.split(r"\s+AND\s+", term.strip())
    return [p.strip().strip("()").strip().strip('"') for p in parts if p.strip()]


def _matches(term: str, entry: Entry) -> bool:
    text = entry.text.lower()
    for word in _words(term):
        tag = re.match(r"^(.*?)\[(\w+)\]$", word)
        if tag and tag.group(2).lower() in ("pmid", "uid"):
            if tag.group(1).strip() != entry.pmid:
                return False
            continue
        if tag and word.lower() == "all[sb]":
            continue
        needle = (tag.group(1) if tag else word).strip().lower()
        if needle not in text:
            return False
    return True


def _parse_date(value: str | None, *, end: bool) -> date | None:
    """``YYYY``, ``YYYY/MM`` or ``YYYY/MM/DD`` (as NCBI accepts), the first or last day."""
    if not value:
        return None
    m = _DATE.match(value.strip())
    if not m:
        raise ValueError(value)
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if month is None:
        return date(year, 12, 31) if end else date(year, 1, 1)
    if day is None:
        if not end:
            return date(year, int(month), 1)
        nxt = date(year + int(month) // 12, int(month) % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)
    return date(year, int(month), int(day))


@dataclass
class Request:
    """One request as the double saw it (the API key is kept only as "given or not")."""

    utility: str  # "esearch", "efetch", or the path when unknown
    method: str
    params: dict[str, str]
    with_key: bool
    status: int = 0


@dataclass
class _Limiter:
    """NCBI's limit: at most ``limit`` requests by one key (or address) in any one second."""

    times: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, who: str, limit: int, now: float) -> tuple[bool, int]:
        with self.lock:
            window = self.times.setdefault(who, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            window.append(now)  # a refused request counts too, as NCBI counts it
            return len(window) <= limit, len(window)


class EutilsDouble:
    """The E-utilities double, listening on ``127.0.0.1``; :attr:`url` is its ``eutils_url``."""

    def __init__(
        self,
        corpus: Corpus | None = None,
        *,
        port: int = 0,
        rate_limit: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.corpus = corpus if corpus is not None else Corpus()
        self.requests: list[Request] = []
        self.throttled = 0  # 429s sent because requests came too fast (not injected ones)
        self.rate_limit = rate_limit
        self._clock = clock
        self._faults: deque[str] = deque()
        self._limiter = _Limiter()
        self._lock = threading.Lock()
        self._webenvs = 0
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> EutilsDouble:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="eutils-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> EutilsDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, fault: str, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``fault`` (one of :data:`FAULTS`)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, utility: str | None = None) -> int:
        """How many requests reached the double (of one utility)."""
        with self._lock:
            return sum(1 for r in self.requests if utility in (None, r.utility))

    def fetched_ids(self) -> list[str]:
        """Every id asked of efetch, in order (repeats kept)."""
        with self._lock:
            reqs = [r for r in self.requests if r.utility == "efetch"]
        return [i for r in reqs for i in _ids(r.params.get("id", ""))]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": len(self.requests),
                "esearch": sum(1 for r in self.requests if r.utility == "esearch"),
                "efetch": sum(1 for r in self.requests if r.utility == "efetch"),
                "throttled": self.throttled,
                "records": len(self.corpus),
            }

    # --- answering (called from the handler's threads) ---------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _throttle(self, who: str, with_key: bool) -> tuple[bool, int, int]:
        limit = LIMIT_WITH_KEY if with_key else LIMIT_WITHOUT_KEY
        if not self.rate_limit:
            return True, 1, limit
        ok, count = self._limiter.allow(who, limit, self._clock())
        if not ok:
            with self._lock:
                self.throttled += 1
        return ok, count, limit

    def _new_webenv(self) -> str:
        with self._lock:
            self._webenvs += 1
            return f"MCID_double_{self._webenvs:06d}"


def _ids(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class _Handler(BaseHTTPRequestHandler):
    double: EutilsDouble
    protocol_version = "HTTP/1.1"
    server_version = "Finatra"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the double's own request list

    def do_GET(self) -> None:
        self._answer(parse_qs(urlsplit(self.path).query, keep_blank_values=True))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        params = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        for k, v in parse_qs(body, keep_blank_values=True).items():
            params.setdefault(k, []).extend(v)
        self._answer(params)

    def _answer(self, raw: Mapping[str, list[str]]) -> None:
        params = {k: ",".join(v) if k == "id" else v[-1] for k, v in raw.items()}
        key = params.pop("api_key", "")
        path = urlsplit(self.path).path
        if path == STATS_PATH:  # for tests driving a double in another process; not counted
            self._send(200, "application/json", json.dumps(self.double.stats()).encode(), 0, 0)
            return
        utility = path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        if not path.startswith(PATH + "/") or utility not in ("esearch", "efetch"):
            utility = path
        request = Request(utility, self.command, params, bool(key))
        self.double._record(request)
        who = key or self.client_address[0]
        ok, count, limit = self.double._throttle(who, bool(key))
        if not ok:
            body = {"error": "API rate limit exceeded", "api-key": who, "count": str(count)}
            body["limit"] = str(limit)
            request.status = 429
            self._send(429, "application/json", json.dumps(body).encode(), limit, 0)
            return
        fault = self.double._next_fault()
        if fault is not None:
            request.status = self._fault(fault, who, count, limit)
            return
        if utility == "esearch":
            status, ctype, body_bytes = self._esearch(params)
        elif utility == "efetch":
            status, ctype, body_bytes = self._efetch(params)
        else:
            status, ctype, body_bytes = 404, "text/html", b"<html><body>Not Found</body></html>"
        request.status = status
        self._send(status, ctype, body_bytes, limit, max(0, limit - count))

    def _fault(self, fault: str, who: str, count: int, limit: int) -> int:
        if fault == "reset":
            self.close_connection = True
            self.connection.close()
            return 0
        if fault == "429":
            body = json.dumps({"error": "API rate limit exceeded", "api-key": who, "count": "4"})
            self._send(429, "application/json", body.encode(), limit, 0)
            return 429
        if fault == "ratelimit-200":
            body = json.dumps({"error": "API rate limit exceeded", "api-key": who, "count": "4"})
            self._send(200, "application/json", body.encode(), limit, 0)
            return 200
        status = 200 if fault == "html" else int(fault)
        reason = {200: "OK", 500: "Internal Server Error", 502: "Bad Gateway"}.get(
            status, "Service Unavailable"
        )
        page = _HTML_PAGE.format(status=status, reason=reason).encode()
        self._send(status, "text/html; charset=UTF-8", page, limit, max(0, limit - count))
        return status

    def _send(self, status: int, ctype: str, body: bytes, limit: int, remaining: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-RateLimit-Limit", str(limit))
        self.send_header("X-RateLimit-Remaining", str(remaining))
        self.end_headers()
        self.wfile.write(body)

    # --- esearch -----------------------------------------------------------------------------

    def _esearch(self, p: Mapping[str, str]) -> tuple[int, str, bytes]:
        as_json = p.get("retmode", "xml").lower() == "json"
        term = p.get("term", "")
        try:
            retmax = int(p.get("retmax") or DEFAULT_RETMAX)
            retstart = int(p.get("retstart") or 0)
            mindate = _parse_date(p.get("mindate"), end=False)
            maxdate = _parse_date(p.get("maxdate"), end=True)
        except ValueError as exc:
            return self._search_error(as_json, f"Invalid value: {exc}")
        if p.get("datetype", "edat").lower() != "edat" and (mindate or maxdate):
            return self._search_error(as_json, "the double knows only datetype=edat")
        if (mindate is None) != (maxdate is None):
            return self._search_error(as_json, "mindate must be supplied with maxdate")
        if term.count("(") != term.count(")"):
            return self._search_error(as_json, "Unbalanced parentheses in query")
        if not term.strip():
            return self._search_error(as_json, "Empty term and query_key - nothing todo")
        if retstart > CAP - 1:
            return self._search_error(
                as_json,
                "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. "
                "For PubMed, ESearch can only retrieve the first 9,999 records matching the "
                "query. To obtain more than 9,999 PubMed records, consider using EDirect",
            )
        hits = self.double.corpus.search(term, mindate, maxdate)
        warnings: list[str] = []
        shown = min(retmax, CAP - retstart)
        if retmax > CAP - retstart and len(hits) > CAP:
            warnings.append(f"Restrictions achieved. start and count adjusted to {retstart}, {CAP}")
        ids = [e.pmid for e in hits[retstart : retstart + max(0, shown)]]
        missing = [] if hits else [w for w in _words(term) if not w.endswith("]")] or [term]
        translation = " AND ".join(f'"{w}"[All Fields]' for w in _words(term))
        webenv = self.double._new_webenv() if p.get("usehistory", "").lower() == "y" else None
        if as_json:
            result: dict[str, Any] = {
                "count": str(len(hits)),
                "retmax": str(len(ids)),
                "retstart": str(retstart),
                "idlist": ids,
                "translationset": [],
                "querytranslation": translation,
            }
            if webenv:
                result["querykey"] = "1"
                result["webenv"] = webenv
            if missing:
                result["errorlist"] = {"phrasesnotfound": missing, "fieldsnotfound": []}
            if warnings:
                result["warninglist"] = {
                    "phrasesignored": [],
                    "quotedphrasesnotfound": [],
                    "outputmessages": warnings,
                }
            doc = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}
            return 200, "application/json; charset=UTF-8", json.dumps(doc).encode()
        xml = [
            '<?xml version="1.0" encoding="UTF-8" ?>',
            '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
            '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">',
            f"<eSearchResult><Count>{len(hits)}</Count><RetMax>{len(ids)}</RetMax>"
            f"<RetStart>{retstart}</RetStart>",
        ]
        if webenv:
            xml.append(f"<QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv>")
        xml.append("<IdList>" + "".join(f"<Id>{i}</Id>" for i in ids) + "</IdList>")
        xml.append(f"<TranslationSet/><QueryTranslation>{escape(translation)}</QueryTranslation>")
        if missing:
            xml.append(
                "<ErrorList>"
                + "".join(f"<PhraseNotFound>{escape(m)}</PhraseNotFound>" for m in missing)
                + "</ErrorList>"
            )
        if warnings:
            xml.append(
                "<WarningList>"
                + "".join(f"<OutputMessage>{escape(w)}</OutputMessage>" for w in warnings)
                + "</WarningList>"
            )
        xml.append("</eSearchResult>")
        return 200, "text/xml; charset=UTF-8", "\n".join(xml).encode()

    def _search_error(self, as_json: bool, message: str) -> tuple[int, str, bytes]:
        if as_json:
            doc = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": {}}
            doc["esearchresult"] = {"ERROR": message}
            return 200, "application/json; charset=UTF-8", json.dumps(doc).encode()
        body = f'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><ERROR>{escape(message)}'
        return 200, "text/xml; charset=UTF-8", (body + "</ERROR></eSearchResult>").encode()

    # --- efetch ------------------------------------------------------------------------------

    def _efetch(self, p: Mapping[str, str]) -> tuple[int, str, bytes]:
        if p.get("rettype") != "medline" or p.get("retmode", "text") != "text":
            return 400, "text/xml", _fetch_error("the double serves rettype=medline&retmode=text")
        raw = _ids(p.get("id", ""))
        if not raw:
            return 400, "text/xml", _fetch_error("Supplied id parameter is empty.")
        # NCBI reads ids as numbers: leading zeros dropped, duplicates answered once.
        wanted = list(dict.fromkeys(str(int(i)) for i in raw if i.isdigit() and int(i) > 0))
        if not wanted:
            return (
                400,
                "text/xml",
                _fetch_error("ID list is empty! Possibly it has no correct IDs."),
            )
        found = [e.text for i in wanted if (e := self.double.corpus.get(i)) is not None]
        body = ("\n" + "\n\n".join(found) + "\n") if found else "\n"
        return 200, "text/plain; charset=UTF-8", body.encode()


def _fetch_error(message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD '
        'efetch 20131226//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">'
        f"\n<eFetchResult>\n\t<ERROR>{escape(message)}</ERROR>\n</eFetchResult>\n"
    ).encode()


def corpus_of(texts: Iterable[tuple[str, date]]) -> Corpus:
    """A corpus from (MEDLINE text, Entrez date) pairs: the tests' generated records."""
    corpus = Corpus()
    for text, day in texts:
        corpus.add_medline(text, day)
    return corpus
