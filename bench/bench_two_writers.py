"""Two writers on one library at the real server's pace: does the second make progress?

The case of a lab with two machines on one group library: each imports 1,500 records of its
own, the second starting a second after the first, against a sandbox that commits a write
object by object at api.zotero.org's measured pace (``latency=REAL``: 12-40 ms an object,
0.6-2 s per 50). Against it, one writer imports both files alone. Reported: the wall time of
each, their ratio (target: at most 1.3), and how long after its start the second writer's
first write was accepted (target: within 5 s). Each writer is a real ``python -m syncd
import`` process over HTTP.

``--syncd DIR`` runs the writers from another syncd source tree (e.g. a checkout of an older
commit), so that two versions are measured side by side in one run; the sandbox is this one.

    python bench/bench_two_writers.py [--records 1500] [--syncd DIR ...] [--json]
"""

from __future__ import annotations

import argparse
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
from bench_writers import export  # noqa: E402

from syncd.core.identity import item_identifiers  # noqa: E402
from syncd.sandbox import SandboxServer  # noqa: E402
from syncd.sandbox.contention import REAL  # noqa: E402

BASE = 37000000


def _pmids(post: dict[str, Any]) -> set[str]:
    try:
        return {p for i in json.loads(post["body"] or "[]") if (p := item_identifiers(i).pmid)}
    except ValueError:
        return set()


def scenario(tree: Path, files: list[list[range]], stagger: float) -> dict[str, Any]:
    """Writers (each a list of record ranges, one file a range) at once; the second starts
    ``stagger`` s after the first."""
    env = {**os.environ, "ZOTERO_API_KEY": KEY, "NO_PROXY": "127.0.0.1,localhost"}
    env["PYTHONPATH"] = str(tree)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(latency=REAL) as sandbox:
        sandbox.add_user(USER_ID, "bench")
        sandbox.add_key(KEY, USER_ID)
        work = Path(tmp)
        procs: list[tuple[subprocess.Popen[str], float]] = []
        started = time.monotonic()
        for w, ranges in enumerate(files):
            if w:
                time.sleep(stagger)
            config = write_config(work / f"{w}.toml", sandbox, work / f"{w}.db")
            paths = [str(export(work / f"{w}-{i}.nbib", r)) for i, r in enumerate(ranges)]
            proc = subprocess.Popen(
                [sys.executable, "-m", "syncd", "import", "--json", *paths],
                cwd=tree,
                env={**env, "SYNCD_CONFIG": str(config)},
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            procs.append((proc, time.monotonic()))
        reports = [json.loads(p.communicate(timeout=1800)[0] or "{}") for p, _ in procs]
        wall = time.monotonic() - started
        posts = [
            r for r in sandbox.requests() if r["method"] == "POST" and r["path"].endswith("/items")
        ]
    out: dict[str, Any] = {
        "wall": wall,
        "new": sum(r.get("counts", {}).get("new", 0) for r in reports),
        "refused": sum(1 for p in posts if p["status"] == 412),
        "posts": len(posts),
    }
    if len(files) > 1:
        second = {str(BASE + n) for r in files[1] for n in r}
        accepted = [p["finished"] for p in posts if p["status"] == 200 and _pmids(p) & second]
        out["second_first_write"] = min(accepted) - procs[1][1] if accepted else None
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1500, help="records per writer")
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds before the second")
    parser.add_argument(
        "--syncd", type=Path, action="append", default=[], help="another syncd source tree"
    )
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    n = args.records
    a, b = range(0, n), range(n, 2 * n)
    results: dict[str, dict[str, Any]] = {}
    for tree in [ROOT, *args.syncd]:
        label = "this tree" if tree == ROOT else str(tree)
        alone = scenario(tree, [[a, b]], args.stagger)
        both = scenario(tree, [[a], [b]], args.stagger)
        results[label] = {"alone": alone, "two": both, "ratio": both["wall"] / alone["wall"]}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"# Two writers x {n:,} records at the real server's pace, {time.strftime('%F %H:%M')}")
    print()
    print(
        "| syncd | one writer, both files (s) | two writers (s) | ratio | second's first "
        "accepted write (s) | refused writes | items |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        first = r["two"].get("second_first_write")
        print(
            f"| {label} | {r['alone']['wall']:.1f} | {r['two']['wall']:.1f} | {r['ratio']:.2f} | "
            f"{'never' if first is None else f'{first:.1f}'} | {r['two']['refused']} | "
            f"{r['two']['new']:,} |"
        )


if __name__ == "__main__":
    main()
