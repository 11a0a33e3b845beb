"""Text shown to a person: file names and other outside strings made safe to print.

A Downloads folder may hold any name the kernel allows: bytes that are not UTF-8 (Python
hands them over as lone surrogates, ``os.fsdecode``'s ``surrogateescape``), newlines that would
forge a second log line, terminal escapes, and Unicode bidi controls (U+202E turns
``gpj.nbib`` around on screen). :func:`shown` turns such a string into one that says exactly
what it holds and is valid UTF-8 (so JSON for strict parsers too); :func:`shorten_name` cuts a
file name to a length every file system takes, keeping it unique.
"""

from __future__ import annotations

import hashlib

# Bidi embeddings, overrides and isolates, and the invisible direction marks.
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if char in _NAMED:
        return _NAMED[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _needs_escape(char: str) -> bool:
    code = ord(char)
    return (
        code < 0x20
        or 0x7F <= code < 0xA0
        or 0xD800 <= code <= 0xDFFF
        or code in _BIDI
        or code in (0x2028, 0x2029)
    )


def shown(text: str) -> str:
    """``text`` with undecodable bytes, control characters and bidi controls backslash-escaped
    (``bad\\xff.nbib``, ``a\\nb``, ``\\u202e``); everything else, accents included, as it is."""
    if text.isprintable() and text.isascii():
        return text  # the common case, checked in C
    return "".join(_escape(c) if _needs_escape(c) else c for c in text)


def shown_data(value: object) -> object:
    """``value`` (JSON-able data: dicts, lists, strings, numbers) with :func:`shown` applied
    to every string, keys included: what ``--json`` prints is then valid UTF-8 that strict
    parsers take, and a name in it says which bytes it holds."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, dict):
        return {shown_data(k): shown_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown_data(v) for v in value]
    return value


def name_bytes(text: str) -> bytes:
    """The bytes of a file name as the file system holds them (the inverse of
    ``os.fsdecode`` on a UTF-8 system)."""
    return text.encode("utf-8", "surrogateescape")


def shorten_name(name: str, suffix: str, limit: int = 255) -> str:
    """``name + suffix``, or, when that is longer than ``limit`` bytes, the first 200 bytes of
    ``name`` (cut at a character boundary), 8 hex digits of its hash, then ``suffix``: short
    enough for every common file system, and still one name per original name."""
    raw = name_bytes(name)
    if len(raw) + len(name_bytes(suffix)) <= limit:
        return name + suffix
    digest = hashlib.sha256(raw).hexdigest()[:8]
    head, size = [], 0
    for char in name:  # whole characters only, so that no UTF-8 sequence is cut in two
        size += len(name_bytes(char))
        if size > 200:
            break
        head.append(char)
    return f"{''.join(head)}-{digest}{suffix}"
