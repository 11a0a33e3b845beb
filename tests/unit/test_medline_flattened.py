"""Records whose line breaks were lost (copied from a web page or a PDF) are split back into
their fields, and only at plausible places."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.medline import parse, split_flattened
from syncd.core.records import MedlineRecord, Problem
from tests.conftest import EXAMPLES
from tests.unit.medline_strategies import flatten, layout, pubmed_record


def read(text: str) -> tuple[list[MedlineRecord], list[Problem]]:
    out = list(parse([text], "t"))
    return (
        [o for o in out if isinstance(o, MedlineRecord)],
        [o for o in out if isinstance(o, Problem)],
    )


def squash(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def test_real_flattened_record_matches_the_same_record_laid_out() -> None:
    flat_text = (EXAMPLES / "pmid-37424412-flattened.nbib").read_text(encoding="utf-8")
    laid_text = (EXAMPLES / "pmid-37424412.nbib").read_text(encoding="utf-8")
    (flat,), problems = read(flat_text)
    (laid,), none = read(laid_text)
    assert none == []
    assert [p.severity for p in problems] == ["warning"]
    assert "lost its line breaks" in problems[0].message
    # Every field, in order, with exactly the same value.
    assert list(flat.pairs()) == list(laid.pairs())
    # And the ones the issue names, checked against the record itself.
    assert flat.get("PMID") == "37424412"
    assert flat.get("TI") == "The Role of Glutamate Underlying Treatment-resistant Depression."
    assert flat.getall("FAU") == [
        "Kim, Jeongseop",
        "Kim, Tae-Eun",
        "Lee, Seung-Hwan",
        "Koo, Ja Wook",
    ]
    assert flat.getall("AU") == ["Kim J", "Kim TE", "Lee SH", "Koo JW"]
    assert len(flat.getall("AUID")) == 4 and len(flat.getall("AD")) == 7
    assert flat.getall("AD")[0] == (
        "Emotion, Cognition & Behavior Research Group, Korea Brain Research Institute (KBRI), "
        "Daegu, Korea."
    )
    assert flat.get("JT") == (
        "Clinical psychopharmacology and neuroscience : the official scientific journal of the "
        "Korean College of Neuropsychopharmacology"
    )
    assert flat.get("TA") == "Clin Psychopharmacol Neurosci"
    assert (flat.get("VI"), flat.get("IP"), flat.get("PG"), flat.get("DP")) == (
        "21",
        "3",
        "429-446",
        "2023 Aug 31",
    )
    assert flat.get("LID") == "10.9758/cpn.22.1034 [doi]"
    assert flat.getall("AID")[-1] == "10.9758/cpn.22.1034 [doi]"
    assert flat.get("PMC") == "PMC10335903"
    assert flat.getall("IS") == [
        "1738-1088 (Print)",
        "2093-4327 (Electronic)",
        "1738-1088 (Linking)",
    ]
    assert flat.get("LA") == "eng"
    assert flat.getall("OT") == [
        "Chronic stress",
        "Glutamate hypothesis",
        "Ketamine",
        "Models",
        "Sex characteristics",
        "Treatment-resistant depression",
        "animal",
    ]
    abstract = flat.get("AB") or ""
    assert abstract.startswith("The monoamine hypothesis") and abstract.endswith("of ketamine.")
    assert "(NMDAR) antagonist, has shown" in abstract and "U.S. Food and Drug" in abstract


def test_two_flattened_records_run_together_are_split() -> None:
    flat = (EXAMPLES / "pmid-37424412-flattened.nbib").read_text(encoding="utf-8").strip()
    other = flatten(layout([("PMID", "123"), ("OWN", "NLM"), ("TI", "Second one."), ("LA", "eng")]))
    recs, _ = read(flat + " " + other + "\n")
    assert [r.get("PMID") for r in recs] == ["37424412", "123"]
    assert recs[1].get("TI") == "Second one." and recs[1].get("LA") == "eng"
    assert len(recs[0]) == 66


def test_tag_like_text_inside_an_abstract_is_not_cut() -> None:
    fields = [
        ("PMID", "1"),
        ("OWN", "NLM"),
        ("DP", "2020"),
        ("TI", "Ketamine."),
        (
            "AB",
            "Ketamine, an (NMDAR) antagonist - a drug - helps patients with AD - a disease; "
            "the 95% CI - 1.2 to 3.4 - was wide, and PT - physical therapy - too. LA - x.",
        ),
        ("CI", "Copyright 2020."),
        ("FAU", "Kim, Min"),
        ("AU", "Kim M"),
        ("AD", "Department of X, University Y, Korea."),
        ("LA", "eng"),
        ("PT", "Journal Article"),
    ]
    (rec,), _ = read(flatten(layout(fields)))
    assert list(rec.pairs()) == fields


def test_a_normal_record_mentioning_tags_is_left_alone() -> None:
    text = "PMID- 5\nTI  - About AD - and CI - in abstracts OT - really.\nAB  - LA - eng\n"
    (rec,), problems = read(text)
    assert problems == []
    assert rec.get("TI") == "About AD - and CI - in abstracts OT - really."


def test_split_flattened_needs_two_plausible_splits() -> None:
    assert split_flattened("TI", "A title with one AD - inside") is None
    assert split_flattened("PMID", "12 OWN - NLM") == [("PMID", "12"), ("OWN", "NLM")]
    assert split_flattened("PMID", "12 DCOM- notadate") is None
    assert split_flattened("TI", "x LA - eng PT - Review") == [
        ("TI", "x"),
        ("LA", "eng"),
        ("PT", "Review"),
    ]


def test_huge_flattened_line_does_not_hang() -> None:
    blob = "PMID- 1 " + "AB - " * 200_000
    recs, _ = read(blob)
    assert recs and recs[0].get("PMID") is not None


@given(pubmed_record(), st.booleans())
def test_any_flattened_record_parses_to_the_same_fields(
    fields: list[tuple[str, str]], collapse: bool
) -> None:
    text = flatten(layout(fields, width=30), collapse)
    recs, _ = read(text)
    assert len(recs) == 1
    got = [(t, squash(v)) for t, v in recs[0].pairs()]
    assert got == [(t, squash(v)) for t, v in fields]


@given(st.lists(pubmed_record(), min_size=2, max_size=3))
def test_flattened_records_run_together_come_apart(recs: list[list[tuple[str, str]]]) -> None:
    text = " ".join(flatten(layout(r)) for r in recs)
    got, _ = read(text)
    assert [[(t, squash(v)) for t, v in r.pairs()] for r in got] == [
        [(t, squash(v)) for t, v in r] for r in recs
    ]
