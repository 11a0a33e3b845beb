"""Run every benchmark in bench/ (each is a module with a ``main()``) and print its table."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_reader

BENCHMARKS = [bench_reader]


def main() -> None:
    for module in BENCHMARKS:
        module.main([])
        print()


if __name__ == "__main__":
    main()
