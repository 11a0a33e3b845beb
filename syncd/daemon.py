"""The daemon behind ``syncd run``: watch a folder and import every PubMed export once.

Two threads, one job each (maestral's pattern):

* the **main thread** owns the process: signals (SIGTERM/SIGINT stop, SIGHUP reloads the
  config), the systemd notifications (``READY``, ``STATUS``, ``WATCHDOG``, ``STOPPING``) and
  the exit code. It pings the systemd watchdog only while the worker's heartbeat is fresh, so
  a hung worker gets the service restarted.
* the **worker** owns the state database, the Zotero gateway and the long-lived
  :class:`syncd.engine.Importer`. File system events (a watchdog observer; its handler only
  queues paths) are hints: the worker re-``stat``s every path it is pointed at, a
  :class:`syncd.watch.Settler` decides when a file has stopped changing, and a full scan at
  start, after lost events or an observer failure, plus a cheap periodic stat-only rescan,
  find what events missed. An idle worker sleeps until an event, the rescan or the watchdog
  interval; there is no polling loop.

Files that settled together are one batch for :meth:`Importer.run`. A file whose content was
imported before (same sha256, e.g. ``citations(1).nbib``) costs no request. When Zotero cannot
be reached or fails, the batch waits and is retried with capped exponential backoff for as long
as it takes (records already sent are pending rows in the state database, settled first on the
next attempt or start); a fatal answer (key revoked, no write access) is reported once and
retried slowly. Every wait is interruptible: SIGTERM stops the daemon within seconds, and
whatever was in flight is settled at the next start exactly as after a crash.

One daemon per state database: an ``flock`` on ``<state.db>.lock`` and on a lock named after
the database's device and inode (so that a symlinked or hard-linked ``state.path`` meets it).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from syncd import errors, sdnotify
from syncd.config import Config
from syncd.core.backoff import backoff
from syncd.core.searches import Scheduled
from syncd.core.text import shown
from syncd.credentials import stale_credential
from syncd.engine import Importer
from syncd.errors import ConfigError, InputError, RemoteError, StateError, SyncdError
from syncd.locks import DaemonLock
from syncd.report import ERRORS_SUFFIX, FileReport, Report, file_line, report_name
from syncd.sources.registry import watched_kind
from syncd.sources.upgrade import baseline_added_patterns
from syncd.state import DaemonRow, FileRow, HistoryRow, StateStore, today_utc, utc_stamp
from syncd.targets.base import Target
from syncd.tidy import desktop_notify, free_name, move_file
from syncd.watch import (
    TEMPORARY_SUFFIXES,
    Seen,
    Settler,
    cannot_read,
    ends_whole,
    file_row,
    is_candidate,
    look,
    scan,
)

logger = logging.getLogger(__name__)

_LOST = "\0events-lost"  # queued by the observer's handler when the kernel dropped events
_WAKE = "\0wake"  # queued to wake the worker (stop, reload)
_FINISHED = "\0finished:"  # + a path a browser renamed from its temporary name: complete
_OBSERVER_TIMEOUT = 4.0  # the observer threads' own wake-up period (seconds)
_MISSING_POLL = 5.0  # how often a vanished folder is looked for
_FATAL_RETRY = 300.0  # a fatal answer (key, permission) is retried this often at most
_STOP_GRACE = 4.5  # seconds the main thread waits for the worker after SIGTERM
_STATE_WAIT = "waiting for the state database to be writable again"


class Stopping(BaseException):
    """Raised from an interruptible wait when the daemon is asked to stop. A BaseException so
    that no ``except Exception`` on the way turns a stop into an error."""


# --- small helpers --------------------------------------------------------------------------


_REPORT_HEADER = "# syncd: problems importing"


def _is_our_report(path: Path) -> bool:
    """Whether ``path`` is a problem report syncd wrote (which it may replace or remove)."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(_REPORT_HEADER)) == _REPORT_HEADER.encode()
    except OSError:
        return False


# --- the daemon -----------------------------------------------------------------------------

GatewayFactory = Callable[[Config, Callable[[float], None]], Target]


class Daemon:
    """``syncd run``: see the module doc.

    :param config: the configuration (``watch.directory`` already resolved by the caller,
        see ``default_dir``).
    :param make_gateway: builds the gateway for a config, with the daemon's interruptible
        ``sleep`` for every wait.
    :param default_dir: the folder is the user's download folder (not configured): the first
        start records the files already there as a baseline instead of importing them.
    :param reload: reads the configuration again (SIGHUP); None: SIGHUP only rescans.
    """

    def __init__(
        self,
        config: Config,
        make_gateway: GatewayFactory,
        *,
        default_dir: bool = False,
        import_existing: bool = False,
        once: bool = False,
        reload: Callable[[], Config] | None = None,
        searches: Scheduled | None = None,  # saved PubMed searches (syncd/searches.py)
    ) -> None:
        assert config.watch.directory is not None
        self.config = config
        self.make_gateway = make_gateway
        self.default_dir = default_dir
        self.import_existing = import_existing
        self.once = once
        self._reload = reload
        self.searches = searches
        self.stop = threading.Event()
        self.signal_name: str | None = None
        self.exit_code = 0
        self._events: queue.Queue[str] = queue.Queue()
        self._main_wake = threading.Event()
        self._worker_done = threading.Event()
        self._worker_error: BaseException | None = None
        self._reload_requested = False
        self.heartbeat = time.monotonic()
        self._rng = random.Random()
        # worker state
        self.store: StateStore | None = None
        self.importer: Importer | None = None
        self.settler = Settler(config.watch.settle_seconds)
        self.waiting: dict[Path, None] = {}  # settled files not yet imported (ordered)
        self.observer: Any = None
        self.trouble: str | None = None
        self.trouble_since: float | None = None
        self.retry_at = 0.0
        self.failures = 0  # consecutive failed attempts (for the backoff)
        self.last_scan: float | None = None
        self.next_rescan = float("inf")
        self.last_file: str | None = None
        self.dir_missing = False
        self.started = time.time()
        self._status_written: tuple[Any, ...] | None = None
        self._notified_fatal: str | None = None
        self.batches = 0
        self._fatal = False
        self.ready = False
        self.files_with_problems = 0
        self._watch_trouble: str | None = None  # why events cannot be watched, as last said
        self.lock: DaemonLock | None = None
        self._folder_id: tuple[int, int] | None = None  # (device, inode) of the folder watched
        self.backing_off_until: float | None = None
        self._notifying: list[threading.Thread | None] = []

    @property
    def directory(self) -> Path:
        assert self.config.watch.directory is not None
        return self.config.watch.directory

    @property
    def library(self) -> str:  # the target's, once there is one (the app's Server-ID)
        return self.importer.library if self.importer else (self.config.zotero.library or "?")

    # ---- the main thread ------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped (or, with ``once``, until the folder is done); the exit code."""
        self._check_directory()
        lock = DaemonLock(self.config.state.path)
        lock.acquire()
        self.lock = lock
        try:
            return self._supervise()
        finally:
            self.lock = None
            lock.release()

    def _check_directory(self) -> None:
        d = self.directory
        if d.is_dir():
            return
        if d.exists():
            raise ConfigError(f"{d}: not a folder", hint="set watch.directory to a folder")
        if not self.config.watch.wait_for_directory or self.once:
            raise ConfigError(
                f"{d}: the folder to watch does not exist",
                hint="create it, set watch.directory to another folder, or set "
                "watch.wait_for_directory = true to wait for it",
            )
        logger.warning("%s does not exist yet; waiting for it", d)
        self.dir_missing = True

    def _supervise(self) -> int:
        in_main = threading.current_thread() is threading.main_thread()
        previous: dict[signal.Signals, Any] = {}
        if in_main:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                previous[sig] = signal.signal(sig, self._on_signal)
        worker = threading.Thread(target=self._work, name="syncd-worker", daemon=True)
        worker.start()
        interval = sdnotify.watchdog_interval()
        try:
            while True:
                self._main_wake.wait(interval)
                self._main_wake.clear()
                if self._worker_done.is_set():
                    break
                if self.stop.is_set():
                    sdnotify.notify("STOPPING=1", "STATUS=stopping")
                    logger.info("stopping (%s)", self.signal_name or "asked to")
                    worker.join(_STOP_GRACE)
                    if worker.is_alive():
                        logger.warning(
                            "the import in flight did not stop in time; it is settled at the "
                            "next start"
                        )
                    break
                # Pings start after READY=1, and stop when the worker stops beating (hung).
                if interval and self.ready and time.monotonic() - self.heartbeat < 2 * interval:
                    sdnotify.notify("WATCHDOG=1")
        finally:
            if in_main:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        error = self._worker_error
        if error is not None and not self.stop.is_set():
            if isinstance(error, SyncdError):
                raise error  # a configuration or state problem: exit 2, no restart loop
            # A bug: say so with the traceback, and exit 1 so that systemd restarts us.
            logger.critical("syncd run stopped on an unexpected error", exc_info=error)
            return 1
        if self.signal_name == "SIGINT":
            return 130
        return self.exit_code

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            self._reload_requested = True
            self._events.put(_WAKE)
            return
        self.signal_name = signal.Signals(signum).name
        self.request_stop()

    def request_stop(self) -> None:
        self.stop.set()
        self._events.put(_WAKE)
        self._main_wake.set()

    # ---- waits ----------------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """The gateway's and the engine's wait: ends early (raising :class:`Stopping`) when
        the daemon is asked to stop; keeps the heartbeat fresh meanwhile."""
        end = time.monotonic() + max(0.0, seconds)
        if seconds >= 5 and self.store is not None:
            # A long wait (the server's Backoff/Retry-After, or a retry): say so in the status.
            self.backing_off_until = time.time() + seconds
            with contextlib.suppress(SyncdError):
                self._write_status()
        try:
            self._sleep_until(end)
        finally:
            self.backing_off_until = None

    def _sleep_until(self, end: float) -> None:
        while True:
            self.heartbeat = time.monotonic()
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.stop.wait(min(left, 30.0)):
                raise Stopping

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.heartbeat = time.monotonic()
        if self.stop.is_set():
            raise Stopping

    # ---- the worker -----------------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._open_and_start()
            if self.once:
                self._run_once()
            else:
                self._loop()
        except Stopping:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised there
            self._worker_error = exc
        finally:
            self._stop_observer()
            if self.store is not None:
                with contextlib.suppress(SyncdError, Exception):
                    self._write_status(stopped=True)
                self.store.close()
            self._worker_done.set()
            self._main_wake.set()

    def begin(self) -> None:
        """The worker's first step (baseline, start scan, settling); then :meth:`step`."""
        assert self.store is not None
        logger.info(
            "syncd %s %s for PubMed exports (library %s)",
            "is checking" if self.once else "is watching",
            self.directory,
            self.library,
        )
        self._write_status()
        self._connect()
        if not self.dir_missing:
            self._baseline()
            self._full_scan()
            self._start_observer()
        self._write_status()  # before READY=1: a status asked then names the start scan
        ready = f"watching {self.directory}" if not self.dir_missing else "waiting for folder"
        sdnotify.notify("READY=1", f"STATUS={self._status_line() or ready}")
        self.ready = True

    def _connect(self) -> None:
        """Open the importer and settle rows left pending (a crash, a lost server)."""
        assert self.store is not None
        if self.importer is None:
            gateway = self.make_gateway(self.config, self.sleep)
            # The daemon never gives up on a busy library; its waits end when it is stopped.
            self.importer = Importer(
                self.config, self.store, gateway, give_up_after=None, sleep=self.sleep
            )
        try:
            report = self.importer.settle(progress=self._progress)
        except (RemoteError, StateError) as exc:
            self._set_trouble(exc)
            return
        self._clear_trouble()
        if n := len(report.recovered):
            logger.info("%d record%s left pending by an earlier run settled", n, "s"[: n != 1])

    def _baseline(self) -> None:
        """At the very first start in a folder: record what is there (imported or not)."""
        assert self.store is not None
        key, w = str(self.directory), self.config.watch
        first, inside = self.store.baseline(key) is None, self._inside
        baseline_added_patterns(
            self.store, self.library, self.directory, w.patterns, w.recursive,
            first_start=first or self.import_existing, inside=inside, row=file_row,
        )  # fmt: skip
        if not first:
            return
        if not self.default_dir or self.import_existing:
            self.store.put_baseline(self.library, key, [])
            return
        rows = []
        for path in scan(self.directory, self.config.watch.patterns, self.config.watch.recursive):
            seen = look(path)
            if seen is not None and seen.regular and self._inside(path):
                rows.append(file_row(path, seen, "baseline"))
        self.store.put_baseline(self.library, key, rows)
        if rows:
            logger.info(
                "first start in %s: %d file%s already there recorded as a baseline and not "
                "imported ('syncd run --import-existing' imports them); new downloads will be "
                "imported as they arrive",
                self.directory,
                len(rows),
                "" if len(rows) == 1 else "s",
            )

    def _open_and_start(self) -> None:
        """Open the state database and start; a full disk, an I/O error or a read-only state
        folder is waited out like an outage (the service says READY=1 with the trouble in its
        status, so that systemd does not kill and restart it into the same wall)."""
        while True:
            try:
                self.store = StateStore(self.config.state.path)
                self.begin()
                return
            except StateError as exc:
                if not exc.transient or self.once:
                    raise
                if self.store is not None:
                    with contextlib.suppress(Exception):
                        self.store.close()
                    self.store = None
                self._state_trouble(exc)
                if not self.ready:
                    sdnotify.notify("READY=1", f"STATUS={shown(self.trouble or '')}")
                    self.ready = True
                self._sleep_until(self.retry_at)

    def _safe_tick(self) -> None:
        """One :meth:`_tick`; a state database that cannot be written for now is trouble to
        wait out, not the end of the daemon."""
        try:
            self.step()
        except StateError as exc:
            if not exc.transient:
                raise
            self._state_trouble(exc)

    def _state_trouble(self, exc: StateError) -> None:
        """The state database cannot be written for now: trouble to wait out, shown in the log
        and the systemd status (the database itself cannot hold it)."""
        self._set_trouble(exc)
        sdnotify.notify(f"STATUS={self._status_line()}")

    def _loop(self) -> None:
        interval = sdnotify.watchdog_interval()
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            timeout = self._next_wakeup() - time.time()
            if interval:
                timeout = min(timeout, interval)
            self._drain(max(0.0, timeout))
            if self.stop.is_set():
                return
            self._safe_tick()

    def _run_once(self) -> None:
        """``--once``: import what the start scan found, once settled, then stop."""
        while not self.stop.is_set() and (len(self.settler) or self.waiting):
            if self.trouble and self.waiting and not len(self.settler):
                break
            self._drain(max(0.0, min(self._next_wakeup() - time.time(), 1.0)))
            self.step()
        for thread in self._notifying:  # --once: let the notifications out before exiting
            if thread is not None:
                thread.join(5.0)
        if self.searches is not None and not self.trouble and self.store is not None:
            self.exit_code = self.searches.run_due(self.config, self.store, self.sleep)
        if self.files_with_problems:
            self.exit_code = 1
        if self.trouble:
            self.exit_code = 2 if self._fatal else 1
            logger.error(
                "%s; %d file%s not imported (pending records are settled by the next run)",
                self.trouble,
                len(self.waiting),
                "" if len(self.waiting) == 1 else "s",
            )
        self.stop.set()

    def _next_wakeup(self) -> float:
        """Wall-clock time of the next thing to do (no polling: events wake us earlier)."""
        times = [self.next_rescan]
        due = self.settler.due()
        if due is not None:
            times.append(due)
        if self.waiting or self.trouble:
            times.append(self.retry_at)
        if self.dir_missing or (self.observer is None and self.config.watch.events):
            times.append(time.time() + _MISSING_POLL)
        if self.searches is not None and self.store is not None and not self.trouble:
            times.append(self.searches.next_wakeup(self.config, self.store))  # as step() polls
        return min(times)

    def _drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for events; take every queued path."""
        paths: list[str] = []
        try:
            item = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
            paths.append(item)
            while True:
                paths.append(self._events.get_nowait())
        except queue.Empty:
            pass
        lost = False
        for p in dict.fromkeys(paths):
            if p == _WAKE:
                continue
            if p == _LOST:
                lost = True
                continue
            if p.startswith(_FINISHED):
                self._consider(Path(p.removeprefix(_FINISHED)), finished=True)
                continue
            self._consider(Path(p))
        if lost:
            logger.warning("file system events were lost; scanning %s", self.directory)
            self._full_scan()

    def _check_state_database(self) -> None:
        """A state database deleted (or replaced) while the daemon runs would take every later
        write to a file nobody can open again: notice it, say so, and start a new one, as after
        a lost state database (the index is rebuilt from the library, and the items syncd
        created that the user deleted are known by their derived keys)."""
        assert self.store is not None
        if self.store.still_at_path():
            return
        path = self.config.state.path
        logger.warning(
            "%s was deleted or replaced while syncd ran: starting a new state database there "
            "(the library index is read again; files in the folder are checked again)",
            path,
        )
        self.store.close()
        self.store = StateStore(path)
        self.importer = None  # a new index on the new database
        self.next_rescan = 0.0  # every file in the folder is unknown to the new database
        if self.lock is not None:
            self.lock.renew()  # the lock named after the database now names the new file

    def step(self) -> None:
        """One turn of the worker (tests drive it too, without threads or events)."""
        now = time.time()
        self._check_state_database()
        if self._reload_requested:
            self._reload_requested = False
            self._do_reload()
        self._check_folder_and_observer()
        if now >= self.next_rescan and not self.dir_missing:
            self._full_scan(quiet=True)
        ready, vanished = self.settler.ready(time.time())
        for path in vanished:
            logger.debug("%s vanished before it settled", path)
        for path in ready:
            self.waiting[path] = None
        if (self.waiting or self.trouble) and time.time() >= self.retry_at:
            if self.trouble or self.importer is None or not self.importer.opened:
                self._connect()  # on failure: trouble, and the next attempt scheduled
            if not self.trouble and self.waiting:
                self._import_batch()
        if self.searches is not None and not self.trouble and not self.waiting:
            self.searches.run_due(self.config, self.store, self.sleep)  # each poll its own line
        self._write_status()

    # ---- the folder -----------------------------------------------------------------------

    def _inside(self, path: Path) -> bool:
        """Whether ``path`` is one the daemon watches: in the folder (or below it, when
        recursive), and not in the folders where it puts imported or failed files itself."""
        try:
            rel = path.relative_to(self.directory)
        except ValueError:
            return False
        parts = rel.parts
        if not parts:
            return False
        if len(parts) == 1:
            return True
        if not self.config.watch.recursive:
            return False
        return not any(path.is_relative_to(d) for d in self._own_folders())

    def _own_folders(self) -> list[Path]:
        w = self.config.watch
        done = w.done_directory or self.directory / "done"
        return [d for d in (done, w.failed_directory) if d is not None and d != self.directory]

    def _consider(self, path: Path, *, finished: bool = False) -> None:
        """A path an event named: offer it to the settler if it may be a new export
        (``finished``: renamed from a browser's temporary name, so ready at once)."""
        if path == self.directory:
            self._check_folder_and_observer()
            return
        if not self._inside(path) or not is_candidate(path.name, self.config.watch.patterns):
            return
        if path.name.endswith(ERRORS_SUFFIX):
            return
        seen = look(path)
        if seen is None:
            self.settler.drop(path)
            self.waiting.pop(path, None)
            return
        self._offer(path, seen, known=None, finished=finished)

    def _offer(
        self, path: Path, seen: Seen, known: dict[str, FileRow] | None, *, finished: bool = False
    ) -> None:
        assert self.store is not None
        if not seen.regular:
            logger.debug("%s is not a regular file; not read", path)
            return
        if path in self.waiting:
            return
        row = (
            known.get(str(path)) if known is not None else self.store.file(self.library, str(path))
        )
        if row is not None and row.same_file(seen.size, seen.mtime_ns, seen.inode, seen.ctime_ns):
            return  # seen before, unchanged (imported, ignored, or the baseline)
        self.settler.offer(path, seen, time.time(), finished=finished)

    def _full_scan(self, quiet: bool = False, *, verify: bool = False) -> None:
        """Offer every candidate whose stat differs from what the state database recorded.
        ``verify`` (SIGHUP, ``syncd status --retry``): also read each file whose stat is the
        same and offer it when its content is not what was imported (a change that kept size,
        mtime, inode and ctime: a copy tool that restores times, a file system without ctime)."""
        assert self.store is not None
        known = {f.path: f for f in self.store.files(self.library)}
        n = 0
        w = self.config.watch
        for path in scan(self.directory, w.patterns, w.recursive):
            if path.name.endswith(ERRORS_SUFFIX) or not self._inside(path):
                continue
            seen = look(path)
            if seen is not None:
                before = len(self.settler)
                self._offer(path, seen, known)
                if verify and len(self.settler) == before:
                    self._offer_if_changed(path, seen, known.get(str(path)))
                n += len(self.settler) - before
        self.last_scan = time.time()
        self.next_rescan = (
            self.last_scan + w.rescan_seconds if w.rescan_seconds > 0 else float("inf")
        )
        (logger.debug if quiet or not n else logger.info)(
            "scanned %s: %d new or changed file%s", self.directory, n, "" if n == 1 else "s"
        )

    def _offer_if_changed(self, path: Path, seen: Seen, row: FileRow | None) -> None:
        """Offer ``path`` when its bytes differ from those its row recorded (a row without a
        hash, e.g. the baseline's, is left alone: those files were never to be imported)."""
        if row is None or not row.sha256 or path in self.waiting or not seen.regular:
            return
        if self._why_not_read(path, seen) is not None:
            return
        try:
            sha = self._sha256(path)
        except OSError:
            return
        if sha != row.sha256:
            logger.info("%s changed without a new size or time; reading it again", path)
            self.settler.offer(path, seen, time.time())

    def _folder_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.directory)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _check_folder_and_observer(self) -> None:
        exists = self.directory.is_dir()
        now = self._folder_identity() if exists else None
        if exists and not self.dir_missing and self._folder_id not in (None, now):
            # Deleted and made again (or the link now names another folder) between two looks:
            # the watch is on a dead inode. Watch the new one, and read what it holds.
            logger.info("%s was replaced; watching the new folder and scanning it", self.directory)
            self._folder_id = now
            self._stop_observer()
            self._full_scan()
            self._start_observer()
            return
        self._folder_id = now
        if not exists and not self.dir_missing:
            self.dir_missing = True
            self._stop_observer()
            logger.warning("%s is gone; watching for it to come back", self.directory)
        elif exists and self.dir_missing:
            self.dir_missing = False
            logger.info("%s is back; scanning it", self.directory)
            self._baseline()
            self._full_scan()
            self._start_observer()
        elif exists and self.config.watch.events and not self._observer_alive():
            if self.observer is not None:
                logger.warning("the file watcher stopped; scanning and starting it again")
                self._full_scan()
            self._stop_observer()
            self._start_observer()

    def _observer_alive(self) -> bool:
        return self.observer is not None and bool(self.observer.is_alive())

    def _start_observer(self) -> None:
        if not self.config.watch.events or self.observer is not None:
            return
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        events = self._events

        class Handler(FileSystemEventHandler):
            # Runs in the observer's thread: only queue paths; the worker decides.
            def on_any_event(self, event: FileSystemEvent) -> None:
                kind = event.event_type
                if kind == "events_lost":
                    events.put(_LOST)
                elif kind not in ("opened", "closed_no_write"):
                    src = os.fsdecode(event.src_path)
                    events.put(src)
                    dest = getattr(event, "dest_path", "")
                    if dest:
                        # A browser renames its temporary file only once the download is
                        # complete: such a file needs no settle wait.
                        done = kind == "moved" and src.lower().endswith(TEMPORARY_SUFFIXES)
                        events.put((_FINISHED if done else "") + os.fsdecode(dest))

        observer = Observer(timeout=_OBSERVER_TIMEOUT)
        try:
            observer.schedule(Handler(), str(self.directory), recursive=self.config.watch.recursive)
            observer.daemon = True
            observer.start()
        except OSError as exc:
            # Said once (and again only when it changes): the observer is retried often, and
            # an inotify limit would otherwise fill the journal (17,000 lines a day).
            said = f"cannot watch {self.directory} for events ({exc}); relying on the rescan"
            (logger.debug if said == self._watch_trouble else logger.warning)("%s", said)
            self._watch_trouble = said
            self.next_rescan = min(self.next_rescan, time.time() + 60)
            return
        if self._watch_trouble is not None:
            logger.info("watching %s for events again", self.directory)
            self._watch_trouble = None
        self.observer = observer

    def _stop_observer(self) -> None:
        observer, self.observer = self.observer, None
        if observer is not None:
            with contextlib.suppress(Exception):
                observer.stop()

    def _do_reload(self) -> None:
        if self._reload is None:
            logger.info("SIGHUP: scanning %s", self.directory)
            self._full_scan(verify=True)
            return
        try:
            config = self._reload()
        except SyncdError as exc:
            logger.error("SIGHUP: the configuration was not reloaded: %s", exc)
            return
        old = self.config
        self.config = config
        self.settler.settle = config.watch.settle_seconds
        if (config.zotero, config.tags, config.dedup) != (old.zotero, old.tags, old.dedup):
            self.importer = None  # a new gateway and index at the next import
        # Whatever was wrong may be fixed now (a new key, say): try again at once.
        self.retry_at = 0.0
        self.failures = 0
        if config.watch != old.watch:
            self._stop_observer()
            self.dir_missing = not self.directory.is_dir()
        logger.info("SIGHUP: configuration reloaded; watching %s", self.directory)
        if str(config.zotero.api_key_source).startswith("credential") and (
            stale := stale_credential()
        ):
            logger.warning("SIGHUP: %s", stale)
        if not self.dir_missing:
            self._baseline()
            self._full_scan(verify=True)
            self._start_observer()

    # ---- importing ------------------------------------------------------------------------

    def _import_batch(self) -> None:
        assert self.store is not None and self.importer is not None
        batch = list(self.waiting)
        known_hashes = self._imported_hashes()
        batch_hashes: dict[str, str] = {}  # the same bytes twice in one batch: read once
        unchanged: dict[Path, FileRow] = {}
        copies: dict[Path, tuple[Path, str, Seen]] = {}  # same bytes as a file of the batch
        to_import: list[Path] = []
        done: dict[Path, tuple[FileReport, str | None]] = {}
        w = self.config.watch
        for path in batch:
            self.heartbeat = time.monotonic()
            seen = look(path)
            if seen is None or not seen.regular or (seen.reachable and seen.size == 0):
                # Gone, or empty: Firefox creates the final name empty before the download
                # is renamed over it; its next change brings it back.
                self.waiting.pop(path, None)
                continue
            if not w.other_owners and seen.uid != os.getuid():
                self._foreign(path, seen)
                continue
            why = self._why_not_read(path, seen)
            if why is not None:
                # Reported as a failed file (log, status, exit 1), read again when it changes.
                done[path] = (FileReport(str(path), outcome="unreadable", detail=why), None)
                continue
            if not self._ends_whole(path, seen):
                continue
            if watched_kind(path) is None:
                logger.debug("%s is not a PubMed/MEDLINE export; ignored", path)
                self.store.put_file(
                    self.library,
                    file_row(path, seen, "ignored", detail="not MEDLINE"),
                )
                self.waiting.pop(path, None)
                continue
            try:
                sha = self._sha256(path)
            except OSError as exc:
                detail = f"cannot read it: {exc.strerror or exc}"
                done[path] = (FileReport(str(path), outcome="unreadable", detail=detail), None)
                continue
            if sha in known_hashes:
                other = known_hashes[sha]
                detail = "same content as " + (other if other != str(path) else "before")
                done[path] = (FileReport(str(path), outcome="unchanged", detail=detail), sha)
                unchanged[path] = file_row(path, seen, "imported", sha=sha)
                continue
            if sha in batch_hashes:
                copies[path] = (Path(batch_hashes[sha]), sha, seen)  # its outcome is the first's
                continue
            batch_hashes[sha] = str(path)
            to_import.append(path)
        reports: list[Report] = []
        if to_import:
            try:
                reports = self._import_each(to_import, done, batch_hashes)
            except (RemoteError, StateError) as exc:
                self._set_trouble(exc)  # every file of the batch waits for the next attempt
                return
        self._clear_trouble()
        self.failures = 0
        for report in reports:
            counts = {f.path: f for f in report.files}
            for path in to_import:
                c = counts.get(str(path))
                if c is not None:
                    done[path] = (c, self._sha_of(path))
                elif path not in done:
                    self.waiting.pop(path, None)
        for path, (first, sha, seen) in copies.items():
            got = done.get(first)
            if got is None:
                self.waiting.pop(path, None)  # read with the first next time
            elif got[0].outcome == "unreadable":
                # Never "already imported" when the same bytes could not be read.
                detail = f"same content as {first}, which could not be read: {got[0].detail}"
                done[path] = (FileReport(str(path), outcome="unreadable", detail=detail), sha)
            else:
                detail = f"same content as {first}"
                done[path] = (FileReport(str(path), outcome="unchanged", detail=detail), sha)
                unchanged[path] = file_row(path, seen, "imported", sha=sha)
        for path, row in unchanged.items():
            self.store.put_file(self.library, replace(row, detail=done[path][0].detail))
        for path in done:
            self._finish(path, *done[path])
        self.batches += 1

    def _why_not_read(self, path: Path, seen: Seen) -> str | None:
        """Why ``path`` is not read (too large, no permission), or None to read it."""
        limit = self.config.watch.max_file_bytes
        if not seen.reachable:
            return "cannot read it: a link into a folder syncd may not read (Permission denied)"
        if seen.size > limit:
            return (
                f"not read: {seen.size:,} bytes, larger than watch.max_file_bytes ({limit:,}); "
                "a PubMed export is at most tens of MB"
            )
        why = cannot_read(path)
        return None if why is None else f"cannot read it: {why}"

    def _ends_whole(self, path: Path, seen: Seen) -> bool:
        """Whether ``path`` may be read now: it ends with a line end, or has stayed unchanged
        for 10 x ``settle_seconds`` (real exports may end without a newline). A writer that
        paused longer than the settle time mid-line would otherwise give a truncated item."""
        if ends_whole(path, seen.size):
            return True
        quiet_for = 10 * self.config.watch.settle_seconds
        since = seen.mtime_ns / 1e9
        if time.time() - since >= quiet_for:
            logger.warning(
                "%s ends in the middle of a line and has not changed for %.0f s: read as it is",
                path,
                quiet_for,
            )
            return True
        logger.debug("%s ends in the middle of a line: waiting for the rest", path)
        self.waiting.pop(path, None)
        self.settler.hold(path, seen, since + quiet_for)
        return False

    def _foreign(self, path: Path, seen: Seen) -> None:
        """Another user's file (or a link to one) in the folder: skipped, said once per file."""
        assert self.store is not None
        self.waiting.pop(path, None)
        logger.warning(
            "%s belongs to another user: not imported (watch.other_owners = true imports it)",
            path,
        )
        self.store.put_file(
            self.library,
            file_row(path, seen, "foreign", detail="belongs to another user (watch.other_owners)"),
        )

    def _sha256(self, path: Path) -> str:
        """The file's sha256, read in pieces that keep the heartbeat fresh and honour a stop
        request (a slow disk or a huge file must not look like a hung daemon)."""
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
                self._progress("hash", 0, 0)
        return h.hexdigest()

    def _import_each(
        self,
        paths: list[Path],
        done: dict[Path, tuple[FileReport, str | None]],
        hashes: dict[str, str],
    ) -> list[Report]:
        """Import ``paths`` in one run; when that fails on something unexpected (a bug, a file
        that trips one), import them one by one, so that one bad input is one failed input
        (recorded in ``done``, read again when it changes) and never holds up the others."""
        try:
            return [self._run_importer(paths)]
        except (Stopping, RemoteError, StateError):
            raise
        except Exception as exc:
            if len(paths) == 1:
                logger.exception("%s: the import failed unexpectedly", paths[0])
                self._failed_unexpectedly(paths[0], exc, done, hashes)
                return []
            logger.exception(
                "import of %d files failed unexpectedly; importing them one by one", len(paths)
            )
        reports = []
        for path in paths:
            self.heartbeat = time.monotonic()
            try:
                reports.append(self._run_importer([path]))
            except (Stopping, RemoteError, StateError):
                raise
            except Exception as exc:
                logger.exception("%s: the import failed unexpectedly", path)
                self._failed_unexpectedly(path, exc, done, hashes)
        return reports

    def _failed_unexpectedly(
        self,
        path: Path,
        exc: Exception,
        done: dict[Path, tuple[FileReport, str | None]],
        hashes: dict[str, str],
    ) -> None:
        detail = (
            f"syncd failed on this file ({type(exc).__name__}: {exc}); it is read again when it "
            "changes, or with 'syncd status --retry' (please report this)"
        )
        sha = next((h for h, p in hashes.items() if p == str(path)), None)
        done[path] = (FileReport(str(path), outcome="unreadable", detail=detail), sha)

    def _run_importer(self, paths: list[Path]) -> Report:
        assert self.importer is not None
        try:
            return self.importer.run(paths, progress=self._progress)
        except InputError:
            # A file vanished between its settle and the read: import the others.
            present = [p for p in paths if p.exists()]
            for p in set(paths) - set(present):
                self.waiting.pop(p, None)
            return self.importer.run(present, progress=self._progress)

    def _sha_of(self, path: Path) -> str | None:
        assert self.store is not None
        row = self.store.file(self.library, str(path))
        return row.sha256 if row else None

    def _imported_hashes(self) -> dict[str, str]:
        assert self.store is not None
        return {
            f.sha256: f.path
            for f in self.store.files(self.library, ["imported"])
            if f.sha256 and f.outcome == "imported"
        }

    def _finish(self, path: Path, counts: FileReport, sha: str | None) -> None:
        """Log, record, notify and tidy up one file of a batch."""
        assert self.store is not None
        self.waiting.pop(path, None)
        if counts.errors or counts.failed or counts.outcome == "unreadable":
            self.files_with_problems += 1
        seen = look(path)
        if counts.outcome == "unreadable" and seen is not None:
            # Remembered by its stat, so that rescans do not report it again until it changes.
            self.store.put_file(
                self.library,
                file_row(path, seen, "unreadable", sha=sha or "", detail=counts.detail),
            )
        self.last_file = path.name
        line = file_line(path.name, counts)
        (logger.warning if counts.errors else logger.info)("%s", line)
        if not counts.recorded:  # decided here, not by an import (unchanged, not readable)
            self.store.add_history(
                self.library,
                [
                    HistoryRow(
                        str(path),
                        utc_stamp(),
                        counts.outcome,
                        counts.records,
                        counts.new,
                        counts.duplicates,
                        counts.merged,
                        counts.failed,
                        counts.detail or None,
                        sha,
                    )
                ],
            )
        if self.config.notify.desktop:
            if counts.outcome == "unchanged":
                body = f"{shown(path.name)}: already imported"
            else:
                body = f"{shown(path.name)}: {counts.new} new, {counts.duplicates} already there"
                if counts.failed or counts.errors:
                    body += f", {len(counts.errors)} problem(s)"
            self._notify("PubMed → Zotero", body)
        try:
            self._after_import(path, counts)
        except OSError as exc:
            logger.warning("%s: could not tidy up after the import: %s", path, exc)

    def _notify(self, summary: str, body: str) -> None:
        self._notifying = [t for t in self._notifying if t is not None and t.is_alive()]
        self._notifying.append(desktop_notify(summary, body))

    def _after_import(self, path: Path, counts: FileReport) -> None:
        w = self.config.watch
        settled = counts.outcome in ("imported", "unchanged") and not counts.errors
        ours = path.with_name(report_name(path.name))
        if not settled:
            target_dir = w.failed_directory or path.parent
            # (a failed_directory that is the watched folder itself moves nothing)
            moved = move_file(path, target_dir) if target_dir != path.parent else path
            report = moved.with_name(report_name(moved.name))
            if not _is_our_report(report):
                report = free_name(target_dir, report.name)
            with report.open("w", encoding="utf-8") as fh:
                # Names escaped as in the log: the report is for reading, one line each.
                fh.write(f"{_REPORT_HEADER} {shown(str(path))} ({utc_stamp()})\n")
                for line in counts.errors or (f"{path}: {counts.detail}",):
                    fh.write(shown(line) + "\n")
            if moved != path:
                logger.info("%s moved to %s (problems listed in %s)", path.name, moved, report)
            return
        if _is_our_report(ours):
            ours.unlink()  # the file went in this time: our old problem report is out of date
        if w.after_import == "delete":
            path.unlink()
            logger.info("%s deleted (watch.after_import = delete)", path.name)
        elif w.after_import == "move":
            done = w.done_directory or self.directory / "done"
            if done != path.parent:
                logger.info("%s moved to %s", path.name, move_file(path, done))

    # ---- trouble and status ---------------------------------------------------------------

    def _set_trouble(self, exc: BaseException) -> None:
        transient = isinstance(exc, RemoteError) and exc.transient
        fatal = isinstance(exc, RemoteError | ConfigError) and not transient
        text = str(exc)
        if fatal:
            message = f"fatal: {text}"
        elif isinstance(exc, RemoteError):
            message = f"Zotero unreachable or failing: {text}"
        elif isinstance(exc, StateError) and exc.transient:
            message = f"{_STATE_WAIT}: {text}"
        else:
            message = f"trouble: {text}"
        self._fatal = fatal
        if self.trouble is None:
            self.trouble_since = time.time()
        if message != self.trouble:
            logger.error("%s", message)
            if hint := getattr(exc, "hint", None):
                logger.error("  hint: %s", hint)
            if fatal and self.config.notify.desktop and self._notified_fatal != message:
                self._notified_fatal = message
                self._notify("syncd needs you", text)
        self.trouble = message
        if isinstance(exc, errors.LibraryChanged):
            self.importer = None  # another library (the app's database swapped): a new target
        elif fatal and self.importer is not None:
            self.importer.opened = False  # check the key again before the next attempt
        self.failures += 1
        self._schedule_retry()

    def _clear_trouble(self) -> None:
        if self.trouble is not None:
            since = self.trouble_since or time.time()
            state = self.trouble.startswith(_STATE_WAIT)
            what = "the state database is writable" if state else "Zotero is reachable"
            logger.info("%s again (trouble lasted %.0f s)", what, time.time() - since)
        self.trouble = None
        self.trouble_since = None
        self._fatal = False
        self._notified_fatal = None

    def _schedule_retry(self) -> None:
        cap = self.config.watch.retry_max_seconds
        if self._fatal:
            delay = min(cap, _FATAL_RETRY)
        else:
            delay = backoff(self.failures, 2.0, cap, self._rng.random())
        self.retry_at = time.time() + delay
        logger.info("next attempt in %.0f s", delay)

    def _status_line(self) -> str:
        """The status for ``systemctl status`` and ``syncd status``: one line of printable text
        (sd_notify reads a newline as the end of the assignment; names are escaped)."""
        return shown(self._status_text())

    def _status_text(self) -> str:
        if self.backing_off_until and not self.trouble:
            return f"Zotero asked to wait: backing off until {_local(self.backing_off_until)}"
        if self.trouble:
            line = self.trouble
            if self.waiting:
                n = len(self.waiting)
                line += f"; {n} file{'' if n == 1 else 's'} waiting"
            return line
        if self.dir_missing:
            return f"waiting for {self.directory} to exist"
        assert self.store is not None
        today = self.store.history_totals(self.library, since=today_utc())
        line = f"watching {self.directory}; {today['new']} imported today"
        if self.last_file:
            line += f"; last: {self.last_file}"
        return line

    def _write_status(self, stopped: bool = False) -> None:
        assert self.store is not None
        retry = utc_stamp(self.retry_at) if self.trouble else None
        if self.backing_off_until:
            retry = utc_stamp(self.backing_off_until)
        trouble = self.trouble
        if trouble is None and self.backing_off_until:
            trouble = self._status_line()
        row = DaemonRow(
            pid=os.getpid(),
            started_at=utc_stamp(self.started),
            stopped_at=utc_stamp() if stopped else None,
            library=self.library,
            directory=str(self.directory),
            last_scan=utc_stamp(self.last_scan) if self.last_scan else None,
            settling=len(self.settler),
            waiting=len(self.waiting),
            last_file=self.last_file,
            trouble=trouble,
            trouble_since=utc_stamp(self.trouble_since) if self.trouble_since else None,
            retry_at=retry,
        )
        key = (row, stopped, self.batches)  # a scan changes last_scan: one write a scan
        if key == self._status_written and not stopped:
            return
        self._status_written = key
        self.store.put_daemon(row)
        if not stopped:
            sdnotify.notify(f"STATUS={self._status_line()}")


def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%H:%M:%S")
