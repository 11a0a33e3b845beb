"""`make demo`, part three: a saved PubMed search, polled against local doubles (no network).

Starts the Zotero sandbox and the E-utilities double (`syncd sandbox --eutils` serves the same
two) in this process, with the example records as "PubMed", writes a config with one
`[[search]]`, and runs `syncd search poll` as a user would: the first poll imports what the
query finds, a new entry then appears in "PubMed", the second poll imports exactly that one,
and a third poll finds nothing new (one esearch request, nothing fetched, nothing written).
`syncd search list` shows the search's state at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from syncd.sandbox import SandboxServer
from syncd.sandbox.eutils import Corpus, EutilsDouble

EXAMPLES = Path(__file__).resolve().parent
SYNCD = [sys.executable, "-m", "syncd"]
KEY = "syncdSearchDemoKey000001"

NEW_ENTRY = """PMID- 99100101
OWN - NLM
STAT- Publisher
DP  - {year}
TI  - Ketamine for treatment-resistant depression: a new entry in PubMed today.
FAU - Example, Ada
AU  - Example A
LA  - eng
PT  - Journal Article
TA  - Demo J
JT  - Journal of demonstrations
EDAT- {today}
AID - 10.5555/syncd.demo.99100101 [doi]
"""


def syncd(env: dict[str, str], *args: str) -> int:
    print(f"\n$ syncd {' '.join(args)}", flush=True)
    return subprocess.run([*SYNCD, *args], env=env, check=False).returncode


def main() -> int:
    corpus = Corpus()
    for name in ("pmid-37424412.nbib", "pubmed-sample.nbib"):
        corpus.add_medline((EXAMPLES / name).read_text(encoding="utf-8"))
    with (
        tempfile.TemporaryDirectory(prefix="syncd-search-demo-") as tmp,
        SandboxServer() as zotero,
        EutilsDouble(corpus) as pubmed,
    ):
        zotero.add_user(1, "demo")
        zotero.add_key(KEY, 1)
        root = Path(tmp)
        config = root / "config.toml"
        config.write_text(
            "[zotero]\nlibrary_id = 1\n"
            f'api_key = "{KEY}"\napi_url = "{zotero.url}"\n\n'
            f'[state]\npath = "{root / "state.db"}"\n\n'
            f'[pubmed]\neutils_url = "{pubmed.url}"\n\n'
            '[[search]]\nname = "ketamine"\n'
            'query = "ketamine AND treatment-resistant depression"\n'
            'collection = "Ketamine alerts"\ntags = ["alert:ketamine"]\n'
            'since = "2020-01-01"\n',
            encoding="utf-8",
        )
        config.chmod(0o600)
        env = {**os.environ, "SYNCD_CONFIG": str(config), "NO_PROXY": "127.0.0.1,localhost"}
        print(f"== a saved search, polled against the E-utilities double at {pubmed.url} ==")
        print(config.read_text(encoding="utf-8"), end="")
        worst = syncd(env, "search", "poll")
        today = datetime.now(UTC)
        corpus.add_medline(
            NEW_ENTRY.format(year=today.year, today=today.strftime("%Y/%m/%d 06:00"))
        )
        print("\n== a new entry appears in PubMed; the next poll imports exactly that one ==")
        worst = max(worst, syncd(env, "search", "poll"))
        before = pubmed.stats()
        print("\n== nothing new: one esearch request, nothing fetched, nothing written ==")
        worst = max(worst, syncd(env, "search", "poll"))
        after = pubmed.stats()
        print(
            f"  (NCBI requests of this poll: {after['requests'] - before['requests']}, "
            f"429s provoked in the whole demo: {after['throttled']})"
        )
        worst = max(worst, syncd(env, "search", "list"))
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
