"""The mapping's enhanced profile: every documented difference from Zotero, and validity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.identity import item_identifiers, record_identifiers
from syncd.core.mapping import (
    MappingOptions,
    MeshPolicy,
    _creators,
    _person,
    clean_title,
    map_record,
    mesh_tags,
    to_zotero_item,
)
from syncd.core.records import Field, MedlineRecord
from syncd.core.schema import valid_creator_types, valid_fields


def rec(*pairs: tuple[str, str], source: str = "in.nbib") -> MedlineRecord:
    """A record from (tag, value) pairs; field i sits on line i + 10."""
    return MedlineRecord(tuple(Field(t, v, i + 10) for i, (t, v) in enumerate(pairs)), source, 10)


ARTICLE = rec(
    ("PMID", "37424412"),
    ("IS", "1738-1088 (Print)"),
    ("IS", "2093-4327 (Electronic)"),
    ("IS", "1738-1088 (Linking)"),
    ("VI", "21"),
    ("IP", "3"),
    ("DP", "2023 Aug 31"),
    ("TI", "The Role of  Glutamate in the U.S."),
    ("PG", "416-27"),
    ("LID", "10.9758/cpn.22.1034 [doi]"),
    ("AB", "BACKGROUND: Text  with a double\tspace."),
    ("FAU", "Kim, Jeongseop"),
    ("AU", "Kim J"),
    ("CN", "Example Study Group"),
    ("FAU", "Cho, Seong-Jin"),
    ("AU", "Cho SJ"),
    ("LA", "eng"),
    ("PT", "Journal Article"),
    ("PT", "Review"),
    ("PL", "Korea (South)"),
    ("TA", "Clin Psychopharmacol Neurosci"),
    ("JT", "Clinical psychopharmacology and neuroscience"),
    ("MH", "Aurovertins/*chemistry/*metabolism"),
    ("MH", "Animals"),
    ("MH", "*Japan"),
    ("OT", "Japan"),
    ("OT", "ketamine"),
    ("PMC", "PMC10335903"),
)


def item_of(record: MedlineRecord, **options: Any) -> dict[str, Any]:
    return to_zotero_item(record, MappingOptions(**options))


def test_enhanced_article_fields() -> None:
    item = item_of(ARTICLE)
    assert item["itemType"] == "journalArticle"
    assert item["title"] == "The Role of Glutamate in the U.S."  # "U.S." keeps its period
    assert item["abstractNote"] == "BACKGROUND: Text with a double space."
    assert item["DOI"] == "10.9758/cpn.22.1034"  # from LID: there is no AID
    assert item["pages"] == "416-427"
    assert item["ISSN"] == "1738-1088 2093-4327"
    assert item["language"] == "en"
    assert item["url"] == "https://pubmed.ncbi.nlm.nih.gov/37424412/"
    assert item["libraryCatalog"] == "PubMed"
    assert item["extra"] == "PMID: 37424412\nPMCID: PMC10335903"
    assert "place" not in item  # a journal's country is no place of publication
    assert item["collections"] == [] and item["relations"] == {}
    assert "key" not in item and "version" not in item


def test_collective_author_is_a_single_field_creator_in_its_place() -> None:
    assert item_of(ARTICLE)["creators"] == [
        {"creatorType": "author", "firstName": "Jeongseop", "lastName": "Kim"},
        {"creatorType": "author", "name": "Example Study Group"},
        {"creatorType": "author", "firstName": "Seong-Jin", "lastName": "Cho"},
    ]


def test_zotero_profile_keeps_zotero_behaviour() -> None:
    item = item_of(ARTICLE, profile="zotero", mesh=MeshPolicy.NONE, keywords=False)
    assert item["title"] == "The Role of  Glutamate in the U.S."  # verbatim
    assert "DOI" not in item  # Zotero reads DOIs from AID only
    assert item["language"] == "eng"
    assert item["extra"] == "PMID: 37424412 \nPMCID: PMC10335903"
    assert item["place"] == "Korea (South)"  # valid for journalArticle in schema 41
    assert [c.get("name") for c in item["creators"]] == [None, None]  # CN dropped
    assert {"tag": "Aurovertins/*chemistry/*metabolism"} in item["tags"]  # mesh ignored
    assert {"tag": "ketamine"} in item["tags"]  # keywords=False ignored
    assert all(set(t) == {"tag"} for t in item["tags"])
    assert "url" not in item and "libraryCatalog" not in item


@pytest.mark.parametrize(
    ("title", "want"),
    [
        (
            "The structure of X complexed with aurovertin B.",
            "The structure of X complexed with aurovertin B",
        ),
        ("Is it safe?", "Is it safe?"),
        ("Results from Smith et al.", "Results from Smith et al."),
        ("Infections by Candida spp.", "Infections by Candida spp."),
        ("Health care in the U.S.", "Health care in the U.S."),
        ("[Effect of X on Y].", "[Effect of X on Y]"),
        ("Wait for it...", "Wait for it..."),
        ("Two  spaces\nand a break.", "Two spaces and a break"),
        ("No period", "No period"),
    ],
)
def test_clean_title(title: str, want: str) -> None:
    assert clean_title(title) == want


def test_translated_title_keeps_brackets_and_records_the_original() -> None:
    item = item_of(rec(("PMID", "1"), ("TI", "[Effect of X on Y]."), ("TT", "Effet de X sur Y.")))
    assert item["title"] == "[Effect of X on Y]"
    assert item["extra"] == "PMID: 1\nOriginal Title: Effet de X sur Y"


def test_not_available_title_falls_back_to_the_original_title() -> None:
    item = item_of(rec(("PMID", "1"), ("TI", "[Not Available]."), ("TT", "Titre original.")))
    assert item["title"] == "Titre original"


@pytest.mark.parametrize(
    ("policy", "want"),
    [
        (MeshPolicy.VERBATIM, ["Aurovertins/*chemistry/*metabolism"]),
        (MeshPolicy.DESCRIPTOR, ["Aurovertins"]),
        (MeshPolicy.QUALIFIED, ["Aurovertins", "Aurovertins/chemistry", "Aurovertins/metabolism"]),
        (MeshPolicy.MAJOR, ["Aurovertins"]),
        (MeshPolicy.NONE, []),
    ],
)
def test_mesh_policies(policy: MeshPolicy, want: list[str]) -> None:
    assert mesh_tags("Aurovertins/*chemistry/*metabolism", policy) == want


def test_mesh_major_keeps_only_starred_headings() -> None:
    assert mesh_tags("Animals", MeshPolicy.MAJOR) == []
    assert mesh_tags("*Protein Structure, Secondary", MeshPolicy.MAJOR) == [
        "Protein Structure, Secondary"
    ]
    assert mesh_tags(
        "High-Intensity Focused Ultrasound Ablation/adverse  effects", MeshPolicy.QUALIFIED
    ) == [
        "High-Intensity Focused Ultrasound Ablation",
        "High-Intensity Focused Ultrasound Ablation/adverse effects",
    ]


def test_tags_are_automatic_deduplicated_and_config_tags_manual() -> None:
    item = item_of(ARTICLE, extra_tags=("to-read", "ketamine"))
    assert item["tags"] == [
        {"tag": "Aurovertins", "type": 1},
        {"tag": "Animals", "type": 1},
        {"tag": "Japan", "type": 1},  # MeSH "*Japan" and keyword "Japan": one tag
        {"tag": "ketamine", "type": 0},  # also asked for by the config: manual wins
        {"tag": "to-read", "type": 0},
    ]


def test_tag_switches() -> None:
    item = item_of(ARTICLE, keywords=False, automatic_tags=False, mesh=MeshPolicy.MAJOR)
    assert item["tags"] == [{"tag": "Aurovertins", "type": 0}, {"tag": "Japan", "type": 0}]
    assert item_of(ARTICLE, keywords=False, mesh=MeshPolicy.NONE)["tags"] == []


def test_native_ids_write_fields_where_the_schema_has_them() -> None:
    item = item_of(ARTICLE, native_ids=True)
    assert item["PMID"] == "37424412" and item["PMCID"] == "PMC10335903"
    assert "extra" not in item
    book = rec(("PMID", "2"), ("BTI", "A Book"), ("PT", "Book"), ("AID", "10.1000/b [doi]"))
    assert item_of(book)["extra"] == "PMID: 2\nDOI: 10.1000/b"  # schema 33 books have no DOI
    native = item_of(book, native_ids=True)
    assert native["DOI"] == "10.1000/b" and native["extra"] == "PMID: 2"  # no PMID on books


def test_item_types_strongest_publication_type_wins() -> None:
    def type_of(*pts: str) -> str:
        return str(item_of(rec(("PMID", "1"), ("TI", "T."), *(("PT", p) for p in pts)))["itemType"])

    assert type_of("Preprint", "Journal Article") == "preprint"
    assert type_of("Journal Article", "Preprint") == "preprint"
    assert type_of("Review", "Book Chapter") == "bookSection"
    assert type_of("Dissertations/Theses - Doctoral Dissertations") == "thesis"
    assert type_of("Legal Case", "Journal Article") == "journalArticle"
    assert type_of() == "journalArticle"


def test_book_keeps_its_publisher_and_editors_come_after_authors() -> None:
    book = rec(
        ("PMID", "99999901"),
        ("PB", "National Center for Biotechnology Information (US)"),
        ("BTI", "Example Handbook"),
        ("EN", "2nd"),
        ("ISBN", "978-1-5985-7192-9"),
        ("FED", "Smith, Jane A"),
        ("FAU", "Doe, John"),
        ("PT", "Book"),
        ("PL", "Bethesda (MD)"),
    )
    item = item_of(book)
    assert item["itemType"] == "book" and item["title"] == "Example Handbook"
    assert item["publisher"] == "National Center for Biotechnology Information (US)"
    assert item["place"] == "Bethesda (MD)" and item["ISBN"] == "9781598571929"
    assert [c["creatorType"] for c in item["creators"]] == ["author", "editor"]


def test_short_author_names_are_used_when_full_names_are_missing() -> None:
    record = rec(
        ("PMID", "5"),
        ("TI", "Chapter."),
        ("FED", "Editor, Ed"),
        ("AU", "Smith JA"),
        ("AU", "Collective Writers Group"),
        ("AU", "et al."),
    )
    assert item_of(record)["creators"] == [
        {"creatorType": "author", "firstName": "J. A.", "lastName": "Smith"},
        {"creatorType": "author", "name": "Collective Writers Group"},
        {"creatorType": "editor", "firstName": "Ed", "lastName": "Editor"},
    ]


def test_names_suffix_and_unicode_initials() -> None:
    record = rec(("PMID", "5"), ("TI", "T."), ("FAU", "Smith, John, Jr"), ("FAU", "Dupont, É"))
    assert item_of(record)["creators"] == [
        {"creatorType": "author", "firstName": "John, Jr", "lastName": "Smith"},
        {"creatorType": "author", "firstName": "É.", "lastName": "Dupont"},
    ]


def test_pages_from_article_number_but_not_from_a_publisher_pii() -> None:
    e_only = rec(("PMID", "1"), ("TI", "T."), ("LID", "e0123456 [pii]"), ("LID", "10.1/x [doi]"))
    assert item_of(e_only)["pages"] == "e0123456"
    pii = rec(("PMID", "1"), ("TI", "T."), ("LID", "S1080-6032(22)00139-9 [pii]"))
    assert "pages" not in item_of(pii)
    assert (
        item_of(rec(("PMID", "1"), ("TI", "T."), ("PG", "12-4, 20-5")))["pages"] == "12-14, 20-25"
    )


def test_date_falls_back_to_the_electronic_publication_date() -> None:
    assert item_of(rec(("PMID", "1"), ("TI", "T."), ("DEP", "20211227")))["date"] == "2021-12-27"


def test_unknown_language_code_is_kept() -> None:
    assert item_of(rec(("PMID", "1"), ("TI", "T."), ("LA", "xyz")))["language"] == "xyz"
    assert item_of(rec(("PMID", "1"), ("TI", "T."), ("LA", "ger")))["language"] == "de"


def test_eric_record_gets_its_catalog_link_and_doi_from_a_doi_url() -> None:
    record = rec(
        ("OWN", "ERIC"),
        ("TI", "Test-Taker Perception"),
        ("AU", "Zhou, Yujia"),
        ("AID", "http://dx.doi.org/10.1186/s40468-019-0086-7"),
        ("OID", "EJ1245375"),
        ("LID", "http://eric.ed.gov/?id=EJ1245375"),
        ("ISSN", "EISSN-2229-0443"),
        ("LA", "English"),
        ("PT", "Journal Articles"),
        ("PT", "Reports - Research"),
    )
    item = item_of(record)
    assert item["itemType"] == "journalArticle"  # an EJ number is a journal article
    assert item["DOI"] == "10.1186/s40468-019-0086-7"
    assert item["url"] == "http://eric.ed.gov/?id=EJ1245375"
    assert item["libraryCatalog"] == "ERIC"
    assert item["extra"] == "ERIC Number: EJ1245375"
    assert item["ISSN"] == "2229-0443" and item["language"] == "en"


def test_problems_say_where() -> None:
    record = rec(
        ("PMID", "7"),
        ("TI", "Retracted: X."),
        ("IS", "1234-5678 (Print)"),
        ("PT", "Retracted Publication"),
    )
    _, problems = map_record(record)
    assert [str(p) for p in problems] == [
        "in.nbib:13: PMID 7: this article has been retracted",
        "in.nbib:12: PMID 7: IS '1234-5678 (Print)' is not a valid ISSN; left out",
    ]
    assert {p.severity for p in problems} == {"warning"}
    _, problems = map_record(rec(("PMID", "8"), ("AB", "Only an abstract.")))
    assert [p.message for p in problems] == ["PMID 8: record has no title"]


def test_values_over_the_api_limits_are_cut_with_a_warning() -> None:
    record = rec(
        ("PMID", "9"), ("TI", "T."), ("AB", "é" * 40000), ("OT", "k" * 300), ("CN", "G" * 300)
    )
    item, problems = map_record(record)
    assert len(item["abstractNote"].encode()) <= 65535
    assert item["tags"] == []
    assert len(item["creators"][0]["name"]) == 255
    assert len(problems) == 3


def assert_valid_for_api(item: dict[str, Any], schema: int) -> None:
    fields = set(item) - {"itemType", "creators", "tags", "collections", "relations"}
    assert fields <= valid_fields(item["itemType"], 41 if schema == 41 else 33)
    roles = valid_creator_types(item["itemType"], 41 if schema == 41 else 33) | {"author"}
    for c in item["creators"]:
        assert c["creatorType"] in roles
        assert ("name" in c) != ("firstName" in c and "lastName" in c)
        assert all(isinstance(v, str) and v for k, v in c.items() if k != "firstName")
    for t in item["tags"]:
        assert set(t) == {"tag", "type"} and t["type"] in (0, 1) and 0 < len(t["tag"]) <= 255
    names = [t["tag"] for t in item["tags"]]
    assert len(names) == len(set(names))
    for key in fields:
        # The API trims values with PHP's trim() (which also drops NUL bytes; a value of
        # only those would be ignored, not refused, so NUL is not checked here).
        value = item[key]
        assert isinstance(value, str) and value == value.strip(" \t\n\r\x0b") and value


TAGS = ["PMID", "TI", "BTI", "TT", "AB", "FAU", "AU", "CN", "FED", "ED", "PT", "LA", "IS", "ISSN",
        "ISBN", "AID", "LID", "PG", "DP", "DEP", "MH", "OT", "KW", "PMC", "JT", "TA", "PB", "PL",
        "EN", "SO", "OID", "OWN", "VI", "IP", "CI", "AD", "XX"]  # fmt: skip
PT_VALUES = ["Journal Article", "Book", "Book Chapter", "Preprint", "Technical Report",
             "Dissertation", "Reports - Research", "Retracted Publication", "Review"]  # fmt: skip
values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["10.1000/x [doi]", "e123 [pii]", "0027-8424 (Print)", "Smith, J A", "Ng K",
                     "http://doi.org/10.2000/y", "*A/*b/c", "ERIC", "ED123", "PMC42", "12-4"]),
)  # fmt: skip
fields = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(TAGS), values),
        st.tuples(st.just("PT"), st.sampled_from(PT_VALUES)),
    ),
    max_size=25,
)


@given(
    fields,
    st.booleans(),
    st.sampled_from(list(MeshPolicy)),
    st.sampled_from(["zotero", "enhanced"]),
)
def test_any_record_maps_to_an_item_the_api_accepts(
    pairs: list[tuple[str, str]], native: bool, mesh: MeshPolicy, profile: str
) -> None:
    options = MappingOptions(profile=profile, native_ids=native, mesh=mesh, extra_tags=("x",))  # type: ignore[arg-type]
    item, problems = map_record(rec(*pairs), options)
    if profile == "enhanced":
        assert_valid_for_api(item, 41 if native else 33)
    else:
        fields_ = set(item) - {"itemType", "creators", "tags", "collections", "relations"}
        assert fields_ <= valid_fields(item["itemType"], 41)
    assert all(p.source == "in.nbib" and p.line >= 10 for p in problems)


@given(fields, st.booleans())
def test_identifiers_survive_the_mapping(pairs: list[tuple[str, str]], native: bool) -> None:
    # The engine finds imported items again by the identifiers it reads from library items.
    record = rec(*pairs)
    want = record_identifiers(record)
    got = item_identifiers(to_zotero_item(record, MappingOptions(native_ids=native)))
    assert got.pmid == want.pmid
    assert got.pmcid == want.pmcid
    assert got.doi == want.doi


def test_defaults() -> None:
    options = MappingOptions()
    assert options.profile == "enhanced" and options.mesh is MeshPolicy.DESCRIPTOR
    assert options.keywords and options.automatic_tags and not options.native_ids
    assert map_record(ARTICLE)[0] == to_zotero_item(ARTICLE)


full_names = st.from_regex(
    r"[A-Za-zÉÖŁ' -]{1,12}, ?[A-Za-zÉéŁ. -]{0,10}(, Jr)?", fullmatch=True
) | st.text(st.sampled_from(list("AbÉ ,.-\t")), max_size=12)


@given(full_names)
def test_fast_full_name_path_agrees_with_the_general_one(value: str) -> None:
    fast = _creators({"FAU": [Field("FAU", value, 1)]}, frozenset({"author"}))
    general = _person(value, "author")
    assert fast == ([general] if general is not None else [])


article_records = st.builds(
    lambda title, date, authors, cn_first: rec(
        ("TI", title),
        ("DP", date),
        *([("CN", "Study Group")] if cn_first else []),
        *[(tag, name) for name in authors for tag in ("FAU", "AU")],
    ),
    st.from_regex(r"\[?[A-Z][a-zé]{2,8}( [a-z]{2,8}){0,4}\]?[.?]?", fullmatch=True),
    st.sampled_from(["2023 Aug 31", "1996", "2019 Jan-Feb", "2000 Spring"]),
    st.lists(st.from_regex(r"[A-Z][a-zü]{1,8}, [A-Z][a-z]{0,6}", fullmatch=True), max_size=3),
    st.booleans(),
)


@given(article_records)
def test_fingerprint_survives_the_mapping(record: MedlineRecord) -> None:
    # Records with neither PMID nor DOI are found again by title, year and first author.
    # (Not with the zotero profile when the record has a CN: Zotero drops collective names.)
    item = to_zotero_item(record)
    assert item_identifiers(item).fingerprint == record_identifiers(record).fingerprint


def test_options_from_config_values() -> None:
    options = MappingOptions(mesh="major", extra_tags=["a", "b"])  # type: ignore[arg-type]
    assert options.mesh is MeshPolicy.MAJOR and options.extra_tags == ("a", "b")
    with pytest.raises(ValueError, match="unknown MeSH policy 'all'"):
        MappingOptions(mesh="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mapping profile"):
        MappingOptions(profile="endnote")  # type: ignore[arg-type]
