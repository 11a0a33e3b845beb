"""``syncd import`` driven in-process through the CLI against a sandbox, for the system tests
of importing: small MEDLINE records, the config file, one run's JSON report, pending rows
left by a dead run, and the library read back. (Test modules import from here, never from
each other.)"""

from __future__ import annotations

import collections
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.cli import main
from syncd.core.identity import item_identifiers
from syncd.sandbox import SandboxServer
from syncd.state import RecordRow, StateStore
from syncd.zotero import ZoteroGateway

KEY = "ImportTestKey0123456789a"
READ_ONLY_KEY = "ImportReadOnly0123456789"
USER = 1
GROUP = 77
LIB = f"users/{USER}"


def article(pmid: int, doi: bool = True, title: str | None = None, extra: str = "") -> str:
    lines = [
        f"PMID- {pmid}",
        "DP  - 2020 Jan",
        f"TI  - {title or f'A study of thing number {pmid}.'}",
        "FAU - Curie, Marie",
        "AU  - Curie M",
        "PT  - Journal Article",
        "JT  - Journal of things",
        "MH  - Humans",
        f"MH  - Thing {pmid % 3}",
    ]
    if doi:
        lines.append(f"AID - 10.5555/thing.{pmid} [doi]")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def export(path: Path, *records: str) -> Path:
    path.write_text("\n".join(records), encoding="utf-8")
    return path


@contextlib.contextmanager
def import_sandbox() -> Iterator[SandboxServer]:
    """A sandbox with users 1 and 2, group ``GROUP`` owned by user 1, the full key ``KEY`` and
    the read-only ``READ_ONLY_KEY`` (a test module's ``sandbox`` fixture enters it)."""
    with SandboxServer() as server:
        server.add_user(USER)
        server.add_user(2)
        server.add_group(GROUP, "Lab", owner=USER)
        server.add_key(KEY, USER)
        server.add_key(READ_ONLY_KEY, USER, write=False, groups={"all": (True, False)})
        yield server


def config(tmp_path: Path, sandbox: SandboxServer, extra: str = "", **zotero: Any) -> Path:
    settings = {"library_type": "user", "library_id": USER, "api_key": KEY, **zotero}
    body = "[zotero]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    body += f'api_url = "{sandbox.url}"\n'
    body += f'\n[state]\npath = "{tmp_path / "state.db"}"\n' + extra
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    path.chmod(0o600)
    return path


def run(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(["import", "--config", str(cfg), "--json", *args])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def put_pending(tmp_path: Path, *rows: tuple[int, int, dict[str, Any]]) -> None:
    """Leave (pmid, line, payload) rows pending in the state database, as a run that died
    before settling them would (read from source "x"; the key is the payload's)."""
    with StateStore(tmp_path / "state.db") as store:
        store.put_records(
            LIB,
            [
                RecordRow(
                    f"pmid:{pmid}",
                    payload["key"],
                    "pending",
                    pmid=str(pmid),
                    source="x",
                    line=line,
                    payload=payload,
                )
                for pmid, line, payload in rows
            ],
        )


def library_items(sandbox: SandboxServer, library: str = LIB) -> list[dict[str, Any]]:
    kind, _, number = library.partition("s/")
    with ZoteroGateway(
        library_type=kind, library_id=int(number), api_key=KEY, api_url=sandbox.url
    ) as gw:
        versions, _ = gw.item_versions(0)
        return gw.get_items(list(versions))


def pmid_counts(sandbox: SandboxServer, library: str = LIB) -> collections.Counter[str]:
    return collections.Counter(
        item_identifiers(o["data"]).pmid or "?" for o in library_items(sandbox, library)
    )
