"""A saved PubMed search polled by ``syncd search poll``: the requests it makes, wall and CPU.

A real ``syncd search poll`` process polls one ``[[search]]`` against the E-utilities double
(NCBI's rate limit on) and imports into an in-process Zotero sandbox, both over real HTTP:

1. **First poll** of a query with ``--hits`` entries in its window: every one fetched and
   created.
2. **Unchanged**: the same search polled again with nothing new. The target: at most 2 NCBI
   requests and at most 1 Zotero request.
3. **A few new**: ``--new`` entries appear, and the search is polled again.

For each: NCBI requests (esearch, efetch), Zotero requests, 429s provoked, the wall time of the
process and its CPU (user + system of the child).

Run: ``python bench/bench_search.py [--hits 1000] [--new 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.sandbox import SandboxServer  # noqa: E402
from syncd.sandbox.eutils import Corpus, EutilsDouble  # noqa: E402

KEY = "BenchSearchKey0123456789"


def record(pmid: int) -> str:
    return (
        f"PMID- {pmid}\nDP  - 2026 Jan\nTI  - A benchmarked search hit, article {pmid}.\n"
        "FAU - Bench, Mark\nAU  - Bench M\nPT  - Journal Article\nJT  - Journal of benches\n"
        f"AID - 10.5555/bench.search.{pmid} [doi]\n"
    )


def poll(env: dict[str, str]) -> tuple[dict[str, object], float, float]:
    """One ``syncd search poll --json``: its report, wall seconds and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "search", "poll", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"syncd search poll exited {proc.returncode}:\n{proc.stderr}")
    return json.loads(proc.stdout)["searches"]["bench"], wall, cpu


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--new", type=int, default=10)
    args = parser.parse_args(argv)
    today = datetime.now(UTC).date()
    corpus = Corpus()
    corpus.add_medline(
        "\n".join(record(76_000_000 + n) for n in range(args.hits)), today - timedelta(days=2)
    )
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="syncd-bench-search-") as tmp,
        SandboxServer() as zotero,
        EutilsDouble(corpus) as pubmed,
    ):
        zotero.add_user(1, "bench")
        zotero.add_key(KEY, 1)
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[zotero]\nlibrary_id = 1\napi_key = "{KEY}"\napi_url = "{zotero.url}"\n'
            f'[state]\npath = "{Path(tmp) / "state.db"}"\n'
            f'[pubmed]\neutils_url = "{pubmed.url}"\n'
            '[[search]]\nname = "bench"\nquery = "benchmarked AND search"\n'
            f'since = "{today - timedelta(days=10)}"\n',
            encoding="utf-8",
        )
        config.chmod(0o600)
        env = {
            **os.environ,
            "SYNCD_CONFIG": str(config),
            "XDG_STATE_HOME": str(Path(tmp) / "xdg"),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        for what in ("first poll", "unchanged", "a few new"):
            if what == "a few new":
                corpus.add_medline(
                    "\n".join(record(77_000_000 + n) for n in range(args.new)), today
                )
            ncbi = pubmed.stats()
            zotero_before = len(zotero.requests())
            report, wall, cpu = poll(env)
            after = pubmed.stats()
            counts = report["counts"]  # type: ignore[index]
            rows.append(
                (
                    what,
                    report["search"]["hits"],  # type: ignore[index]
                    counts["new"],  # type: ignore[index]
                    after["esearch"] - ncbi["esearch"],
                    after["efetch"] - ncbi["efetch"],
                    len(zotero.requests()) - zotero_before,
                    after["throttled"],
                    wall,
                    cpu,
                )
            )
    print(f"## Saved search polled (bench/bench_search.py), {args.hits} hits, {args.new} new")
    print()
    print("| poll | hits | new | esearch | efetch | Zotero requests | 429s | wall | CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for what, hits, new, es, ef, zr, throttled, wall, cpu in rows:
        print(
            f"| {what} | {hits} | {new} | {es} | {ef} | {zr} | {throttled} | "
            f"{wall:.2f} s | {cpu:.2f} s |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
