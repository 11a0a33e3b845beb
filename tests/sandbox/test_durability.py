"""Crash durability of the sandbox: what it acknowledged survives kill -9, and nothing is torn.

A real ``syncd sandbox`` process (``python -m syncd sandbox --data DIR ...``) serves several
client threads that post batches of items with client-chosen keys and ``version: 0``, patch
them and delete them. At a random moment during that stream the process gets SIGKILL; it is
then restarted on the same data directory and the library is checked against what the clients
saw acknowledged:

* every acknowledged write is there (created keys exist with the acknowledged version or a
  later one and with the acknowledged content; acknowledged deletes stay deleted and are listed
  in ``/deleted``);
* nothing is half-written: an item is either absent or has every field and tag of one revision
  a client sent (writes in flight at the kill may or may not have happened, as a whole);
* versions are consistent: the library version is at least every acknowledged version; every
  object's version is at most the library version, and no two objects share one; ``since``
  and ``/deleted?since`` answers agree with the full listing; the next write gets the next
  version;
* acknowledged write tokens are remembered, and no token is stored without its objects.

The state carries over from one kill to the next, so later rounds re-check earlier writes.
SIGTERM and SIGINT in the middle of the same kind of stream must stop the server cleanly with
exit code 0, keeping every acknowledged write.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "DurableKey0123456789abcd"
USER_ID = 1
ITEMS = f"/users/{USER_ID}/items"
KEY_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
WORKERS = 3  # the real API allows 5 concurrent requests per user; stay well below
ROUNDS = 5
STARTUP_TIMEOUT = 30.0
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")

pytestmark = [pytest.mark.timeout(180)]


# --- the sandbox process ----------------------------------------------------------------------


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class SandboxProcess:
    """``python -m syncd sandbox`` on a data directory, with its URL read from stdout."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.stdout: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.drain: threading.Thread | None = None
        self.port = 0

    def start(self) -> SandboxProcess:
        command = [
            sys.executable, "-m", "syncd", "sandbox", "--port", "0", "--data", str(self.data_dir),
            "--user-id", str(USER_ID), "--api-key", KEY, "--admin",
        ]  # fmt: skip
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"--- start {' '.join(command)}\n")
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                # A shell that starts this suite in the background leaves SIGINT ignored, and
                # the child would inherit that; Ctrl-C must reach the sandbox as in a terminal.
                preexec_fn=_default_sigint,
            )
        lines: queue.Queue[str | None] = queue.Queue()
        self.drain = threading.Thread(target=self._drain, args=(lines,), daemon=True)
        self.drain.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                pytest.fail(f"no URL on the sandbox's stdout within {STARTUP_TIMEOUT}s")
            if line is None:
                pytest.fail(
                    f"the sandbox exited ({self.proc.wait()}) before printing its URL: "
                    f"{''.join(self.stdout)}{self.log.read_text(encoding='utf-8')[-2000:]}"
                )
            found = URL.search(line)
            assert found, f"the sandbox's first line has no URL: {line!r}"
            self.port = int(found.group(1))
            return self

    def _drain(self, lines: queue.Queue[str | None]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line)
            lines.put(line)
        lines.put(None)

    def signal(self, sig: int, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
            if self.drain is not None:
                self.drain.join(timeout=timeout)  # stdout is complete once it hits EOF
            return code
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the sandbox did not stop within {timeout}s of signal {sig}")

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path / "data", tmp_path / "sandbox.log")
    try:
        yield process
    finally:
        process.ensure_stopped()


class Client:
    """A minimal HTTP/1.1 client on one keep-alive connection to the sandbox."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        sent = {"Zotero-API-Key": KEY, "Zotero-API-Version": "3", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        self.connection.request(method, path, body=data, headers=sent)
        response = self.connection.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def get_json(self, path: str) -> tuple[Any, dict[str, str]]:
        status, headers, payload = self.request("GET", path)
        assert status == 200, f"GET {path}: {status} {payload[:300]!r}"
        return json.loads(payload), headers

    def close(self) -> None:
        self.connection.close()


# --- what the clients were told ---------------------------------------------------------------


def revision(key: str, rev: int) -> dict[str, Any]:
    """The editable content of revision ``rev`` of item ``key``: every field and tag differs
    between revisions, so a torn write cannot pass for any one revision."""
    return {
        "title": f"Durable {key} revision {rev}",
        "DOI": f"10.5555/{key.lower()}.{rev}",
        "extra": f"PMID: {zlib.crc32(key.encode()) % 10**8}\nrevision: {rev}",
        "tags": [{"tag": f"{key}-r{rev}-{n}"} for n in range(1 + rev % 3)]
        + [{"tag": f"rev{rev}", "type": 1}],
    }


def new_item(key: str) -> dict[str, Any]:
    return {
        "itemType": "journalArticle",
        "key": key,
        "version": 0,
        "creators": [{"creatorType": "author", "firstName": "Kim", "lastName": key}],
        **revision(key, 0),
    }


def observed_revision(key: str, data: dict[str, Any]) -> int | None:
    """The revision an item's data is, or None when it matches none of them (torn)."""
    found = re.fullmatch(rf"Durable {key} revision (\d+)", data.get("title", ""))
    if not found:
        return None
    rev = int(found.group(1))
    want = revision(key, rev)
    tags = sorted((t["tag"], t.get("type", 0)) for t in data.get("tags", []))
    complete = (
        data.get("itemType") == "journalArticle"
        and data.get("DOI") == want["DOI"]
        and data.get("extra") == want["extra"]
        and tags == sorted((t["tag"], t.get("type", 0)) for t in want["tags"])
        and data.get("creators") == [{"creatorType": "author", "firstName": "Kim", "lastName": key}]
    )
    return rev if complete else None


@dataclass
class Expectation:
    """What one key may look like after a restart."""

    revs: set[int] = field(default_factory=set)  # revisions it may show when present
    may_be_absent: bool = True
    min_version: int = 0  # the acknowledged version: the stored one is at least this
    deleted_at: int | None = None  # library version of an acknowledged delete
    rev: int = 0  # the newest revision sent


@dataclass
class TokenedPost:
    """A POST sent with a Zotero-Write-Token (the server must remember acknowledged ones)."""

    token: str
    keys: list[str]
    acked: bool = False


@dataclass
class Model:
    items: dict[str, Expectation] = field(default_factory=dict)
    tokened: list[TokenedPost] = field(default_factory=list)  # this round's
    max_acked: int = 0
    problems: list[str] = field(default_factory=list)
    acks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acked(self, version: int) -> None:
        with self.lock:
            self.max_acked = max(self.max_acked, version)
            self.acks += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def new_key(rng: random.Random, taken: set[str]) -> str:
    while True:
        key = "".join(rng.choice(KEY_ALPHABET) for _ in range(8))
        if key not in taken:
            taken.add(key)
            return key


class Worker(threading.Thread):
    """One client: posts batches, patches and deletes its own keys until the server dies."""

    def __init__(
        self, port: int, model: Model, own: list[str], taken: set[str], rng: random.Random
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.model, self.own, self.taken, self.rng = port, model, own, taken, rng
        self.stopping = threading.Event()

    def run(self) -> None:
        client = Client(self.port)
        try:
            while not self.stopping.is_set():
                live = [k for k in self.own if not self.model.items[k].may_be_absent]
                roll = self.rng.random()
                if roll < 0.55 or not live:
                    self.create(client)
                elif roll < 0.85:
                    self.patch(client, self.rng.choice(live))
                else:
                    self.delete(client, self.rng.choice(live))
        except (OSError, http.client.HTTPException):
            pass  # the server was killed: the request in flight is in doubt, already recorded
        finally:
            client.close()

    def create(self, client: Client) -> None:
        with self.model.lock:
            keys = [new_key(self.rng, self.taken) for _ in range(self.rng.randint(1, 8))]
            for key in keys:
                self.model.items[key] = Expectation(revs={0}, may_be_absent=True)
        self.own.extend(keys)
        headers: dict[str, str] = {}
        tokened: TokenedPost | None = None
        if self.rng.random() < 0.5:
            tokened = TokenedPost(uuid.UUID(int=self.rng.getrandbits(128)).hex, keys)
            headers["Zotero-Write-Token"] = tokened.token
            with self.model.lock:
                self.model.tokened.append(tokened)
        status, _, payload = client.request("POST", ITEMS, [new_item(k) for k in keys], headers)
        if tokened is not None and status == 200:
            tokened.acked = True
        if status != 200:
            self.model.problem(f"POST of {keys}: {status} {payload[:300]!r}")
            return
        report = json.loads(payload)
        if report.get("failed"):
            self.model.problem(f"POST of {keys} failed objects: {report['failed']}")
        for index, key in enumerate(keys):
            done = report.get("successful", {}).get(str(index))
            if done is None or done.get("key") != key:
                continue
            with self.model.lock:
                expectation = self.model.items[key]
                expectation.may_be_absent = False
                expectation.min_version = done["version"]
            self.model.acked(done["version"])

    def patch(self, client: Client, key: str) -> None:
        expectation = self.model.items[key]
        rev = expectation.rev + 1
        with self.model.lock:
            expectation.rev = rev
            expectation.revs.add(rev)
        status, headers, payload = client.request(
            "PATCH",
            f"{ITEMS}/{key}",
            revision(key, rev),
            {"If-Unmodified-Since-Version": str(expectation.min_version)},
        )
        if status != 204:
            self.model.problem(f"PATCH {key}: {status} {payload[:300]!r}")
            return
        version = int(headers["last-modified-version"])
        with self.model.lock:
            expectation.revs = {rev}
            expectation.min_version = version
        self.model.acked(version)

    def delete(self, client: Client, key: str) -> None:
        expectation = self.model.items[key]
        with self.model.lock:
            expectation.may_be_absent = True
        status, headers, payload = client.request(
            "DELETE",
            f"{ITEMS}/{key}",
            headers={"If-Unmodified-Since-Version": str(expectation.min_version)},
        )
        if status != 204:
            self.model.problem(f"DELETE {key}: {status} {payload[:300]!r}")
            return
        version = int(headers["last-modified-version"])
        with self.model.lock:
            expectation.revs = set()
            expectation.deleted_at = version
        self.own.remove(key)
        self.model.acked(version)


# --- checking a restarted sandbox against the model -------------------------------------------


def verify(port: int, model: Model, rng: random.Random, context: str) -> int:
    """Check the library against the model, then make the model exact again (writes that were
    in doubt are resolved by what was found). Returns the library version."""
    client = Client(port)
    try:
        versions, headers = client.get_json(f"{ITEMS}?format=versions&includeTrashed=1")
        library = int(headers["last-modified-version"])
        admin, _ = client.get_json(f"/_sandbox/libraries/users/{USER_ID}")
        assert admin["version"] == library, f"{context}: admin {admin} vs header {library}"
        acknowledged = model.max_acked
        assert library >= acknowledged, (
            f"{context}: library version {library} < acknowledged version {acknowledged}"
        )
        newer = {k: v for k, v in versions.items() if v > library}
        assert not newer, f"{context}: objects newer than the library ({library}): {newer}"
        shared = {v for v in versions.values() if list(versions.values()).count(v) > 1}
        assert not shared, f"{context}: several objects have version(s) {shared}"
        phantoms = set(versions) - set(model.items)
        assert not phantoms, f"{context}: objects no client created: {phantoms}"

        found: dict[str, dict[str, Any]] = {}
        keys = sorted(versions)
        for start in range(0, len(keys), 50):
            batch = ",".join(keys[start : start + 50])
            items, _ = client.get_json(f"{ITEMS}?itemKey={batch}&includeTrashed=1&limit=100")
            found.update((item["key"], item) for item in items)
        assert set(found) == set(versions), f"{context}: JSON and versions listings differ"

        for key, expectation in model.items.items():
            item = found.get(key)
            if item is None:
                assert expectation.may_be_absent, (
                    f"{context}: acknowledged item {key} (version >= "
                    f"{expectation.min_version}) is missing"
                )
                continue
            assert expectation.deleted_at is None, (
                f"{context}: {key} was deleted at version {expectation.deleted_at} but is back"
            )
            assert item["version"] == item["data"]["version"] == versions[key], context
            assert versions[key] >= expectation.min_version, (
                f"{context}: {key} has version {versions[key]} < acknowledged "
                f"{expectation.min_version}"
            )
            rev = observed_revision(key, item["data"])
            assert rev is not None, f"{context}: {key} is torn: {item['data']}"
            assert rev in expectation.revs, (
                f"{context}: {key} shows revision {rev}, expected one of {expectation.revs}"
            )

        deleted, _ = client.get_json(f"/users/{USER_ID}/deleted?since=0")
        assert not set(deleted["items"]) & set(versions), f"{context}: live and deleted"
        acked_deletes = {k: e.deleted_at for k, e in model.items.items() if e.deleted_at}
        assert set(acked_deletes) <= set(deleted["items"]), (
            f"{context}: acknowledged deletes missing from /deleted: "
            f"{set(acked_deletes) - set(deleted['items'])}"
        )
        assert set(deleted["items"]) <= set(model.items), context
        for key, at in rng.sample(sorted(acked_deletes.items()), min(4, len(acked_deletes))):
            assert at is not None
            before, _ = client.get_json(f"/users/{USER_ID}/deleted?since={at - 1}")
            after, _ = client.get_json(f"/users/{USER_ID}/deleted?since={at}")
            assert key in before["items"] and key not in after["items"], (
                f"{context}: {key} deleted at {at}: /deleted since {at - 1} and {at} disagree"
            )
        nothing, _ = client.get_json(f"/users/{USER_ID}/deleted?since={library}")
        assert nothing["items"] == [], f"{context}: deleted after the library version {library}"

        marks = {0, library, *rng.sample(sorted(set(versions.values()) | {0}), 1)}
        marks |= {rng.randint(0, library) for _ in range(3)}
        for since in sorted(marks):
            changed, _ = client.get_json(f"{ITEMS}?since={since}&format=versions&includeTrashed=1")
            expected = {k: v for k, v in versions.items() if v > since}
            assert changed == expected, f"{context}: since={since} disagrees with the listing"

        # The model is exact again: what is there is there, what is not will never be.
        for key, expectation in model.items.items():
            if key in found:
                rev = observed_revision(key, found[key]["data"])
                assert rev is not None
                expectation.revs, expectation.rev = {rev}, rev
                expectation.may_be_absent = False
                expectation.min_version = versions[key]
            else:
                expectation.revs, expectation.may_be_absent = set(), True
        return library
    finally:
        client.close()


def probe_write(port: int, model: Model, taken: set[str], rng: random.Random, library: int) -> str:
    """After a restart the next write continues the version sequence."""
    client = Client(port)
    try:
        key = new_key(rng, taken)
        status, headers, payload = client.request("POST", ITEMS, [new_item(key)])
        assert status == 200, payload
        report = json.loads(payload)
        assert report["success"] == {"0": key}, report
        assert report["successful"]["0"]["version"] == library + 1
        assert int(headers["last-modified-version"]) == library + 1
        model.items[key] = Expectation(revs={0}, may_be_absent=False, min_version=library + 1)
        model.acked(library + 1)
        return key
    finally:
        client.close()


def check_write_tokens(port: int, model: Model, context: str) -> None:
    """Write tokens of acknowledged POSTs survive the kill, and a token is only ever stored
    with its request's objects (the real server records it after they are written)."""
    client = Client(port)
    try:
        for post in model.tokened:
            status, _, payload = client.request(
                "POST", ITEMS, [], {"Zotero-Write-Token": post.token}
            )
            assert status in (200, 412), f"{context}: {status} {payload[:300]!r}"
            if post.acked:
                assert status == 412, (
                    f"{context}: the acknowledged write token {post.token} was forgotten"
                )
            elif status == 412:
                missing = [k for k in post.keys if model.items[k].may_be_absent]
                assert not missing, (
                    f"{context}: token {post.token} was stored without its objects {missing}"
                )
        model.tokened.clear()
    finally:
        client.close()


def start_stream(
    port: int, model: Model, owners: list[list[str]], taken: set[str], rng: random.Random
) -> list[Worker]:
    """Start the client threads and return once some of their writes were acknowledged (and a
    random further moment has passed)."""
    workers = [
        Worker(port, model, owners[n], taken, random.Random(rng.random()))
        for n in range(len(owners))
    ]
    acks_before = model.acks
    for worker in workers:
        worker.start()
    target, deadline = acks_before + rng.randint(2, 30), time.monotonic() + 10
    while model.acks < target and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.3))
    assert model.acks > acks_before, "no write was acknowledged within 10 s"
    return workers


def join_stream(workers: list[Worker], model: Model, context: str) -> None:
    for worker in workers:
        worker.stopping.set()
        worker.join(timeout=20)
        assert not worker.is_alive(), f"{context}: a client hangs after the signal"
    assert not model.problems, f"{context}: {model.problems}"


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.slow
def test_acknowledged_writes_survive_kill_9(sandbox_process: SandboxProcess) -> None:
    seed = int(os.environ.get("DURABILITY_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    model = Model()
    taken: set[str] = set()
    owners: list[list[str]] = [[] for _ in range(WORKERS)]
    for round_number in range(ROUNDS):
        context = f"seed {seed}, after kill {round_number}"
        sandbox_process.start()
        library = verify(sandbox_process.port, model, rng, context)
        owners[0].append(probe_write(sandbox_process.port, model, taken, rng, library))
        check_write_tokens(sandbox_process.port, model, context)
        workers = start_stream(sandbox_process.port, model, owners, taken, rng)
        assert sandbox_process.signal(signal.SIGKILL) == -signal.SIGKILL
        join_stream(workers, model, context)
    sandbox_process.start()
    verify(sandbox_process.port, model, rng, f"seed {seed}, final restart")
    check_write_tokens(sandbox_process.port, model, f"seed {seed}, final restart")
    assert sandbox_process.signal(signal.SIGTERM) == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_writes_stops_cleanly_and_keeps_them(
    sandbox_process: SandboxProcess, sig: signal.Signals
) -> None:
    seed = int(os.environ.get("DURABILITY_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    context = f"seed {seed}, after {sig.name}"
    model = Model()
    taken: set[str] = set()
    owners: list[list[str]] = [[] for _ in range(WORKERS)]
    sandbox_process.start()
    workers = start_stream(sandbox_process.port, model, owners, taken, rng)
    assert sandbox_process.signal(sig) == 0, f"{context}: exit code"
    join_stream(workers, model, context)
    log = sandbox_process.log.read_text(encoding="utf-8")
    assert "Traceback" not in log, f"{context}: {log}"
    assert "sandbox stopped" in "".join(sandbox_process.stdout)
    sandbox_process.start()
    library = verify(sandbox_process.port, model, rng, context)
    probe_write(sandbox_process.port, model, taken, rng, library)
    check_write_tokens(sandbox_process.port, model, context)
    assert sandbox_process.signal(signal.SIGTERM) == 0
