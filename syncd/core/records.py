"""Value types shared across the core: a parsed MEDLINE record and a reading problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple


class Field(NamedTuple):
    """One MEDLINE field: its tag (``TI``, ``FAU``, ...), its value with continuation lines
    joined, and the 1-based line of the source where the field starts."""

    tag: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class MedlineRecord:
    """One record of a MEDLINE export, fields in file order (repeatable tags stay repeated).

    ``source`` is the name of the file (or stream) it came from, as given by the caller, and
    ``line`` the 1-based line where the record starts; both exist so that every message about a
    record can say exactly where it is.
    """

    fields: tuple[Field, ...]
    source: str = "<input>"
    line: int = 1

    def get(self, tag: str) -> str | None:
        """The first value of ``tag``, or None."""
        for f in self.fields:
            if f.tag == tag:
                return f.value
        return None

    def last(self, tag: str) -> str | None:
        """The last value of ``tag``, or None (Zotero's importer lets the last one win)."""
        found = None
        for f in self.fields:
            if f.tag == tag:
                found = f.value
        return found

    def getall(self, tag: str) -> list[str]:
        """Every value of ``tag``, in file order."""
        return [f.value for f in self.fields if f.tag == tag]

    def line_of(self, tag: str) -> int:
        """The line of the first ``tag`` field, or the record's first line."""
        for f in self.fields:
            if f.tag == tag:
                return f.line
        return self.line


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with part of an input: a record skipped (``error``) or a record read
    with a caveat (``warning``). Printed as ``file:line: message``."""

    source: str
    line: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"
