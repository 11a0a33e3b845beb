"""MEDLINE records → Zotero item JSON, as the Zotero Web API accepts it.

Public API:

* :class:`MappingOptions` (with :class:`MeshPolicy`): which profile, and the enhanced knobs.
* :func:`map_record` ``(record, options) -> (item, problems)``: the item dict plus the
  :class:`~syncd.core.records.Problem` values worth telling the user (``file:line: message``).
* :func:`to_zotero_item` ``(record, options) -> item``: the same without the problems.

Two profiles:

``zotero``
    Reproduces Zotero's own MEDLINE/nbib importer (the ``MEDLINEnbib.js`` translator) field
    for field, including its quirks (DOI only from AID, ``PMID: n \\nPMCID: ...`` in Extra, MeSH
    tags verbatim, the page-range bug). The Web API refuses fields that are not valid for the
    item type, so those are dropped against the current schema (41), as Zotero's translator
    tester drops them against its schema (the desktop client would move them into Extra).

``enhanced`` (default)
    Fixes what users complain about; every difference is listed in ``docs/mapping.md``. Only
    fields of schema 33 are written unless ``native_ids`` says the target library runs a newer
    schema, so that every desktop client can sync the items.

The item dict has ``itemType``, the fields, ``creators``, ``tags``, ``collections: []`` and
``relations: {}``; no ``key``/``version`` (the import engine adds them).

Speed matters (10,000 records per export): each record is read in one pass over its fields,
tables and patterns are built once at import time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final, Literal

from syncd.core.cleaning import (
    clean_author,
    clean_isbn,
    clean_issn,
    collapse,
    expand_pages,
    expand_pages_zotero,
    has_odd_spaces,
    name_suffix,
)
from syncd.core.identity import doi_of, normalize_pmcid, normalize_pmid
from syncd.core.languages import to_iso639_1
from syncd.core.records import MedlineRecord, Problem
from syncd.core.schema import BASE_FIELDS, valid_creator_types, valid_fields

__all__ = [
    "MappingOptions",
    "MeshPolicy",
    "Profile",
    "clean_title",
    "map_record",
    "mesh_tags",
    "to_zotero_item",
]

Profile = Literal["zotero", "enhanced"]


class MeshPolicy(enum.StrEnum):
    """How MeSH headings (``MH - Aurovertins/*chemistry/*metabolism``) become tags."""

    VERBATIM = "verbatim"  # the heading as written, as Zotero does
    DESCRIPTOR = "descriptor"  # "Aurovertins"
    QUALIFIED = "qualified"  # "Aurovertins", "Aurovertins/chemistry", "Aurovertins/metabolism"
    MAJOR = "major"  # descriptor of major topics (a "*" anywhere) only
    NONE = "none"


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """How to map records. Only ``extra_tags`` and ``native_ids`` apply to the ``zotero``
    profile; the other knobs shape the ``enhanced`` one."""

    profile: Profile = "enhanced"
    # Descriptors only: what Zotero's PubMed web translator writes, and a tag list people can
    # browse (verbatim headings give one tag per descriptor/qualifier combination).
    mesh: MeshPolicy = MeshPolicy.DESCRIPTOR
    keywords: bool = True  # author keywords (OT, KW) as tags
    extra_tags: tuple[str, ...] = ()  # manual (type 0) tags from the configuration
    automatic_tags: bool = True  # tags taken from the record are automatic (type 1)
    # The target library's schema has PMID/PMCID on journalArticle and DOI/ISSN on every type
    # (schema >= 34, Zotero 8): write those fields instead of Extra lines. Off by default
    # because Zotero 7 clients cannot sync items that carry them.
    native_ids: bool = False

    def __post_init__(self) -> None:
        # Options often come from a config file: accept "descriptor" for MeshPolicy.DESCRIPTOR
        # and a list of tags, and refuse what cannot be meant.
        if self.profile not in ("zotero", "enhanced"):
            raise ValueError(f"unknown mapping profile {self.profile!r} (zotero or enhanced)")
        if not isinstance(self.mesh, MeshPolicy):
            try:
                object.__setattr__(self, "mesh", MeshPolicy(self.mesh))
            except ValueError:
                choices = ", ".join(p.value for p in MeshPolicy)
                raise ValueError(f"unknown MeSH policy {self.mesh!r} ({choices})") from None
        if not isinstance(self.extra_tags, tuple):
            object.__setattr__(self, "extra_tags", tuple(self.extra_tags))


DEFAULT_OPTIONS: Final = MappingOptions()

# The Web API's limits (the server refuses more): field values of 65,535 UTF-8 bytes, creator
# names and tags of 255 characters.
_MAX_FIELD_BYTES: Final = 65535
_MAX_NAME: Final = 255
# Fields that can be long enough to matter (any field over 16,383 characters is checked).
_LONG_FIELDS: Final = ("abstractNote", "title", "rights", "extra", "publicationTitle", "bookTitle")

PUBMED_URL: Final = "https://pubmed.ncbi.nlm.nih.gov/{}/"


def map_record(
    record: MedlineRecord, options: MappingOptions = DEFAULT_OPTIONS
) -> tuple[dict[str, Any], list[Problem]]:
    """The Zotero item for ``record`` and the problems found while mapping it.

    Problems are warnings (the item is still usable), e.g. a record without a title, a
    retracted article, an ISSN with a wrong check digit, a value cut to the API's limits.
    """
    problems: list[Problem] = []
    if options.profile == "zotero":
        item = _map_zotero(record, options, problems)
    else:
        item = _map_enhanced(record, options, problems)
    _fit_limits(item, record, problems)
    if not item.get("title") and not item.get(_TITLE_FIELD.get(item["itemType"], "title")):
        problems.append(_warn(record, "TI", "record has no title"))
    return item, problems


def to_zotero_item(
    record: MedlineRecord, options: MappingOptions = DEFAULT_OPTIONS
) -> dict[str, Any]:
    """The Zotero item JSON for ``record`` (see :func:`map_record` for the problems)."""
    return map_record(record, options)[0]


def _warn(record: MedlineRecord, tag: str, message: str) -> Problem:
    where = f"PMID {pmid}: " if (pmid := normalize_pmid(record.get("PMID"))) else ""
    return Problem(record.source, record.line_of(tag), where + message, "warning")


# Types whose title lives in a renamed base field.
_TITLE_FIELD: Final = {"case": "caseName", "statute": "nameOfAct"}


# --------------------------------------------------------------------------------------------
# The zotero profile: Zotero's MEDLINE/nbib importer (its MEDLINEnbib.js translator)
# --------------------------------------------------------------------------------------------

# MEDLINE tag → item field, assigned as found (so the last occurrence wins, as in Zotero).
_ZOTERO_FIELDS: Final = {
    "TI": "title",
    "VI": "volume",
    "IP": "issue",
    "PL": "place",
    "PB": "publisher",
    "BTI": "bookTitle",
    "JT": "publicationTitle",
    "TA": "journalAbbreviation",
    "PG": "pages",
    "CI": "rights",
    "ISBN": "ISBN",
    "ISSN": "ISSN",
    "LA": "language",
    "EN": "edition",
    "AB": "abstractNote",
    "DP": "date",
}

# Publication types Zotero maps; each one found overwrites the previous (the last one wins).
_ZOTERO_TYPES: Final = {
    "Book": "book",
    "Books": "book",
    "Book Chapter": "bookSection",
    "Case Reports": "journalArticle",
    "Case Report": "journalArticle",
    "Journal Article": "journalArticle",
    "Newspaper Article": "newspaperArticle",
    "Video-Audio Media": "videoRecording",
    "Technical Report": "report",
    "Legal Case": "case",
    "Preprint": "preprint",
    "Legislation": "statute",
}

_ERIC_NUMBER: Final = re.compile(r"E[JD]\d+", re.ASCII)
_DOI_SUFFIX: Final = re.compile(r"\s*\[doi\]")
_PII_SUFFIX: Final = re.compile(r"\s*\[pii\]")
_AU_INITIALS: Final = re.compile(r"\s([A-Z]+)$")
_UNIVERSITY: Final = re.compile(r",\s*([^,]+ University)")
_E_ISSN_PREFIX: Final = re.compile(r"E?ISSN-")


def _map_zotero(
    record: MedlineRecord, options: MappingOptions, problems: list[Problem]
) -> dict[str, Any]:
    raw: dict[str, str] = {}
    creators: list[dict[str, str]] = []
    backup: list[dict[str, str]] = []
    tags: list[str] = []
    item_type = type_backup = pages_backup = citation = None
    for f in _pairs(record):
        tag, value = f[0], f[1]
        field = _ZOTERO_FIELDS.get(tag)
        if field is not None:
            raw[field] = value
        elif tag == "MH" or tag == "OT" or tag == "KW":
            tags.append(value)
        elif tag == "FAU" or tag == "FED":
            name = clean_author(value, "," in value)
            creators.append(_two_field(name[0], name[1], _ROLE[tag]))
        elif tag == "AU" or tag == "ED":
            value = _AU_INITIALS.sub(r", \1", value, count=1)
            name = clean_author(value, "," in value)
            backup.append(_two_field(name[0], name[1], _ROLE[tag]))
        elif tag == "PT":
            if value in _ZOTERO_TYPES:
                item_type = _ZOTERO_TYPES[value]
            elif "Dissertation" in value:
                item_type = "thesis"
            elif "Report" in value:
                type_backup = "report"
        elif tag == "IS":
            if issn := clean_issn(value):
                raw["ISSN"] = f"{raw['ISSN']} {issn}" if raw.get("ISSN") else issn
            elif isbn := clean_isbn(value):
                raw["ISBN"] = f"{raw['ISBN']} {isbn}" if raw.get("ISBN") else isbn
        elif tag == "AID":
            if "[doi]" in value:
                raw["DOI"] = _DOI_SUFFIX.sub("", value, count=1)
        elif tag == "LID":
            if "[pii]" in value and not value.startswith("http"):
                pages_backup = _PII_SUFFIX.sub("", value, count=1)
        elif tag == "PMID":
            raw["extra"] = "PMID: " + value
        elif tag == "PMC":
            # Zotero appends " \nPMCID: ..." (with that space); it writes "undefined" first
            # when there was no PMID line, which syncd does not copy.
            pmc_line = f"PMCID: {value}"
            raw["extra"] = f"{raw['extra']} \n{pmc_line}" if "extra" in raw else pmc_line
        elif tag == "OID":
            if _ERIC_NUMBER.search(value):
                raw["extra"] = "ERIC Number: " + value
        elif tag == "SO":
            citation = value

    if not creators:
        creators = backup
    if raw.get("pages"):
        raw["pages"] = expand_pages_zotero(raw["pages"])
    elif pages_backup:
        raw["pages"] = pages_backup
    issn = raw.get("ISSN")
    if issn and " " in issn:
        raw["ISSN"] = " ".join(dict.fromkeys(issn.split()))
    elif issn:
        raw["ISSN"] = clean_issn(_E_ISSN_PREFIX.sub("", issn, count=1)) or ""
    if raw.get("ISBN"):
        raw["ISBN"] = clean_isbn(raw["ISBN"].replace("ISBN-", "", 1)) or ""
    if item_type == "book":
        raw["publisher"] = raw.pop("publicationTitle", "")
    elif item_type == "thesis":
        if citation and (m := _UNIVERSITY.search(citation)):
            raw["university"] = m.group(1)
        raw["archive"] = raw.pop("publicationTitle", "")
    elif item_type is None:
        if type_backup and "ERIC Number: EJ" not in raw.get("extra", ""):
            item_type = type_backup
            raw["institution"] = raw.pop("publicationTitle", "")
        else:
            item_type = "journalArticle"
    if item_type == "book":
        raw["title"] = raw.get("bookTitle", "")
    # Zotero's item.complete(): strings trimmed, empty values dropped, nameless creators
    # dropped, "title: a novel" shortened for books.
    if item_type in ("book", "bookSection") and raw.get("title", "").endswith(": a novel"):
        raw["title"] = raw["title"][: -len(": a novel")]
    schema_fields = valid_fields(item_type, 41)
    fields = _rename_base_fields(item_type, raw)
    if options.native_ids and "PMID" in schema_fields:
        _extra_ids_to_fields(fields)
    item: dict[str, Any] = {"itemType": item_type}
    for key, value in fields.items():
        value = value.strip()
        if value and key in schema_fields:
            item[key] = value
    allowed = valid_creator_types(item_type, 41)
    item["creators"] = [_fit_creator_type(c, allowed) for c in creators if _has_name(c)]
    # Zotero's translator emits MH "Japan" and OT "Japan" both; its client then stores the
    # tag once (a repeat is ignored), and the Web API must not get the same tag twice.
    names = dict.fromkeys(t for t in tags if t)
    names.update(dict.fromkeys(t for t in options.extra_tags if t.strip()))
    if names and max(map(len, names)) > _MAX_NAME:
        _drop_long_tags(names, record, problems)
    item["tags"] = [{"tag": t} for t in names]
    item["collections"] = []
    item["relations"] = {}
    return item


_ROLE: Final = {"FAU": "author", "AU": "author", "FED": "editor", "ED": "editor"}


def _two_field(first: str, last: str, role: str) -> dict[str, str]:
    return {"firstName": first, "lastName": last, "creatorType": role}


def _has_name(creator: dict[str, str]) -> bool:
    return bool(creator.get("firstName") or creator.get("lastName") or creator.get("name"))


def _fit_creator_type(creator: dict[str, str], allowed: frozenset[str]) -> dict[str, str]:
    """The API refuses creator types the item type lacks (e.g. an editor of a thesis);
    ``author`` is always accepted, anything else becomes a contributor."""
    role = creator["creatorType"]
    if role != "author" and role not in allowed:
        creator = {**creator, "creatorType": "contributor"}
    if "firstName" in creator and not creator["lastName"]:
        # "'lastName' creator field must be set if 'firstName' is set": one-field name.
        creator = {"name": creator["firstName"], "creatorType": creator["creatorType"]}
    return creator


def _rename_base_fields(item_type: str, raw: dict[str, str]) -> dict[str, str]:
    """Base field names (``publicationTitle``) as the type's own (``bookTitle``); a value set
    under the type's own name wins."""
    renames = BASE_FIELDS.get(item_type)
    if not renames:
        return raw
    out = dict(raw)
    for base, own in renames.items():
        if base in out:
            value = out.pop(base)
            if not out.get(own):
                out[own] = value
    return out


_EXTRA_ID_LINE: Final = re.compile(r"^(PMID|PMCID):\s*(.*?)\s*$", re.MULTILINE)


def _extra_ids_to_fields(fields: dict[str, str]) -> None:
    """``PMID: n`` / ``PMCID: ...`` Extra lines into the native fields, as Zotero 8 does."""
    extra = fields.get("extra", "")
    for m in _EXTRA_ID_LINE.finditer(extra):
        fields[m.group(1)] = m.group(2)
    fields["extra"] = _EXTRA_ID_LINE.sub("", extra).strip()


# --------------------------------------------------------------------------------------------
# The enhanced profile
# --------------------------------------------------------------------------------------------

# What the single pass over a record's fields keeps: 0 = the first value of a scalar tag,
# 1 = every value of a repeatable tag, 2 = every field (with its line) of a name tag.
_KIND: Final = {
    **dict.fromkeys(
        ("PMID", "TI", "BTI", "TT", "JT", "TA", "DP", "DEP", "VI", "IP", "PG", "AB", "CI", "PL",
         "PB", "EN", "SO", "PMC", "OWN", "LA"),
        0,
    ),
    **dict.fromkeys(("MH", "OT", "KW", "AID", "LID", "IS", "ISSN", "ISBN", "PT", "OID"), 1),
    **dict.fromkeys(("FAU", "AU", "CN", "FED", "ED"), 2),
}  # fmt: skip
_NO_VALUES: Final[tuple[str, ...]] = ()


def _pairs(record: MedlineRecord) -> Iterable[tuple[str, str]]:
    """The record's fields as ``(tag, value)``. The reader's records offer ``pairs()``, which
    does not build a :class:`Field` (with its line) for each field: a large share of the time
    with 10,000 records of 60 fields."""
    pairs = getattr(record, "pairs", None)
    if pairs is not None:
        return pairs()  # type: ignore[no-any-return]
    return ((f[0], f[1]) for f in record.fields)


# Publication types, strongest first: a record typed "Journal Article" and "Preprint" is a
# preprint whatever the order of its PT lines.
_ENHANCED_TYPES: Final = (
    ("Book Chapter", "bookSection"),
    ("Book", "book"),
    ("Books", "book"),
    ("Preprint", "preprint"),
    ("Technical Report", "report"),
)
_NOTICE_TYPES: Final = {
    "Retracted Publication": "this article has been retracted",
    "Retraction of Publication": "this record is a retraction notice, not an article",
    "Published Erratum": "this record is an erratum notice, not an article",
    "Expression of Concern": "this record is an expression of concern, not an article",
}

# Last words of a title whose final period belongs to them, not to the sentence.
_ABBREVIATIONS: Final = frozenset(
    [
        "al",
        "spp",
        "sp",
        "ssp",
        "var",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "jr",
        "sr",
        "st",
        "vol",
        "nos",
        "eds",
        "fig",
        "figs",
        "approx",
    ]
)
_INITIALISM: Final = re.compile(r"(?:\w\.)+\w$")  # U.S, e.g, i.e (the final "." is cut)
_NOT_AVAILABLE: Final = "[Not Available]."
_ARTICLE_NUMBER: Final = re.compile(r"^[A-Za-z]?\d{1,9}$")
_DEP: Final = re.compile(r"^(\d{4})(\d\d)(\d\d)$", re.ASCII)
_AU_TAIL: Final = re.compile(r"^(.+) (\S{1,4})$")


def clean_title(title: str) -> str:
    """A MEDLINE title without the period NLM adds at its end.

    Whitespace runs collapse to one space. The period stays when it belongs to the last word
    (``et al.``, ``spp.``, ``U.S.``); ``...`` stays. A translated title keeps its brackets
    (NLM's sign that the article is not in English, which Vancouver-style references print)
    and loses only the period after them: ``[Effect of X on Y].`` → ``[Effect of X on Y]``.
    """
    text = collapse(title)
    if not text.endswith(".") or text.endswith(".."):
        return text
    body = text[:-1].rstrip()
    last = body.rsplit(" ", 1)[-1]
    if last.lower() in _ABBREVIATIONS or _INITIALISM.search(last):
        return text
    return body


def mesh_tags(heading: str, policy: MeshPolicy) -> list[str]:
    """The tags one MeSH heading becomes under ``policy`` (``*`` marks a major topic)."""
    heading = collapse(heading)
    if policy is MeshPolicy.VERBATIM:
        return [heading]
    if policy is MeshPolicy.NONE:
        return []
    descriptor, *qualifiers = heading.split("/")
    major = "*" in heading
    descriptor = descriptor.lstrip("*").strip()
    if not descriptor:
        return []
    if policy is MeshPolicy.DESCRIPTOR:
        return [descriptor]
    if policy is MeshPolicy.MAJOR:
        return [descriptor] if major else []
    return [descriptor] + [f"{descriptor}/{q.lstrip('*').strip()}" for q in qualifiers]


def _person(value: str, role: str) -> dict[str, str] | None:
    """A FAU/FED name (``Last, First``) as a creator; a name without a comma is one field."""
    if "," not in value:
        name = collapse(value)
        return {"creatorType": role, "name": name} if name else None
    first, last = clean_author(value, True, unicode_initials=True)
    if not last:
        return {"creatorType": role, "name": first} if first else None
    if value.count(",") > 1 and (suffix := name_suffix(value)):
        # citeproc reads a suffix after a comma in the given name ("John, Jr").
        first = f"{first}, {suffix}" if first else suffix
    return {"creatorType": role, "firstName": first, "lastName": last}


def _initials_with_periods(first: str) -> str:
    tokens = first.split(" ")
    for i, token in enumerate(tokens):
        if len(token) == 1 and token.isupper():
            tokens[i] = token + "."
    return " ".join(tokens)


def _is_et_al(value: str) -> bool:
    return value.strip().rstrip(".").lower() == "et al"


def _person_from_short(value: str, role: str) -> dict[str, str] | None:
    """An AU/ED name (NLM form ``Smith JA``) as a creator. Collective names that slipped
    into AU (``Collective Writers Group``: the last word is not initials) stay one field."""
    if "," in value:
        return _person(value, role)
    m = _AU_TAIL.match(collapse(value))
    if m and m.group(2).isalpha() and m.group(2).isupper():
        return _person(f"{m.group(1)}, {m.group(2)}", role)
    name = collapse(value)
    return {"creatorType": role, "name": name} if name else None


def _map_enhanced(
    record: MedlineRecord, options: MappingOptions, problems: list[Problem]
) -> dict[str, Any]:
    # One pass over the fields; everything below reads these three (C-level lookups only:
    # this function runs 10,000 times per export).
    one: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    kind_of = _KIND.get
    first = one.setdefault
    for tag, value in _pairs(record):
        kind = kind_of(tag)
        if kind is None:
            continue
        if kind == 0:
            first(tag, value)
        elif kind == 1:
            if tag in lists:
                lists[tag].append(value)
            else:
                lists[tag] = [value]
        elif tag in names:
            names[tag].append(value)
        else:
            names[tag] = [value]
    get = one.get

    # -- item type
    pts = lists.get("PT", _NO_VALUES)
    is_eric = get("OWN") == "ERIC"
    eric_number = None
    if "OID" in lists:
        eric_number = next((o for o in lists["OID"] if _ERIC_NUMBER.search(o)), None)
    item_type = "journalArticle"
    if pts and pts != ["Journal Article"]:
        item_type = _enhanced_type(pts, is_eric, eric_number)
        for pt in pts:
            if pt in _NOTICE_TYPES:
                problems.append(_warn(record, "PT", _NOTICE_TYPES[pt]))
    schema: Literal[33, 41] = 41 if options.native_ids else 33
    allowed = valid_fields(item_type, schema)

    f_: dict[str, str] = {}  # fields, by their generic names; filtered by schema below
    extra: list[str] = []

    # -- titles
    ti, bti, tt = get("TI"), get("BTI"), get("TT")
    if tt and ti == _NOT_AVAILABLE:
        ti = tt
    title = (bti or ti) if item_type == "book" else (ti or bti)
    if title:
        f_["title"] = clean_title(title)
        if tt and title.startswith("["):
            extra.append(f"Original Title: {clean_title(tt)}")
    if bti and item_type == "bookSection":
        f_["bookTitle"] = bti

    # -- container, publisher
    jt, ta = get("JT"), get("TA")
    if item_type == "journalArticle":
        if jt:
            f_["publicationTitle"] = jt
        if ta:
            f_["journalAbbreviation"] = ta
    else:
        _container(item_type, jt, ta, get("PB"), get("SO"), f_)
        if pl := get("PL"):
            # Not for journals: there PL is the journal's country, not a place to cite.
            f_["place"] = pl

    # -- where in the container
    if v := get("VI"):
        f_["volume"] = v
    if v := get("IP"):
        f_["issue"] = v
    if v := get("EN"):
        f_["edition"] = v
    if pg := get("PG"):
        f_["pages"] = expand_pages(pg) if "-" in pg else pg
    elif "LID" in lists:
        # Without PG, an e-only article's number is in LID "... [pii]" (e.g. "e0123456");
        # a publisher PII such as "S1080-6032(22)00139-9" is not a page and is left out.
        for lid in lists["LID"]:
            if lid.endswith("[pii]") and _ARTICLE_NUMBER.match(pii := lid[:-5].strip()):
                f_["pages"] = pii
                break

    # -- date
    if dp := get("DP"):
        f_["date"] = dp
    elif (dep := get("DEP")) and (m := _DEP.match(dep)):
        f_["date"] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"

    # -- identifiers
    doi = None
    for tag in ("AID", "LID"):
        for v in lists.get(tag, _NO_VALUES):
            if "doi" in v and (doi := doi_of(v)):
                break
        if doi:
            break
    if "IS" in lists or "ISSN" in lists or "ISBN" in lists:
        _issns_isbns(record, lists, f_, problems)
    pmid = normalize_pmid(get("PMID"))
    pmcid = normalize_pmcid(get("PMC"))
    if pmcid is None and "OID" in lists:
        pmcid = next((normalize_pmcid(o) for o in lists["OID"] if "PMC" in o.upper()), None)

    # -- language, texts, links
    if la := get("LA"):
        f_["language"] = to_iso639_1(la)
    if ab := get("AB"):
        f_["abstractNote"] = ab
    if ci := get("CI"):
        f_["rights"] = ci
    if is_eric:
        f_["libraryCatalog"] = "ERIC"
        for lid in lists.get("LID", _NO_VALUES):
            if lid.startswith("http"):
                f_["url"] = lid
                break
    elif pmid:
        f_["url"] = PUBMED_URL.format(pmid)
        f_["libraryCatalog"] = "PubMed"

    # -- identifiers in fields where the target schema has them, else lines in Extra
    ids: list[str] = []
    for field_name, ident in (("PMID", pmid), ("PMCID", pmcid), ("DOI", doi)):
        if ident:
            if field_name in allowed:
                f_[field_name] = ident
            else:
                ids.append(f"{field_name}: {ident}")
    if eric_number:
        ids.append(f"ERIC Number: {eric_number}")

    # -- the item: only fields the type has, each one line of text with single spaces
    item: dict[str, Any] = {"itemType": item_type}
    renames = BASE_FIELDS.get(item_type)
    # One look at all the values together usually shows there is nothing to collapse.
    clean = not has_odd_spaces("\x00".join(f_.values()))
    for key, value in f_.items():
        if renames:
            key = renames.get(key, key)
        if key in allowed:
            # (clean values may still have a space at an end: a hand-made record's "PG -  ")
            value = value.strip(" ") if clean else collapse(value)
            if value:
                item[key] = value
    if ids or extra:
        item["extra"] = "\n".join([collapse(line) for line in ids + extra])

    # -- creators
    if names:
        item["creators"] = _creators(record, names, valid_creator_types(item_type, schema))
    else:
        item["creators"] = []

    # -- tags: from the record automatic (type 1) unless told otherwise, config tags manual
    auto = 1 if options.automatic_tags else 0
    found: dict[str, int] = {}
    mesh = options.mesh
    if "MH" in lists and mesh is not MeshPolicy.NONE:
        if mesh is MeshPolicy.DESCRIPTOR:  # the default, kept cheap
            for heading in lists["MH"]:
                found.setdefault(heading.partition("/")[0].lstrip("*"), auto)
        else:
            for heading in lists["MH"]:
                for t in mesh_tags(heading, mesh):
                    found.setdefault(t, auto)
    if options.keywords:
        for tag in ("OT", "KW"):
            for kw in lists.get(tag, _NO_VALUES):
                found.setdefault(kw, auto)
    if found and has_odd_spaces("\x00".join(found)):
        found = {collapse(t): kind for t, kind in found.items()}
    for t in options.extra_tags:
        found[collapse(t)] = 0
    found.pop("", None)
    if found and max(map(len, found)) > _MAX_NAME:
        _drop_long_tags(found, record, problems)
    item["tags"] = [{"tag": t, "type": kind} for t, kind in found.items()]
    item["collections"] = []
    item["relations"] = {}
    return item


def _enhanced_type(pts: Sequence[str], is_eric: bool, eric_number: str | None) -> str:
    """The item type the strongest publication type calls for (order of PT lines aside)."""
    for pt, mapped in _ENHANCED_TYPES:
        if pt in pts:
            return mapped
    if any("Dissertation" in pt for pt in pts):
        return "thesis"
    if is_eric and any("Report" in pt for pt in pts) and not (eric_number or "").startswith("EJ"):
        return "report"  # ERIC: an ED number with a "Reports - ..." type
    return "journalArticle"


def _container(
    item_type: str,
    jt: str | None,
    ta: str | None,
    pb: str | None,
    so: str | None,
    f_: dict[str, str],
) -> None:
    """Where a non-journal item was published (generic field names)."""
    if item_type == "preprint":
        if ta or jt:
            f_["publisher"] = ta or jt or ""  # the repository: "bioRxiv"
    elif item_type == "thesis":
        if so and (m := _UNIVERSITY.search(so)):
            f_["publisher"] = m.group(1)  # the university
        if jt:
            f_["archive"] = jt  # ERIC: "ProQuest LLC"
    elif pb or jt:
        f_["publisher"] = pb or jt or ""  # books, reports: ERIC puts the publisher in JT


def _issns_isbns(
    record: MedlineRecord, lists: dict[str, list[str]], f_: dict[str, str], problems: list[Problem]
) -> None:
    """Every valid ISSN once, in order (Zotero's rule); ISBNs from ISBN and IS lines."""
    issns: list[str] = []
    isbn_values = list(lists.get("ISBN", _NO_VALUES))
    for v in lists.get("IS", []) + lists.get("ISSN", []):
        if issn := clean_issn(_E_ISSN_PREFIX.sub("", v, count=1) if "ISSN-" in v else v):
            if issn not in issns:
                issns.append(issn)
        elif isbn := clean_isbn(v):
            isbn_values.append(isbn)
        elif v.strip() not in ("", "EISSN-", "ISSN-"):
            problems.append(_warn(record, "IS", f"IS {v!r} is not a valid ISSN; left out"))
    if issns:
        f_["ISSN"] = " ".join(issns)
    isbns = [i for v in isbn_values if (i := clean_isbn(v.replace("ISBN-", "", 1)))]
    if isbns:
        f_["ISBN"] = " ".join(dict.fromkeys(isbns))


def _creators(
    record: MedlineRecord, names: dict[str, list[str]], roles: frozenset[str]
) -> list[dict[str, str]]:
    """Authors (FAU, or AU when there is no FAU; CN collective names in place), then editors
    (FED, or ED), each as the API wants it."""
    creators: list[dict[str, str]] = []
    creator: dict[str, str] | None
    for full, short, role in (("FAU", "AU", "author"), ("FED", "ED", "editor")):
        if role == "author" and "CN" in names:
            # Collective names sit among the authors: take them in file order (rare case).
            use = full if full in names else short
            ordered = [(f[0], f[1]) for f in _pairs(record) if f[0] == use or f[0] == "CN"]
        elif full in names:
            for value in names[full]:
                if (creator := _full_name(value, role)) is not None:
                    creators.append(creator if role in roles else _fit_creator_type(creator, roles))
            continue
        else:
            ordered = [(short, v) for v in names.get(short, ())]
        for tag, value in ordered:
            if tag == full:
                creator = _full_name(value, role)
            elif tag == "CN":
                name = collapse(value)
                creator = {"creatorType": role, "name": name} if name else None
            elif _is_et_al(value):
                continue
            else:
                creator = _person_from_short(value, role)
            if creator is not None:
                creators.append(creator if role in roles else _fit_creator_type(creator, roles))
    return creators


def _full_name(value: str, role: str) -> dict[str, str] | None:
    """A FAU/FED name as a creator. The usual shape, "Kim, Jeongseop" or "Walker, J E" (one
    ", ", given names of letters and single spaces), is done here without the general path's
    regular expressions, with the same result (a test checks it)."""
    last, sep, first = value.partition(", ")
    letters = first.replace(" ", "")
    if (
        sep
        and letters.isalpha()
        and "." not in last
        and "," not in last
        and "  " not in value
        and last[:1].isalpha()
        and value.isprintable()
    ):
        if " " not in first:
            if len(first) < 4 and first.isupper() and (len(first) == 1 or last.upper() != last):
                first = ". ".join(first) + "."  # "JA" -> "J. A."
        elif len(letters) * 2 - 1 == len(first) and letters.isupper():
            first = ". ".join(letters) + "."  # "J E" -> "J. E."
        else:
            first = _initials_with_periods(first)  # "Douglas L" -> "Douglas L."
        return {"creatorType": role, "firstName": first, "lastName": last}
    return _person(value, role)


def _fit_limits(item: dict[str, Any], record: MedlineRecord, problems: list[Problem]) -> None:
    """Cut what the Web API would refuse with 413: field values over 65,535 UTF-8 bytes,
    creator names over 255 characters (tags are checked where they are made). Rare (giant
    abstracts, consortium names), but one such record must not fail a whole upload."""
    for key in _LONG_FIELDS:
        value = item.get(key)
        if value is not None and len(value) > _MAX_FIELD_BYTES // 4:
            data = value.encode()
            if len(data) > _MAX_FIELD_BYTES:
                item[key] = data[: _MAX_FIELD_BYTES - 3].decode(errors="ignore") + "…"
                problems.append(_warn(record, "AB", f"{key} cut to the API's 65,535 bytes"))
    creators = item["creators"]
    if creators and max(map(len, chain.from_iterable(map(dict.values, creators)))) <= _MAX_NAME:
        creators = []  # the usual case: nothing to cut
    for creator in creators:
        for part in ("name", "firstName", "lastName"):
            if len(creator.get(part, "")) > _MAX_NAME:
                creator[part] = creator[part][: _MAX_NAME - 1] + "…"
                problems.append(_warn(record, "CN", "a creator name cut to 255 characters"))


def _drop_long_tags(tags: dict[str, Any], record: MedlineRecord, problems: list[Problem]) -> None:
    """Tags over 255 characters, which the API refuses (413), are left out with a warning."""
    long_tags = [t for t in tags if len(t) > _MAX_NAME]
    for t in long_tags:
        del tags[t]
    problems.append(_warn(record, "OT", f"{len(long_tags)} tag(s) over 255 characters left out"))
