"""Identifiers: normalising PMIDs, DOIs and PMCIDs, and the fingerprint fallback.

Dedup compares identifiers, never raw strings, so both sides (a MEDLINE record and an item
already in the Zotero library) go through the same functions here:

* :func:`normalize_pmid`  ``"PMID: 0012345 "`` → ``"12345"``
* :func:`normalize_doi`   ``"https://doi.org/10.1000/ABC."`` → ``"10.1000/abc"``
* :func:`normalize_pmcid` ``"pmc38908"`` / ``"NLM: PMC38908"`` → ``"PMC38908"``
* :func:`fingerprint`     title/year/first-author key for records with neither PMID nor DOI.

:func:`record_identifiers` and :func:`item_identifiers` extract :class:`Identifiers` from a
MEDLINE record and from Zotero item JSON (native ``PMID``/``PMCID``/``DOI`` fields where the
schema has them, and ``PMID: n`` / ``PMCID: ...`` / ``DOI: ...`` lines in Extra, as Zotero's own
importers write them).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncd.core.records import MedlineRecord

_PMID = re.compile(r"(?:PMID\s*:?\s*)?([0-9]{1,9})", re.IGNORECASE)
_DOI_PREFIX = re.compile(
    r"^(?:(?:https?://)?(?:dx\.)?doi\.org/|doi\s*:\s*|info:doi/|urn:doi:)", re.IGNORECASE
)
_DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")
# A DOI then the one space before "[doi]", nothing to clean: ends in a letter or digit.
_PLAIN_DOI = re.compile(r"10\.[0-9]{4,9}/[^\s()%]*[A-Za-z0-9] ")
_PMCID = re.compile(r"\bPMC\s*(\d+)\b", re.IGNORECASE)
_EXTRA_LINE = re.compile(r"^\s*(PMID|PMCID|DOI)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_YEAR = re.compile(r"\b(1[5-9]\d\d|2\d\d\d)\b")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class Identifiers:
    """The normalised identifiers of one article; any of them may be missing."""

    pmid: str | None = None
    doi: str | None = None
    pmcid: str | None = None
    fingerprint: str | None = None


def normalize_pmid(value: str | None) -> str | None:
    """The PMID as plain digits without leading zeros, or None when ``value`` is not one.

    A PMID is 1 to 9 ASCII digits, not all zeros (a string of zeros is seen in test records);
    blanks around it and a ``PMID:`` prefix are allowed. Anything else (``bis_12345678``,
    ``nasa``, ten digits) is no PMID: digits guessed out of it could name another article,
    which would then be taken for a duplicate of this one.
    """
    if not value:
        return None
    if not (value.isdigit() and value.isascii() and len(value) <= 9):
        m = _PMID.fullmatch(value.strip())
        if m is None:
            return None
        value = m.group(1)
    return value.lstrip("0") or None


def normalize_doi(value: str | None) -> str | None:
    """The DOI in lower case without resolver prefix, ``[doi]`` suffix or trailing punctuation.

    DOIs are case-insensitive (the DOI handbook), so lower case is the canonical comparison
    form. A closing parenthesis is kept when it balances one inside the DOI, as in
    ``10.1016/S0140-6736(20)30183-5``.
    """
    if not value:
        return None
    doi = value.strip()
    if doi.endswith("[doi]"):
        doi = doi[: -len("[doi]")].strip()
    doi = _DOI_PREFIX.sub("", doi).strip()
    doi = doi.replace("%2F", "/").replace("%2f", "/")
    while (doi and doi[-1] in ".,;:'\"]>}") or (
        doi.endswith(")") and doi.count("(") < doi.count(")")
    ):
        doi = doi[:-1]
    doi = doi.lower()
    return doi if _DOI_SHAPE.match(doi) else None


def normalize_pmcid(value: str | None) -> str | None:
    """``PMC`` followed by the digits, or None. Accepts bare digits too."""
    if not value:
        return None
    digits = value[3:]
    if value.startswith("PMC") and digits.isdigit() and digits.isascii():
        return "PMC" + (digits.lstrip("0") or "0")
    m = _PMCID.search(value)
    if m:
        return f"PMC{int(m.group(1))}"
    stripped = value.strip()
    if stripped.isdecimal() and stripped.isascii() and int(stripped) > 0:
        return f"PMC{int(stripped)}"
    return None


class _Marks(dict[int, int | None]):
    """``str.translate`` table that drops combining marks, filled as characters are met (the
    answer for each character is worked out once, then looked up in C)."""

    def __missing__(self, char: int) -> int | None:
        kept = None if unicodedata.combining(chr(char)) else char
        self[char] = kept
        return kept


_DROP_MARKS = _Marks()


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = decomposed if decomposed.isascii() else decomposed.translate(_DROP_MARKS)
    return _NON_ALNUM.sub(" ", plain).strip()


def fingerprint(title: str | None, date: str | None, first_author: str | None) -> str | None:
    """A title/year/first-author key for articles with neither PMID nor DOI, or None.

    Case, accents, punctuation and spacing do not matter; a missing year or author stays
    empty rather than guessed, so two records match only on what both have.
    """
    folded = _fold(title) if title else ""
    if not folded:
        return None
    year_match = _YEAR.search(date or "")
    year = year_match.group(1) if year_match else ""
    author = _fold(first_author).split(" ")[0] if first_author else ""
    return f"{folded}|{year}|{author}"


def doi_of(value: str) -> str | None:
    """The DOI in one AID/LID value, with its case kept, or None.

    Takes ``10.1000/ABC [doi]`` (PubMed) and resolver links such as
    ``http://dx.doi.org/10.1186/s40468-019-0086-7`` (ERIC puts those in AID); the other
    identifiers these fields carry (``[pii]``, ``[bookaccession]``, catalogue links) are not
    DOIs. The result is what :func:`normalize_doi` accepts, before lower-casing.
    """
    text = value.strip()
    if text.endswith("[doi]"):
        text = text[: -len("[doi]")]
        if _PLAIN_DOI.fullmatch(text):  # "10.9758/cpn.22.1034 [doi]": the usual form
            return text[:-1]
    elif not _DOI_PREFIX.match(text):
        return None
    if normalize_doi(text) is None:
        return None
    text = _DOI_PREFIX.sub("", text.strip()).strip()
    while text and text[-1] in ".,;:'\"]>}":
        text = text[:-1]
    return text or None


def _first_doi_in(values: list[str]) -> str | None:
    for v in values:
        if (doi := doi_of(v)) is not None:
            return normalize_doi(doi)
    return None


def _short_name_last(value: str) -> str:
    # NLM form "Walker JE": the last word is the initials.
    parts = value.split(",")[0].rsplit(" ", 1)
    return parts[0] if len(parts) == 2 and parts[1].isupper() else value


def _first_creator_name(record: MedlineRecord) -> str | None:
    """The family name (or collective name) the mapped item's first creator gets: the first
    author (FAU, or AU when there is no FAU, with CN collective names in their place), else the
    first editor."""
    for full, short in (("FAU", "AU"), ("FED", "ED")):
        has_full = record.get(full) is not None
        # pairs(), not fields: no Field tuple (with its line number) per field of every record.
        for tag, value in record.pairs():
            if tag == full:
                return value.split(",")[0]
            if tag == "CN" and full == "FAU":
                return value
            if tag == short and not has_full and value.strip().rstrip(".").lower() != "et al":
                return _short_name_last(value)
    return None


def record_identifiers(record: MedlineRecord) -> Identifiers:
    """Identifiers of a MEDLINE record: PMID; DOI from AID, else LID (``[doi]`` or a DOI link,
    see :func:`doi_of`); PMCID from PMC or
    ``OID - NLM: PMC...``; the fingerprint from TI (or BTI), DP and the first creator as the
    enhanced mapping orders them (:func:`_first_creator_name`)."""
    pmid = normalize_pmid(record.get("PMID"))
    doi = _first_doi_in(record.getall("AID")) or _first_doi_in(record.getall("LID"))
    pmcid = normalize_pmcid(record.get("PMC"))
    if pmcid is None:
        for oid in record.getall("OID"):
            if "PMC" in oid.upper():
                pmcid = normalize_pmcid(oid)
                break
    last_name = _first_creator_name(record)
    fp = fingerprint(record.get("TI") or record.get("BTI"), record.get("DP"), last_name)
    return Identifiers(pmid=pmid, doi=doi, pmcid=pmcid, fingerprint=fp)


def item_identifiers(data: Mapping[str, Any]) -> Identifiers:
    """Identifiers of a Zotero item's ``data``: native fields first, then Extra lines."""
    extra = str(data.get("extra") or "")
    from_extra: dict[str, str] = {}
    for m in _EXTRA_LINE.finditer(extra):
        from_extra.setdefault(m.group(1).upper(), m.group(2))
    pmid = normalize_pmid(str(data.get("PMID") or "")) or normalize_pmid(from_extra.get("PMID"))
    doi = normalize_doi(str(data.get("DOI") or "")) or normalize_doi(from_extra.get("DOI"))
    pmcid = normalize_pmcid(str(data.get("PMCID") or "")) or normalize_pmcid(
        from_extra.get("PMCID")
    )
    first_author = None
    creators = data.get("creators") or []
    if creators:
        c = creators[0]
        first_author = c.get("lastName") or c.get("name")
    fp = fingerprint(data.get("title") or data.get("bookTitle"), data.get("date"), first_author)
    return Identifiers(pmid=pmid, doi=doi, pmcid=pmcid, fingerprint=fp)
