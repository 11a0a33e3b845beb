"""`syncd import` into the Zotero desktop app (the Zotero 10 double): every PMID once, whatever
the app does meanwhile (issue 17 §3): a rerun writes nothing; kill -9 at five moments; Zotero
restarted (write tokens lost); its database swapped (a new library, the index built again);
10.0.3's create fault (records stay pending, then land); an Allow-once key and a revoked key
(fatal, "run syncd setup --desktop again")."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from syncd.errors import RemoteError
from syncd.targets.desktop_auth import DesktopKey, authorize
from tests.desktop.wire import authorize as grant
from tests.helpers import write_export
from tests.system.desktop_processes import (
    DesktopMachine,
    assert_exactly_once,
    desktop_config,
    pmid_counts,
    record_statuses,
    running_app,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # real processes: seconds each

N = 120  # three creates of at most 50


def test_import_then_rerun_writes_nothing(tmp_path: Path) -> None:
    with running_app() as app:
        pmids = write_export(tmp_path / "in" / "a.nbib", range(31000001, 31000001 + N))
        machine = DesktopMachine(tmp_path / "m", app)
        machine.run(tmp_path / "in")
        assert_exactly_once(app, pmids)
        writes = app.state.writes
        assert writes == 3
        machine.run(tmp_path / "in")
        assert app.state.writes == writes  # nothing sent: the index knows them all
        assert f"desktop/{app.state.db.server_id}" in machine.status()


@pytest.mark.parametrize(
    ("writes", "after"),
    [(1, 0.0), (1, 0.25), (2, 0.1), (3, 0.0), (3, 0.45)],
    ids=["first-write-sent", "first-committed", "second-in-flight", "last-sent", "last-answered"],
)
def test_kill_9_at_five_moments_then_every_pmid_once(
    tmp_path: Path, writes: int, after: float
) -> None:
    with running_app() as app:
        pmids = write_export(tmp_path / "in" / "a.nbib", range(32000001, 32000001 + N))
        machine = DesktopMachine(tmp_path / "m", app)
        app.state.latency = 0.4  # each write's answer comes 0.4 s after its commit
        proc = machine.start(tmp_path / "in")
        deadline = time.monotonic() + 60
        while app.state.writes < writes and proc.poll() is None:
            assert time.monotonic() < deadline, machine.tail()
            time.sleep(0.002)
        time.sleep(after)
        proc.kill()
        proc.wait()
        app.state.latency = 0.0
        machine.run(tmp_path / "in")
        assert_exactly_once(app, pmids)


def test_zotero_restarted_during_an_import(tmp_path: Path) -> None:
    with running_app() as app:
        pmids = write_export(tmp_path / "in" / "a.nbib", range(33000001, 33000001 + N))
        machine = DesktopMachine(tmp_path / "m", app)
        app.state.latency = 0.3
        proc = machine.start(tmp_path / "in")
        while app.state.writes < 1 and proc.poll() is None:
            time.sleep(0.002)
        app.restart()  # write tokens lost; keys, Server-ID and items kept
        app.state.latency = 0.0
        assert proc.wait(timeout=120) == 0, machine.tail()
        assert_exactly_once(app, pmids)


def test_a_swapped_database_is_a_new_library_with_its_own_index(tmp_path: Path) -> None:
    with running_app() as app:
        pmids = write_export(tmp_path / "in" / "a.nbib", range(34000001, 34000011))
        machine = DesktopMachine(tmp_path / "m", app)
        machine.run(tmp_path / "in")
        first = app.state.db.server_id
        second = app.state.swap_database()
        machine.run(tmp_path / "in")
        assert_exactly_once(app, pmids)  # the new database got them all
        assert_exactly_once(app, pmids, server_id=first)  # the old one kept its own
        assert f'"server_id": "{second}"' in machine.key_file.read_text()
        assert f"desktop/{second}" in machine.status()
        machine.run(tmp_path / "in")
        assert sum(pmid_counts(app).values()) == len(pmids)


def test_10_0_3_create_faults_keep_records_pending_then_they_land(tmp_path: Path) -> None:
    with running_app(mode="10.0.3") as app:
        pmids = write_export(tmp_path / "in" / "a.nbib", range(35000001, 35000021))
        machine = DesktopMachine(tmp_path / "m", app)
        machine.run(tmp_path / "in", expect=2)
        assert "'primaryData' not loaded" in machine.tail()
        assert not pmid_counts(app)
        assert record_statuses(machine) == {"pending": len(pmids)}  # none failed for good
        app.state.mode = "10.0.0"  # Zotero updated
        machine.run(tmp_path / "in")
        assert_exactly_once(app, pmids)
        assert record_statuses(machine) == {"pushed": len(pmids)}


def test_an_allow_once_key_is_refused_and_a_revoked_key_is_fatal(tmp_path: Path) -> None:
    pmids = write_export(tmp_path / "in" / "a.nbib", range(36000001, 36000006))
    with running_app(answer="allow") as app:
        with pytest.raises(RemoteError, match="Allow"):
            authorize(app.url)
        # An "Allow" key stored anyway (by hand): its first use consumes it, and syncd says
        # what to do instead of writing anything.
        once = grant(app).json
        assert once["remember"] is False
        key = DesktopKey(app.state.db.server_id, once["key"])
        machine = DesktopMachine(tmp_path / "once", app, key)
        machine.run(tmp_path / "in", expect=2)
        assert "syncd setup --desktop" in machine.tail()
        assert not pmid_counts(app)
    with running_app() as app:
        machine = DesktopMachine(tmp_path / "revoked", app)
        machine.run(tmp_path / "in")
        app.state.clear_authorizations()  # Settings → Advanced → Clear Write Authorizations
        write_export(tmp_path / "in" / "b.nbib", range(36000006, 36000011))
        machine.run(tmp_path / "in", expect=2)
        assert "run `syncd setup --desktop` again" in machine.tail()
        assert_exactly_once(app, pmids)


def test_zotero_closed_for_a_while_during_an_import(tmp_path: Path) -> None:
    with running_app() as app:
        pmids = write_export(tmp_path / "in" / "a.nbib", range(37000001, 37000001 + N))
        machine = DesktopMachine(tmp_path / "m", app)
        app.state.latency = 0.3
        proc = machine.start(tmp_path / "in")
        while app.state.writes < 1 and proc.poll() is None:
            time.sleep(0.002)
        threading.Thread(target=app.close_for, args=(2.0,)).start()
        app.state.latency = 0.0
        code = proc.wait(timeout=120)
        if code != 0:  # gave up while Zotero was closed: the rerun settles what is pending
            machine.run(tmp_path / "in")
        assert_exactly_once(app, pmids)


def test_import_into_a_group_the_app_holds(tmp_path: Path) -> None:
    # A signed-in user's group, synced into the app: the items go there (with the keys the Web
    # API target derives for groups/7), not into My Library; a rerun writes nothing.
    with running_app(user_id=4242) as app:
        app.state.add_group(7, "Lab")
        pmids = write_export(tmp_path / "in" / "a.nbib", range(31700001, 31700021))
        machine = DesktopMachine(tmp_path / "m", app)
        desktop_config(machine.home, app, machine.key, extra="desktop_group = 7\n")
        machine.run(tmp_path / "in")
        assert sorted(app.state.group_pmids(7)) == sorted(map(str, pmids))
        assert app.state.pmids() == []
        writes = app.state.writes
        machine.run(tmp_path / "in")
        assert app.state.writes == writes
        assert f"desktop/{app.state.db.server_id}/groups/7" in machine.status()
