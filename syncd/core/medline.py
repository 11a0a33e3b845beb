"""Reading MEDLINE / PubMed-format exports into :class:`~syncd.core.records.MedlineRecord` values.

Public API (all pure: the edge opens files and hands over bytes or text):

* :func:`parse` ``(lines, source)``: records and problems from text (lines with or without
  their endings, or one whole text);
* :func:`parse_bytes` ``(chunks, source)``: the same from raw bytes, decoded incrementally
  (UTF-8, BOM skipped; from the first byte that is not UTF-8 on, Windows-1252 with one
  warning), raising :class:`~syncd.errors.InputError` when the input is not a MEDLINE export;
* :func:`split_flattened` ``(tag, text, before)``: the recovery of fields from a record whose
  line breaks were lost;
* :data:`KNOWN_TAGS`, :data:`REPEATABLE_TAGS`: the PubMed tag list.

Values follow Zotero's MEDLINE/nbib importer (see ``docs/reading.md``): the text after the
first ``-`` of a field line, stripped; each continuation line adds ``" " + line.lstrip()``
(trailing spaces are kept, so a wrapped line ending in a space gives a double space); the
final value is stripped. Where this reader differs from Zotero it is on purpose: a ``PMID-``
line starts a new record even without a blank line when the record so far already has a PMID
(not otherwise: PubMed Central puts ``PMC`` first, publishers ``PT``, ``TI`` or ``AU``), records
whose line breaks were lost are split into their fields, a PMID that is not 1-9 digits gets a
warning (the mapping then ignores it), no value may exceed :data:`MAX_FIELD` characters, and a
tag is 2 to 4 capitals or digits.

Speed: the text is cut into chunks at blank lines and each chunk is split into fields by one
compiled regular expression; Python-level work is done only per record and per wrapped field.
Memory is bounded by the chunk size plus the largest record.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import accumulate, pairwise

from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError

__all__ = [
    "KNOWN_TAGS",
    "MAX_FIELD",
    "REPEATABLE_TAGS",
    "parse",
    "parse_bytes",
    "split_flattened",
]

# --- Tags -------------------------------------------------------------------------------------

# PubMed writes fields in a fixed order. Each band below is one step of that order; tags in the
# same band may come in any order among themselves (an author group repeats FAU, AU, AUID, AD;
# a book has FED/ED before FAU/AU). Only the flattened-record recovery uses the order; well
# laid-out records are read in whatever order they come.
_BANDS: tuple[str, ...] = (
    "PMID",
    "OWN",
    "STAT",
    "DA DRDT CTDT DCOM",
    "LR",
    "PUBM",
    "IS ISSN",
    "VI",
    "IP",
    "PB",
    "DP",
    "TI BTI CTI VTI EN ISBN CP",
    "PG",
    "LID",
    "AB CI OAB OABL OCI",
    "FED ED FAU AU AUID AD CN",
    "LA",
    "SI",
    "GR",
    "PT",
    "DEP",
    "TT",
    "PL",
    "TA",
    "JT",
    "JID",
    "RN NM",
    "SB",
    "CON CIN EIN EFR CRI CRF PRIN PROF RPI RPF RIN ROF UIN UOF SPIN ORI ECI ECF RRI RRF DDIN DRIN",
    "GS",
    "MH",
    "PMC",
    "MID",
    "OID",
    "PS FPS",
    "OTO OT KW",
    "IR FIR IRAD",
    "GN RF SFM",
    "COIS",
    "EDAT MHDA PMCR CRDT CDAT",
    "PHST",
    "AID",
    "PST",
    "SO",
)
_BAND: dict[str, int] = {tag: i for i, band in enumerate(_BANDS) for tag in band.split()}

#: Every tag of the PubMed format (and the ERIC/KoreaMed additions ``ISSN``, ``KW``).
KNOWN_TAGS: frozenset[str] = frozenset(_BAND)

#: Tags that may occur more than once in a record.
REPEATABLE_TAGS: frozenset[str] = frozenset(
    (
        "IS ISSN LID AID FAU AU AUID AD CN FED ED IR FIR IRAD LA SI GR PT RN NM SB GS MH OTO OT KW "
        "PS FPS GN PHST MID OID OAB OABL OCI ISBN SFM " + _BANDS[28]
    ).split()
)
_AUTHOR_BAND = _BAND["FAU"]

# What the start of a value must look like for a split before it to be believed, for the tags
# whose values have a recognisable shape. Free-text tags (TI, AB, AD, ...) have none.
_DATE8 = r"\d{8}(?:\s|$)"
_DATE_SLASH = r"\d{4}/\d\d/\d\d(?:\s|$)"
_UPPER_WORD = r"[A-Z]+(?:\s|$)"
_PERSON = r"[^\s,][^,]{0,80},"
_SHAPES: dict[str, re.Pattern[str]] = {
    tag: re.compile(shape)
    for tags, shape in (
        ("PMID", r"\d+(?:\s|$)"),
        ("OWN OTO SB", _UPPER_WORD),
        ("STAT", r"[A-Z][A-Za-z-]+(?:\s|$)"),
        ("DA DCOM LR DEP DRDT CTDT CDAT", _DATE8),
        ("EDAT MHDA CRDT PMCR", _DATE_SLASH),
        ("PHST", r"\d{4}/\d\d/\d\d \d\d:\d\d \["),
        ("IS", r"\d{4}-\d{3}[\dXx]"),
        ("DP", r"\d{4}(?:\s|$|[-/])"),
        ("PMC", r"PMC\d+"),
        ("MID", r"[A-Z]+\d+"),
        ("LID AID", r"\S+ \[[a-z-]+\]|https?://|www\."),
        ("PST", r"[a-z-]+(?:\s|$)"),
        ("JID", r"\d{5,}[A-Z]?(?:\s|$)"),
        ("LA", r"(?:[a-z]{3}|[A-Z][a-z]+)(?:\s|$)"),
        ("AUID", r"[A-Za-z]+: "),
        ("FAU FED FIR FPS", _PERSON),
        ("PT PL TA SO CN", r"[A-Z]"),
        ("JT", r"[A-Za-z]"),
        ("MH", r"\*?[A-Za-z0-9]"),
        ("RN", r"\S+(?: \S+)? \("),
        ("SI", r"\S+/"),
        ("VI IP", r"\S{1,30}(?:\s|$)"),
    )
    for tag in tags.split()
}
# An affiliation straight after the abstract (pre-2014 records put the first author's AD there)
# must look like one, so that "... patients with AD - a ..." in an abstract is not cut.
_AFFILIATION = re.compile(
    r".{0,160}?(?:Depart|Dept|Divis|Instit|Labor|School|Facult|Cent(?:er|re)|Univers|Coll|"
    r"Hospital|Klinik|Clinic|Unit\b|Minist|Agency|Foundation|Academ|Program|Service|Inc\b|"
    r"Ltd\b|GmbH)"
)

# --- Regular expressions ----------------------------------------------------------------------

# A field line: a tag of 2-4 capitals or digits, optional padding, "-". The split consumes the
# newline before it and the blanks after the "-", so the pieces between are the raw values. A
# blank line before a field stays at the end of the value before it (as a final "\n"): an
# optional group for it here would cost a third list item per field, 30 % more split time.
_FIELD_SPLIT = re.compile(r"\n([A-Z0-9]{2,4})[ \t]*-[ \t]*")
# A line break plus the next line's indentation: a continuation becomes " " + line.lstrip().
_CONTINUATION = re.compile(r"\n[^\S\n]*")
_EXTRA_INDENT = re.compile(r"\n      \s")
# A candidate field start inside a line whose breaks were lost: " TAG - " or " TAGG- ".
_CANDIDATE = re.compile(
    r"(?<=\s)(" + "|".join(sorted(KNOWN_TAGS, key=lambda t: (-len(t), t))) + r")( *)-"
)
_PMID_INSIDE = re.compile(r"(?<=\s)PMID- (?=\d)")
# Any tag-like word before a dash (the candidates are then sorted out in _candidates), and a
# two-letter word padded as PubMed pads two-letter tags.
_TAG_DASH = re.compile(r"(?<=\s)([A-Z0-9]{2,4})( *)-")
_PADDED_PAIR = re.compile(r"(?<=\s)([A-Z]{2})  -")

# Text pieces handed to the field splitter are cut at a blank line once this long.
_CHUNK = 1 << 18
#: The longest value a field may have (characters); a record with a longer one is skipped with
#: an error. Real fields are at most a few hundred kB (a long abstract is 10 kB).
MAX_FIELD = 1 << 20
# The most text held while waiting for the end of a record: past it, the text is cut at the
# last record start, or the record is skipped (so a hostile file is read in bounded memory).
_HOLD_LIMIT = 4 * MAX_FIELD
# How much text may come before the first field line before we decide it is not MEDLINE.
_PREAMBLE_LIMIT = 1 << 20


# --- Decoding -----------------------------------------------------------------------------------

# Windows-1252 for the bytes 0x80-0x9F; the five it leaves undefined keep their Latin-1 meaning
# (as browsers do), so the fallback can decode any byte.
_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}
_CP1252_TABLE = str.maketrans({chr(b): ch for b, ch in _CP1252.items()})


def _cp1252(data: bytes) -> str:
    return data.decode("latin-1").translate(_CP1252_TABLE)


class _Switch:
    """Marks where the input stopped being UTF-8: the text after it was decoded as cp1252."""

    __slots__ = ("byte",)

    def __init__(self, byte: int) -> None:
        self.byte = byte


def _decode(chunks: Iterable[bytes]) -> Iterator[str | _Switch]:
    """Decode ``chunks`` of bytes into text, one piece per chunk, holding no more than a chunk.

    UTF-8 (a BOM is skipped; a UTF-16 BOM switches to UTF-16). At the first byte sequence that
    is not UTF-8, a :class:`_Switch` is yielded and the rest of the input is read as
    Windows-1252 (which can decode any byte), so no text is lost and line numbers stay right.
    Line endings are left alone.
    """
    decoder: codecs.IncrementalDecoder | None = None
    fallback = False
    for chunk in chunks:
        if not chunk:
            continue
        if fallback:
            yield _cp1252(chunk)
            continue
        if decoder is None:
            bom16 = chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            name, errors = ("utf-16", "replace") if bom16 else ("utf-8-sig", "strict")
            decoder = codecs.getincrementaldecoder(name)(errors=errors)
        try:
            yield decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # The decoder emitted nothing of this call: decode the good part again here.
            data = exc.object
            fallback = True
            yield data[: exc.start].decode("utf-8-sig")
            yield _Switch(data[exc.start])
            yield _cp1252(data[exc.start :])
    if decoder is not None and not fallback:
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            yield _Switch(exc.object[exc.start])
            tail = _cp1252(exc.object[exc.start :])
        if tail:
            yield tail


# --- Text to chunks -----------------------------------------------------------------------------


def _normalized(pieces: Iterable[str | _Switch]) -> Iterator[str | _Switch]:
    """Text with every line break as "\\n", in pieces of about ``_CHUNK`` characters."""
    batch: list[str] = []
    size = 0
    held_cr = False
    for piece in pieces:
        if not isinstance(piece, str):
            if batch:  # keep the marker in its place in the text
                yield "".join(batch)
                batch = []
                size = 0
            yield piece
            continue
        if held_cr:
            piece = "\r" + piece
            held_cr = False
        if piece.endswith("\r"):
            # A CR at the end may be the first half of a CRLF split between two pieces.
            piece = piece[:-1]
            held_cr = True
        if "\r" in piece:
            piece = piece.replace("\r\n", "\n").replace("\r", "\n")
        batch.append(piece)
        size += len(piece)
        if size >= _CHUNK:
            yield "".join(batch)
            batch = []
            size = 0
    if held_cr:
        batch.append("\n")
    if batch:
        yield "".join(batch)


# --- Parsing ------------------------------------------------------------------------------------


def parse(lines: Iterable[str], source: str = "<input>") -> Iterator[MedlineRecord | Problem]:
    """Yield the records of a MEDLINE export, and a :class:`Problem` for each part that is not
    a usable record, in file order.

    ``lines`` are the lines of the text, with or without their endings (LF, CRLF or CR); a
    whole text in one string works too (``parse([text])``). Lines that are not MEDLINE
    before a record are skipped with a warning; a record with neither a PMID nor a title is an
    error :class:`Problem`. Nothing is raised for bad input.
    """
    yield from _parse(_normalized(_with_newlines(lines)), source, strict=False)


def parse_bytes(
    chunks: Iterable[bytes], source: str = "<input>"
) -> Iterator[MedlineRecord | Problem]:
    """:func:`parse` for raw bytes (e.g. a file read in blocks), decoded incrementally: UTF-8
    (a UTF-8 BOM is skipped, a UTF-16 BOM is honoured); at the first byte that is not UTF-8 one
    warning :class:`Problem` names the line and the rest is read as Windows-1252.

    Raises :class:`InputError` naming ``source`` when the input is empty or is not MEDLINE at
    all (no field with a known tag before the first megabyte of text or the end); this
    happens before any record is yielded.
    """
    yield from _parse(_normalized(_decode(chunks)), source, strict=True)


def _with_newlines(lines: Iterable[str]) -> Iterator[str]:
    # Lines without their endings (a list of str, say) get "\n"; pieces that carry their own
    # line endings pass unchanged. A BOM left at the start by the caller's decoding goes.
    first = True
    for line in lines:
        if first:
            first = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if line.endswith(("\n", "\r")):
            yield line
        else:
            yield line + "\n"


class _State:
    """What the parse of one input knows across chunks."""

    __slots__ = ("empty", "known", "records", "source", "strict")

    def __init__(self, source: str, strict: bool) -> None:
        self.source = source
        self.strict = strict
        self.records = 0  # records yielded
        self.known = False  # a field with a known tag seen
        self.empty = True  # nothing but blank space so far


def _parse(
    pieces: Iterable[str | _Switch], source: str, strict: bool
) -> Iterator[MedlineRecord | Problem]:
    state = _State(source, strict)
    if not strict:
        yield from _parse_text(pieces, state)
        return
    # Until the input has shown one known tag, hold problems back: for a file that is not
    # MEDLINE at all the user gets one InputError, not a page of warnings before it.
    held: list[MedlineRecord | Problem] = []
    for item in _parse_text(pieces, state):
        if state.known:
            if held:
                yield from held
                held = []
            yield item
        else:
            held.append(item)
            if len(held) > 100:
                _not_medline(source, "no MEDLINE field line among its first parts")
    if not state.known:
        _not_medline(
            source,
            "the file is empty"
            if state.empty
            else "no line starts with a MEDLINE tag such as 'PMID- '",
        )
    yield from held


def _parse_text(
    pieces: Iterable[str | _Switch], state: _State
) -> Iterator[MedlineRecord | Problem]:
    held: list[str] = []  # text after the last blank line, waiting for the next one
    size = 0  # characters in held
    line = 1  # line number of the first character of held[0]
    consumed = 0
    skipping = False  # dropping the rest of a record too large to hold (up to its end)
    for piece in pieces:
        if not isinstance(piece, str):
            # The next text starts at the first byte that was not UTF-8.
            bad_line = line + sum(p.count("\n") for p in held)
            yield Problem(
                state.source,
                bad_line,
                f"not valid UTF-8 (byte 0x{piece.byte:02X} on this line); read the rest of "
                "the file as Windows-1252",
                "warning",
            )
            continue
        if not piece:
            continue
        if skipping:
            # (held is at most the last few characters of the text dropped so far)
            text = "".join(held) + piece
            resume = _resume(text)
            if resume < 0:
                keep = len(text) - 6
                line += text.count("\n", 0, keep)
                held, size = [text[keep:]], 6
                continue
            skipping = False
            line += text.count("\n", 0, resume)
            piece = text[resume:]
            held, size = [], 0
            if not piece:
                continue
        if state.empty and not piece.isspace():
            state.empty = False
        consumed += len(piece)
        if state.strict and not state.known and consumed > _PREAMBLE_LIMIT:
            # A long first record (or one without blank lines) is fine if it has known tags.
            start = "".join(held)[:_PREAMBLE_LIMIT] + piece[:_PREAMBLE_LIMIT]
            if any(m.group(1) in KNOWN_TAGS for m in _FIELD_SPLIT.finditer("\n" + start)):
                state.known = True
            else:
                _not_medline(state.source, "no MEDLINE field line in its first megabyte")
        cut = piece.rfind("\n\n")
        if cut < 0 and piece[0] == "\n" and held and held[-1].endswith("\n"):
            chunk = "".join(held)  # the blank line straddles the two pieces
            rest = piece[1:]
        elif cut < 0:
            held.append(piece)
            size += len(piece)
            if size <= _HOLD_LIMIT:
                continue
            # No blank line for this long: cut at the last start of a record (or give up on
            # the record), so that memory stays bounded whatever the file holds.
            text = "".join(held)
            split = _record_start(text)
            if split > 0:
                # (a cut inside a line whose breaks were lost: its end becomes a line end)
                chunk = text[:split] if text[split - 1] == "\n" else text[: split - 1] + "\n"
                yield from _chunk(chunk, line, state)
                line += text.count("\n", 0, split)
                held, size = [text[split:]], len(text) - split
            else:
                yield _too_large(state, line, text)
                skipping = True
                line += text.count("\n", 0, len(text) - 6)
                held, size = [text[-6:]], 6
            continue
        else:
            held.append(piece[: cut + 1])
            chunk = "".join(held)
            rest = piece[cut + 2 :]
        yield from _chunk(chunk, line, state)
        line += chunk.count("\n") + 1
        held = [rest] if rest else []
        size = len(rest)
    if held and not skipping:
        chunk = "".join(held)
        yield from _chunk(chunk if chunk.endswith("\n") else chunk + "\n", line, state)


# A record starts at a PMID line, or inside a line whose breaks were lost at " PMID- <digit>".
_RECORD_START = re.compile(r"(?:\n|(?<= ))PMID- ?(?=\d)|\nPMID-")
# Where reading resumes after a record too large to hold: after a blank line, or at the next
# PMID line.
_RESUME = re.compile(r"\n\n|\n(?=PMID-)")


def _record_start(text: str) -> int:
    """The offset of the last record start in ``text`` that has a PMID before it, or -1."""
    last = -1
    for m in _RECORD_START.finditer(text):
        start = m.start() + (text[m.start()] == "\n")
        if "PMID" in text[:start] if last < 0 else True:
            last = start
    return last if last > 0 else -1


def _resume(text: str) -> int:
    m = _RESUME.search(text)
    return -1 if m is None else m.end()


def _too_large(state: _State, line: int, text: str) -> Problem:
    first = text[: text.find("\n")] if "\n" in text[:200] else text[:60]
    return Problem(
        state.source,
        line,
        f"record is too large: more than {_HOLD_LIMIT:,} characters without a blank line or "
        f"a next record (a field may hold at most {MAX_FIELD:,}); skipped up to its end "
        f"(it starts {first[:60]!r})",
    )


NOT_AN_EXPORT_HINT = (
    "export from PubMed with 'Send to > Citation manager' (.nbib) or 'Save > PubMed format' (.txt)"
)
"""What to do about a file that is not an export (``convert``'s hint, ``import``'s summary)."""


def _not_medline(source: str, why: str) -> None:
    raise InputError(
        f"{source}: not a MEDLINE/PubMed export ({why})", NOT_AN_EXPORT_HINT, source=source
    )


def _chunk(text: str, line0: int, state: _State) -> Iterator[MedlineRecord | Problem]:
    """Records of ``text``: whole lines starting at line ``line0``, ending with a newline."""
    parts = _FIELD_SPLIT.split("\n" + text)
    pre = parts[0]
    tags = parts[1::2]
    values = parts[2::2]
    if pre.strip():
        yield _junk(state.source, line0, pre[1:], before_first=state.records == 0)
    n = len(tags)
    starts: set[int] = {0}  # fields that start a record: after a blank line
    blank_before: set[int] = set()  # fields right after a blank line
    # Values holding a newline: wrapped fields, a blank line after them, junk between records.
    newlines: dict[int, int] = {}  # field -> newlines inside its raw value
    junk: dict[int, tuple[int, str]] = {}  # field -> (offset, text) of junk after it
    # (and values ending in a blank, or empty: rare; "" is in any string, so empty ones come
    # along, harmlessly).
    special = [i for i, v in enumerate(values) if "\n" in v or v[-1:] in " \t"]
    final = n - 1
    for i in special:
        value = values[i]
        if i < final and value[-1:] == "\n":
            # The line before the next field is empty: the next field starts a record.
            value = value[:-1]
            starts.add(i + 1)
            blank_before.add(i + 1)
        if "\n" not in value:
            values[i] = value.strip()
            continue
        newlines[i] = value.count("\n")
        head, sep, tail = value.partition("\n\n")
        head = head.rstrip("\n")
        values[i] = _join_continuations(head) if "\n" in head else head.strip()
        if sep:
            starts.add(i + 1)
            if tail.strip():
                junk[i] = (head.count("\n") + 2, tail)
    if "\xa0" in text:
        # A value may end in a no-break space, which Zotero trims too.
        values[:] = [v.strip() for v in values]
    # Field i is on line first + i + (blank lines up to i) + (newlines in values before i).
    # (the blank lines were cut off the values above, so they are counted apart)
    first = line0 + pre.count("\n")
    bounds = sorted(b for b in starts if b < n)
    extra = 0  # blank lines and value newlines before the current record
    s = 0  # next index into special
    for r, a in enumerate(bounds):
        b = bounds[r + 1] if r + 1 < len(bounds) else n
        if a in blank_before:
            extra += 1
        line = first + a + extra
        breaks = []
        while s < len(special) and special[s] < b:
            i = special[s]
            if i in newlines:
                breaks.append((i - a, newlines[i]))
                extra += newlines[i]
            s += 1
        lines = partial(_lines, b - a, line, breaks)
        yield from _records(tags[a:b], values[a:b], line, lines, state)
        if b - 1 in junk:
            offset, tail = junk[b - 1]
            last = b - 1 - a  # the record's last field, which the junk follows
            yield _junk(state.source, line + last + _before(breaks, last) + offset, tail, False)


def _before(breaks: list[tuple[int, int]], i: int) -> int:
    """Newlines inside the values of the fields before field ``i`` of a record."""
    return sum(c for j, c in breaks if j < i)


def _join_continuations(raw: str) -> str:
    """Zotero's value of a field whose raw text (after ``TAG - ``) spans several lines."""
    first, _, rest = raw.partition("\n")
    rest = "\n" + rest
    # PubMed indents by exactly 6 spaces: a plain replace does it, unless a line is indented
    # otherwise (then the regular expression strips each line's own indentation).
    joined = rest.replace("\n      ", " ")
    if "\n" in joined or _EXTRA_INDENT.search(rest):
        joined = _CONTINUATION.sub(" ", rest)
    return (first.strip() + joined).strip()


def _junk(source: str, line: int, text: str, before_first: bool) -> Problem:
    line += len(text) - len(text.lstrip("\n"))
    text = text.strip("\n")
    count = text.count("\n") + 1
    first = text.split("\n", 1)[0].strip()
    where = "before the first record" if before_first else "between records"
    return Problem(
        source,
        line,
        f"skipped {count} line{'s' if count > 1 else ''} {where} that "
        f"{'are' if count > 1 else 'is'} not MEDLINE fields (starting {first[:60]!r})",
        "warning",
    )


def _records(
    tags: list[str],
    values: list[str],
    line: int,
    lines: Callable[[], list[int]],
    state: _State,
) -> Iterator[MedlineRecord | Problem]:
    """The records in one blank-line-delimited block of fields, starting on ``line``; ``lines``
    works out each field's line if needed."""
    if not state.known and not KNOWN_TAGS.isdisjoint(tags):
        state.known = True
    recovered = False
    if len(tags) < 10 or not (values[0].isdigit() if tags[0] == "PMID" else True):
        recovered = _unflatten(tags, values)
    if max(map(len, values)) > MAX_FIELD:
        yield from _too_long(tags, values, line, lines, recovered, state)
        return
    if tags.count("PMID") > 1:
        # A PMID- line starts a new record even without a blank line, but only when the record
        # so far already has a PMID: PubMed Central's export puts PMC before PMID, and
        # publishers' exports may start with PT, TI or AU.
        cuts = [i for i, t in enumerate(tags) if t == "PMID"][1:]
        known = lines() if not recovered else [line] * len(tags)
        bounds = [0, *cuts, len(tags)]
        for a, b in pairwise(bounds):
            yield from _one(tags[a:b], values[a:b], known[a], known[a:b], recovered, state)
        return
    if recovered:
        yield from _one(tags, values, line, [line] * len(tags), True, state)
        return
    if "PMID" in tags:
        record = MedlineRecord.from_columns(tags, values, state.source, line, lines)
        if not _is_pmid(values[tags.index("PMID")]):
            yield _bad_pmid(record)
        state.records += 1
        yield record
    elif "TI" in tags or "BTI" in tags:
        state.records += 1
        yield MedlineRecord.from_columns(tags, values, state.source, line, lines)
    else:
        yield _no_id(state.source, line, tags)


def _too_long(
    tags: list[str],
    values: list[str],
    line: int,
    lines: Callable[[], list[int]],
    recovered: bool,
    state: _State,
) -> Iterator[MedlineRecord | Problem]:
    """An error for each record of the block whose field exceeds :data:`MAX_FIELD`; the
    others are read as usual."""
    known = lines() if not recovered else [line] * len(tags)
    cuts = [i for i, t in enumerate(tags) if t == "PMID"][1:]
    for a, b in pairwise([0, *cuts, len(tags)]):
        long = [i for i in range(a, b) if len(values[i]) > MAX_FIELD]
        if not long:
            yield from _one(tags[a:b], values[a:b], known[a], known[a:b], recovered, state)
            continue
        i = long[0]
        yield Problem(
            state.source,
            known[a],
            f"record skipped: its {tags[i]} field (line {known[i]}) is longer than "
            f"{MAX_FIELD:,} characters ({len(values[i]):,}), which no MEDLINE field is",
        )


def _one(
    tags: list[str],
    values: list[str],
    line: int,
    lines: list[int],
    recovered: bool,
    state: _State,
) -> Iterator[MedlineRecord | Problem]:
    if "PMID" not in tags and "TI" not in tags and "BTI" not in tags:
        yield _no_id(state.source, line, tags)
        return
    if recovered:
        pmid = values[tags.index("PMID")] if "PMID" in tags else None
        yield Problem(
            state.source,
            line,
            f"record{f' PMID {pmid}' if pmid else ''} had lost its line breaks; its "
            f"{len(tags)} fields were recovered from their tags",
            "warning",
        )
    record = MedlineRecord.from_columns(tags, values, state.source, line, lines=lines)
    if "PMID" in tags and not _is_pmid(values[tags.index("PMID")]):
        yield _bad_pmid(record)
    state.records += 1
    yield record


def _is_pmid(value: str) -> bool:
    """Whether ``value`` is a PMID: 1 to 9 ASCII digits, not all zeros (as
    :func:`syncd.core.identity.normalize_pmid` takes it)."""
    return value.isdigit() and value.isascii() and len(value) <= 9 and value.strip("0") != ""


def _bad_pmid(record: MedlineRecord) -> Problem:
    value = record.get("PMID") or ""
    shown = value if len(value) <= 40 else value[:40] + "..."
    return Problem(
        record.source,
        record.line_of("PMID"),
        f"PMID {shown!r} is not a PMID (1 to 9 digits): ignored, the record is read and "
        "identified without it",
        "warning",
    )


def _no_id(source: str, line: int, tags: list[str]) -> Problem:
    shown = ", ".join(dict.fromkeys(tags[:8]))
    return Problem(
        source, line, f"record has neither a PMID nor a title (fields: {shown}); skipped"
    )


def _lines(n: int, line: int, breaks: list[tuple[int, int]]) -> list[int]:
    """Lines of ``n`` consecutive fields from ``line`` on, field ``i`` of each ``(i, k)`` in
    ``breaks`` spanning ``k`` extra lines."""
    if n == 0:
        return []
    steps = [1] * (n - 1)
    for i, k in breaks:
        if i < n - 1:
            steps[i] += k
    return list(accumulate(steps, initial=line))


# --- Records whose line breaks were lost ------------------------------------------------------


def _unflatten(tags: list[str], values: list[str]) -> bool:
    """Split in place every value that holds several fields run together; True if any did."""
    if not any(_CANDIDATE.search(v) for v in values):
        return False
    new_tags: list[str] = []
    new_values: list[str] = []
    changed = False
    for i, (tag, value) in enumerate(zip(tags, values, strict=True)):
        after = tags[i + 1] if i + 1 < len(tags) else None
        fields = split_flattened(tag, value, after) if _CANDIDATE.search(value) else None
        if fields is None:
            new_tags.append(tag)
            new_values.append(value)
        else:
            changed = True
            for t, v in fields:
                new_tags.append(t)
                new_values.append(v)
    if changed:
        tags[:] = new_tags
        values[:] = new_values
    return changed


def split_flattened(tag: str, text: str, before: str | None = None) -> list[tuple[str, str]] | None:
    """The fields of ``text``, the value of a ``tag`` field into which following fields were
    run together on one line (line breaks lost), or None if it does not look like that.
    ``before`` is the tag of the field on the next line, if any: the split fields must fit
    between ``tag`` and it.

    A split is made only before a known tag followed by a dash. Where the tag keeps a padding
    that only a field line has (``TI  - ``, ``AID  - ``, ``PMID- ``: see
    :func:`_candidates`) the split is certain and made whatever the order of the fields (ERIC
    and publishers' exports have their own orders). Elsewhere (``TI - `` once all whitespace was
    collapsed; ``FAU - ``, which is also what ``FAU`` and a wrapped ``- `` look like) a split
    is made only where the resulting tags follow PubMed's field order (see ``_BANDS``), values
    with a recognisable shape (dates, ISSNs, PMIDs ...) look right, and among the consistent
    ways to split, the one with the most fields wins (ties go to the later split, so that
    "95% CI - ..." inside an abstract loses to the real CI field after it). ``PMID- <digits>``
    inside the text starts a new record when the text so far has a PMID. Returns None when no
    certain split and fewer than two others are found (one for a PMID field, whose value
    should be only digits).
    """
    segments = [m.start() for m in _PMID_INSIDE.finditer(text)]
    if tag != "PMID":
        # (the text before the first PMID belongs to the same record as that PMID)
        segments = segments[1:]
    if segments:
        out: list[tuple[str, str]] = []
        bounds = [0, *segments, len(text)]
        for k, (a, b) in enumerate(pairwise(bounds)):
            piece = text[a:b]
            last = before if k == len(segments) else "PMID"
            if k == 0:
                out += _split_one(tag, piece, last)[0] or [(tag, piece.strip())]
            else:
                body = piece[len("PMID- ") :]
                out += _split_one("PMID", body, last)[0] or [("PMID", body.strip())]
        return out
    fields, certain = _split_one(tag, text, before)
    if fields is None:
        return None
    splits = len(fields) - 1
    if certain or splits >= 2 or (tag == "PMID" and splits >= 1):
        return fields
    return None


def _candidates(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """``(start, value start, tag, certain)`` of each place in ``text`` where a field may
    start.

    Certain: the tag keeps a padding that prose does not have: two blanks or more before the
    dash (``TI  - ``, ``AID  - ``, and then any tag of 2 to 4 capitals or digits, as a field
    line has: ``4099  - ``), a four-letter tag right at the dash (``PMID- ``, ``STAT- ``;
    ``PMID-<digits>``); and, when the text has kept PubMed's padding (a two-letter tag with
    two blanks somewhere), a known tag of three or four letters with one blank (``FAU - ``,
    ERIC's ``ISSN - ``) or any known tag right at the dash (``SO- ``). Uncertain: a known tag
    with one blank where the padding may have been collapsed (``TI - ``, ``AD - ``, or
    ``FAU - `` in collapsed text); these need a blank after the dash and a value
    of the tag's shape, and are chosen by the field order.
    """
    layout = any(m.group(1) in KNOWN_TAGS for m in _PADDED_PAIR.finditer(text))
    for m in _TAG_DASH.finditer(text):
        t, pad = m.group(1), len(m.group(2))
        after = m.end()
        spaced = after == len(text) or text[after] == " "
        if pad >= 2:
            certain = True
        elif t not in KNOWN_TAGS:
            continue
        elif pad == 0 and len(t) == 4:
            certain = spaced or (t == "PMID" and text[after : after + 1].isdigit())
            if not certain:
                continue
        elif not spaced:
            continue
        else:
            certain = layout and (pad == 0 or len(t) > 2)
        vstart = after + 1 if spaced and after < len(text) else after
        if not certain or (pad == 0 and len(t) == 4 and t != "PMID"):
            # (a value that does not look right rules out an uncertain split, and a bare
            # "STAT- " or "DCOM- ", which prose could have; a PMID that is not one is still a
            # PMID field: it is warned about later, never taken for prose)
            shape = _SHAPES.get(t)
            if shape is not None and not shape.match(text, vstart):
                continue
        yield m.start(), vstart, t, certain


def _split_one(
    tag: str, text: str, before: str | None
) -> tuple[list[tuple[str, str]] | None, bool]:
    """The fields of ``text`` (see :func:`split_flattened`), and whether a certain split was
    made; ``(None, False)`` if no split at all."""
    cands = list(_candidates(text))
    if not cands:
        return None, False
    # Certain splits cut the text into stretches; in each, uncertain ones are chosen by order.
    fields: list[tuple[str, str]] = []
    certain = [c for c in cands if c[3]]
    stretches = [(tag, 0, -1)] + [(c[2], c[1], c[0]) for c in certain]
    for k, (t, vstart, _) in enumerate(stretches):
        end = stretches[k + 1][2] if k + 1 < len(stretches) else len(text)
        after = stretches[k + 1][0] if k + 1 < len(stretches) else before
        inner = [
            (a - vstart, v - vstart, u) for a, v, u, sure in cands if not sure and vstart < a < end
        ]
        part = text[vstart:end]
        fields += _chain(t, part, inner, after) or [(t, part.strip())]
    if len(fields) == 1:
        return None, False
    return fields, bool(certain)


def _chain(
    tag: str, text: str, cands: list[tuple[int, int, str]], before: str | None
) -> list[tuple[str, str]] | None:
    """The fields of ``text`` (the value of ``tag``) split at the longest chain of
    ``cands`` whose tags follow the field order and fit before ``before``; None if none."""
    if not cands:
        return None
    # Longest chain of candidates whose tags follow the field order. The state is the last
    # tag of the chain, because whether a tag may follow depends only on the tag before it.
    best: dict[str, tuple[int, int]] = {tag: (0, -1)}  # last tag -> (splits, candidate)
    back: list[int] = [-1] * len(cands)
    for k, (_, vstart, t) in enumerate(cands):
        top: tuple[int, int] | None = None
        for p, entry in best.items():
            if _may_follow(p, t, text, vstart) and (top is None or entry >= top):
                top = entry
        if top is None:
            continue
        back[k] = top[1]
        mine = (top[0] + 1, k)
        if t not in best or mine >= best[t]:
            best[t] = mine
    ends = [
        entry
        for t, entry in best.items()
        # (a next line with a tag outside the PubMed list sets no bound)
        if before is None
        or before == "PMID"
        or before not in _BAND
        or _may_follow(t, before, "", 0)
    ]
    if not ends:
        return None
    score, k = max(ends)
    if score == 0:
        return None
    chain: list[int] = []
    while k >= 0:
        chain.append(k)
        k = back[k]
    chain.reverse()
    fields = [(tag, text[: cands[chain[0]][0]].strip())]
    for j, k in enumerate(chain):
        end = cands[chain[j + 1]][0] if j + 1 < len(chain) else len(text)
        fields.append((cands[k][2], text[cands[k][1] : end].strip()))
    return fields


def _may_follow(prev: str, tag: str, text: str, vstart: int) -> bool:
    bp = _BAND.get(prev, -1)
    bt = _BAND[tag]
    if bt < bp:
        return False
    if bt == bp:
        return tag != prev or tag in REPEATABLE_TAGS
    if bt == _AUTHOR_BAND and tag in ("AD", "AUID"):
        # Outside an author group only an old-style first-author affiliation may come here.
        return tag == "AD" and _AFFILIATION.match(text, vstart) is not None
    return True
