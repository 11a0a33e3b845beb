"""Fixtures for the E-utilities double and client tests: a corpus of the tests' own generated
MEDLINE records, each with an Entrez date, served by the double on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from syncd.sandbox.eutils import Corpus, EutilsDouble
from tests.helpers import medline

FIRST_DAY = date(2025, 1, 1)


def corpus_with(pmids: range | list[int], first_day: date = FIRST_DAY) -> Corpus:
    """One record per PMID, the i-th entered into PubMed i days after ``first_day``."""
    corpus = Corpus()
    for i, pmid in enumerate(pmids):
        corpus.add_medline(medline([pmid]), first_day + timedelta(days=i))
    return corpus


@pytest.fixture
def double() -> Iterator[EutilsDouble]:
    """A double without its rate limit (tests of the answers themselves), 30 records."""
    with EutilsDouble(corpus_with(range(1001, 1031)), rate_limit=False) as d:
        yield d


@pytest.fixture
def paced_double() -> Iterator[EutilsDouble]:
    """A double with NCBI's rate limit on, 30 records: what syncd's client talks to."""
    with EutilsDouble(corpus_with(range(1001, 1031))) as d:
        yield d
