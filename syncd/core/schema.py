"""Which fields and creator types each Zotero item type accepts, in two schema generations.

The Zotero Web API refuses an item that carries a field its type does not have (``400 'place'
is not a valid field for type 'journalArticle'``), so the mapping writes only fields listed
here. Two generations matter for syncd:

* **schema 33** (zotero-schema commit ``81b5f0c``; Zotero 7.0 clients, identical to v32 for
  these types): what every desktop client can store. Zotero's translator tests sanitise their
  items with this table too, so the conformance tests use it.
* **schema 41** (commit ``5eedf44``; the live server and Zotero 8): adds ``PMID``/``PMCID``,
  ``place``/``publisher`` to journalArticle, ``DOI``/``ISSN`` to every type, and more.

Only the item types MEDLINE records can become are listed (Zotero's MEDLINE importer knows ten;
syncd's enhanced profile produces six of them). Field lists are in schema order.

``BASE_FIELDS`` maps a generic (base) field name to the type's own name for it, e.g.
``publicationTitle`` → ``bookTitle`` for bookSection: translators may set the base name, but the
Web API wants the type's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

SchemaVersion = Literal[33, 41]


def _fields(names: str) -> frozenset[str]:
    return frozenset(names.split())


FIELDS_V33: Final[Mapping[str, frozenset[str]]] = {
    "journalArticle": _fields(
        "title abstractNote publicationTitle volume issue pages date series seriesTitle "
        "seriesText journalAbbreviation language DOI ISSN shortTitle url accessDate archive "
        "archiveLocation libraryCatalog callNumber rights extra"
    ),
    "book": _fields(
        "title abstractNote series seriesNumber volume numberOfVolumes edition place "
        "publisher date numPages language ISBN shortTitle url accessDate archive "
        "archiveLocation libraryCatalog callNumber rights extra"
    ),
    "bookSection": _fields(
        "title abstractNote bookTitle series seriesNumber volume numberOfVolumes edition "
        "place publisher date pages language ISBN shortTitle url accessDate archive "
        "archiveLocation libraryCatalog callNumber rights extra"
    ),
    "preprint": _fields(
        "title abstractNote genre repository archiveID place date series seriesNumber DOI "
        "citationKey url accessDate archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
    "report": _fields(
        "title abstractNote reportNumber reportType seriesTitle place institution date pages "
        "language shortTitle url accessDate archive archiveLocation libraryCatalog callNumber "
        "rights extra"
    ),
    "thesis": _fields(
        "title abstractNote thesisType university place date numPages language shortTitle url "
        "accessDate archive archiveLocation libraryCatalog callNumber rights extra"
    ),
    "newspaperArticle": _fields(
        "title abstractNote publicationTitle place edition date section pages language "
        "shortTitle ISSN url accessDate archive archiveLocation libraryCatalog callNumber "
        "rights extra"
    ),
    "videoRecording": _fields(
        "title abstractNote videoRecordingFormat seriesTitle volume numberOfVolumes place "
        "studio date runningTime language ISBN shortTitle url accessDate archive "
        "archiveLocation libraryCatalog callNumber rights extra"
    ),
    "case": _fields(
        "caseName abstractNote court dateDecided docketNumber reporter reporterVolume "
        "firstPage history language shortTitle url accessDate rights extra"
    ),
    "statute": _fields(
        "nameOfAct abstractNote code codeNumber publicLawNumber dateEnacted pages section "
        "session history language shortTitle url accessDate rights extra"
    ),
}

FIELDS_V41: Final[Mapping[str, frozenset[str]]] = {
    "journalArticle": _fields(
        "title abstractNote publicationTitle publisher place date volume issue section "
        "partNumber partTitle pages series seriesTitle seriesText journalAbbreviation DOI "
        "citationKey url accessDate PMID PMCID ISSN archive archiveLocation shortTitle "
        "language libraryCatalog callNumber rights extra"
    ),
    "book": _fields(
        "title abstractNote series seriesNumber volume numberOfVolumes edition date publisher "
        "place originalDate originalPublisher originalPlace format numPages ISBN DOI "
        "citationKey url accessDate ISSN archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
    "bookSection": _fields(
        "title abstractNote bookTitle series seriesNumber volume numberOfVolumes edition date "
        "publisher place originalDate originalPublisher originalPlace format pages ISBN DOI "
        "citationKey url accessDate ISSN archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
    "preprint": _fields(
        "title abstractNote genre repository archiveID place date series seriesNumber DOI "
        "citationKey url accessDate archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
    "report": _fields(
        "title abstractNote reportNumber reportType institution place date seriesTitle "
        "seriesNumber pages DOI ISBN citationKey url accessDate ISSN archive archiveLocation "
        "shortTitle language libraryCatalog callNumber rights extra"
    ),
    "thesis": _fields(
        "title abstractNote thesisType university place date series seriesNumber numPages DOI "
        "ISBN citationKey url accessDate ISSN archive archiveLocation shortTitle language "
        "libraryCatalog callNumber rights extra"
    ),
    "newspaperArticle": _fields(
        "title abstractNote publicationTitle publisher place date volume issue edition "
        "section pages ISSN DOI citationKey url accessDate archive archiveLocation shortTitle "
        "language libraryCatalog callNumber rights extra"
    ),
    "videoRecording": _fields(
        "title abstractNote videoRecordingFormat seriesTitle volume numberOfVolumes studio "
        "place date runningTime ISBN DOI citationKey url accessDate archive archiveLocation "
        "shortTitle language libraryCatalog callNumber rights extra"
    ),
    "case": _fields(
        "caseName abstractNote court dateDecided docketNumber reporter reporterVolume "
        "firstPage history DOI citationKey url accessDate shortTitle language rights extra"
    ),
    "statute": _fields(
        "nameOfAct abstractNote code codeNumber publicLawNumber dateEnacted pages section "
        "session history DOI citationKey url accessDate shortTitle language rights extra"
    ),
}

CREATOR_TYPES_V33: Final[Mapping[str, frozenset[str]]] = {
    "journalArticle": _fields("author contributor editor translator reviewedAuthor"),
    "book": _fields("author contributor editor translator seriesEditor"),
    "bookSection": _fields("author contributor editor bookAuthor translator seriesEditor"),
    "preprint": _fields("author contributor editor translator reviewedAuthor"),
    "report": _fields("author contributor translator seriesEditor"),
    "thesis": _fields("author contributor"),
    "newspaperArticle": _fields("author contributor translator reviewedAuthor"),
    "videoRecording": _fields("director scriptwriter producer castMember contributor"),
    "case": _fields("author counsel contributor"),
    "statute": _fields("author contributor"),
}

CREATOR_TYPES_V41: Final[Mapping[str, frozenset[str]]] = {
    "journalArticle": _fields("author contributor editor translator reviewedAuthor"),
    "book": _fields("author contributor editor translator seriesEditor"),
    "bookSection": _fields("author contributor editor bookAuthor translator seriesEditor"),
    "preprint": _fields("author contributor editor translator reviewedAuthor"),
    "report": _fields("author editor contributor translator seriesEditor"),
    "thesis": _fields("author contributor"),
    "newspaperArticle": _fields("author contributor translator reviewedAuthor"),
    "videoRecording": _fields(
        "creator director producer scriptwriter executiveProducer castMember host guest "
        "narrator translator contributor"
    ),
    "case": _fields("author counsel contributor"),
    "statute": _fields("author contributor"),
}

BASE_FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    "book": {"medium": "format"},
    "bookSection": {"publicationTitle": "bookTitle", "medium": "format"},
    "preprint": {"type": "genre", "publisher": "repository", "number": "archiveID"},
    "report": {"number": "reportNumber", "type": "reportType", "publisher": "institution"},
    "thesis": {"type": "thesisType", "publisher": "university"},
    "videoRecording": {"medium": "videoRecordingFormat", "publisher": "studio"},
    "case": {
        "title": "caseName",
        "authority": "court",
        "date": "dateDecided",
        "number": "docketNumber",
        "volume": "reporterVolume",
        "pages": "firstPage",
    },
    "statute": {"title": "nameOfAct", "number": "publicLawNumber", "date": "dateEnacted"},
}


def valid_fields(item_type: str, schema: SchemaVersion = 41) -> frozenset[str]:
    """The fields ``item_type`` accepts in ``schema`` (empty for an unknown type)."""
    table = FIELDS_V41 if schema == 41 else FIELDS_V33
    return table.get(item_type, frozenset())


def valid_creator_types(item_type: str, schema: SchemaVersion = 41) -> frozenset[str]:
    """The creator types ``item_type`` accepts in ``schema`` (empty for an unknown type)."""
    table = CREATOR_TYPES_V41 if schema == 41 else CREATOR_TYPES_V33
    return table.get(item_type, frozenset())
