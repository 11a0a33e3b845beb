"""ID files: PubMed's *Save → PMID* list and *Save → CSV* export, recognised by content and read
into the identifiers they list, each with its line (pure: text in, values out).

* A **PMID list** is text whose non-blank lines are all PMIDs (1 to 9 digits), with an optional
  UTF-8 BOM, LF or CRLF line ends and blank lines anywhere.
* A **PubMed CSV** starts with PubMed's header, quoted or not (:data:`CSV_HEADER`), optional
  BOM, LF or CRLF, empty cells bare or ``""``; it names each article by PMID (and DOI, PMCID)
  but holds too little to build an item, so both kinds are lists of articles to fetch.

:func:`sniff` tells the kind from a file's first bytes; :func:`read_pmid_list` and
:func:`read_pubmed_csv` read a whole file into :class:`Listed` entries. An entry with ``error``
is a failed record of its line (a CSV row whose PMID cell is not a PMID).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from enum import Enum

from syncd.core.identity import Identifiers, normalize_doi, normalize_pmcid

CSV_COLUMNS = (
    "PMID",
    "Title",
    "Authors",
    "Citation",
    "First Author",
    "Journal/Book",
    "Publication Year",
    "Create Date",
    "PMCID",
    "NIHMS ID",
    "DOI",
)
CSV_HEADER = ",".join(CSV_COLUMNS)
_PMID = re.compile(r"[0-9]{1,9}")
_BOM = "\ufeff"


class Kind(Enum):
    PMID_LIST = "PMID list"
    PUBMED_CSV = "PubMed CSV"


@dataclass(frozen=True, slots=True)
class Listed:
    """One article an ID input lists: its identifiers and where (``source``, 1-based ``line``;
    line 0 for an input that has no lines, such as ``--pmid N``), or why the line is not one
    (``error``: a failed record), or why its record could not be had this time (``pending``:
    left for the next run).
    """

    ids: Identifiers
    source: str
    line: int
    error: str | None = None
    pending: str | None = None

    @property
    def where(self) -> str:
        return self.source if self.line == 0 else f"{self.source}:{self.line}"


def is_pmid(text: str) -> bool:
    """1 to 9 digits, not all zeros (PubMed's PMIDs start at 1)."""
    return bool(_PMID.fullmatch(text)) and int(text) > 0


def _lines(text: str) -> list[str]:
    return text.removeprefix(_BOM).replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _is_header(line: str) -> bool:
    cells = next(csv.reader([line]), [])
    return tuple(c.strip() for c in cells) == CSV_COLUMNS


def sniff(head: str, *, whole: bool = False) -> Kind | None:
    """The kind of ID file that starts with ``head`` (the decoded first bytes), or None.

    Without ``whole`` the last line of ``head`` may be cut short: it only has to be digits so
    far. A PMID list needs at least one PMID."""
    lines = _lines(head)
    if lines and _is_header(lines[0]):
        return Kind.PUBMED_CSV
    if not whole and len(lines) > 1:
        last, lines = lines[-1].strip(), lines[:-1]
        if last and not last.isdigit():
            return None
    filled = [line.strip() for line in lines if line.strip()]
    if filled and all(is_pmid(line) for line in filled):
        return Kind.PMID_LIST
    return None


def read_pmid_list(text: str, source: str) -> list[Listed]:
    """Every PMID of a PMID list, with its line; ValueError when ``text`` is not one."""
    if sniff(text, whole=True) is not Kind.PMID_LIST:
        raise ValueError("not a PMID list")
    return [
        Listed(Identifiers(pmid=str(int(line.strip()))), source, n)
        for n, line in enumerate(_lines(text), start=1)
        if line.strip()
    ]


def read_pubmed_csv(text: str, source: str) -> list[Listed]:
    """Every data row of a PubMed CSV, with the line it starts on; ValueError when ``text``
    is not one. A row whose PMID cell is not a PMID is an entry with ``error``."""
    body = text.removeprefix(_BOM).replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(body.split("\n"))
    header = next(reader, None)
    if header is None or tuple(c.strip() for c in header) != CSV_COLUMNS:
        raise ValueError("not a PubMed CSV")
    out: list[Listed] = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            out.append(Listed(Identifiers(), source, line, f"cannot read this CSV row: {exc}"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row] + [""] * (len(CSV_COLUMNS) - len(row))
        pmid, doi, pmcid = cells[0], normalize_doi(cells[10]), normalize_pmcid(cells[8])
        if is_pmid(pmid):
            out.append(Listed(Identifiers(pmid=str(int(pmid)), doi=doi, pmcid=pmcid), source, line))
        else:
            shown = pmid if len(pmid) <= 40 else pmid[:40] + "..."
            out.append(
                Listed(
                    Identifiers(doi=doi, pmcid=pmcid),
                    source,
                    line,
                    f"the PMID cell {shown!r} is not a PMID" if pmid else "the PMID cell is empty",
                )
            )
