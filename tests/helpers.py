"""Helpers shared by test modules: exports to import, the daemon's worker on the memory twin
of a library, driven one tick at a time, and a server that only redirects. (Test modules
import from here, never from each other.)"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from syncd.config import Config, Secret, StateConfig, WatchConfig, ZoteroConfig
from syncd.daemon import Daemon as Worker
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget


def zotero_article(key: str, title: str | None = None, **fields: Any) -> dict[str, Any]:
    """A journal article as syncd creates it: its own ``key`` and ``"version": 0``."""
    item: dict[str, Any] = {
        "key": key,
        "version": 0,
        "itemType": "journalArticle",
        "title": title or f"Article {key}",
        "creators": [{"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"}],
        "tags": [{"tag": "syncd", "type": 1}],
    }
    item.update(fields)
    return item


def medline(pmids: Iterable[int]) -> str:
    """A MEDLINE export with one small journal article per PMID (DOI derived from the PMID)."""
    out = []
    for pmid in pmids:
        out.append(
            "\n".join(
                [
                    f"PMID- {pmid}",
                    "OWN - NLM",
                    "STAT- MEDLINE",
                    "DP  - 2021 Mar",
                    f"TI  - Exactly-once import of synthetic article {pmid}, with retries and",
                    "      crashes along the way.",
                    f"AB  - Article {pmid} exists to be imported exactly once.",
                    "FAU - Lovelace, Ada",
                    "AU  - Lovelace A",
                    f"FAU - Tester, {chr(65 + pmid % 26)}",
                    f"AU  - Tester {chr(65 + pmid % 26)}",
                    "LA  - eng",
                    "PT  - Journal Article",
                    "TA  - J Synth Tests",
                    "JT  - Journal of synthetic tests",
                    f"LID - 10.5555/syncd.{pmid} [doi]",
                    f"AID - 10.5555/syncd.{pmid} [doi]",
                    f"SO  - J Synth Tests. 2021 Mar;{pmid % 50}(1):1-10.",
                ]
            )
        )
    return "\n\n".join(out) + "\n"


def write_export(path: Path, pmids: Iterable[int]) -> list[int]:
    pmids = list(pmids)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(medline(pmids), encoding="utf-8")
    return pmids


def model_config(tmp_path: Path, **watch: Any) -> Config:
    folder = tmp_path / "inbox"
    folder.mkdir(exist_ok=True)
    return Config(
        zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://model"),
        watch=replace(
            WatchConfig(),
            directory=folder,
            **{"settle_seconds": 0.0, "events": False, "rescan_seconds": 1e-6, **watch},
        ),
        state=StateConfig(tmp_path / "state.db"),
    )


@contextlib.contextmanager
def worker(
    config: Config, server: MemoryLibrary, gateway: type[MemoryTarget] = MemoryTarget
) -> Iterator[Worker]:
    """The daemon's worker, driven one tick at a time against the in-memory Zotero."""
    w = Worker(config, lambda config, sleep: gateway(server))
    w.store = StateStore(config.state.path)
    try:
        w.begin()
        yield w
    finally:
        w.store.close()


def ticks(w: Worker, n: int = 4) -> None:
    for _ in range(n):
        w.retry_at = 0.0
        w.step()


class Redirector:
    """A server that answers every request with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        outer = self
        self.requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                self.send_response(307)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
