"""Bounded memory on hostile files (issue 8 §5): a field may hold at most ``MAX_FIELD``
characters, text is held in bounded pieces whatever its lines, and the rest is still read."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Iterator

from syncd.core.medline import _HOLD_LIMIT, MAX_FIELD, parse, parse_bytes
from syncd.core.records import MedlineRecord, Problem
from tests.unit.medline_strategies import layout


def summary(out: list[MedlineRecord | Problem]) -> list[tuple[str, int, str]]:
    return [
        (type(o).__name__, o.line, o.severity if isinstance(o, Problem) else o.get("PMID") or "")
        for o in out
    ]


def test_a_field_longer_than_the_cap_fails_its_record_with_file_and_line() -> None:
    text = f"PMID- 1\nTI  - a\n\nPMID- 2\nAB  - {'x' * (MAX_FIELD + 1)}\n\nPMID- 3\nTI  - c\n"
    out = list(parse([text], "big.nbib"))
    assert summary(out) == [
        ("MedlineRecord", 1, "1"),
        ("Problem", 4, "error"),
        ("MedlineRecord", 7, "3"),
    ]
    assert str(out[1]).startswith("big.nbib:4: record skipped: its AB field (line 5) is longer")


def test_a_field_at_the_cap_is_read() -> None:
    (rec,) = parse([f"PMID- 1\nAB  - {'x' * MAX_FIELD}\n"], "t")
    assert isinstance(rec, MedlineRecord) and len(rec.get("AB") or "") == MAX_FIELD


def test_records_without_blank_lines_beyond_the_hold_limit_are_all_read() -> None:
    # No blank line anywhere: the text is cut at PMID lines, lines stay right.
    one = [("TI", "A title " * 20), ("AB", "Words of an abstract " * 100)]
    records = [layout([("PMID", str(n)), *one]) for n in range(1, 4001)]
    text = "".join(records)
    assert len(text) > 2 * _HOLD_LIMIT
    out = list(parse([text], "t"))
    assert all(isinstance(o, MedlineRecord) for o in out)
    per = records[0].count("\n")
    assert [(o.get("PMID"), o.line) for o in out] == [  # type: ignore[union-attr]
        (str(n), 1 + (n - 1) * per) for n in range(1, 4001)
    ]


def test_a_flattened_export_on_one_long_line_is_read_in_pieces() -> None:
    one = [("TI", "A title"), ("AB", "Words of an abstract " * 100), ("FAU", "Kim, Ann")]
    text = "".join(layout([("PMID", str(n)), *one]) for n in range(1, 2501))
    flat = re.sub(r"\s+", " ", text).strip()
    assert len(flat) > _HOLD_LIMIT
    recs = [o for o in parse([flat], "t") if isinstance(o, MedlineRecord)]
    assert [r.get("PMID") for r in recs] == [str(n) for n in range(1, 2501)]
    assert all(r.get("FAU") == "Kim, Ann" and r.line == 1 for r in recs)


def padded(megabytes: int) -> Iterator[bytes]:
    """What ``truncate -s`` makes of a small export: its last line runs on in NUL bytes."""
    yield b"PMID- 1\nTI  - x"
    block = b"\0" * (1 << 20)
    for _ in range(megabytes):
        yield block
    yield b"\n\nPMID- 2\nTI  - after\n"


def peak(megabytes: int) -> tuple[int, list[tuple[str, int, str]]]:
    tracemalloc.start()
    try:
        out = list(parse_bytes(padded(megabytes), "pad.nbib"))
        return tracemalloc.get_traced_memory()[1], summary(out)
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_a_padded_line() -> None:
    small, out_small = peak(8)
    large, out_large = peak(64)
    assert out_small == out_large == [("Problem", 1, "error"), ("MedlineRecord", 4, "2")]
    assert large < 3 * _HOLD_LIMIT + (4 << 20)
    assert large < small * 1.2
