"""The import engine: read exports, plan against the library, and create each article once.

:class:`Importer` is the long-lived side (one library: the key check, the collection, the
index); each :meth:`Importer.run` imports one batch of files. ``syncd import`` makes one importer
for one run (:func:`import_paths`); ``syncd run`` keeps one for as long as it runs. In order:

1. once per importer: check the key (read and write access to the library),
2. before each run: refresh the library index in the state database (:mod:`syncd.index`):
   built once, page by page and resumable (every item, trash included, and the keys deleted
   so far), then incremental (``item_versions(since)``, the changed items, ``/deleted``),
3. settle rows left ``pending`` by an interrupted run before anything new is sent,
4. read the files (an unchanged file already fully imported costs one hash), map every record
   with :mod:`syncd.core.mapping`, and plan with :func:`syncd.core.plan.plan` (pure), in
   batches of :data:`PLAN_BATCH` records (each batch also planned and sent before the next),
5. send the creates in batches of at most 50: for each batch, in ONE state transaction,
   re-check it against the index and other syncd processes' rows and record it as pending;
   then POST with ``If-Unmodified-Since-Version`` = the indexed library version (a change
   made by anyone else in between refuses the whole batch, the index is refreshed and the
   batch planned again), then record each outcome. An item that already exists under its key
   (a per-object 412: a retry after a lost response, or another syncd first) is checked and
   recorded as in the library, never created twice,
6. merge duplicates (``on_duplicate = "merge"``): PATCH only ``tags`` and ``collections``,
   with the item's version; re-read and retry when it changed,
7. record each file's outcome.

The :class:`Report` has exact counts: new items, duplicates (with the key each matched and
why), merged items, failures (with the reason) and reading problems (``file:line``).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from syncd.config import Config
from syncd.core.complete import written_digests
from syncd.core.dedup import (
    Deleted,
    Duplicate,
    KnownItem,
    Memory,
    New,
    Own,
    Seen,
    decide,
    identity,
    memory_keys,
    share_a_key,
    unmatched_identities,
)
from syncd.core.id_files import Listed
from syncd.core.identity import Identifiers, item_identifiers, record_identifiers
from syncd.core.keys import item_key
from syncd.core.mapping import MappingOptions, map_record
from syncd.core.plan import Candidate, Create, Fail, Merge, Skip, plan
from syncd.core.records import MedlineRecord, Problem
from syncd.core.settle import settle
from syncd.core.writers import conflict_delay, keep_guard, made_by_syncd
from syncd.engine_merge import Merged, merge_item, would_complete
from syncd.engine_values import _duration, _Job, _note, _Record, _sha256, row_where, split_where
from syncd.errors import ConfigError, InputError, RemoteError, StateError
from syncd.index import LibraryIndex, WithoutRun, to_row
from syncd.locks import state_users
from syncd.options import dedup_options, mapping_options
from syncd.reading import iter_export_files
from syncd.report import (
    Entry,
    FileReport,
    Report,
    count_files,
    file_error,
    problems_detail,
)
from syncd.sources.ids import Inputs, pmid_input
from syncd.state import FileRow, HistoryRow, RecordRow, StateStore, utc_stamp
from syncd.targets.base import Target, VersionConflict, WriteResult

logger = logging.getLogger(__name__)

BATCH = 50
# A write is guarded by the indexed library version (when only other syncd writers moved the
# library, it goes again without: see syncd.core.writers). A refused write waits
# (syncd.core.writers.conflict_delay), the index is refreshed and the batch planned again; there
# is no bound on the tries: a one-shot import gives up on time (``give_up_after``), the daemon
# never does.
PLAN_BATCH = 250
"""Records read, mapped and planned together: memory follows this, not the export's size
(a mapped record holds some 20 KB of Python objects). A multiple of :data:`BATCH`; the creates
of a batch that do not fill a write are sent with the next batch's, so that batching never
costs a write."""
_INDEX_PAGE = 100
"""Items per read while the index is first built (``itemKey`` takes up to 100)."""
_COLUMNS = (("pmid", "pmid"), ("pmcid", "pmid"), ("doi", "doi"), ("fingerprint", "title"))
"""State columns of the identifiers, with the ``dedup.match`` kind each stands for."""
_DERIVED_ATTEMPTS = 3
"""Derived keys of an article checked against the server's deleted keys (deleted stays deleted)."""


Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage ``read`` (records read; total 0 = unknown) or
``send`` (items sent of the total to send)."""


# --- helpers --------------------------------------------------------------------------------


def _row_ids(row: RecordRow) -> Identifiers:
    return Identifiers(pmid=row.pmid, doi=row.doi, pmcid=row.pmcid, fingerprint=row.fingerprint)


# --- the engine -----------------------------------------------------------------------------


class Importer:
    """One library, opened once and kept: what stays true between imports.

    The daemon keeps one for as long as it runs; ``syncd import`` makes one for its single run.
    It holds the key check, the native-id probe, the collection and the library index (loaded
    from the state database or built from the server once, then refreshed incrementally before
    each run). :meth:`run` imports one batch of files (the files that settled together, or the
    paths of one ``syncd import``) and returns that batch's :class:`Report`.

    :param give_up_after: seconds without an accepted write, because other writers kept
        changing the library, after which a run stops sending: the records not sent stay
        pending (the next run settles them) and the report says so (``Report.gave_up``, exit
        1). None (the default, for the daemon) never gives up.
    :param sleep: how to wait between refused writes (``sleep(seconds)``); the daemon passes one
        that returns early by raising when it is asked to stop (the records being sent stay
        pending and are settled by the next run).
    """

    def __init__(
        self,
        config: Config,
        store: StateStore,
        gateway: Target,
        *,
        dry_run: bool = False,
        give_up_after: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        inputs: Inputs | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.gw = gateway
        self.library = gateway.library
        self.keys = gateway.key_library  # what derived keys are derived from
        self.dry_run = dry_run
        self.give_up_after = give_up_after
        self.sleep = sleep
        self.rng = random.Random()
        self.options = dedup_options(config)
        self.index = LibraryIndex(store, self.library)
        self.inputs = inputs or Inputs(
            config, store, self.library, deadline=give_up_after, sleep=sleep
        )
        self.version = 0  # the library version the index reflects
        self.collection: str | None = None
        self.collection_name: str | None = None
        self.native = False
        self.opened = False
        self._index_loaded = False
        self.pushed_rows: dict[str, RecordRow] = {}
        """The pushed rows :meth:`memory` read last, by key (the batch being planned)."""
        self.unclaimed: dict[str, Entry] = {}
        """Rows created by an interrupted run and settled by :meth:`settle` (the daemon's
        start), by key, until a later run reads their records again: there they count as new
        (uncertain) for their file, not as duplicates of the items they created."""

    def open(self) -> None:
        """Check the key (read, and write unless dry-run), probe the server's schema for the
        PMID/PMCID fields and find or create the collection. Raises :class:`RemoteError` (or
        :class:`ConfigError`) when the library cannot be used; call again to retry."""
        missing = self.gw.capabilities.missing()
        if missing and not self.dry_run:
            # Without these, a retry after a lost answer or a second writer could create an
            # article twice: better no import than a library with duplicates.
            raise ConfigError(
                f"{self.library} cannot guarantee that each article is created once "
                f"(it lacks: {', '.join(missing)})",
                hint="use a target that supports them (the Zotero Web API does)",
            )
        self.gw.check_access(require_write=not self.dry_run)
        self.native = self.config.zotero.native_ids == "auto" and self.gw.has_native_ids()
        if self.config.zotero.collection:
            self.collection_name = self.config.zotero.collection
            if not self.dry_run:
                self.collection = self.gw.find_or_create_collection(self.config.zotero.collection)
        self.opened = True

    def sync_index(self) -> None:
        """Bring the index up to the library's version: loaded or built the first time, then
        refreshed (one request when nothing changed)."""
        if not self._index_loaded:
            self.load_index()
            self._index_loaded = True
        else:
            self.refresh()
        # Everything learnt is in the state database: a long-lived importer keeps no copy.
        self.index.clear()

    def run(
        self,
        paths: Sequence[Path],
        *,
        progress: Progress | None = None,
        skip_unchanged: bool = False,
        pmids: Sequence[str] = (),
    ) -> Report:
        """Import the inputs at ``paths`` (files or folders) and ``pmids`` as one batch."""
        files = list(iter_export_files(paths))  # a missing path fails before any request
        if not self.opened:
            self.open()
        self.sync_index()
        try:
            return _Run(self, progress, skip_unchanged).run(files, pmids)
        finally:
            self.index.clear()  # what the run learnt is in the state database

    def settle(self, progress: Progress | None = None) -> Report:
        """Settle rows left pending by an interrupted run (or a run that lost the server),
        without reading any file; the report lists them as recovered."""
        if not self.opened:
            self.open()
        self.sync_index()
        try:
            report = _Run(self, progress, False).run([])
        finally:
            self.index.clear()
        if not self.dry_run:
            self.unclaimed.update(
                (e.key, e) for e in report.recovered if e.key and e.outcome == "created"
            )
        return report

    # ---- index ----------------------------------------------------------------------------

    def load_index(self) -> None:
        """Use the index in the state database, refreshed; build it first when there is none
        (or finish a build that was interrupted). The index lives in the database, also for
        a dry run: it is a copy of the library, not something the import did."""
        stored = self.store.library_version(self.library)
        if stored is None:
            self.build_index()
        else:
            self.version = stored
            self.refresh()

    def build_index(self) -> None:
        """Build the index from the server, page by page into the state database.

        One ``format=versions`` request lists every key (streamed into the database's queue,
        never held whole), one ``/deleted?since=0`` request gives the keys deleted so far (so
        that an article syncd created and the user deleted is known without any earlier
        state), then the items are read 100 keys a request, each page written
        together with its keys taken off the queue. A build interrupted anywhere after the
        listing resumes with the keys still queued: nothing is read twice. A resumed build is
        refreshed from the version it started at, since the library may have changed.
        """
        build = self.store.index_build(self.library)
        resumed = build is not None and build[1]
        if build is not None and build[1]:
            version = build[0]
            logger.info(
                "%s: resuming the library index build (%d items still to read)",
                self.library,
                self.store.queued_index_size(self.library),
            )
        else:
            self.store.start_index_build(self.library)
            listed = 0

            def queue(pairs: list[tuple[str, int]]) -> None:
                nonlocal listed
                listed += len(pairs)
                self.store.queue_index_keys(self.library, (k for k, _ in pairs))

            version = self.gw.stream_item_versions(0, queue)
            deleted = self.gw.deleted_since(0)[0] if self.gw.capabilities.deleted_log else []
            self.store.finish_index_listing(self.library, version, deleted)
            logger.info(
                "%s: building the library index (%d items, %d deleted keys)",
                self.library,
                listed,
                len(deleted),
            )
        while keys := self.store.queued_index_keys(self.library, _INDEX_PAGE):
            rows = [to_row(item) for item in self.gw.known_items(keys).values()]
            self.store.put_index_page(self.library, rows, keys)
        self.store.finish_index_build(self.library, version)
        self.version = version
        self.index.clear()
        if resumed:
            self.refresh()

    def refresh(self) -> list[KnownItem]:
        """Bring the index up to the library's current version: changed items only, which are
        returned."""
        versions, version = self.gw.item_versions(self.version)
        if version == self.version and not versions:
            return []
        held = self.store.index_versions(self.library, versions)
        changed = [k for k, v in versions.items() if held.get(k) != v]
        upserts: list[KnownItem] = []
        if changed:
            upserts.extend(self.gw.known_items(changed).values())
        if self.gw.capabilities.deleted_log:
            removed, _ = self.gw.deleted_since(self.version)
        else:  # no log of deletions: an indexed key the library no longer lists is deleted
            listed = self.gw.item_versions(0)[0]
            removed = [i.key for i in self.store.load_index(self.library) if i.key not in listed]
        # Every deleted key is remembered, also one the index never held: a write of ours
        # whose answer was lost and whose item the user deleted before we saw it must not be
        # sent again. A key listed as changed too exists again (restored): it stays.
        removed = [k for k in removed if k not in versions]
        for item in upserts:
            self.index.add(item)
        for key in removed:
            self.index.remove(key)
        logger.info(
            "%s: index refreshed from version %d to %d (%d changed, %d deleted)",
            self.library,
            self.version,
            version,
            len(upserts),
            len(removed),
        )
        self.version = version
        self.store.update_index(self.library, map(to_row, upserts), removed, version)
        return upserts

    # ---- memory of earlier runs -------------------------------------------------------------

    def memory(
        self, rows: Iterable[RecordRow] | None = None, ids: Iterable[Identifiers] = ()
    ) -> Memory:
        """What syncd recorded before about these articles: pending/pushed ``rows`` (by
        default the rows sharing an identifier with ``ids``), and the articles syncd created
        that the user has deleted since: a pushed row whose key is deleted, or (without any
        row, e.g. after the state database was lost) a key in the server's deleted list that
        is the key syncd derives for the article, which only syncd would have given it."""
        ids = list(ids)
        if rows is None:
            match = self.options.match
            columns = [c for c, kind in _COLUMNS if kind in match]
            rows = self.store.records_like(self.library, ids, columns)
            for column, some in unmatched_identities(ids, match).items():
                rows += self.store.records_like(self.library, some, [column])
        rows = list(rows)
        self.pushed_rows = {r.key: r for r in rows if r.status == "pushed"}
        # The key syncd derives for each article; when another item holds it, the next
        # ones too (syncd moves on to them then).
        derived: dict[str, list[Identifiers]] = {}
        by_identity: dict[str, list[Identifiers]] = {}
        for one in ids:
            if (ident := identity(one)) is not None:
                by_identity.setdefault(ident, []).append(one)
        first = {item_key(self.keys, ident, 0): ident for ident in by_identity}
        self.index.prefetch((), first)
        for key, ident in first.items():
            derived[key] = by_identity[ident]
            if key in self.index:
                for attempt in range(1, _DERIVED_ATTEMPTS):
                    derived[item_key(self.keys, ident, attempt)] = by_identity[ident]
        deleted = self.store.deleted_among(
            self.library,
            [r.key for r in rows if r.status in ("pushed", "duplicate")] + list(derived),
        )
        own: dict[str, Own] = {}
        deleted_own: dict[str, Own] = {}
        for row in rows:
            gone = row.key in deleted and row.key not in self.index
            recorded = Own(row.key, row.status, _row_ids(row))
            for dk in memory_keys(recorded.ids, self.options.match):
                if row.status in ("pushed", "duplicate") and gone:
                    deleted_own.setdefault(dk, recorded)
                elif row.status != "duplicate":
                    own.setdefault(dk, recorded)
        for key in sorted(deleted & derived.keys()):
            if key in self.index:
                continue  # created again since (dedup.recreate_deleted)
            for one in derived[key]:
                for dk in memory_keys(one, self.options.match):
                    deleted_own.setdefault(dk, Own(key, "pushed", one))
        return Memory(own=own, deleted_own=deleted_own)


class _Run:
    """One import batch on an :class:`Importer`: its report and the outcome of each record."""

    def __init__(self, imp: Importer, progress: Progress | None, skip_unchanged: bool) -> None:
        self.imp = imp
        self.config = imp.config
        self.store = imp.store
        self.gw = imp.gw
        self.library, self.keys = imp.library, imp.keys
        self.dry_run = imp.dry_run
        self.options = imp.options
        self.collection = imp.collection
        self.skip_unchanged = skip_unchanged
        self.progress = progress or (lambda stage, done, total: None)
        self.report = Report(library=self.library, dry_run=self.dry_run)
        # The report's ``collection`` is the key the items go to (the name in a dry run, which
        # creates nothing); ``collection_name`` is what the user configured, for the summary.
        self.report.collection = imp.collection or imp.collection_name
        self.report.collection_name = imp.collection_name
        self.outcome: dict[int, str] = {}  # record number -> created|duplicate|failed|pending
        self._file_meta: dict[str, tuple[str, os.stat_result]] = {}
        self._ranges: dict[str, tuple[int, int]] = {}  # file -> its records' numbers
        self._counted_at: dict[str, str] = {}  # file -> when it last got a history row
        self._carry: list[_Job] = []  # creates planned, waiting to fill a write
        self._planned: set[str] = set()  # keys of the items this run planned to create
        self._counted: set[str] = set()  # keys of earlier runs' items counted new by this one
        self._sent = 0
        self._to_send = 0
        self._stalled_since: float | None = None  # the first refused write since one went in
        self._settled: list[Entry] = []  # outcomes of rows of earlier runs settled now

    # The index and the version it reflects belong to the importer (they outlive the run).
    @property
    def index(self) -> LibraryIndex:
        return self.imp.index

    @property
    def version(self) -> int:
        return self.imp.version

    @version.setter
    def version(self, value: int) -> None:
        self.imp.version = value

    def refresh(self) -> list[KnownItem]:
        return self.imp.refresh()

    def memory(
        self, rows: Iterable[RecordRow] | None = None, ids: Iterable[Identifiers] = ()
    ) -> Memory:
        return self.imp.memory(rows, ids)

    def merge(self, key: str, refs: list[int], records: list[_Record]) -> bool:
        """Merge the records at ``refs`` into item ``key`` (:func:`merge_item`; the last one
        may complete it); True when tags or the collection were added."""
        tags = [t for ref in refs for t in (records[ref].item or {}).get("tags", [])]
        last = records[refs[-1]]
        if self.dry_run:  # reads the item when it may be completed; writes nothing
            got = Merged(False, would_complete(self.imp, key, last.item, last.ids.pmid))
        else:
            got = merge_item(self.imp, key, tags, last.item, last.ids.pmid)
        if got.completed:
            why = f"{'would be ' * self.dry_run}completed: {', '.join(got.completed)}"
            self.report.completed.append(Entry(last.where, key, why, last.ids.pmid))
        return got.changed

    # ---- reading ----------------------------------------------------------------------------

    def read(
        self, paths: Sequence[Path], mapping: MappingOptions, pmids: Sequence[str] = ()
    ) -> Iterator[_Record]:
        """The records of ``paths`` (then of ``pmids``), read and mapped one at a time (nothing
        is held: the caller plans them in bounded batches). Each input's records are numbered
        on from the last input's, and ``self._ranges`` keeps each input's range of numbers."""
        imported = self.store.imported_hashes(self.library)
        for path in paths:
            source = str(path)
            try:
                sha, st = _sha256(path)
            except InputError as exc:
                self.report.files.append(file_error(source, exc))
                continue
            if sha in imported and self.skip_unchanged:
                self.report.files.append(
                    FileReport(source, 0, "unchanged", "already imported (same content)")
                )
                continue
            file_report = FileReport(source, detail="imported before" if sha in imported else "")
            self._file_meta[source] = (sha, st)
            yield from self._read_input(
                [file_report], self.imp.inputs.read(path, self.holders), mapping
            )
        if pmids:
            reports = [FileReport(pmid_input(p)) for p in dict.fromkeys(pmids)]
            got = self.imp.inputs.read_pmids(list(dict.fromkeys(pmids)), self.holders)
            yield from self._read_input(reports, got, mapping)
        self.progress("read", self.report.records_read, self.report.records_read)

    def _read_input(
        self,
        reports: list[FileReport],
        got: Iterator[MedlineRecord | Problem | Listed],
        mapping: MappingOptions,
    ) -> Iterator[_Record]:
        """Map and count what one input (or the PMIDs of the command line) yields."""
        self.report.files.extend(reports)
        by_source = {r.path: r for r in reports}
        try:
            for one in got:
                if isinstance(one, Problem):
                    self.report.problems.append(one)
                    continue
                file_report = by_source.get(one.source, reports[0])
                rec = self._listed(one) if isinstance(one, Listed) else self._map(one, mapping)
                if file_report.path not in self._ranges:
                    self._ranges[file_report.path] = (self.report.records_read,) * 2
                file_report.records += 1
                self.report.records_read += 1
                self._ranges[file_report.path] = (
                    self._ranges[file_report.path][0],
                    self.report.records_read,
                )
                if self.report.records_read % 500 == 0:
                    self.progress("read", self.report.records_read, 0)
                yield rec
        except InputError as exc:
            error = file_error(exc.source or reports[0].path, exc)
            for file_report in reports:
                file_report.outcome, file_report.detail = error.outcome, error.detail
                file_report.hint = error.hint

    def holders(self, ids: list[Identifiers]) -> list[bool]:
        """Which of these articles the plan will find held (in the library, or created by syncd
        and deleted by the user): an ID input need not fetch their records."""
        self.index.prefetch(ids, match=self.options.match)
        memory = self.memory(ids=ids)
        return [
            isinstance(
                decide(
                    one,
                    self.index,
                    {},
                    memory.deleted_own,
                    self.options,
                    library=self.keys,
                    own=memory.own,
                ),
                Duplicate | Deleted,
            )
            for one in ids
        ]

    def _listed(self, got: Listed) -> _Record:
        """An article an ID input lists without its record (held, or failed): merging it adds
        the configured tags and the collection, as for any duplicate."""
        item = None if got.error else {"tags": [{"tag": t} for t in self.config.tags.extra]}
        return _Record(got.ids, got.where, got.source, item, got.error or got.pending, got.pending)

    def _map(self, record: MedlineRecord, mapping: MappingOptions) -> _Record:
        where = f"{record.source}:{record.line}" if record.line else record.source
        ids = record_identifiers(record)
        try:
            item, problems = map_record(record, mapping)
        except Exception as exc:  # a mapping bug must cost one record, not the run
            logger.exception("%s: cannot map the record", where)
            return _Record(ids, where, record.source, None, f"cannot map the record: {exc}")
        self.report.problems.extend(problems)
        if self.collection:
            item["collections"] = [self.collection]
        return _Record(ids, where, record.source, item)

    # ---- sending ----------------------------------------------------------------------------

    def settle_pending(self) -> None:
        """Rows left pending by an interrupted run: already in the library (its key is in the
        index) → pushed; now a duplicate of another item → duplicate; else sent again. Their
        outcomes are kept apart (:attr:`_settled`): a record read again in this run takes its
        outcome from there, the others are listed as ``recovered``."""
        rows = self.store.records(self.library, ["pending"])
        if not rows:
            return
        logger.info(
            "%s: settling %d records left pending by an earlier run", self.library, len(rows)
        )
        if self.dry_run:
            for row in rows:
                self._settled.append(Entry(row_where(row), row.key, "would be settled", row.pmid))
            return
        resend: list[tuple[RecordRow, dict[str, Any]]] = []
        updates: list[tuple[str, str, str | None]] = []
        written: dict[str, dict[str, str]] = {}
        deleted = self.store.deleted_keys(self.library)
        for row in rows:
            where = row_where(row)
            s = settle(
                row.key,
                _row_ids(row),
                row.payload is not None,
                self.index,
                deleted,
                self.options,
                library=self.keys,
            )
            if s.status == "resend":
                assert row.payload is not None
                resend.append((row, row.payload))
                continue
            if s.status == "duplicate":
                # Someone else created the article meanwhile: the row now names their item.
                self.store.put_records(
                    self.library,
                    [replace(row, key=s.key, status="duplicate", error=s.reason, payload=None)],
                )
            else:
                # A pushed row keeps its note (a possible duplicate); a failed one its reason.
                updates.append(
                    (row.identity, s.status, row.error if s.status == "pushed" else s.reason)
                )
                if s.status == "pushed" and row.payload is not None:  # what syncd wrote there
                    written[row.key] = written_digests(row.payload)
            self._settled.append(
                Entry(where, s.key, s.reason, row.pmid, uncertain=s.uncertain, outcome=s.outcome)
            )
        with self.store.transaction():
            self.store.set_status(self.library, updates)
            self.store.put_written(self.library, written, utc_stamp())
        for start in range(0, len(resend), BATCH):
            chunk = resend[start : start + BATCH]
            jobs = [
                _Job(
                    identity=row.identity,
                    key=row.key,
                    ids=_row_ids(row),
                    payload=payload,
                    where=row_where(row),
                    recovered=True,
                    maybe_sent=True,  # the interrupted run may have sent it
                    note=row.error,
                )
                for row, payload in chunk
            ]
            self._send_isolated(jobs)

    def _send_isolated(self, jobs: list[_Job]) -> None:
        """:meth:`_send`, and when a batch fails on something unexpected (an answer or an item
        that trips syncd: a bug), its jobs one by one, so that the one that trips it fails
        alone, with the reason, instead of staying pending and tripping every later run. The
        library index still holds anything such a write made: nothing is created twice."""
        try:
            self._send(jobs)
        except (RemoteError, StateError, InputError):
            raise
        except Exception as exc:
            if len(jobs) > 1:
                logger.warning("a batch of %d failed unexpectedly: sending one by one", len(jobs))
                for job in jobs:
                    self._send_isolated([job])
                return
            logger.exception("%s: sending the item failed unexpectedly", jobs[0].where)
            self._failed(jobs[0], f"syncd failed on this record ({type(exc).__name__}: {exc})")

    def _send(self, jobs: list[_Job]) -> None:
        """Record ``jobs`` as pending and create them (one batch, <= 50), handling conflicts:
        a write refused because the library changed waits (:func:`conflict_delay`), refreshes
        the index and plans the batch again, until it is accepted or the run gives up."""
        conflicts, guarded = 0, True
        while jobs:
            if self.report.gave_up is not None:
                self._leave_pending(jobs)
                return
            with self.store.transaction():
                jobs = self._recheck(jobs)
                if not jobs:
                    return
                self.store.put_records(self.library, [j.row("pending") for j in jobs])
            guard = self.version
            try:
                result = self.gw.create_items(
                    [j.payload for j in jobs], if_unmodified_since=guard if guarded else None
                )
            except VersionConflict as exc:
                if exc.answer_lost:
                    # An earlier attempt of this POST may have been applied: the change that
                    # refused it may be our own write.
                    for job in jobs:
                        job.maybe_sent = True
                conflicts += 1
                if not self._wait_after_conflict(conflicts, guard):
                    self._leave_pending(jobs)
                    return
                # Only other syncd writers moved it: their keys keep the retry exact, unguarded.
                if not (guarded := keep_guard(self.keys, self.refresh())):
                    logger.info("%s: other syncd writers: sending without the guard", self.library)
                continue
            self._stalled_since = None
            sent, jobs = jobs, self._outcomes(jobs, result, guarded)
            if not guarded:
                self._after_unguarded(sent, result)

    def _after_unguarded(self, sent: list[_Job], result: WriteResult) -> None:
        """Bring the index up at once after an unguarded write (the next guarded one would be
        refused for this write's own change), and list an article created while a foreign
        writer added it under another key as a possible duplicate (see syncd.core.writers)."""
        created = [sent[i] for i in result.created]
        for item in self.refresh():
            if made_by_syncd(self.keys, item):
                continue
            for job in created:
                if item.key != job.key and share_a_key(item.ids, job.ids):
                    why = f"another writer added item {item.key} for it at the same moment"
                    self.report.possible_duplicates.append(
                        Entry(job.where, job.key, why, job.ids.pmid)
                    )

    def _wait_after_conflict(self, n: int, guard: int) -> bool:
        """Wait before the ``n``-th try in a row of a refused write; False when the run gives
        up instead (no write accepted for ``give_up_after`` seconds)."""
        now = time.monotonic()
        if self._stalled_since is None:
            self._stalled_since = now
        limit = self.imp.give_up_after
        stalled = now - self._stalled_since
        if limit is not None and stalled >= limit:
            self.report.gave_up = (
                f"other writers kept changing the library: no write accepted for "
                f"{_duration(stalled)}"
            )
            logger.warning(
                "%s: %s; giving up (zotero.conflict_timeout_seconds = %g); the records not "
                "sent stay pending and are settled by the next run",
                self.library,
                self.report.gave_up,
                limit,
            )
            return False
        delay = conflict_delay(n, self.imp.rng.random())
        if limit is not None:
            delay = min(delay, max(0.0, limit - stalled))
        logger.info(
            "%s: the library changed since version %d (another writer); trying again in %.1f s",
            self.library,
            guard,
            delay,
        )
        self.imp.sleep(delay)
        return True

    def _leave_pending(self, jobs: list[_Job]) -> None:
        """The run gave up: record ``jobs`` as pending (with their items, so that the next run
        sends them) unless they turn out to be duplicates now."""
        with self.store.transaction():
            jobs = self._recheck(jobs)
            self.store.put_records(self.library, [j.row("pending") for j in jobs])
        for job in jobs:
            reason = "not sent: other writers kept changing the library; the next run sends it"
            self._emit(job, "pending", Entry(job.where, job.key, reason, job.ids.pmid))
            for ref in job.refs:
                self.outcome[ref] = "pending"

    def _emit(self, job: _Job, outcome: str, entry: Entry) -> None:
        """Report ``job``'s outcome: in this run's lists, or apart when it is a row of an
        earlier run being settled."""
        if job.recovered:
            entry.outcome = outcome
            self._settled.append(entry)
        else:
            {
                "created": self.report.created,
                "duplicate": self.report.duplicates,
                "failed": self.report.failed,
                "pending": self.report.pending,
            }[outcome].append(entry)

    def _ours(self, job: _Job, reason: str, uncertain: bool) -> None:
        """``job``'s item is in the library under its planned key, written by this run (or,
        when ``uncertain``, maybe by another writer at the same moment)."""
        self.store.put_records(self.library, [job.row("pushed")])
        self.store.put_written(self.library, {job.key: written_digests(job.payload)}, utc_stamp())
        if uncertain:
            reason += " (the answer to its write was lost: another writer may have created it)"
        self._emit(job, "created", Entry(job.where, job.key, reason, job.ids.pmid, uncertain))
        if not job.recovered:
            self._note_possible(job)
        for ref in job.refs:
            self.outcome[ref] = "created"

    def _note_possible(self, job: _Job) -> None:
        """List a created article that shares a DOI with an item whose title differs."""
        if job.note:
            self.report.possible_duplicates.append(
                Entry(job.where, job.key, job.note, job.ids.pmid)
            )

    def _theirs(self, job: _Job) -> None:
        """Another syncd created the article under the same derived key before this run's
        write: a duplicate of that item. The row says pushed (syncd's item under syncd's key),
        so that a later deletion in Zotero is respected like one of this process's items."""
        self.store.put_records(self.library, [job.row("pushed")])
        reason = f"created by another writer meanwhile as item {job.key}"
        self._emit(job, "duplicate", Entry(job.where, job.key, reason, job.ids.pmid))
        for ref in job.refs:
            self.outcome[ref] = "duplicate"

    def _recheck(self, jobs: list[_Job]) -> list[_Job]:
        """Re-decide a batch against the fresh index and every syncd process's rows (read in
        the caller's transaction); duplicates are recorded and dropped, keys may change."""
        # Only what dedup.match uses: by title fingerprint costs most (many "Erratum." notices).
        columns = [c for c, kind in _COLUMNS if kind in self.options.match]
        rows = self.store.records_like(self.library, [j.ids for j in jobs], columns)
        memory = self.memory(rows)
        keep: list[_Job] = []
        taken = {j.key for j in jobs}
        for job in jobs:
            d = decide(
                job.ids,
                self.index,
                {},
                memory.deleted_own,
                self.options,
                library=self.keys,
                own=memory.own,
                taken=taken - {job.key},
            )
            if isinstance(d, Duplicate) and d.key == job.key:
                # In the library under the key planned for it. Ours only when a write of ours
                # may have been applied although its answer was lost; otherwise another syncd
                # process (which derives the same key) created it first.
                if job.maybe_sent:
                    self._ours(job, "in the library under its planned key", uncertain=True)
                else:
                    self._theirs(job)
                self._sent += 1
            elif isinstance(d, New):
                if d.key != job.key:
                    taken.discard(job.key)
                    taken.add(d.key)
                    job.key = d.key
                    job.payload = {**job.payload, "key": d.key}
                    job.maybe_sent = False  # nothing was ever sent under the new key
                keep.append(job)
            elif isinstance(d, Duplicate | Deleted):
                self._duplicate(job, d.key, d.reason)
            else:
                self._failed(job, d.reason)
        return keep

    def _duplicate(self, job: _Job, key: str, reason: str) -> None:
        current = self.store.record(self.library, job.identity)
        if current is None or current.status != "pushed":
            self.store.put_records(self.library, [job.row("duplicate", key=key, error=reason)])
        self._emit(job, "duplicate", Entry(job.where, key, reason, job.ids.pmid))
        for ref in job.refs:
            self.outcome[ref] = "duplicate"

    def _failed(self, job: _Job, reason: str) -> None:
        self.store.set_status(self.library, [(job.identity, "failed", reason)])
        self.store.note_records(self.library, [job.row("failed", error=reason)])
        self._emit(job, "failed", Entry(job.where, job.key, reason, job.ids.pmid))
        for ref in job.refs:
            self.outcome[ref] = "failed"

    def _outcomes(self, jobs: list[_Job], result: WriteResult, guarded: bool) -> list[_Job]:
        """Record a write's outcomes; return the jobs to send again (key collisions)."""
        pushed: list[tuple[str, str, str | None]] = []
        new_items: list[KnownItem] = []
        written: dict[str, dict[str, str]] = {}  # what syncd wrote (completion: core.complete)
        for i, (key, _) in result.created.items():
            if not 0 <= i < len(jobs) or key != jobs[i].key:
                # A success naming keys that were not sent: believing it would put phantom
                # keys in the index (later merges go nowhere). The rows stay pending.
                sent = jobs[i].key if 0 <= i < len(jobs) else "nothing"
                raise RemoteError(
                    f"library {self.library}: the server reported item {i} of a write created "
                    f"as {key}, but the item sent there had the key {sent}: not what the "
                    "Zotero API does; the records stay pending",
                    hint="check that zotero.api_url points at the Zotero Web API",
                )
        for i, (key, version) in result.created.items():
            job = jobs[i]
            made = KnownItem(
                key,
                item_identifiers(job.payload),
                version,
                tags=tuple((t["tag"], int(t.get("type", 0))) for t in job.payload.get("tags", [])),
                collections=tuple(job.payload.get("collections", [])),
            )
            new_items.append(made)
            written[key] = written_digests(job.payload)
            pushed.append((job.identity, "pushed", job.note))
            self._emit(job, "created", Entry(job.where, key, "created", job.ids.pmid))
            if not job.recovered:
                self._note_possible(replace(job, key=key))
            for ref in job.refs:
                self.outcome[ref] = "created"
        again: list[_Job] = []
        theirs: list[_Job] = []
        ours: list[_Job] = []
        if result.existing:
            # The key exists: our own earlier write (a lost response, a crash) or another
            # syncd process. Check that it is this article before believing it.
            lost = result.answer_lost
            keys = [result.existing[i] for i in sorted(result.existing)]
            found = self.gw.known_items(keys)
            for i in sorted(result.existing):
                job = jobs[i]
                item = found.get(job.key)
                if item is not None:
                    new_items.append(item)
                if item is not None and share_a_key(item.ids, job.ids):
                    (ours if lost or job.maybe_sent else theirs).append(job)
                else:
                    # Another article holds the key (or it vanished): plan it again, which
                    # picks the next key now that the index knows the holder.
                    logger.warning(
                        "%s: key %s is taken by another item; choosing another", job.where, job.key
                    )
                    job.attempt += 1
                    again.append(job)
        for item in new_items:
            self.index.add(item)
        if not again and guarded:
            # The write was accepted at exactly our indexed version, so the library now differs
            # from the index only by what this write did, and the index has all of it (not so
            # for an unguarded one: the next refresh brings what others wrote meanwhile).
            self.version = max(self.version, int(result.library_version))
        with self.store.transaction():
            self.store.set_status(self.library, pushed)
            self.store.update_index(
                self.library,
                map(to_row, new_items),
                version=self.version,
            )
            self.store.forget_deleted(self.library, [k for k, _ in result.created.values()])
            self.store.put_written(self.library, written, utc_stamp())
            for job in ours:
                self._ours(job, "already created under its key", uncertain=True)
            for job in theirs:
                self._theirs(job)
        for i, (code, message) in result.failed.items():
            self._failed(jobs[i], f"Zotero refused it ({code}): {message}")
        self._sent += len(jobs) - len(again)
        self.progress("send", self._sent, self._to_send)
        return again

    # ---- the whole run ----------------------------------------------------------------------

    def run(self, files: Sequence[Path], pmids: Sequence[str] = ()) -> Report:
        """Settle pending rows, then read, plan and send ``files`` (already listed), in
        batches of :data:`PLAN_BATCH` records: each batch is read and mapped, its index
        entries and earlier records fetched from the state database, planned and sent before
        the next is read. Articles met earlier in the run (``seen``: their dedup keys) carry
        over from batch to batch, so that a repeat in a later batch is still "the same
        article as" its first record."""
        with state_users(self.store.path) as alone:
            return self._run(files, settle=alone, pmids=pmids)

    def _run(self, files: Sequence[Path], *, settle: bool, pmids: Sequence[str] = ()) -> Report:
        if settle:
            self.settle_pending()
        else:
            logger.info(
                "%s: another syncd run is using %s; rows it left pending are its own (or are "
                "settled by a later run)",
                self.library,
                self.store.path,
            )
        if not files and not pmids:
            self._list_settled()
            return self.report
        mapping = mapping_options(self.config, self.imp.native)
        seen: dict[str, Seen] = {}
        merged: set[str] = set()
        batch: list[_Record] = []
        offset = 0
        for rec in self.read(files, mapping, pmids):
            batch.append(rec)
            if len(batch) >= PLAN_BATCH:
                self._batch(batch, offset, seen, merged)
                offset += len(batch)
                batch = []
        if batch:
            self._batch(batch, offset, seen, merged)
        if self._carry:
            self._send_isolated(self._carry)
            self._carry = []
        self._list_settled()
        count_files(self.report)
        if not self.dry_run:
            self._record_files()
        return self.report

    def _batch(
        self,
        records: list[_Record],
        offset: int,
        seen: dict[str, Seen],
        merged: set[str],
    ) -> None:
        """Plan and send one batch of records (numbered from ``offset`` in the run)."""
        ids = [r.ids for r in records if r.error is None]
        index = self.index
        index.clear()
        index.prefetch(ids, match=self.options.match)
        memory = self.memory(ids=ids)  # prefetches the keys the batch's articles would get
        candidates = [Candidate(r.ids, r.where, r.error) for r in records]
        p = plan(
            candidates,
            WithoutRun(index, self._planned),
            Memory(seen_in_run=seen, own=memory.own, deleted_own=memory.deleted_own),
            self.options,
            library=self.keys,
        )
        seen.update(p.seen)
        merges: dict[str, list[int]] = {}
        jobs: list[_Job] = []
        notes: list[RecordRow] = []
        settled = {e.key: e for e in self._settled}
        for action in p.actions:
            rec = records[action.ref]
            ref = offset + action.ref
            # A record read in this run whose row an interrupted run left pending (settled
            # above) is this run's record: its outcome is counted here, once, not apart.
            done = settled.pop(action.key, None) if not isinstance(action, Fail) else None
            if done is None and not isinstance(action, Fail | Create):
                # ... or settled earlier by this process (the daemon settles at its start).
                done = self.imp.unclaimed.pop(action.key, None)
            if isinstance(action, Create):
                assert rec.item is not None and "itemType" in rec.item, rec.where
                self._planned.add(action.key)
                payload = {**rec.item, "key": action.key, "version": 0}
                members = tuple(offset + m for m in action.members)
                note = "; ".join(p.describe() for p in action.possible) or None
                jobs.append(
                    _Job(
                        action.identity, action.key, rec.ids, payload, rec.where, members, note=note
                    )
                )
            elif done is not None and done.outcome == "created":
                self.report.created.append(
                    replace(done, where=rec.where, pmid=rec.ids.pmid, outcome="")
                )
                self.outcome[ref] = "created"
                self._counted.add(done.key or "")  # its repeats are duplicates of it
                self._claim(rec, done.key)
            elif isinstance(action, Merge | Skip) and self._uncounted(rec, action.key):
                reason = "created by an earlier run that ended before it was counted"
                self.report.created.append(Entry(rec.where, action.key, reason, rec.ids.pmid))
                self.outcome[ref] = "created"
                self._counted.add(action.key)
            elif isinstance(action, Merge | Skip):
                self.report.duplicates.append(
                    Entry(rec.where, action.key, action.reason, rec.ids.pmid)
                )
                self.outcome[ref] = "duplicate"
                if isinstance(action, Merge):
                    merges.setdefault(action.key, []).append(action.ref)
                if action.origin == "library":
                    notes.append(_note(rec, "duplicate", action.key, action.reason))
            elif isinstance(action, Fail) and rec.pending:  # its record is for the next run
                self.report.pending.append(Entry(rec.where, None, rec.pending, rec.ids.pmid))
                self.outcome[ref] = "pending"
            elif isinstance(action, Fail):
                self.report.failed.append(Entry(rec.where, None, action.reason, rec.ids.pmid))
                self.outcome[ref] = "failed"
                if identity(rec.ids):
                    notes.append(_note(rec, "failed", "", action.reason))
        self._settled = list(settled.values())
        self._to_send += len(jobs)
        if self.dry_run:
            for job in jobs:
                self.report.created.append(
                    Entry(job.where, job.key, "would be created", job.ids.pmid)
                )
                self._note_possible(job)
            for key, refs in merges.items():
                self.merge(key, refs, records)
                if key not in merged and self._would_merge(key, refs, records):
                    merged.add(key)
                    self.report.merged.append(key)
            return
        self.store.note_records(self.library, notes)
        jobs = self._carry + jobs
        full = len(jobs) - len(jobs) % BATCH
        for start in range(0, full, BATCH):
            self._send_isolated(jobs[start : start + BATCH])
        self._carry = jobs[full:]
        for key, refs in merges.items():
            if self.merge(key, refs, records) and key not in merged:
                merged.add(key)
                self.report.merged.append(key)

    def _claim(self, rec: _Record, key: str | None) -> None:
        """A settled row counted for ``rec``: it now names the file whose history counts it."""
        row = self.imp.pushed_rows.get(key or "")
        if row is not None and row.source != rec.file:
            line = split_where(rec.where)[1]
            self.store.put_records(self.library, [replace(row, source=rec.file, line=line)])

    def _uncounted(self, rec: _Record, key: str) -> bool:
        """Whether ``rec``'s item was created from this same file by a run that was killed
        before it wrote the file's history row: then it is new for the file, not a duplicate
        of syncd's own item (the history must add up to what the library gained)."""
        row = self.imp.pushed_rows.get(key)
        if row is None or row.source != rec.file or key in self._planned or key in self._counted:
            return False
        if rec.file not in self._counted_at:
            self._counted_at[rec.file] = self.store.last_counted(self.library, rec.file)
        return (row.updated_at or "") > self._counted_at[rec.file]

    def _list_settled(self) -> None:
        """Rows of earlier runs settled now whose records this run did not read: listed apart
        (``recovered``), not counted among this run's records. (Settled rows found again
        among a run's records take their outcome there: see :meth:`run`.)"""
        self.report.recovered.extend(self._settled)
        self._settled = []

    def _would_merge(self, key: str, refs: list[int], records: list[_Record]) -> bool:
        item = self.index.get(key)
        if item is None:
            return False
        have = {n for n, _ in item.tags}
        tags = [t for ref in refs for t in (records[ref].item or {}).get("tags", [])]
        return any(t["tag"] not in have for t in tags) or bool(self.report.collection)

    def _record_files(self) -> None:
        """Count each input's share of the run and write its ``files`` and ``history`` rows
        (the one place both are written for an import, by the daemon or ``syncd import``)."""
        bad_lines: dict[str, list[int]] = {}
        for p in self.report.errors:
            bad_lines.setdefault(p.source, []).append(p.line)
        at = utc_stamp()
        history: list[HistoryRow] = []
        for f in self.report.files:
            if f.outcome not in ("unchanged", "unreadable"):
                first, end = self._ranges.get(f.path, (0, 0))
                outcomes = [self.outcome.get(n, "pending") for n in range(first, end)]
                failed = outcomes.count("failed") + outcomes.count("pending")
                if failed or f.path in bad_lines:
                    f.outcome = "partial"
                    f.detail = problems_detail(failed, bad_lines.get(f.path, []))
                if f.path in self._file_meta:  # not for PMIDs given on the command line
                    sha, st = self._file_meta[f.path]
                    f.sha256 = sha
                    row = FileRow(f.path, st.st_size, st.st_mtime_ns, sha, f.outcome, f.records)
                    self.store.put_file(
                        self.library,
                        replace(
                            row, detail=f.detail or None, inode=st.st_ino, ctime_ns=st.st_ctime_ns
                        ),
                    )
            history.append(
                HistoryRow(
                    f.path,
                    at,
                    f.outcome,
                    f.records,
                    f.new,
                    f.duplicates,
                    f.merged,
                    f.failed,
                    f.detail or None,
                    f.sha256,
                    f.uncertain,
                    f.completed,
                )
            )
            f.recorded = True
        self.store.add_history(self.library, history)


def import_paths(
    paths: Sequence[Path],
    config: Config,
    store: StateStore,
    gateway: Target,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    skip_unchanged: bool = False,
    pmids: Sequence[str] = (),
) -> Report:
    """Import the inputs at ``paths`` (files or folders) and ``pmids`` (fetched from PubMed)
    into ``gateway``'s library.

    ``skip_unchanged``: a file whose content (sha256) was fully imported before is not read
    again (for the daemon's rescans). ``syncd import`` reads it, which costs no request beyond
    the index refresh, so that its report lists every record with the item it matched.

    A write that other writers' changes keep refusing is tried again for
    ``zotero.conflict_timeout_seconds`` without an accepted write; then the records not sent
    stay pending (``Report.gave_up``; the next run sends them).

    Raises :class:`syncd.errors.RemoteError` for fatal server answers (no access, or the
    server failing beyond the retries; records already recorded as pending are settled by the
    next run), :class:`InputError` for a path that does not exist, :class:`StateError` for an
    unusable state database.
    """
    importer = Importer(
        config,
        store,
        gateway,
        dry_run=dry_run,
        give_up_after=config.zotero.conflict_timeout_seconds,
    )
    try:
        return importer.run(paths, progress=progress, skip_unchanged=skip_unchanged, pmids=pmids)
    finally:
        importer.inputs.close()
