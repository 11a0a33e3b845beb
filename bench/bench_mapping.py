"""How long mapping a record to a Zotero item takes, next to Biopython's reader.

Usage: ``python bench/bench_mapping.py [FILE.nbib]``. Without a file, a 10,200-record export
is made by cycling the PubMed records of ``../shared/conformance/medline-nbib`` (real records,
2.9 KB each on average, like PubMed's exports). Each measurement is the best of 5 interleaved
runs, so the ratios hold on a busy machine. The target (syncd issue 2): syncd's reader plus
the mapping faster than Biopython's reader alone, so the mapping must stay well under half of
Biopython's time per record.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syncd.core.mapping import MappingOptions, to_zotero_item  # noqa: E402
from syncd.core.medline import parse  # noqa: E402
from syncd.core.records import MedlineRecord  # noqa: E402

CASES = ROOT.parent / "shared" / "conformance" / "medline-nbib"


def sample_text() -> str:
    parts = []
    for name in ("02", "03", "04", "06", "09"):
        text = (CASES / f"{name}-input.nbib").read_text(encoding="utf-8")
        parts.append(text.replace("\r\n", "\n").strip("\n"))
    return "\n\n".join(parts * 2040) + "\n"


def best_of(runs: int, jobs: dict[str, Callable[[], object]]) -> dict[str, float]:
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(runs):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args:
        text = Path(args[0]).read_text(encoding="utf-8-sig")
    elif CASES.exists():
        text = sample_text()
    else:
        print(f"bench_mapping: {CASES} is absent; pass an export file")
        return
    lines = text.splitlines(keepends=True)
    records = [r for r in parse(lines) if isinstance(r, MedlineRecord)]
    enhanced, zotero = MappingOptions(), MappingOptions(profile="zotero")

    def mapping(options: MappingOptions) -> int:
        # Items are dropped as they are made, as an import does in batches of 50; keeping
        # 10,000 of them alive would time the garbage collector instead.
        return sum(1 for r in records if to_zotero_item(r, options))

    def reader_and_mapping() -> int:
        return sum(
            1 for r in parse(lines) if isinstance(r, MedlineRecord) and to_zotero_item(r, enhanced)
        )

    jobs: dict[str, Callable[[], object]] = {
        "mapping (enhanced)": lambda: mapping(enhanced),
        "mapping (zotero)": lambda: mapping(zotero),
        "syncd reader": lambda: sum(1 for _ in parse(lines)),
        "syncd reader + mapping": reader_and_mapping,
    }
    try:
        from Bio import Medline

        jobs["Biopython Bio.Medline.parse"] = lambda: sum(
            1 for _ in Medline.parse(io.StringIO(text))
        )
    except ImportError:
        print("(Biopython is not installed: pip install -e '.[bench]')")
    best = best_of(5, jobs)
    bio = best.get("Biopython Bio.Medline.parse")
    print(f"{len(records)} records, {len(text) / 1e6:.1f} MB; best of 5 runs")
    print(f"{'':28s} {'seconds':>8s} {'µs/record':>10s} {'vs Biopython':>13s}")
    for name, seconds in best.items():
        ratio = f"{seconds / bio:.2f}x" if bio else "-"
        print(f"{name:28s} {seconds:8.3f} {seconds / len(records) * 1e6:10.1f} {ratio:>13s}")


if __name__ == "__main__":
    main()
