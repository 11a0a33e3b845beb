"""Inputs as the engine reads them: MEDLINE exports as they are, and ID inputs (PMID lists,
PubMed CSV, ``--pmid N``) turned into MEDLINE records fetched from PubMed.

For an ID input, in batches of :data:`BATCH` listed articles:

1. dedup before fetching: articles the library already holds (decided by the engine's own
   dedup, passed in as ``holders``) are yielded as :class:`~syncd.core.id_files.Listed` at
   once, not fetched (with ``on_duplicate = "merge"`` they get the collection and the
   configured tags; not MeSH, which would need the record); PMIDs an earlier run already
   found missing from PubMed fail again without asking;
2. the rest are fetched with one ``efetch`` (MEDLINE text) and read by the MEDLINE reader;
   each record takes the ID input's ``where`` (``FILE:LINE``, or ``--pmid N``);
3. a PMID that ``efetch`` does not return is a failed record ``PMID N is not in PubMed``;
   when NCBI does not answer within a one-shot's deadline, the PMIDs not fetched are left
   pending (exit 1; the next run fetches them) and NCBI is not asked again in this run.

So a rerun of the same file asks NCBI nothing and writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from syncd.config import Config
from syncd.core.eutils_answers import batches
from syncd.core.id_files import Listed, read_pmid_list, read_pubmed_csv
from syncd.core.identity import Identifiers, normalize_pmid
from syncd.core.medline import parse_bytes
from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError, RemoteError
from syncd.reading import open_export, read_path
from syncd.sources.registry import HEAD_BYTES, InputKind, kind_of_head
from syncd.state import StateStore

log = logging.getLogger(__name__)

BATCH = 500
PMID_OPTION = "--pmid"
Got = MedlineRecord | Problem | Listed
Holders = Callable[[list[Identifiers]], list[bool]]


class Fetcher(Protocol):
    """What an ID input needs of an E-utilities client (:class:`syncd.pubmed.eutils.Eutils`)."""

    requests: int

    def efetch(self, pmids: Sequence[str]) -> bytes: ...

    def close(self) -> None: ...


def not_in_pubmed(pmid: str) -> str:
    return f"PMID {pmid} is not in PubMed"


def pmid_input(pmid: str) -> str:
    """The name (and ``where``) of a PMID given on the command line: ``--pmid N``."""
    return f"{PMID_OPTION} {pmid}"


class Inputs:
    """Reads inputs for one importer; makes the E-utilities client when a fetch needs it.

    ``deadline``: seconds a one-shot waits for NCBI at most (None: the daemon, for as long as
    it takes); ``sleep`` waits between its tries. ``eutils``: a factory for the client
    (tests pass one bound to a double). Without ``store`` (``syncd convert``: no library)
    nothing is known before: every article is fetched."""

    def __init__(
        self,
        config: Config,
        store: StateStore | None,
        library: str,
        *,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        eutils: Callable[[], Fetcher] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.library = library
        self.deadline = deadline
        self.sleep = sleep  # the daemon's returns early (raising) when it is asked to stop
        self._make = eutils
        self._client: Fetcher | None = None
        self.requests = 0  # NCBI requests of this importer (for reports and benchmarks)
        self.gave_up: str | None = None  # why NCBI is not asked again in this run, or None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _eutils(self) -> Fetcher:
        if self._client is None:
            if self._make is not None:
                self._client = self._make()
            else:
                from syncd.pubmed.eutils import Eutils

                self._client = Eutils(
                    self.config.pubmed,
                    state_dir=(self.store.path if self.store else self.config.state.path).parent,
                    sleep=self.sleep,
                    deadline=self.deadline,
                )
        return self._client

    # --- reading -----------------------------------------------------------------------------

    def read(self, path: Path, holders: Holders) -> Iterator[Got]:
        """The records of the input at ``path`` (any name: its content decides)."""
        source = str(path)
        with open_export(path) as handle:
            head = handle.read(HEAD_BYTES)
        kind = kind_of_head(head)
        if kind is None or not kind.is_id_list:
            yield from read_path(path)
            return
        data = _read_text(path)
        try:
            listed = (
                read_pmid_list(data, source)
                if kind is InputKind.PMID_LIST
                else read_pubmed_csv(data, source)
            )
        except ValueError:
            raise InputError(
                f"{source}: not a {kind.value} after all (a line further down is not one)",
                "a PMID list holds one PMID per line and nothing else; a PubMed CSV is the "
                "file PubMed's Save > CSV writes",
                source=source,
            ) from None
        yield from self.fetched(listed, holders, source)

    def read_pmids(self, pmids: Sequence[str], holders: Holders) -> Iterator[Got]:
        """The records of PMIDs given on the command line (each its own input, line 0)."""
        listed = [Listed(Identifiers(pmid=normalize_pmid(p)), pmid_input(p), 0) for p in pmids]
        yield from self.fetched(listed, holders, PMID_OPTION)

    def fetched(self, listed: list[Listed], holders: Holders, source: str) -> Iterator[Got]:
        for batch in batches(listed, BATCH):
            yield from self._batch(batch, holders, source)

    def _batch(self, batch: list[Listed], holders: Holders, source: str) -> Iterator[Got]:
        usable = [e for e in batch if e.error is None]
        held = dict(zip(map(id, usable), holders([e.ids for e in usable]), strict=True))
        missing_before = self._missing_before([e.ids for e in usable if not held[id(e)]])
        wanted = [
            e.ids.pmid
            for e in usable
            if not held[id(e)] and e.ids.pmid and e.ids.pmid not in missing_before
        ]
        records: dict[str, list[MedlineRecord]] = {}
        problems: list[Problem] = []
        text = self._fetch(list(dict.fromkeys(wanted))) if wanted else b""
        if text:  # b"" when nothing was asked, or nothing of it is in PubMed
            for got in parse_bytes([text], f"{source} (PubMed's answer)"):
                if isinstance(got, Problem):
                    problems.append(got)
                elif pmid := normalize_pmid(got.get("PMID")):
                    records.setdefault(pmid, []).append(got)
        for entry in batch:
            if entry.error is not None or held.get(id(entry)) or not entry.ids.pmid:
                # Held: the engine reports it a duplicate (merged) without the record.
                yield entry
            elif entry.ids.pmid in records:
                for rec in records[entry.ids.pmid]:
                    yield MedlineRecord(rec.fields, entry.source, entry.line)
            elif text is None and entry.ids.pmid not in missing_before:
                yield replace(entry, pending=f"not fetched: {self.gave_up}")
            else:
                yield Listed(entry.ids, entry.source, entry.line, not_in_pubmed(entry.ids.pmid))
        for problem in problems:  # PubMed's text is syncd's to read: its trouble is a warning
            yield Problem(source, batch[0].line, problem.message, "warning")

    def _missing_before(self, ids: list[Identifiers]) -> set[str]:
        """PMIDs an earlier run found missing from PubMed (settled failures: not asked again)."""
        if not ids or self.store is None:
            return set()
        rows = self.store.records_like(self.library, ids, ["pmid"], statuses=("failed",))
        return {
            r.pmid
            for r in rows
            if r.pmid and r.status == "failed" and r.error == not_in_pubmed(r.pmid)
        }

    def _fetch(self, pmids: list[str]) -> bytes | None:
        """The MEDLINE text of ``pmids``; None once NCBI has not answered within the deadline
        (then not asked again in this run: the PMIDs are left pending for the next)."""
        if self.gave_up is not None:
            return None
        client = self._eutils()
        before = client.requests
        try:
            return client.efetch(pmids)
        except RemoteError as exc:
            if not exc.transient:
                raise
            self.gave_up = exc.message
            log.warning("%s; the PMIDs not fetched are left for the next run", exc.message)
            return None
        finally:
            self.requests += client.requests - before


def _read_text(path: Path) -> str:
    with open_export(path) as handle:
        raw = handle.read()
    return raw.decode("utf-8", errors="replace")
