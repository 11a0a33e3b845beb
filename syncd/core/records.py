"""Value types shared across the core: a parsed MEDLINE record and a reading problem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Literal, NamedTuple


class Field(NamedTuple):
    """One MEDLINE field: its tag (``TI``, ``FAU``, ...), its value with continuation lines
    joined, and the 1-based line of the source where the field starts."""

    tag: str
    value: str
    line: int


class MedlineRecord:
    """One record of a MEDLINE export, fields in file order (repeatable tags stay repeated).

    ``source`` is the name of the file (or stream) it came from, as given by the caller, and
    ``line`` the 1-based line where the record starts; both exist so that every message about a
    record can say exactly where it is.

    Records are immutable. The reader builds them from two parallel lists (tags and values) and
    only makes :class:`Field` tuples when :attr:`fields` is asked for: a 10,000-record export
    has about 700,000 fields, and not building a tuple for each is a large part of why the
    reader is fast. ``MedlineRecord(fields, source, line)`` works as for a dataclass.
    """

    __slots__ = ("_breaks", "_fields", "_index", "_lines", "_tags", "_values", "line", "source")

    _tags: list[str]
    _values: list[str]
    _lines: list[int] | None
    _breaks: list[tuple[int, int]] | None
    _fields: tuple[Field, ...] | None
    _index: dict[str, list[str]] | None
    source: str
    line: int

    def __init__(
        self, fields: Iterable[Field] = (), source: str = "<input>", line: int = 1
    ) -> None:
        fields = tuple(Field(*f) for f in fields)
        self._set(
            [f.tag for f in fields],
            [f.value for f in fields],
            [f.line for f in fields],
            source,
            line,
        )
        object.__setattr__(self, "_fields", fields)

    def _set(
        self, tags: list[str], values: list[str], lines: list[int] | None, source: str, line: int
    ) -> None:
        setter = object.__setattr__
        setter(self, "_tags", tags)
        setter(self, "_values", values)
        setter(self, "_lines", lines)
        setter(self, "_breaks", None)
        setter(self, "_fields", None)
        setter(self, "_index", None)
        setter(self, "source", source)
        setter(self, "line", line)

    @classmethod
    def from_columns(
        cls,
        tags: list[str],
        values: list[str],
        source: str,
        line: int,
        lines: list[int] | None = None,
        breaks: list[tuple[int, int]] | None = None,
    ) -> MedlineRecord:
        """A record from parallel lists of tags and values (taken over, not copied).

        Each field's line is given by ``lines``, or else worked out when first needed from
        ``breaks``: the fields are on consecutive lines from ``line`` on, except that field
        ``i`` of each ``(i, n)`` pair spans ``n`` extra (continuation) lines. With neither,
        every field is on ``line`` (records recovered from a single line).
        """
        if len(tags) != len(values) or (lines is not None and len(lines) != len(tags)):
            raise ValueError("tags, values and lines must have the same length")
        rec = cls.__new__(cls)
        rec._set(tags, values, lines, source, line)
        if lines is None and breaks is not None:
            object.__setattr__(rec, "_breaks", breaks)
        return rec

    def _field_lines(self) -> list[int]:
        if self._lines is None:
            if self._breaks is None:
                lines = [self.line] * len(self._tags)
            else:
                extra = dict(self._breaks)
                lines = []
                current = self.line
                for i in range(len(self._tags)):
                    lines.append(current)
                    current += 1 + extra.get(i, 0)
            object.__setattr__(self, "_lines", lines)
        assert self._lines is not None
        return self._lines

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"MedlineRecord is immutable (cannot set {name!r})")

    @property
    def fields(self) -> tuple[Field, ...]:
        """Every field, in file order."""
        if self._fields is None:
            lines = self._field_lines()
            # tuple.__new__ through map stays in C; calling Field(...) per field costs 3x more.
            made = map(
                tuple.__new__, repeat(Field), zip(self._tags, self._values, lines, strict=False)
            )
            object.__setattr__(self, "_fields", tuple(made))
        assert self._fields is not None
        return self._fields

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags of the fields, in file order."""
        return tuple(self._tags)

    def pairs(self) -> Iterator[tuple[str, str]]:
        """``(tag, value)`` of every field in file order: cheaper than :attr:`fields` when the
        lines are not needed."""
        return zip(self._tags, self._values, strict=True)

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def get(self, tag: str) -> str | None:
        """The first value of ``tag``, or None."""
        try:
            return self._values[self._tags.index(tag)]
        except ValueError:
            return None

    def last(self, tag: str) -> str | None:
        """The last value of ``tag``, or None (Zotero's importer lets the last one win)."""
        found = self._by_tag().get(tag)
        return found[-1] if found else None

    def getall(self, tag: str) -> list[str]:
        """Every value of ``tag``, in file order."""
        return list(self._by_tag().get(tag, ()))

    def line_of(self, tag: str) -> int:
        """The line of the first ``tag`` field, or the record's first line."""
        try:
            i = self._tags.index(tag)
        except ValueError:
            return self.line
        return self._field_lines()[i]

    def _by_tag(self) -> dict[str, list[str]]:
        # Built on first use: the mapping asks for many tags per record, a scan each would cost
        # more than one pass here.
        if self._index is None:
            index: dict[str, list[str]] = {}
            for tag, value in zip(self._tags, self._values, strict=True):
                index.setdefault(tag, []).append(value)
            object.__setattr__(self, "_index", index)
        assert self._index is not None
        return self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MedlineRecord):
            return NotImplemented
        return (
            self.source == other.source and self.line == other.line and self.fields == other.fields
        )

    def __hash__(self) -> int:
        return hash((self.source, self.line, self.fields))

    def __repr__(self) -> str:
        return f"MedlineRecord(fields={self.fields!r}, source={self.source!r}, line={self.line!r})"


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
