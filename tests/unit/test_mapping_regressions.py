"""Mapping inputs that once gave an item the Web API would refuse."""

from __future__ import annotations

import pytest

from syncd.core.mapping import MappingOptions, Profile, to_zotero_item
from syncd.core.records import Field, MedlineRecord


@pytest.mark.parametrize("profile", ["enhanced", "zotero"])
def test_a_blank_value_gives_no_field(profile: Profile) -> None:
    # Found by hypothesis: a hand-made record with "PG" = " " gave "pages": " " (the reader
    # strips values, so only records built by hand have such values).
    record = MedlineRecord([Field("PMID", "1", 1), Field("PG", " ", 2), Field("VI", " 12 ", 3)])
    item = to_zotero_item(record, MappingOptions(profile=profile))
    assert "pages" not in item
    assert item["volume"] == "12"
