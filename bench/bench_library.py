"""Large-library benchmark: 100 new records into libraries of 10,000 / 100,000 / ... items.

For each size, a sandbox library is prefilled once (kept in ``--cache``, copied for every
measurement so that runs do not change it), then real ``python -m syncd import --json``
processes import 100 new records:

1. **first run**: a fresh state database (the index is built from the server),
2. **second run**: the same export again with that state database (the index is in it).

Per run: HTTP requests (the sandbox's log), wall time, the syncd process's own CPU time
(user + sys, from ``wait4``: the sandbox's time is apart) and its peak RSS.

    python bench/bench_library.py [--items 10000,100000] [--new 100] [--json]

A 1,000,000-item library is a manual run (``--items 1000000``): prefilling it takes long
and the sandbox holds it in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_import  # noqa: E402
from bench.bench_import import KEY, USER_ID, export_text, write_config  # noqa: E402
from syncd.sandbox import SandboxServer  # noqa: E402

LIBRARY = f"users/{USER_ID}"
CHUNK = 2000


def prefilled(cache: Path, items: int) -> Path:
    """A sandbox data folder whose library holds ``items`` items (made once)."""
    folder = cache / f"library-{items}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    with SandboxServer(data_dir=folder, admin=True) as sandbox:
        sandbox.add_user(USER_ID, "bench")
        sandbox.add_key(KEY, USER_ID)
        for start in range(0, items, CHUNK):
            sandbox.oob_write(
                LIBRARY,
                [
                    {
                        "itemType": "journalArticle",
                        "title": f"Prefilled article number {n} on a large library",
                        "creators": [
                            {
                                "creatorType": "author",
                                "lastName": f"Author{n % 997}",
                                "firstName": "A",
                            }
                        ],
                        "DOI": f"10.9999/prefilled.{n}",
                        "extra": f"PMID: {90000000 + n}",
                        "date": f"{1990 + n % 30}",
                        "tags": [{"tag": f"topic {n % 50}"}],
                    }
                    for n in range(start, min(items, start + CHUNK))
                ],
            )
    (folder / "done").write_text(f"{time.perf_counter() - started:.0f} s\n")
    return folder


def run_import(config: Path, export: Path, sandbox: SandboxServer) -> dict[str, Any]:
    run = bench_import.run_import(config, export, sandbox)
    counts = run["summary"].get("counts", {})
    return {
        **{k: run[k] for k in ("wall", "cpu", "cpu_sys", "rss_mb", "server")},
        "requests": run["total"],
        "new": counts.get("new"),
        "duplicates": counts.get("duplicates"),
    }


def measure(cache: Path, items: int, new: int, seed: int) -> dict[str, Any]:
    source = prefilled(cache, items)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(source, work / "sandbox")
        with SandboxServer(data_dir=work / "sandbox", admin=True) as sandbox:
            export = work / "new.nbib"
            export.write_text(export_text(new, seed), encoding="utf-8")
            config = write_config(work / "syncd.toml", sandbox, work / "state.db")
            first = run_import(config, export, sandbox)
            second = run_import(config, export, sandbox)
            state_mb = (work / "state.db").stat().st_size / 1e6
    return {"items": items, "first run": first, "second run": second, "state_db_mb": state_mb}


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| library | run | requests | wall (s) | sandbox answering (s) | CPU in syncd (s) "
        "| peak RSS (MB) |"
    )
    lines = [head, "|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for run in ("first run", "second run"):
            m = r[run]
            lines.append(
                f"| {r['items']:,} | {run} | {m['requests']:,} | {m['wall']:.1f} | "
                f"{m['server']:.1f} | {m['cpu']:.2f} | {m['rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", default="10000,100000")
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "syncd-bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    sizes = [int(x) for x in args.items.split(",")]
    results = [measure(args.cache, n, args.new, args.seed) for n in sizes]
    if args.json:
        print(json.dumps(results))
        return
    print(table(results))
    for r in results:
        print(f"state DB for {r['items']:,} items: {r['state_db_mb']:.1f} MB")


if __name__ == "__main__":
    main()
