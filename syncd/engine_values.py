"""The values the import engine (:mod:`syncd.engine`) passes between its steps: a record read
and mapped (:class:`_Record`), an item to create (:class:`_Job`), the state row noted for a
record that is not created (:func:`_note`), and a file's content hash.

``where`` is ``FILE:LINE`` for a record of a file, or the input's name alone for an input
without lines (``--pmid N``): :func:`split_where` is the one place that takes it apart.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.core.dedup import identity
from syncd.core.identity import Identifiers
from syncd.errors import InputError
from syncd.state import RecordRow


def split_where(where: str) -> tuple[str, int | None]:
    """``FILE:LINE`` → (FILE, LINE); an input without lines (``--pmid N``) → (it, None)."""
    source, _, line = where.rpartition(":")
    return (source, int(line)) if source and line.isdigit() else (where, None)


def _sha256(path: Path) -> tuple[str, os.stat_result]:
    h = hashlib.sha256()
    try:
        st = path.stat()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}", source=str(path)) from exc
    return h.hexdigest(), st


@dataclass
class _Record:
    """One record read from a file, mapped, with where it came from."""

    ids: Identifiers
    where: str
    file: str
    item: dict[str, Any] | None
    error: str | None = None
    pending: str | None = None  # not to be had this time (not fetched): left for the next run


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _note(rec: _Record, status: str, key: str, reason: str) -> RecordRow:
    return RecordRow(
        identity=identity(rec.ids) or rec.where,
        key=key,
        status=status,
        pmid=rec.ids.pmid,
        doi=rec.ids.doi,
        pmcid=rec.ids.pmcid,
        fingerprint=rec.ids.fingerprint,
        source=split_where(rec.where)[0],
        line=split_where(rec.where)[1],
        error=reason,
    )


@dataclass
class _Job:
    """One item to create: its article identity, key, identifiers and payload."""

    identity: str
    key: str
    ids: Identifiers
    payload: dict[str, Any]
    where: str
    refs: tuple[int, ...] = ()
    recovered: bool = False
    attempt: int = 0
    maybe_sent: bool = False
    """A write of this item under ``key`` may have been applied without its answer arriving
    (or the row was left pending by an interrupted run): finding it in the library under
    ``key`` is then no proof that another writer made it."""
    note: str | None = None
    """Why it is a possible duplicate (it shares a DOI with an item whose title differs), or
    None; kept in its row so that ``syncd status`` can list it."""

    def row(self, status: str, *, key: str | None = None, error: str | None = None) -> RecordRow:
        source, line = split_where(self.where)
        return RecordRow(
            identity=self.identity,
            key=key or self.key,
            status=status,
            pmid=self.ids.pmid,
            doi=self.ids.doi,
            pmcid=self.ids.pmcid,
            fingerprint=self.ids.fingerprint,
            source=source,
            line=line,
            error=error if error is not None or status not in ("pending", "pushed") else self.note,
            payload=self.payload if status == "pending" else None,
            attempt=self.attempt,
        )
