"""Reader benchmark: syncd's MEDLINE reader against Biopython's and the ``nbib`` package.

All readers read the same generated 10,000-record export (``bench/generate.py``) in one run,
with the repetitions interleaved (syncd, Biopython, nbib, syncd, ...) so that a noisy, shared
machine slows them alike; times are CPU time of the process (all readers are single-threaded,
and CPU time does not count the waits for a core on a busy machine); the table gives the
median, records/s and the ratio to Biopython. Each reader starts from the file on disk and
ends with every record's fields in memory as Python strings:

* ``syncd``: ``syncd.reading.read_path`` (bytes -> decode -> records with tag and value lists);
* ``syncd + Field tuples``: the same, also building ``record.fields`` (tuples with lines);
* ``syncd + mapping``: the same plus ``syncd.core.mapping.to_zotero_item`` per record (only
  if that module exists);
* ``Biopython``: ``Bio.Medline.parse`` over the file opened as UTF-8 text;
* ``nbib``: ``nbib.read`` over the file's text (it also parses dates, so it is not like for
  like; it is the other reader on PyPI).

Peak memory of syncd's reader is measured in fresh interpreters that read the file: the peak
of Python allocations during the read (tracemalloc), and how much the peak resident set size
(VmHWM, reset after start-up) grew during the read.

    python bench/bench_reader.py [--records 10000] [--repeat 5] [--file PATH]
"""

from __future__ import annotations

import argparse
import importlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402

from syncd.core.records import MedlineRecord  # noqa: E402
from syncd.reading import read_path  # noqa: E402


def _syncd(path: Path) -> int:
    n = 0
    for rec in read_path(path):
        n += len(rec) if isinstance(rec, MedlineRecord) else 0
    return n


def _syncd_fields(path: Path) -> int:
    n = 0
    for rec in read_path(path):
        if isinstance(rec, MedlineRecord):
            n += len(rec.fields)
    return n


def _biopython(path: Path) -> int:
    from Bio import Medline

    n = 0
    with path.open(encoding="utf-8") as handle:
        for rec in Medline.parse(handle):
            n += len(rec)
    return n


def _nbib(path: Path) -> int:
    import nbib  # type: ignore[import-not-found]

    # nbib drops the last record unless the text ends with a newline (see medline.md 5.2).
    refs = nbib.read(path.read_text(encoding="utf-8") + "\n")
    return sum(len(r) for r in refs)


def _mapping() -> Callable[..., object] | None:
    try:
        module = importlib.import_module("syncd.core.mapping")
    except ImportError:
        return None
    return getattr(module, "to_zotero_item", None)


def _syncd_mapping(path: Path) -> int:
    to_item = _mapping()
    assert to_item is not None
    n = 0
    for rec in read_path(path):
        if isinstance(rec, MedlineRecord):
            to_item(rec)
            n += 1
    return n


def _count_records(path: Path) -> dict[str, int]:
    from Bio import Medline

    with path.open(encoding="utf-8") as handle:
        bio = sum(1 for _ in Medline.parse(handle))
    ours = sum(1 for rec in read_path(path) if isinstance(rec, MedlineRecord))
    return {"syncd": ours, "Biopython": bio}


def peak_memory_mb(path: Path) -> tuple[float, float]:
    """Peak memory (MB) of reading ``path`` with syncd in a fresh interpreter: the peak of
    Python allocations during the read (tracemalloc, in one run), and the growth of the peak
    resident set size (VmHWM) during the read (in another, without tracemalloc)."""
    code = (
        "import sys, tracemalloc\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from syncd.reading import read_path\n"
        "def hwm():\n"
        "    with open('/proc/self/status') as f:\n"
        "        return next(int(x.split()[1]) for x in f if x.startswith('VmHWM'))\n"
        "try:\n"
        "    # The high-water mark starts at the parent's size after fork: reset it.\n"
        "    with open('/proc/self/clear_refs', 'w') as f:\n"
        "        f.write('5')\n"
        "except OSError:\n"
        "    pass\n"
        "if sys.argv[2] == 'trace':\n"
        "    tracemalloc.start()\n"
        "before = hwm()\n"
        "n = sum(1 for rec in read_path(Path(sys.argv[1])))\n"
        "peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0\n"
        "print(peak, hwm() - before)\n"
    )

    def measure(mode: str) -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(path), mode],
            check=True,
            capture_output=True,
            text=True,
        )
        traced, hwm_kib = out.stdout.split()
        return int(traced), int(hwm_kib)

    traced = measure("trace")[0]
    grown_kib = measure("rss")[1]
    return traced / 1e6, grown_kib / 1024


def run(path: Path, repeat: int) -> list[tuple[str, float]]:
    readers: list[tuple[str, Callable[[Path], int], int]] = [
        ("syncd", _syncd, repeat),
        ("syncd + Field tuples", _syncd_fields, repeat),
        ("Biopython Bio.Medline", _biopython, repeat),
        ("nbib", _nbib, max(1, repeat // 3)),
    ]
    if _mapping() is not None:
        readers.insert(2, ("syncd + mapping", _syncd_mapping, repeat))
    times: dict[str, list[float]] = {name: [] for name, _, _ in readers}
    for rep in range(repeat):
        for name, fn, reps in readers:
            if rep >= reps:
                continue
            start = time.process_time()
            fn(path)
            times[name].append(time.process_time() - start)
    return [(name, statistics.median(ts)) for name, ts in times.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="MEDLINE reader benchmark")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--file", type=Path, help="an export to read instead of a generated one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / f"pubmed-{args.records}.nbib"
            path.write_text(generate(args.records, args.seed), encoding="utf-8", newline="\n")
        size = path.stat().st_size
        counts = _count_records(path)
        n = counts["syncd"]
        print(f"# Reader benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(
            f"file: {path.name}, {n} records ({counts}), {size / 1e6:.1f} MB, "
            f"{size / max(n, 1) / 1024:.2f} KiB/record"
        )
        print(f"machine: {platform.machine()}, {_nproc()} CPUs, Python {platform.python_version()}")
        print(f"median of {args.repeat} interleaved runs (nbib: {max(1, args.repeat // 3)})\n")
        results = run(path, args.repeat)
        base = dict(results)["Biopython Bio.Medline"]
        print("| reader | time (s) | records/s | speed vs Biopython |")
        print("|---|---:|---:|---:|")
        for name, seconds in results:
            print(f"| {name} | {seconds:.3f} | {n / seconds:,.0f} | {base / seconds:.2f}x |")
        traced, rss = peak_memory_mb(path)
        print(
            f"\npeak memory of syncd's reader over the whole file: {traced:.1f} MB of Python "
            f"allocations (tracemalloc); peak RSS grew by {rss:.1f} MB during the read"
        )


def _nproc() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    main()
