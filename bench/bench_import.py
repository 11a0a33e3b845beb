"""Import benchmark: a 10,000-record export into a sandbox library, three ways.

1. **first import**: an empty library, a fresh state database;
2. **rerun**: the same export again with the same state database (a file already seen);
3. **second machine**: the same export with a *fresh* state database into the library that now
   holds every article (the index is built from the library and every record is a duplicate).

Each run is a real ``python -m syncd import --json FILE`` process against an in-process sandbox
(over HTTP on 127.0.0.1), timed from start to exit. The sandbox's request log gives the HTTP
requests by kind, compared with the floor: ``ceil(new / 50)`` writes, and O(1) index requests
per write batch when nothing else changed in the library.

    python bench/bench_import.py [--records 10000] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syncd.sandbox import SandboxServer  # noqa: E402

KEY = "BenchKey0123456789abcdEF"
USER_ID = 1


def export_text(n: int, seed: int) -> str:
    """``n`` records from bench/generate.py (realistic PubMed shape) when it is there."""
    generator = ROOT / "bench" / "generate.py"
    if generator.exists():
        spec = importlib.util.spec_from_file_location("bench_generate", generator)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return str(module.generate(n, seed))
    # A plain fallback: small journal articles with a PMID and a DOI each.
    records = []
    for i in range(n):
        pmid = 30000000 + i
        records.append(
            f"PMID- {pmid}\nDP  - 2020\nTI  - Benchmark article {pmid}.\nFAU - Doe, Jane\n"
            f"AU  - Doe J\nPT  - Journal Article\nTA  - J Bench\nLID - 10.5555/b.{pmid} [doi]\n"
        )
    return "\n".join(records)


def kind(request: dict[str, Any]) -> str:
    """A request's kind, for the table: method plus what it asked for."""
    method, path, query = request["method"], request["path"], request["query"]
    in_library = path.startswith(("/users/", "/groups/"))
    tail = path.split("/", 3)[3] if in_library and path.count("/") >= 3 else path.lstrip("/")
    if in_library and tail.startswith("items/") and tail.count("/") == 1:
        tail = "items/{key}"
    if tail == "items" and method == "GET":
        if query.get("format") == "versions":
            return "GET items?format=versions"
        if "itemKey" in query:
            return "GET items?itemKey="
        return "GET items (page)"
    return f"{method} {tail}"


def run_import(config: Path, export: Path, sandbox: SandboxServer) -> dict[str, Any]:
    env = {
        **os.environ,
        "SYNCD_CONFIG": str(config),
        "ZOTERO_API_KEY": KEY,
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": str(ROOT),
    }
    sandbox.clear_requests()
    rss_file = config.with_suffix(".rss")
    env["SYNCD_BENCH_RSS"] = str(rss_file)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "measured.py"), "import", "--json", str(export)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(stdout + stderr)
        raise SystemExit(f"syncd import exited {code}")
    requests = sandbox.requests()
    by_kind = collections.Counter(kind(r) for r in requests)
    written = sum(r["objects"] or 0 for r in requests if r["method"] == "POST")
    # Time the sandbox spent answering (its own cost, not syncd's).
    server = sum((r["finished"] or r["started"]) - r["started"] for r in requests)
    try:
        summary = json.loads(stdout)
    except json.JSONDecodeError:
        summary = {}
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "cpu_sys": usage.ru_stime,
        "rss_mb": int(rss_file.read_text()) / 1024,
        "requests": dict(by_kind),
        "total": len(requests),
        "objects_written": written,
        "server": server,
        "summary": summary,
    }


def write_config(path: Path, sandbox: SandboxServer, state: Path) -> Path:
    path.write_text(
        f'[zotero]\nlibrary_type = "user"\nlibrary_id = {USER_ID}\napi_url = "{sandbox.url}"\n'
        f'[state]\npath = "{state}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


INDEX_KINDS = ("GET items?format=versions", "GET items?itemKey=", "GET items (page)", "GET deleted")


def table(n: int, runs: dict[str, dict[str, Any]]) -> str:
    kinds = sorted({k for run in runs.values() for k in run["requests"]})

    def row(label: str, cells: list[Any]) -> str:
        return f"| {label} | " + " | ".join(str(c) for c in cells) + " |"

    counts = [r["summary"].get("counts", {}) for r in runs.values()]
    new = [c.get("new", r["objects_written"]) for c, r in zip(counts, runs.values(), strict=True)]
    writes = [r["requests"].get("POST items", 0) for r in runs.values()]
    index = [sum(r["requests"].get(k, 0) for k in INDEX_KINDS) for r in runs.values()]
    lines = [
        row("", list(runs)),
        "|---|" + "---:|" * len(runs),
        row("wall time (s)", [f"{r['wall']:.1f}" for r in runs.values()]),
        row("records/s", [f"{n / r['wall']:,.0f}" for r in runs.values()]),
        row("CPU in syncd, user+sys (s)", [f"{r['cpu']:.2f}" for r in runs.values()]),
        row("peak RSS of syncd (MB)", [f"{r['rss_mb']:.0f}" for r in runs.values()]),
        row("of which the sandbox answering (s)", [f"{r['server']:.1f}" for r in runs.values()]),
        row("new items", new),
        row("duplicates", [c.get("duplicates", "?") for c in counts]),
        row("write requests (`POST items`)", writes),
        row("write floor ceil(new/50)", [math.ceil(x / 50) for x in new]),
        row("index requests", index),
        row(
            "index requests per write batch",
            [f"{i / w:.2f}" if w else "-" for i, w in zip(index, writes, strict=True)],
        ),
        row("all requests", [r["total"] for r in runs.values()]),
        row("**requests by kind**", [""] * len(runs)),
    ]
    for k in kinds:
        lines.append(row(f"`{k}`", [r["requests"].get(k, 0) for r in runs.values()]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(admin=True) as sandbox:
        sandbox.add_user(USER_ID, "bench")
        sandbox.add_key(KEY, USER_ID)
        work = Path(tmp)
        export = work / "pubmed.nbib"
        export.write_text(export_text(args.records, args.seed), encoding="utf-8")
        first = write_config(work / "first.toml", sandbox, work / "first.db")
        other = write_config(work / "other.toml", sandbox, work / "other.db")
        runs = {
            "first import": run_import(first, export, sandbox),
            "rerun": run_import(first, export, sandbox),
            "second machine": run_import(other, export, sandbox),
        }
        version = sandbox.library_version(f"users/{USER_ID}")
    if args.json:
        print(json.dumps({"records": args.records, "runs": runs, "library_version": version}))
        return
    print(f"{args.records} records; library version at the end: {version}")
    print(table(args.records, runs))


if __name__ == "__main__":
    main()
