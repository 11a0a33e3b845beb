"""Reading MEDLINE / PubMed-format exports into :class:`~syncd.core.records.MedlineRecord` values.

Public API: :func:`parse` takes an iterable of text lines (no I/O here: the edge opens and
decodes the file) and yields records and problems in file order, holding one record at a time.

This first version reads well-formed exports only (tag lines, 6-space continuation lines,
blank lines between records); flattened records, encodings and junk handling come later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from syncd.core.records import Field, MedlineRecord, Problem

# A field line: a tag of 2-4 upper-case letters or digits, padded with spaces, then "-".
_FIELD = re.compile(r"([A-Z0-9]{2,4}) *- ?(.*)")


def parse(lines: Iterable[str], source: str = "<input>") -> Iterator[MedlineRecord | Problem]:
    """Yield the records of a MEDLINE export, and a :class:`Problem` for each part that is not
    a usable record. ``lines`` may carry their line endings."""
    fields: list[list[object]] = []
    start = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if fields:
                yield _finish(fields, source, start)
                fields = []
            continue
        m = _FIELD.match(line)
        if m:
            if not fields:
                start = lineno
            fields.append([m.group(1), m.group(2).strip(), lineno])
        elif fields and line[:1].isspace():
            fields[-1][1] = f"{fields[-1][1]} {line.strip()}"
        else:
            yield Problem(source, lineno, f"not a MEDLINE field line: {line[:60]!r}")
    if fields:
        yield _finish(fields, source, start)


def _finish(fields: list[list[object]], source: str, start: int) -> MedlineRecord | Problem:
    rec = MedlineRecord(
        tuple(Field(str(t), str(v), int(str(n))) for t, v, n in fields), source, start
    )
    if rec.get("PMID") is None and rec.get("TI") is None and rec.get("BTI") is None:
        return Problem(source, start, "record has neither a PMID nor a title; skipped")
    return rec
