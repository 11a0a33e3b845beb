"""`syncd run` writing to the Zotero desktop app (the double): Zotero closed for a while (files
queue, then land once it runs again, each PMID once), and a key revoked meanwhile (fatal:
status says to run `syncd setup --desktop` again)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from syncd.targets.desktop_auth import authorize
from tests.helpers import write_export
from tests.system.daemon_harness import wait_for
from tests.system.desktop_processes import (
    DesktopDaemon,
    assert_exactly_once,
    pmid_counts,
    running_app,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_zotero_closed_for_a_while_files_queue_then_land(tmp_path: Path) -> None:
    with running_app() as app:
        daemon = DesktopDaemon(tmp_path / "d", app, authorize(app.url))
        try:
            daemon.start()
            daemon.wait_ready()
            first = write_export(daemon.folder / "first.nbib", range(38000001, 38000011))
            wait_for(lambda: len(pmid_counts(app)) == 10, 60, "the first file", daemon.tail())
            app.close_for(6.0)  # Zotero quits; it is started again 6 s later
            second = write_export(daemon.folder / "second.nbib", range(38000011, 38000041))
            wait_for(
                lambda: "Zotero app is not running" in daemon.status_text()[1],
                30, "status naming Zotero closed", daemon.tail(),
            )  # fmt: skip
            assert len(pmid_counts(app)) == 10  # still queued
            wait_for(lambda: len(pmid_counts(app)) == 40, 90, "the queued file", daemon.tail())
            daemon.assert_running()
            assert_exactly_once(app, first + second)
        finally:
            daemon.close()


def test_a_revoked_key_is_fatal_and_status_says_run_setup_again(tmp_path: Path) -> None:
    with running_app() as app:
        daemon = DesktopDaemon(tmp_path / "d", app, authorize(app.url))
        try:
            daemon.start()
            daemon.wait_ready()
            pmids = write_export(daemon.folder / "first.nbib", range(39000001, 39000006))
            wait_for(lambda: len(pmid_counts(app)) == 5, 60, "the first file", daemon.tail())
            app.state.clear_authorizations()
            write_export(daemon.folder / "second.nbib", range(39000006, 39000011))
            wait_for(
                lambda: "syncd setup --desktop" in daemon.status_text()[1],
                60, "status saying what to do", daemon.tail(),
            )  # fmt: skip
            code, text = daemon.status_text()
            assert code == 1 and "fatal" in text
            time.sleep(1)
            daemon.assert_running()  # waits for the user, does not die
            assert_exactly_once(app, pmids)
        finally:
            daemon.close()


def test_another_database_opened_while_it_runs_is_a_new_library(tmp_path: Path) -> None:
    with running_app() as app:
        daemon = DesktopDaemon(tmp_path / "d", app, authorize(app.url))
        try:
            daemon.start()
            daemon.wait_ready()
            first = write_export(daemon.folder / "first.nbib", range(39100001, 39100006))
            wait_for(lambda: len(pmid_counts(app)) == 5, 60, "the first file", daemon.tail())
            old = app.state.db.server_id
            new = app.state.swap_database()  # the user opens another zotero.sqlite
            second = write_export(daemon.folder / "second.nbib", range(39100006, 39100011))
            wait_for(lambda: len(pmid_counts(app)) >= 5, 90, "the second file", daemon.tail())
            assert_exactly_once(app, first, server_id=old)  # the old database untouched
            assert set(pmid_counts(app)) >= {str(p) for p in second}
            assert_exactly_once(app, [], server_id=new)  # nothing twice in the new one
            wait_for(
                lambda: f"desktop/{new}" in daemon.status_text()[1],
                30, "status naming the new library", daemon.tail(),
            )  # fmt: skip
            daemon.assert_running()
        finally:
            daemon.close()


def test_local_api_switched_off_is_waited_out_and_status_says_where_to_switch_it_on(
    tmp_path: Path,
) -> None:
    with running_app() as app:
        daemon = DesktopDaemon(tmp_path / "d", app, authorize(app.url))
        try:
            daemon.start()
            daemon.wait_ready()
            app.state.enabled = False  # the user unticked "Allow other applications ..."
            pmids = write_export(daemon.folder / "first.nbib", range(39200001, 39200006))
            wait_for(
                lambda: "Allow other applications" in daemon.status_text()[1],
                60, "status naming the checkbox", daemon.tail(),
            )  # fmt: skip
            assert not pmid_counts(app)
            app.state.enabled = True
            wait_for(lambda: len(pmid_counts(app)) == 5, 90, "the waiting file", daemon.tail())
            daemon.assert_running()
            assert_exactly_once(app, pmids)
        finally:
            daemon.close()
