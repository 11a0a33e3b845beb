"""Run every benchmark in bench/ (each is a module with a ``main(argv)``) and print its table.

``make bench`` runs this; copy the tables into docs/benchmarks.md with the date and machine.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The reader first; the others only if they are there (each helper's branch adds its own).
BENCHMARKS = [
    "bench_reader",
    "bench_mapping",
    "bench_convert",
    "bench_hostile",
    "bench_import",
    "bench_library",
    "bench_writers",
    "bench_daemon",
    "bench_pmids",
    "bench_search",
]


def main() -> None:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            print(f"({name} skipped: {exc})\n")
            continue
        module.main([])
        print()


if __name__ == "__main__":
    main()
