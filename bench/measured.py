"""Run ``python -m syncd ARGS`` and, at exit, write the process's own peak RSS (kB) to the
file named by ``$SYNCD_BENCH_RSS``.

The peak is ``VmHWM`` of this process's memory map. ``ru_maxrss`` of a child would not do: on
Linux it starts from the parent's RSS at ``fork`` (the pages are shared until ``exec``), and
the benchmarks' parent holds the whole sandbox library.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys


def _report() -> None:
    with open("/proc/self/status", encoding="ascii") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    with open(os.environ["SYNCD_BENCH_RSS"], "w", encoding="ascii") as out:
        out.write(hwm.split()[1])


if os.environ.get("SYNCD_BENCH_RSS"):
    atexit.register(_report)
sys.argv = ["syncd", *sys.argv[1:]]
runpy.run_module("syncd", run_name="__main__", alter_sys=True)
