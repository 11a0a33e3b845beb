"""Several writers on one library: the throughput of 4 concurrent imports against 1.

The lab case of issue 9: four machines (their own state databases) import 1,500 / 100 / 100 /
1,500 records into one library at once, overlapping (2,600 distinct articles; the two large
imports share 500, each small one shares 50 with a large one and brings 50 of its own), the
small ones starting a second after the large ones. Against it, one machine imports the same
2,600 articles alone, from one file. Each writer is a real ``python -m syncd import --json``
process against an in-process sandbox over HTTP; wall time is from the first start to the last
exit. Run twice: with the sandbox as it is (it answers a write in milliseconds) and with every
write held for ``--write-latency`` seconds first, as a real server takes a while to store 50
items (the case where a refused write, tried again at once, kept being refused).

    python bench/bench_writers.py [--write-latency 0.15] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_import import KEY, USER_ID, write_config  # noqa: E402

from syncd.sandbox import SandboxServer  # noqa: E402
from syncd.zotero import ZoteroGateway  # noqa: E402

BASE = 37000000
WRITERS = {
    "a": range(0, 1500),
    "b": range(2450, 2550),
    "c": range(-50, 50),
    "d": range(1000, 2500),
}
ITEMS_PATH = rf"^/users/{USER_ID}/items$"


def export(path: Path, numbers: range | list[int]) -> Path:
    records = [
        f"PMID- {BASE + n}\nDP  - 2022\nTI  - Writers benchmark article {BASE + n}.\n"
        f"FAU - Roe, Jane\nAU  - Roe J\nPT  - Journal Article\nTA  - J Bench\n"
        f"LID - 10.5555/w.{BASE + n} [doi]\n"
        for n in numbers
    ]
    path.write_text("\n".join(records), encoding="utf-8")
    return path


def scenario(writers: dict[str, list[int]], latency: float, stagger: float) -> dict[str, Any]:
    """Run ``writers`` (name -> record numbers) at once against a fresh sandbox."""
    env = {**os.environ, "ZOTERO_API_KEY": KEY, "NO_PROXY": "127.0.0.1,localhost"}
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(admin=True) as sandbox:
        sandbox.add_user(USER_ID, "bench")
        sandbox.add_key(KEY, USER_ID)
        if latency:
            sandbox.inject(method="POST", path=ITEMS_PATH, delay=latency, times=10**6)
        work = Path(tmp)
        procs: dict[str, subprocess.Popen[str]] = {}
        started = time.perf_counter()
        for i, (name, numbers) in enumerate(writers.items()):
            if i == 2 and stagger:
                time.sleep(stagger)  # the small imports come a moment later
            config = write_config(work / f"{name}.toml", sandbox, work / f"{name}.db")
            path = export(work / f"{name}.nbib", numbers)
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "syncd", "import", "--json", str(path)],
                cwd=ROOT,
                env={**env, "SYNCD_CONFIG": str(config)},
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        reports = {}
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=900)
            reports[name] = {"exit": proc.returncode, **json.loads(out or "{}")}
        wall = time.perf_counter() - started
        posts = [r for r in sandbox.requests() if r["method"] == "POST"]
        statuses = collections.Counter(r["status"] for r in posts)
        with ZoteroGateway(
            library_type="user", library_id=USER_ID, api_key=KEY, api_url=sandbox.url
        ) as gateway:
            items = len(gateway.item_versions(0)[0])
    records = sum(r["counts"]["records"] for r in reports.values())
    return {
        "wall": wall,
        "records": records,
        "items": items,
        "new": {n: r["counts"]["new"] for n, r in reports.items()},
        "exits": {n: r["exit"] for n, r in reports.items()},
        "posts": len(posts),
        "refused": statuses.get(412, 0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-latency", type=float, default=0.15)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    union = sorted({n for span in WRITERS.values() for n in span})
    four = {n: list(span) for n, span in WRITERS.items()}
    runs: dict[str, dict[str, Any]] = {}
    for latency in (0.0, args.write_latency):
        runs[f"1 writer, {latency:g} s"] = scenario({"alone": union}, latency, 0.0)
        runs[f"4 writers, {latency:g} s"] = scenario(four, latency, 1.0)
    if args.json:
        print(json.dumps(runs))
        return
    cols = list(runs)
    lines = [
        "| write latency | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]

    def row(label: str, cells: list[Any]) -> None:
        lines.append(f"| {label} | " + " | ".join(str(c) for c in cells) + " |")

    row("wall time (s)", [f"{r['wall']:.1f}" for r in runs.values()])
    row("articles in the library", [r["items"] for r in runs.values()])
    row("articles created per s", [f"{r['items'] / r['wall']:,.0f}" for r in runs.values()])
    row("records read (all writers)", [r["records"] for r in runs.values()])
    row("records per s (all writers)", [f"{r['records'] / r['wall']:,.0f}" for r in runs.values()])
    row("new per writer", ["/".join(map(str, r["new"].values())) for r in runs.values()])
    row("exit codes", ["/".join(map(str, r["exits"].values())) for r in runs.values()])
    row("`POST items`", [r["posts"] for r in runs.values()])
    row("of which refused (412)", [r["refused"] for r in runs.values()])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
