"""Run every benchmark in bench/ (each is a module with a ``main(argv)``) and print its table.

``make bench`` runs this; copy the tables into docs/benchmarks.md with the date and machine.
``python bench/run.py NAME ...`` runs only the benchmarks named.

Each benchmark runs in a process of its own: a peak RSS measured in a process that already ran
the others is theirs too (the hostile-input benchmark read 424 MiB after the rest, 36 MiB alone).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The reader first; the others only if they are there (each helper's branch adds its own).
BENCHMARKS = [
    "bench_reader",
    "bench_mapping",
    "bench_convert",
    "bench_hostile",
    "bench_import",
    "bench_library",
    "bench_writers",
    "bench_two_writers",
    "bench_daemon",
    "bench_pmids",
    "bench_search",
]

_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
try:
    import {name} as bench
except ImportError as exc:
    print(f"({name} skipped: {{exc}})")
else:
    bench.main([])
"""


def run_fresh(name: str, directory: Path = HERE) -> int:
    """Run benchmark ``name`` (a module in ``directory``) in a new Python process; its exit
    status. Its table goes to this process's stdout as it is printed."""
    if not name.isidentifier():
        raise ValueError(f"not a benchmark module name: {name!r}")
    child = [sys.executable, "-c", _CHILD.format(name=name), str(directory)]
    return subprocess.run(child, check=False).returncode


def main(argv: list[str]) -> int:
    failed = 0
    for name in argv or BENCHMARKS:
        failed += run_fresh(name) != 0
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
