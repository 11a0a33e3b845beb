"""The daemon's speed and weight: drop-to-item latency, idle cost, and memory over many files.

A real ``syncd run`` process watches a temporary folder and imports into an in-process sandbox
over real HTTP (the same set-up as tests/system/test_daemon.py):

1. **Latency.** ``--drops`` files of one new record each, one after another; for each, the time
   from the file's last write (its close) to the moment the library holds the item (the
   sandbox's library version moves; read in-process, no polling over HTTP). Reported as
   p50 / p95 / max against ``settle_seconds``. Then ``--renames`` downloads as a browser makes
   them: written under ``NAME.crdownload`` and renamed when complete; the time from the rename
   to the item (target: p50 at most 0.3 s, with no settle wait).
2. **Idle.** ``--idle`` seconds with nothing happening: the CPU time the daemon used (user +
   system, from /proc) and the voluntary context switches of all its threads, per minute
   (each is a wake-up).
3. **Memory.** ``--files`` files imported one after another: RSS after the 100th and after the
   last.

Run: ``python bench/bench_daemon.py [--drops 50] [--idle 60] [--files 1000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.sandbox import SandboxServer  # noqa: E402

KEY = "BenchDaemonKey0123456789"
LIBRARY = "users/1"


def record(pmid: int) -> str:
    return (
        f"PMID- {pmid}\nDP  - 2024 Jan\nTI  - Latency of article {pmid}.\n"
        "FAU - Bench, Mark\nAU  - Bench M\nPT  - Journal Article\nJT  - Journal of benches\n"
        f"AID - 10.5555/bench.{pmid} [doi]\n"
    )


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                total += int(line.split()[1])
    return total


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_daemon(home: Path, url: str, settle: float) -> subprocess.Popen[bytes]:
    folder = home / "inbox"
    folder.mkdir(parents=True)
    config = home / "config.toml"
    config.write_text(
        f'[zotero]\nlibrary_id = 1\napi_url = "{url}"\n'
        f'[watch]\ndirectory = "{folder}"\nsettle_seconds = {settle}\n'
        f'[state]\npath = "{home / "state.db"}"\n'
    )
    env = {
        **os.environ,
        "SYNCD_CONFIG": str(config),
        "ZOTERO_API_KEY": KEY,
        "XDG_STATE_HOME": str(home / "xdg-state"),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "-q", "run"], env=env, stdin=subprocess.DEVNULL
    )
    time.sleep(2.0)  # start-up: index build, first scan
    return proc


def wait_version(sandbox: SandboxServer, above: int, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sandbox.library_version(LIBRARY) > above:
            return time.time()
        time.sleep(0.005)
    raise SystemExit("the daemon did not import the file in time")


def drop(folder: Path, name: str, pmid: int) -> float:
    path = folder / name
    with path.open("w", encoding="utf-8") as fh:
        fh.write(record(pmid))
    return path.stat().st_mtime


def drop_renamed(folder: Path, name: str, pmid: int) -> float:
    """As Chrome saves a download: the bytes under a temporary name, then a rename."""
    part = folder / f"{name}.crdownload"
    part.write_text(record(pmid), encoding="utf-8")
    time.sleep(0.05)  # the rename comes after the write, as a browser's does
    renamed = time.time()
    part.rename(folder / name)
    return renamed


def percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=50)
    parser.add_argument("--renames", type=int, default=20)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer() as sandbox:
        sandbox.add_user(1)
        sandbox.add_key(KEY, 1)
        home = Path(tmp) / "latency"
        proc = start_daemon(home, sandbox.url, args.settle)
        try:
            latencies = []
            for n in range(args.drops):
                version = sandbox.library_version(LIBRARY)
                written = drop(home / "inbox", f"drop-{n}.nbib", 50000000 + n)
                latencies.append(wait_version(sandbox, version) - written)
                time.sleep(0.2)
            p50, p95 = percentiles(latencies)
            print(f"drop -> item, {args.drops} drops, settle_seconds = {args.settle}:")
            print(
                f"  p50 {p50:.2f} s (settle + {p50 - args.settle:.2f}), "
                f"p95 {p95:.2f} s (settle + {p95 - args.settle:.2f}), "
                f"min {min(latencies):.2f} s, max {max(latencies):.2f} s"
            )
            renamed = []
            for n in range(args.renames):
                version = sandbox.library_version(LIBRARY)
                at = drop_renamed(home / "inbox", f"renamed-{n}.nbib", 51000000 + n)
                renamed.append(wait_version(sandbox, version) - at)
                time.sleep(0.2)
            if renamed:
                p50, p95 = percentiles(renamed)
                print(f"rename from .crdownload -> item, {args.renames} downloads:")
                print(f"  p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(renamed):.2f} s")
            if args.idle > 0:
                time.sleep(3.0)
                cpu0, sw0 = proc_cpu(proc.pid), proc_switches(proc.pid)
                time.sleep(args.idle)
                cpu1, sw1 = proc_cpu(proc.pid), proc_switches(proc.pid)
                per_min = (sw1 - sw0) * 60 / args.idle
                print(
                    f"idle {args.idle:.0f} s: CPU {cpu1 - cpu0:.3f} s, "
                    f"{per_min:.0f} wake-ups (voluntary context switches, all threads) per minute"
                )
        finally:
            proc.terminate()
            proc.wait()
        if args.files > 0:
            home = Path(tmp) / "memory"
            proc = start_daemon(home, sandbox.url, 0.1)
            try:
                rss = {}
                for n in range(args.files):
                    version = sandbox.library_version(LIBRARY)
                    drop(home / "inbox", f"file-{n:05}.nbib", 60000000 + n)
                    wait_version(sandbox, version)
                    if n + 1 in (100, args.files):
                        time.sleep(0.5)
                        rss[n + 1] = proc_rss_mb(proc.pid)
                first, last = rss.get(100, 0.0), rss[args.files]
                growth = (last - first) / first * 100 if first else 0.0
                print(
                    f"{args.files} files one after another: RSS {first:.1f} MB after the 100th, "
                    f"{last:.1f} MB after the last ({growth:+.1f} %)"
                )
            finally:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
