"""The E-utilities double answers as NCBI's documentation and recorded answers say
(docs/pubmed-inputs.md §2): esearch JSON/XML, dates, retmax, the 9,999 cap, usehistory,
efetch GET/POST, unknown and malformed ids, the rate limit and injected faults."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from syncd.sandbox.eutils import Corpus, EutilsDouble
from tests.eutils.conftest import corpus_with
from tests.helpers import medline


def get(double: EutilsDouble, utility: str, **params: str) -> httpx2.Response:
    return httpx2.get(f"{double.url}/{utility}.fcgi", params=params)


def esearch(double: EutilsDouble, **params: str) -> dict:
    r = get(double, "esearch", db="pubmed", retmode="json", **params)
    assert r.status_code == 200
    return json.loads(r.content)["esearchresult"]


def test_esearch_json_counts_and_returns_twenty_ids_by_default(double: EutilsDouble) -> None:
    result = esearch(double, term="synthetic")
    assert result["count"] == "30"
    assert len(result["idlist"]) == 20  # NCBI's default retmax
    assert result["idlist"][0] == "1030"  # newest Entrez date first
    assert "webenv" not in result


def test_esearch_filters_on_the_entrez_date_window(double: EutilsDouble) -> None:
    # Records 1001.. were entered 2025/01/01, 01/02, ...: 01/03 to 01/05 holds 1003-1005.
    result = esearch(
        double, term="synthetic", datetype="edat", mindate="2025/01/03", maxdate="2025/01/05"
    )
    assert result["count"] == "3"
    assert sorted(result["idlist"]) == ["1003", "1004", "1005"]
    month = esearch(double, term="synthetic", mindate="2025/01", maxdate="2025/01", retmax="100")
    assert month["count"] == "30"


def test_esearch_refuses_a_min_date_without_a_max_date(double: EutilsDouble) -> None:
    assert "ERROR" in esearch(double, term="synthetic", mindate="2025/01/03")


def test_esearch_xml_with_history(double: EutilsDouble) -> None:
    r = get(double, "esearch", db="pubmed", term="synthetic", usehistory="y", retmax="2")
    assert r.status_code == 200
    assert b"<Count>30</Count>" in r.content
    assert r.content.count(b"<Id>") == 2
    assert b"<WebEnv>MCID_" in r.content and b"<QueryKey>1</QueryKey>" in r.content


def test_esearch_names_a_phrase_not_found_and_refuses_a_broken_query(
    double: EutilsDouble,
) -> None:
    result = esearch(double, term="xyzzy")
    assert result["count"] == "0"
    assert result["errorlist"]["phrasesnotfound"] == ["xyzzy"]
    assert "Unbalanced" in esearch(double, term="(ketamine AND depression")["ERROR"]


def test_esearch_returns_at_most_9999_ids_and_refuses_positions_beyond() -> None:
    corpus = Corpus()
    corpus.add_medline(medline(range(1, 10_051)))
    with EutilsDouble(corpus, rate_limit=False) as double:
        result = esearch(double, term="synthetic", retmax="10000")
        assert result["count"] == "10050"
        assert len(result["idlist"]) == 9999
        assert "Restrictions achieved" in result["warninglist"]["outputmessages"][0]
        beyond = esearch(double, term="synthetic", retstart="9999")
        assert "cannot be larger than 9998" in beyond["ERROR"]


def test_efetch_get_and_post_leave_unknown_ids_out(double: EutilsDouble) -> None:
    r = get(double, "efetch", db="pubmed", id="1002,999999,1001", rettype="medline", retmode="text")
    assert r.status_code == 200
    text = r.content.decode()
    assert [line for line in text.splitlines() if line.startswith("PMID-")] == [
        "PMID- 1002",
        "PMID- 1001",
    ]
    ids = ",".join(str(i) for i in range(1001, 1031)) + ",0999"
    r = httpx2.post(
        f"{double.url}/efetch.fcgi",
        data={"db": "pubmed", "id": ids, "rettype": "medline", "retmode": "text"},
    )
    assert r.status_code == 200
    assert r.content.count(b"PMID- ") == 30
    assert double.fetched_ids()[:3] == ["1002", "999999", "1001"]
    assert [r.method for r in double.requests] == ["GET", "POST"]


def test_efetch_of_malformed_ids_is_a_400(double: EutilsDouble) -> None:
    r = get(double, "efetch", db="pubmed", id="0,abc", rettype="medline", retmode="text")
    assert r.status_code == 400
    assert b"ID list is empty! Possibly it has no correct IDs." in r.content


@pytest.mark.slow
def test_the_rate_limit_answers_429_naming_the_key_and_counts_it() -> None:
    moment = [100.0]
    with EutilsDouble(corpus_with([1]), clock=lambda: moment[0]) as double:
        answers = [get(double, "esearch", term="synthetic").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        keyed = [
            get(double, "esearch", term="x", api_key="SECRETKEY123").status_code for _ in range(11)
        ]
        assert keyed.count(429) == 1 and keyed[-1] == 429
        last = get(double, "esearch", term="x", api_key="SECRETKEY123")
        assert json.loads(last.content)["api-key"] == "SECRETKEY123"
        assert last.headers["X-RateLimit-Limit"] == "10"
        moment[0] += 1.0  # a second later the budget is back
        assert get(double, "esearch", term="synthetic").status_code == 200
        assert double.throttled == 3
        assert double.stats()["throttled"] == 3


@pytest.mark.parametrize(
    ("fault", "status", "marker"),
    [
        ("503", 503, b"<html>"),
        ("500", 500, b"<html>"),
        ("html", 200, b"<html>"),
        ("ratelimit-200", 200, b"API rate limit exceeded"),
        ("429", 429, b"API rate limit exceeded"),
    ],
)
def test_injected_faults_answer_once_then_the_double_is_well(
    double: EutilsDouble, fault: str, status: int, marker: bytes
) -> None:
    double.inject(fault)
    r = get(double, "esearch", db="pubmed", term="synthetic", retmode="json")
    assert (r.status_code, marker in r.content) == (status, True)
    assert get(double, "esearch", db="pubmed", term="synthetic", retmode="json").status_code == 200
    assert double.throttled == 0  # injected, not provoked


def test_an_injected_reset_closes_the_connection(double: EutilsDouble) -> None:
    double.inject("reset")
    with pytest.raises(httpx2.TransportError):
        get(double, "esearch", term="synthetic")


def test_records_load_from_a_folder_of_nbib_files(tmp_path: Path) -> None:
    (tmp_path / "a.nbib").write_text(
        medline([7]).replace("OWN - NLM", "OWN - NLM\nEDAT- 2024/06/30 06:00"), encoding="utf-8"
    )
    (tmp_path / "b.nbib").write_text("\ufeff" + medline([8, 9]).replace("\n", "\r\n"))
    corpus = Corpus()
    assert corpus.load_dir(tmp_path) == 3
    entry = corpus.get("7")
    assert entry is not None and entry.edat.isoformat() == "2024-06-30"
