"""Identifier normalisation: examples first, then properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.dedup import dedup_keys
from syncd.core.identity import (
    Identifiers,
    doi_of,
    fingerprint,
    item_identifiers,
    normalize_doi,
    normalize_pmcid,
    normalize_pmid,
    record_identifiers,
)
from syncd.core.records import Field, MedlineRecord


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("10.1000/ABC", "10.1000/abc"),
        ("https://doi.org/10.1000/abc.", "10.1000/abc"),
        ("http://dx.doi.org/10.1000/abc", "10.1000/abc"),
        ("doi: 10.1000/abc;", "10.1000/abc"),
        ("DOI:10.1000/abc", "10.1000/abc"),
        ("10.9758/cpn.22.1034 [doi]", "10.9758/cpn.22.1034"),
        ("10.1016/S0140-6736(20)30183-5", "10.1016/s0140-6736(20)30183-5"),
        ("(10.1000/abc)", None),
        ("not a doi", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_doi(raw: str | None, want: str | None) -> None:
    assert normalize_doi(raw) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [("8692918", "8692918"), (" PMID: 0012345 ", "12345"), ("000000000000", None), ("x", None)],
)
def test_normalize_pmid(raw: str, want: str | None) -> None:
    assert normalize_pmid(raw) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("PMC38908", "PMC38908"),
        ("pmc 38908", "PMC38908"),
        ("NLM: PMC38908", "PMC38908"),
        ("38908", "PMC38908"),
        ("NIHMS1773706", None),
    ],
)
def test_normalize_pmcid(raw: str, want: str | None) -> None:
    assert normalize_pmcid(raw) == want


def test_fingerprint_ignores_case_accents_and_punctuation() -> None:
    a = fingerprint("Vis-à-vis: The Role of X.", "2022 Jan", "Müller")
    b = fingerprint("vis a vis the role of x", "2022", "MULLER")
    assert a == b == "vis a vis the role of x|2022|muller"
    assert fingerprint("", "2022", "x") is None


def test_record_identifiers_prefers_aid_doi_and_reads_pmc() -> None:
    rec = MedlineRecord(
        (
            Field("PMID", "37424412", 1),
            Field("TI", "The Role of Glutamate.", 2),
            Field("DP", "2023 Aug 31", 3),
            Field("LID", "10.9758/CPN.22.1034 [doi]", 4),
            Field("FAU", "Kim, Jeongseop", 5),
            Field("PMC", "PMC10335903", 6),
            Field("AID", "cpn.22.1034 [pii]", 7),
        )
    )
    ids = record_identifiers(rec)
    assert ids == Identifiers(
        "37424412", "10.9758/cpn.22.1034", "PMC10335903", "the role of glutamate|2023|kim"
    )
    assert dedup_keys(ids) == [
        "pmid:37424412",
        "pmcid:PMC10335903",
        "doi:10.9758/cpn.22.1034",
        "title:the role of glutamate|2023|kim",
    ]
    assert dedup_keys(ids, ("doi",)) == ["doi:10.9758/cpn.22.1034"]  # PMCID goes with the PMID


def test_item_identifiers_reads_native_fields_and_extra() -> None:
    data = {
        "title": "T",
        "date": "1996",
        "extra": "PMID: 8692918 \nPMCID: PMC38908",
        "DOI": "",
        "creators": [{"creatorType": "author", "firstName": "J", "lastName": "Walker"}],
    }
    assert item_identifiers(data) == Identifiers("8692918", None, "PMC38908", "t|1996|walker")
    assert item_identifiers({"PMID": "42", "DOI": "https://doi.org/10.1000/X"}) == Identifiers(
        "42", "10.1000/x", None, None
    )


@given(st.text())
def test_normalizers_never_raise_and_are_idempotent(s: str) -> None:
    for norm in (normalize_doi, normalize_pmid, normalize_pmcid):
        once = norm(s)
        assert once is None or norm(once) == once


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("10.1016/S0140-6736(20)30183-5 [doi]", "10.1016/S0140-6736(20)30183-5"),
        ("http://dx.doi.org/10.1186/s40468-019-0086-7", "10.1186/s40468-019-0086-7"),
        ("https://doi.org/10.1000/ABC.", "10.1000/ABC"),
        ("S0033-3506(15)00037-2 [pii]", None),
        ("NBK1826 [bookaccession]", None),
        ("http://eric.ed.gov/?id=EJ1245375", None),
        ("not a doi [doi]", None),
    ],
)
def test_doi_of_reads_aid_and_lid_values(value: str, want: str | None) -> None:
    assert doi_of(value) == want


def test_record_doi_from_an_eric_doi_link_and_pmcid_from_oid() -> None:
    rec = MedlineRecord(
        (
            Field("OWN", "ERIC", 1),
            Field("AID", "http://dx.doi.org/10.1186/S40468-019-0086-7", 2),
            Field("OID", "NLM: PMC38908", 3),
        )
    )
    ids = record_identifiers(rec)
    assert ids.doi == "10.1186/s40468-019-0086-7" and ids.pmcid == "PMC38908"


@given(st.text())
def test_doi_of_agrees_with_normalize_doi(s: str) -> None:
    doi = doi_of(s)
    assert doi is None or normalize_doi(doi) == normalize_doi(s.replace("[doi]", ""))


@given(
    st.from_regex(r"10\.[0-9]{4,6}/[A-Za-z0-9.()/_-]{1,20}", fullmatch=True),
    st.sampled_from(["{} [doi]", "https://doi.org/{}", "doi: {}", "http://dx.doi.org/{}"]),
)
def test_doi_forms_give_one_identity(doi: str, form: str) -> None:
    # However a record writes its DOI, dedup sees the same key.
    assume_valid = normalize_doi(doi)
    if assume_valid is None:
        return
    assert normalize_doi(doi_of(form.format(doi))) == assume_valid
