"""Whole-process benchmark: ``syncd convert --json`` against Biopython's whole-process read.

Both are run as fresh processes on the same generated export (``bench/generate.py``), side by
side and interleaved (syncd, Biopython, syncd, ...) so that a noisy, shared machine slows them
alike. Each process starts the interpreter, imports what it needs and reads the file on disk:

* ``syncd convert --json``: reads, maps every record (enhanced profile) and writes the item
  JSON array to a file (``--jsonl`` too);
* ``Biopython``: ``Bio.Medline.parse`` over the file opened as UTF-8 text, every record read
  (nothing written).

The figure is the CPU time of the child process (user + system, from ``wait4``), median of the
runs, and its ratio to Biopython's; wall time is shown beside it. Issue 8 §4's target: syncd's
whole process at most 3x Biopython's.

    python bench/bench_convert.py [--records 10000] [--repeat 5] [--seed 1] [--file PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402

_BIOPYTHON = (
    "import sys\n"
    "from Bio import Medline\n"
    "with open(sys.argv[1], encoding='utf-8') as handle:\n"
    "    n = sum(1 for _ in Medline.parse(handle))\n"
    "assert n > 0\n"
)


def _run(argv: list[str], out: Path) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--file", type=Path, help="a real export instead of a generated one")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = args.file
        if path is None:
            path = folder / f"pubmed-{args.records}.nbib"
            path.write_text(generate(args.records, seed=args.seed), encoding="utf-8")
        out = folder / "out"
        py = sys.executable
        runs = {
            "syncd convert --json": [py, "-m", "syncd", "convert", "--json", str(path)],
            "syncd convert --jsonl": [py, "-m", "syncd", "convert", "--jsonl", str(path)],
            "Biopython Bio.Medline": [py, "-c", _BIOPYTHON, str(path)],
        }
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        wall: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, command in runs.items():
                c, w = _run(command, out)
                cpu[name].append(c)
                wall[name].append(w)

    base = statistics.median(cpu["Biopython Bio.Medline"])
    size = path.stat().st_size if args.file else None
    print(
        f"whole process, {args.file or f'{args.records:,} generated records'}"
        + (f" ({size:,} bytes)" if size else "")
        + f"; median of {args.repeat}; Python {platform.python_version()}"
    )
    print()
    print("| process | CPU (s) | wall (s) | CPU vs Biopython |")
    print("|---|---:|---:|---:|")
    for name in runs:
        c = statistics.median(cpu[name])
        w = statistics.median(wall[name])
        print(f"| {name} | {c:.2f} | {w:.2f} | {c / base:.2f}x |")


if __name__ == "__main__":
    main(sys.argv[1:])
