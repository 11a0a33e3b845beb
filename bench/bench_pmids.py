"""PMID-list benchmark: a PubMed *Save → PMID* list of 1,000 new PMIDs imported by a real
``python -m syncd import`` process, its records fetched from the E-utilities double (NCBI's
pace: 3 requests a second without a key) into an in-process Zotero sandbox.

Compared with the floor NCBI sets (requests at 3 per second) plus the import's own time (the
same 1,000 records imported from an .nbib into another library, no NCBI at all), and the rerun
of the same list (which must ask NCBI nothing). Reports NCBI requests, wall time and syncd's CPU.

    python bench/bench_pmids.py [--pmids 1000] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_import import KEY, USER_ID, export_text, run_import  # noqa: E402

from syncd.sandbox import SandboxServer  # noqa: E402
from syncd.sandbox.eutils import Corpus, EutilsDouble  # noqa: E402

RATE = 3.0  # NCBI's requests per second without a key


def write_config(path: Path, sandbox: SandboxServer, state: Path, eutils: str, user: int) -> Path:
    path.write_text(
        f'[zotero]\nlibrary_type = "user"\nlibrary_id = {user}\napi_url = "{sandbox.url}"\n'
        f'[state]\npath = "{state}"\n[pubmed]\neutils_url = "{eutils}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pmids", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args(argv)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    os.environ.pop("NCBI_API_KEY", None)
    text = export_text(args.pmids, args.seed)
    corpus = Corpus()
    pmids = corpus.add_medline(text)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, EutilsDouble(corpus) as double:
        work = Path(tmp)
        ids = work / "pmid-bench-set.txt"
        ids.write_text("\n".join(pmids) + "\n", encoding="utf-8")
        nbib = work / "pubmed.nbib"
        nbib.write_text(text, encoding="utf-8")
        with SandboxServer(admin=True) as sandbox:
            sandbox.add_user(USER_ID, "bench")
            sandbox.add_key(KEY, USER_ID)
            cfg = write_config(work / "ids.toml", sandbox, work / "ids.db", double.url, USER_ID)
            for label in ("PMID list", "rerun"):
                before = double.count()
                runs[label] = run_import(cfg, ids, sandbox)
                runs[label]["ncbi"] = double.count() - before
        with SandboxServer(admin=True) as sandbox:  # the same records, no NCBI: a fresh library
            sandbox.add_user(USER_ID, "bench")
            sandbox.add_key(KEY, USER_ID)
            cfg = write_config(work / "nbib.toml", sandbox, work / "nbib.db", double.url, USER_ID)
            runs[".nbib (no NCBI)"] = run_import(cfg, nbib, sandbox)
            runs[".nbib (no NCBI)"]["ncbi"] = 0
        throttled = double.throttled
    floor = runs["PMID list"]["ncbi"] / RATE
    own = runs[".nbib (no NCBI)"]["wall"]
    if args.json:
        print(json.dumps({"pmids": len(pmids), "runs": runs, "throttled": throttled}))
        return
    print(f"{len(pmids)} PMIDs; 429s provoked: {throttled}")
    print("| | " + " | ".join(runs) + " |")
    print("|---|" + "---:|" * len(runs))
    rows = [
        ("NCBI requests", [str(r["ncbi"]) for r in runs.values()]),
        ("new items", [str(r["summary"]["counts"]["new"]) for r in runs.values()]),
        ("wall time (s)", [f"{r['wall']:.2f}" for r in runs.values()]),
        ("CPU in syncd, user+sys (s)", [f"{r['cpu']:.2f}" for r in runs.values()]),
        ("Zotero requests", [str(r["total"]) for r in runs.values()]),
    ]
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(
        f"\nNCBI floor for the list: {runs['PMID list']['ncbi']} requests / 3 per s = "
        f"{floor:.2f} s; plus the import's own time ({own:.2f} s, the .nbib run) = "
        f"{floor + own:.2f} s; measured {runs['PMID list']['wall']:.2f} s"
    )


if __name__ == "__main__":
    main()
