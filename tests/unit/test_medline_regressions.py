"""Inputs that once made the reader raise, although ``parse`` promises never to."""

from __future__ import annotations

from syncd.core.medline import parse, split_flattened
from syncd.core.records import MedlineRecord


def test_flattened_value_before_an_unknown_tag_does_not_raise() -> None:
    # A short record (so the lost-line-break recovery is tried) whose value holds candidate
    # tags and is followed by a line with a tag outside the PubMed list ("XX-"): the recovery
    # looked that tag up in the field order and raised KeyError.
    text = (
        "PMID- 30000075\n"
        "OWN - NLM STAT- MEDLINE DCOM- 20190121 LR  - 20210524\n"
        "XX-\n"
        "TI  - A title\n"
    )
    got = list(parse([text], "t.nbib"))
    records = [r for r in got if isinstance(r, MedlineRecord)]
    assert len(records) == 1
    assert records[0].get("PMID") == "30000075"
    assert records[0].get("TI") == "A title"


def test_split_flattened_with_an_unknown_next_tag() -> None:
    fields = split_flattened("OWN", "NLM STAT- MEDLINE DCOM- 20190121 LR  - 20210524", "XX")
    assert fields == [
        ("OWN", "NLM"),
        ("STAT", "MEDLINE"),
        ("DCOM", "20190121"),
        ("LR", "20210524"),
    ]
