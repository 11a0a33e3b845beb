"""Polling saved PubMed searches: esearch, the PMIDs not yet seen, the import, the marks.

One poll of a ``[[search]]`` (issue 16 §2):

1. the window (:func:`syncd.core.searches.poll_window`) from the search's marks in the state
   database, and ``esearch`` over it, split into smaller windows while one has more hits than
   esearch returns (:func:`~syncd.core.searches.split_until_fits`);
2. the PMIDs this search has not settled before (``search_seen``);
3. those go to the PMID import (:data:`ImportPmids`): PMIDs the library already holds are
   duplicates without being fetched, the others are fetched with ``efetch`` and imported by the
   engine into the search's collection with its tags (:func:`search_config`);
4. the PMIDs whose records settled are noted as seen, and only when every record of the poll
   settled does the search's "last successful poll" move (a record left pending, NCBI or
   Zotero lost, a kill -9: the next poll searches the same window again, and the exactly-once
   engine creates nothing twice).

The schedule (``next_poll``) is kept in the state database, so a restarted daemon does not poll
every search at once; searches never polled are spread a little
(:func:`~syncd.core.searches.first_due`).
A search is its (name, query): a changed query starts a new row; rows of searches no longer
configured are kept and listed, never polled.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from syncd.config import Config
from syncd.config_search import SearchConfig
from syncd.core import searches as rules
from syncd.engine import Importer
from syncd.errors import ConfigError, RemoteError, StateError, SyncdError
from syncd.report import Report
from syncd.sources.ids import Inputs
from syncd.state import StateStore, utc_stamp
from syncd.state_searches import SearchRow
from syncd.targets.base import Target

log = logging.getLogger("syncd.searches")


class Hits(Protocol):
    @property
    def count(self) -> int: ...

    @property
    def pmids(self) -> list[str]: ...


class SearchClient(Protocol):
    """What a poll needs of the E-utilities client (:class:`syncd.pubmed.eutils.Eutils`)."""

    def esearch(
        self,
        term: str,
        *,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "edat",
        retmax: int = 10000,
    ) -> Hits: ...


ImportPmids = Callable[[Importer, list[str], str], Report]
"""Import PMIDs (deduplicated against the library before fetching, the rest fetched and
imported) with the importer given; the last argument names the input in the report."""


def search_config(config: Config, search: SearchConfig) -> Config:
    """The config a search's items are imported with: its collection (else
    ``zotero.collection``) and ``tags.extra`` followed by its tags."""
    tags = tuple(dict.fromkeys((*config.tags.extra, *search.tags)))
    return replace(
        config,
        zotero=replace(config.zotero, collection=search.collection or config.zotero.collection),
        tags=replace(config.tags, extra=tags),
    )


class PollFailed(Exception):
    """A poll that could not run through (NCBI unreachable, the query refused, a day over the
    cap); ``usage`` when it is the user's to fix (exit 2), else it is tried again later."""

    def __init__(self, message: str, *, usage: bool) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass
class PollResult:
    """One poll: the import report (None when the poll failed before importing), the hits
    esearch gave, the PMIDs not seen before, and whether the search advanced."""

    search: SearchConfig
    report: Report | None
    hits: int = 0
    candidates: int = 0
    windows: int = 0
    full: bool = False
    advanced: bool = False
    error: str | None = None
    usage_error: bool = False

    @property
    def exit_code(self) -> int:
        """As ``syncd import``: 2 the user's query or configuration, 1 records failed or left
        pending (NCBI unreachable counts as pending), 0 all in."""
        if self.usage_error:
            return 2
        if self.error:
            return 1
        assert self.report is not None
        return max(self.report.exit_code, 0 if self.advanced else 1)

    def as_dict(self, library: str) -> dict[str, Any]:
        out = (self.report or Report(library)).as_dict()
        out["search"] = {
            "name": self.search.name,
            "query": self.search.query,
            "hits": self.hits,
            "not_seen_before": self.candidates,
            "windows": self.windows,
            "full_run": self.full,
            "advanced": self.advanced,
            "error": self.error,
        }
        return out


def poll_line(result: PollResult) -> str:
    """The journal's line for one poll, like the per-file line."""
    name = f"search {result.search.name!r}"
    if result.error:
        return f"{name}: poll failed: {result.error}"
    c = result.report.counts() if result.report else {}
    line = (
        f"{name}: {result.hits} hit{'' if result.hits == 1 else 's'}, "
        f"{result.candidates} not seen before: {c.get('new', 0)} new, "
        f"{c.get('duplicates', 0)} duplicate{'' if c.get('duplicates', 0) == 1 else 's'}, "
        f"{c.get('failed', 0)} failed"
    )
    if c.get("pending"):
        line += f", {c['pending']} left pending (the next poll settles them)"
    return line + (" (full run)" if result.full else "")


class Poller:
    """Polls the saved searches of one library.

    :param importer_for: builds the importer a search's records go through (its config made
        by :func:`search_config`); called once per search and kept.
    :param now: the clock (epoch seconds); the day of a poll is its UTC day.
    """

    def __init__(
        self,
        config: Config,
        store: StateStore,
        client: SearchClient,
        import_pmids: ImportPmids,
        importer_for: Callable[[Config], Importer],
        *,
        dry_run: bool = False,
        now: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.import_pmids = import_pmids
        self.importer_for = importer_for
        self.dry_run = dry_run
        self.now = now
        self.rng = rng or random.Random()
        self.cap = rules.ESEARCH_CAP  # the most PMIDs one esearch is trusted to return
        self._importers: dict[tuple[str, str], Importer] = {}
        library = config.zotero.library
        if library is None:
            raise ConfigError("no Zotero library is configured", hint="see 'syncd doctor'")
        self.library = library

    # ---- schedule -----------------------------------------------------------------------

    def configured(self, names: Sequence[str] = ()) -> list[SearchConfig]:
        """The searches of the config (``names``: those only; an unknown name is a usage
        error naming the known ones)."""
        searches = list(self.config.searches)
        if not names:
            return searches
        by_name = {s.name: s for s in searches}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(by_name) or "none"
            asked = ", ".join(repr(n) for n in unknown)
            raise ConfigError(
                f"no saved search named {asked} (configured: {known})",
                hint="add a [[search]] table to the config (see docs/searches.md)",
            )
        return [by_name[n] for n in dict.fromkeys(names)]

    def row(self, search: SearchConfig) -> SearchRow:
        name, query = rules.identity(search.name, search.query)
        return self.store.search_row(self.library, name, query) or SearchRow(name, query)

    def due(self) -> list[SearchConfig]:
        """The enabled searches due now, the earliest first. A search never scheduled gets its
        first due time now, the ones after it spread a little, and that time is written down, so
        a restart does not fire them all together."""
        now = self.now()
        fresh = 0
        out: list[tuple[float, SearchConfig]] = []
        for search in self.config.searches:
            if not search.enabled:
                continue
            row = self.row(search)
            due = row.next_poll
            if due is None:
                due = rules.first_due(now, search.every_hours, fresh, self.rng.random())
                fresh += 1
                if not self.dry_run:
                    self.store.put_search(self.library, replace(row, next_poll=due), utc_stamp())
            if rules.is_due(now, due):
                out.append((due, search))
        return [s for _, s in sorted(out, key=lambda pair: pair[0])]

    # ---- one poll -----------------------------------------------------------------------

    def poll(self, search: SearchConfig) -> PollResult:
        """Poll ``search`` now, whatever its schedule (see the module doc). Failures of NCBI or
        of the query are in the result; a failure of Zotero or of the state database is raised
        (after the search's row says the poll failed)."""
        row = self.row(search)
        started = self.now()
        today = rules.stamp_day(started)
        plan = rules.poll_window(
            today,
            rules.Marks(row.origin, row.last_success, row.last_full),
            since=search.since,
            overlap_days=search.overlap_days,
            full_every_days=search.full_every_days,
        )
        result = PollResult(search, None, full=plan.full)
        try:
            pmids, result.windows = self._search(search, plan.window)
        except PollFailed as exc:
            result.error, result.usage_error = exc.message, exc.usage
            self._failed(row, search, plan, started, exc.message)
            return result
        result.hits = len(pmids)
        seen = self.store.search_seen(self.library, row.name, row.query, pmids)
        candidates = [p for p in pmids if p not in seen]
        result.candidates = len(candidates)
        if candidates:
            try:
                report = self.import_pmids(
                    self._importer(search), candidates, f"search {search.name}"
                )
            except StateError:
                raise
            except SyncdError as exc:  # Zotero (or the collection) failed: the caller says so
                self._failed(row, search, plan, started, exc.message)
                raise
        else:
            report = Report(self.library, dry_run=self.dry_run)  # nothing to fetch or write
        result.report = report
        unsettled = {e.pmid for e in report.pending} | {
            e.pmid for e in report.recovered if e.outcome == "pending"
        }
        outcome = rules.PollOutcome(pending=len(unsettled), gave_up=report.gave_up is not None)
        result.advanced = rules.may_advance(outcome)
        if self.dry_run:
            return result
        # Seen = settled by this poll's report, never merely asked for: a PMID the report does
        # not account for is asked for again by the next poll.
        done = [*report.created, *report.duplicates, *report.failed]
        done += [e for e in report.recovered if e.outcome in ("created", "duplicate", "failed")]
        accounted = {e.pmid for e in done if e.pmid} - unsettled
        settled = [p for p in candidates if p in accounted]
        self.store.add_search_seen(self.library, row.name, row.query, settled)
        c = report.counts()
        polled = replace(
            row,
            origin=plan.origin,
            last_poll_at=utc_stamp(started),
            last_hits=result.hits,
            last_new=c["new"],
            last_duplicates=c["duplicates"] + len(seen),
            last_failed=c["failed"],
        )
        if result.advanced:
            polled = replace(
                polled,
                last_success=today,
                last_full=today if plan.full else row.last_full,
                last_ok=True,
                failures=0,
                next_poll=rules.next_due(started, search.every_hours, self.rng.random()),
                last_error=None,
            )
        else:
            why = report.gave_up or "records left pending"
            if report.pending:
                n = len(report.pending)
                why = f"{n} record{'' if n == 1 else 's'} left pending: {report.pending[0].reason}"
            polled = self._failure(polled, search, started, why)
        self.store.put_search(self.library, polled, utc_stamp())
        return result

    def _search(self, search: SearchConfig, window: rules.Window) -> tuple[list[str], int]:
        """Every PMID of the query in ``window`` (split while a part is over the cap), in
        order, each once; and how many esearch windows that took."""

        def ask(part: rules.Window) -> Hits:
            return self.client.esearch(
                search.query,
                mindate=rules.entrez_date(part.first),
                maxdate=rules.entrez_date(part.last),
                datetype="edat",
                retmax=self.cap + 1,
            )

        try:
            parts = rules.split_until_fits(window, ask, lambda h: h.count, self.cap)
        except rules.NarrowQuery as exc:
            raise PollFailed(str(exc), usage=True) from None
        except RemoteError as exc:
            raise PollFailed(f"PubMed could not be reached: {exc.message}", usage=False) from None
        except ConfigError as exc:  # the query refused by esearch (QueryError)
            raise PollFailed(exc.message, usage=True) from None
        pmids: dict[str, None] = {}
        for part, hits in parts:
            if len(hits.pmids) < hits.count:
                # Never a silent cut: an answer short of its own count is asked again later.
                raise PollFailed(
                    f"esearch gave {len(hits.pmids)} of {hits.count} PMIDs for {part}",
                    usage=False,
                )
            pmids.update(dict.fromkeys(hits.pmids))
        return list(pmids), len(parts)

    def _importer(self, search: SearchConfig) -> Importer:
        key = rules.identity(search.name, search.query)
        if key not in self._importers:
            self._importers[key] = self.importer_for(search_config(self.config, search))
        return self._importers[key]

    def _failure(self, row: SearchRow, search: SearchConfig, at: float, why: str) -> SearchRow:
        failures = row.failures + 1
        return replace(
            row,
            last_ok=False,
            failures=failures,
            next_poll=rules.retry_due(at, search.every_hours, failures, self.rng.random()),
            last_error=why,
        )

    def _failed(
        self, row: SearchRow, search: SearchConfig, plan: rules.Plan, at: float, why: str
    ) -> None:
        log.warning("search %r: poll failed: %s", row.name, why)
        if self.dry_run:
            return
        failed = replace(row, origin=row.origin or plan.origin, last_poll_at=utc_stamp(at))
        self.store.put_search(self.library, self._failure(failed, search, at, why), utc_stamp())


# ---- fetching and importing -------------------------------------------------------------------


def import_through_engine(importer: Importer, pmids: list[str], where: str) -> Report:
    """The :data:`ImportPmids` of syncd: the engine's PMID input (:mod:`syncd.sources.ids`):
    PMIDs the library holds are duplicates without a fetch, the others are fetched in
    batches and imported; one PubMed does not return is a failed record ("not in PubMed")."""
    log.debug("%s: %d PMIDs to import", where, len(pmids))
    return importer.run([], pmids=pmids)


def importer_factory(
    store: StateStore,
    make_gateway: Callable[[Config], Target],
    client: Any,
    *,
    dry_run: bool = False,
    give_up: bool = True,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[Config], Importer]:
    """Builds a search's importer: its gateway, and the engine's PMID input fetching with the
    one E-utilities ``client`` of the process (``give_up``: a one-shot command, which stops
    after ``zotero.conflict_timeout_seconds`` of refused writes; the daemon never does)."""

    def importer_for(cfg: Config) -> Importer:
        gateway = make_gateway(cfg)
        inputs = Inputs(
            cfg, store, gateway.library, deadline=deadline, sleep=sleep, eutils=lambda: client
        )
        return Importer(
            cfg,
            store,
            gateway,
            dry_run=dry_run,
            give_up_after=cfg.zotero.conflict_timeout_seconds if give_up else None,
            sleep=sleep,
            inputs=inputs,
        )

    return importer_for


# ---- the daemon's and run --once's side ---------------------------------------------------------

ClientFactory = Callable[[Config, Callable[[float], None]], Any]
"""Builds the E-utilities client for a config with the daemon's interruptible sleep."""
GatewayFactory = Callable[[Config, Callable[[float], None]], Target]


def next_wakeup(config: Config, store: StateStore, now: float) -> float:
    """The earliest due time of the enabled searches of ``config`` (``inf``: none; ``now``
    for one never scheduled)."""
    library = config.zotero.library or ""
    dues = []
    for s in config.searches:
        if s.enabled:
            name, query = rules.identity(s.name, s.query)
            row = store.search_row(library, name, query)
            dues.append(row.next_poll if row and row.next_poll is not None else now)
    return min(dues, default=float("inf"))


class SearchRunner:
    """Polls the due searches for the daemon (:class:`syncd.core.searches.Scheduled`), one
    after another, one journal line per poll. A poll that fails (NCBI, Zotero) is logged and
    tried again on the search's own retry schedule; the daemon goes on with its files. A
    state database that cannot be written is raised (the daemon waits it out)."""

    def __init__(self, make_client: ClientFactory, make_gateway: GatewayFactory) -> None:
        self.make_client = make_client
        self.make_gateway = make_gateway
        self._client: Any = None
        self._poller: Poller | None = None
        self._for: tuple[int, int] | None = None

    def next_wakeup(self, config: Config, store: StateStore) -> float:
        return next_wakeup(config, store, time.time())

    def run_due(self, config: Config, store: StateStore, sleep: Callable[[float], None]) -> int:
        if not any(s.enabled for s in config.searches):
            return 0
        poller = self._poller_for(config, store, sleep)
        worst = 0
        for search in poller.due():
            try:
                result = poller.poll(search)
            except StateError:
                raise  # the daemon waits a full disk out, or stops
            except SyncdError as exc:  # written on the search's row, retried on its schedule
                log.warning("search %r: poll failed: %s", search.name, exc.message)
                worst = max(worst, 2 if isinstance(exc, ConfigError) else 1)
                continue
            (log.warning if result.error else log.info)("%s", poll_line(result))
            worst = max(worst, result.exit_code)
        return worst

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _poller_for(
        self, config: Config, store: StateStore, sleep: Callable[[float], None]
    ) -> Poller:
        """One poller (and its importers, whose index stays loaded) for as long as the daemon
        keeps its config and its state database."""
        if self._poller is None or self._for != (id(config), id(store)):
            if self._client is None:
                self._client = self.make_client(config, sleep)

            importer_for = importer_factory(
                store,
                lambda cfg: self.make_gateway(cfg, sleep),
                self._client,
                give_up=False,
                sleep=sleep,
            )
            self._poller = Poller(config, store, self._client, import_through_engine, importer_for)
            self._for = (id(config), id(store))
        return self._poller
