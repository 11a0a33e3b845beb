"""syncd's E-utilities client against the double: what it asks, how it paces, retries and
gives up, and that the NCBI key never shows."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest

from syncd.config_keys import Secret
from syncd.config_pubmed import PubmedConfig
from syncd.errors import ConfigError, RemoteError
from syncd.pubmed.eutils import Eutils, QueryError
from syncd.pubmed.pace import Pacer
from syncd.sandbox.eutils import EutilsDouble
from tests.eutils.conftest import corpus_with

KEY = "NcbiKey0123456789abcdef0123456789ab"


def client(double: EutilsDouble, tmp_path: Path, *, key: bool = True, **kw: object) -> Eutils:
    config = PubmedConfig(
        eutils_url=double.url,
        api_key=Secret(KEY) if key else None,
        email="me@example.org",
        tool="syncd-tests",
    )
    return Eutils(config, state_dir=tmp_path, **kw)  # type: ignore[arg-type]


def test_esearch_and_efetch_send_tool_email_and_key(
    paced_double: EutilsDouble, tmp_path: Path
) -> None:
    with client(paced_double, tmp_path) as eutils:
        hits = eutils.esearch("synthetic", mindate="2025/01/01", maxdate="2025/01/10")
        assert hits.count == 10 and len(hits.pmids) == 10 and hits.errors == []
        text = eutils.efetch(["1001", "1002", "424242"])
    assert text.count(b"PMID- ") == 2
    assert all(r.params["tool"] == "syncd-tests" for r in paced_double.requests)
    assert all(r.params["email"] == "me@example.org" for r in paced_double.requests)
    assert all(r.with_key for r in paced_double.requests)
    # With a key every request is a POST: the key travels in no URL (URLs get logged).
    assert {r.method for r in paced_double.requests} == {"POST"}
    assert paced_double.throttled == 0


@pytest.mark.slow
def test_efetch_goes_in_batches_of_500_by_post_above_200(tmp_path: Path) -> None:
    with (
        EutilsDouble(corpus_with(range(1, 1201))) as double,
        client(double, tmp_path, key=False) as eutils,
    ):
        text = eutils.efetch([str(i) for i in range(1, 1201)])
        assert text.count(b"PMID- ") == 1200
        assert [(r.method, len(r.params["id"].split(","))) for r in double.requests] == [
            ("POST", 500),
            ("POST", 500),
            ("GET", 200),  # "more than about 200": 200 still fit a URL
        ]
        eutils.efetch(["1", "2"])
        assert double.requests[-1].method == "GET"
        assert double.throttled == 0


def test_efetch_refuses_what_is_not_a_pmid(paced_double: EutilsDouble, tmp_path: Path) -> None:
    with client(paced_double, tmp_path) as eutils, pytest.raises(ValueError):
        eutils.efetch(["12", "0", "x1"])
    assert paced_double.count() == 0


@pytest.mark.slow
def test_pace_without_a_key_provokes_no_429(paced_double: EutilsDouble, tmp_path: Path) -> None:
    with client(paced_double, tmp_path, key=False) as eutils:
        for _ in range(7):
            eutils.esearch("synthetic")
    assert paced_double.count() == 7
    assert paced_double.throttled == 0


@pytest.mark.parametrize("fault", ["429", "ratelimit-200", "503", "502", "html", "reset"])
def test_rate_limits_and_transient_faults_are_asked_again(
    paced_double: EutilsDouble, tmp_path: Path, fault: str
) -> None:
    waits: list[float] = []
    paced_double.inject(fault, times=2)
    with client(paced_double, tmp_path, sleep=waits.append) as eutils:
        assert eutils.esearch("synthetic").count == 30
    assert len(waits) == 2 and all(w > 0 for w in waits)
    assert paced_double.count() == 3


def test_a_one_shot_gives_up_after_its_deadline_without_showing_the_key(
    paced_double: EutilsDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    paced_double.inject("429", times=1000)
    caplog.set_level(logging.DEBUG)
    with (
        client(paced_double, tmp_path, sleep=waits.append, deadline=30.0) as eutils,
        pytest.raises(RemoteError) as err,
    ):
        eutils.efetch(["1001"])
    assert err.value.transient
    assert sum(waits) <= 30.0
    assert KEY not in str(err.value) and KEY not in (err.value.hint or "")
    assert "rate limit" in str(err.value)
    assert KEY not in caplog.text


def test_a_refused_request_is_not_asked_again(double: EutilsDouble, tmp_path: Path) -> None:
    # The client never sends a malformed id itself; a forged one shows the refusal path.
    with client(double, tmp_path) as eutils, pytest.raises(RemoteError) as err:
        eutils._call("efetch", {"id": "0", "rettype": "medline"}, post=False, read=bytes)
    assert not err.value.transient and err.value.status == 400
    assert "ID list is empty" in str(err.value)
    assert double.count() == 1


def test_a_broken_query_is_the_users_mistake(double: EutilsDouble, tmp_path: Path) -> None:
    with client(double, tmp_path) as eutils:
        with pytest.raises(QueryError) as err:
            eutils.esearch("(ketamine AND depression")
        assert isinstance(err.value, ConfigError)
        assert "Unbalanced" in str(err.value)
        assert eutils.esearch("xyzzy").errors == ["phrase not found: xyzzy"]


def test_plain_http_to_another_machine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        Eutils(PubmedConfig(eutils_url="http://eutils.example.org/x"), state_dir=tmp_path)


def test_the_pace_is_one_file_shared_by_every_client(tmp_path: Path) -> None:
    now = [1000.0]
    a = Pacer(tmp_path, 0.37, clock=lambda: now[0])
    b = Pacer(tmp_path, 0.37, clock=lambda: now[0])
    slots = [a.reserve(), b.reserve(), a.reserve(), b.reserve()]
    assert slots == pytest.approx([1000.0, 1000.37, 1000.74, 1001.11])
    now[0] = 2000.0  # later: free at once again
    assert a.reserve() == 2000.0


def test_the_pace_holds_in_the_process_when_its_file_cannot_be_made(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "state-dir"
    not_a_folder.write_text("a file where the state folder should be")
    pacer = Pacer(not_a_folder, 0.37, clock=lambda: 10.0)
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([10.0, 10.37, 10.74])


def _reserve_five(folder: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    pacer = Pacer(Path(folder), 0.37, clock=lambda: 5000.0)
    for _ in range(5):
        out.put(pacer.reserve())


def test_the_pace_holds_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_reserve_five, args=(str(tmp_path), out)) for _ in range(3)]
    for p in procs:
        p.start()
    slots = sorted(out.get(timeout=60) for _ in range(15))
    for p in procs:
        p.join()
    assert slots == pytest.approx([5000.0 + 0.37 * i for i in range(15)])
