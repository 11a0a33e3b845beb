"""The one registry of input kinds: is this file an input for syncd, and of which kind.

Recognised by content (the first 64 KiB): a MEDLINE export (``PMID- ...`` fields), a PMID list
(every non-blank line a PMID) or a PubMed CSV (PubMed's header). ``syncd import`` and
``syncd convert`` accept any name; a folder given to them is expanded to the files with an
input suffix (:data:`INPUT_SUFFIXES`). The daemon's watched folder is stricter for PMID lists:
Downloads is full of number lists, so one is taken only under PubMed's name, ``pmid-*.txt``
(a browser's `` (1)`` before the suffix allowed), see :func:`watched_kind`.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from enum import Enum
from pathlib import Path

from syncd.core.id_files import Kind, sniff
from syncd.watch import EXPORT_SUFFIXES as MEDLINE_BY_NAME
from syncd.watch import looks_like_medline

#: Suffixes of the files a folder given to ``syncd import`` or ``convert`` is expanded to.
INPUT_SUFFIXES = (".nbib", ".txt", ".medline", ".csv")
#: PubMed's name for a *Save → PMID* download; the daemon takes PMID lists only by it.
PMID_LIST_NAME = "pmid-*.txt"
HEAD_BYTES = 64 * 1024


class InputKind(Enum):
    MEDLINE = "MEDLINE"
    PMID_LIST = "PMID list"
    PUBMED_CSV = "PubMed CSV"

    @property
    def is_id_list(self) -> bool:
        return self is not InputKind.MEDLINE


_FROM_ID_KIND = {Kind.PMID_LIST: InputKind.PMID_LIST, Kind.PUBMED_CSV: InputKind.PUBMED_CSV}


def kind_of_head(head: bytes) -> InputKind | None:
    """The kind of input that starts with ``head``, or None when it is none of syncd's."""
    text = head[:HEAD_BYTES].decode("utf-8", errors="replace")
    id_kind = sniff(text, whole=len(head) < HEAD_BYTES)
    if id_kind is not None:
        return _FROM_ID_KIND[id_kind]
    return InputKind.MEDLINE if looks_like_medline(head) else None


def read_head(path: Path) -> bytes | None:
    """The first bytes of a regular file (never blocking on a FIFO), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, HEAD_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)


def kind_of(path: Path) -> InputKind | None:
    """The kind of the input at ``path`` by its content (None: not an input, or unreadable)."""
    head = read_head(path)
    return None if head is None else kind_of_head(head)


def is_pmid_list_name(name: str) -> bool:
    return fnmatch.fnmatch(name.lower(), PMID_LIST_NAME)


def watched_kind(path: Path) -> InputKind | None:
    """What the daemon takes a file of its folder for: ``.nbib``/``.medline`` are MEDLINE by
    name; any other name must look like an input, and a PMID list must be named
    ``pmid-*.txt``. None: not an input (ignored)."""
    name = path.name
    if name.lower().endswith(MEDLINE_BY_NAME):
        return InputKind.MEDLINE
    kind = kind_of(path)
    if kind is InputKind.PMID_LIST and not is_pmid_list_name(name):
        return None
    return kind
