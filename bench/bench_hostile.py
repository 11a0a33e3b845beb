"""Memory on hostile files (issue 8 §5): peak RSS of ``syncd convert --json`` as a process.

Two inputs, made in a temporary folder:

* **padded**: ``PMID- 1`` / ``TI  - x`` made 1 GiB long with ``truncate`` (a sparse file: its
  last line runs on in NUL bytes, one line of a gigabyte);
* **long line**: a record whose abstract is one 50 MB line.

Each is converted by a fresh ``python -m syncd convert --json`` process; the table gives its
peak resident set size (``ru_maxrss`` of the child, from ``wait4``), its CPU time and exit
status (1: the record was skipped, with file:line on stderr). The target: under 100 MB.

    python bench/bench_hostile.py [--size-mb 1024] [--line-mb 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _convert(path: Path) -> tuple[int, float, int, str]:
    """Peak RSS (bytes), CPU seconds, exit status and last stderr line of one convert."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "syncd", "convert", "--json", str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").splitlines()
    # ru_maxrss is in KiB on Linux
    return (
        usage.ru_maxrss * 1024,
        usage.ru_utime + usage.ru_stime,
        os.waitstatus_to_exitcode(status),
        lines[0] if lines else "",
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the padded file")
    parser.add_argument("--line-mb", type=int, default=50, help="length of the long line")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        padded = Path(tmp) / "padded.nbib"
        padded.write_bytes(b"PMID- 1\nTI  - x")
        os.truncate(padded, args.size_mb << 20)
        long_line = Path(tmp) / "long-line.nbib"
        with long_line.open("wb") as out:
            out.write(b"PMID- 1\nTI  - A title.\nAB  - ")
            word = b"word " * 200_000  # 1 MB
            for _ in range(args.line_mb):
                out.write(word)
            out.write(b"\n\nPMID- 2\nTI  - The next record.\n")
        print("| input | size | peak RSS | CPU (s) | exit | first message |")
        print("|---|---:|---:|---:|---:|---|")
        for name, path in (("padded", padded), ("long line", long_line)):
            rss, cpu, code, first = _convert(path)
            first = first.replace(str(path), path.name)
            size = path.stat().st_size
            print(
                f"| {name} | {size / 2**20:,.0f} MiB | {rss / 2**20:.1f} MiB | {cpu:.2f} "
                f"| {code} | {first[:110]} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
