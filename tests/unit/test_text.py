"""Names shown to a person and names written to disk (syncd.core.text)."""

from __future__ import annotations

import json
import os

from hypothesis import given
from hypothesis import strategies as st

from syncd.core.text import name_bytes, shorten_name, shown


def test_plain_names_are_shown_as_they_are() -> None:
    assert shown("pubmed-ketamine-set.nbib") == "pubmed-ketamine-set.nbib"
    assert shown("Müller – Übersicht.nbib") == "Müller – Übersicht.nbib"


def test_undecodable_bytes_are_backslash_escaped() -> None:
    name = os.fsdecode(b"bad\xff\xfe.nbib")
    assert shown(name) == "bad\\xff\\xfe.nbib"
    assert json.loads(json.dumps(shown(name), ensure_ascii=False)) == "bad\\xff\\xfe.nbib"


def test_newlines_escapes_and_bidi_controls_cannot_forge_or_hide_text() -> None:
    assert shown("a\nsyncd: imported 0 records") == "a\\nsyncd: imported 0 records"
    assert shown("x\x1b[31m.nbib") == "x\\x1b[31m.nbib"
    assert shown("evil\u202egpj.nbib") == "evil\\u202egpj.nbib"
    assert shown("\u2028") == "\\u2028"


@given(st.text())
def test_shown_is_one_printable_line_of_valid_utf8(text: str) -> None:
    out = shown(text)
    assert "\n" not in out and "\r" not in out
    out.encode("utf-8")  # no lone surrogates left
    assert all(ord(c) not in (0x202E, 0x2066) for c in out)


@given(st.binary(min_size=1, max_size=400))
def test_shortened_names_fit_and_stay_distinct(raw: bytes) -> None:
    name = os.fsdecode(raw.replace(b"/", b"_").replace(b"\0", b"_"))
    out = shorten_name(name, ".errors.txt")
    assert len(name_bytes(out)) <= 255
    assert out.endswith(".errors.txt")
    if len(raw) + len(".errors.txt") <= 255:
        assert out == name + ".errors.txt"
    else:
        assert out != shorten_name(name + "x", ".errors.txt")


def test_a_255_byte_name_gets_a_report_name_the_file_system_takes() -> None:
    name = "é" * 120 + ".nbib"  # 245 bytes
    out = shorten_name(name, ".errors.txt")
    assert len(name_bytes(out)) <= 255
    assert out.startswith("é" * 100 + "-")
