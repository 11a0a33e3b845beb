"""What ``syncd search list``, ``syncd status`` and ``syncd doctor`` show of saved searches.

:func:`describe` is the list of ``search list --json`` (and ``status --json``'s ``searches``):
each configured search with its last poll from the state database, then the rows of searches
no longer configured. :func:`list_lines` is its text; :func:`doctor_checks` asks the
E-utilities whether they answer and whether PubMed parses each query.
"""

from __future__ import annotations

import contextlib
from typing import Any

from syncd.config import Config
from syncd.config_search import SearchConfig
from syncd.core import searches as rules
from syncd.errors import ConfigError, RemoteError
from syncd.state import StateStore, utc_stamp
from syncd.state_searches import SearchRow


def describe(config: Config, store: StateStore | None) -> list[dict[str, Any]]:
    """``search list --json`` (and ``status --json``'s ``searches``): each configured search,
    then the rows of searches no longer configured (``configured: false``). ``store`` None:
    there is no state database yet."""
    library = config.zotero.library or ""
    found = store.search_rows(library) if store is not None else []
    rows = {(r.name, r.query): r for r in found}
    out = []
    for s in config.searches:
        key = rules.identity(s.name, s.query)
        out.append(_described(s.name, s.query, s, rows.pop(key, None)))
    for (name, query), row in rows.items():
        out.append(_described(name, query, None, row))
    return out


def _described(
    name: str, query: str, search: SearchConfig | None, row: SearchRow | None
) -> dict[str, Any]:
    row = row or SearchRow(name, query)
    last = None
    if row.last_poll_at:
        last = {
            "at": row.last_poll_at,
            "hits": row.last_hits,
            "new": row.last_new,
            "duplicates": row.last_duplicates,
            "failed": row.last_failed,
            "ok": row.last_ok,
        }
    return {
        "name": name,
        "query": query,
        "collection": search.collection if search else None,
        "tags": list(search.tags) if search else [],
        "enabled": bool(search and search.enabled),
        "configured": search is not None,
        "last_poll": last,
        "last_full_run": row.last_full,
        "next_poll": utc_stamp(row.next_poll) if row.next_poll and search else None,
        "last_error": row.last_error,
    }


def list_lines(described: list[dict[str, Any]]) -> list[str]:
    """The text of ``search list`` (and of ``status``'s search lines)."""
    lines = []
    for d in described:
        state = "" if d["enabled"] else (" (paused)" if d["configured"] else " (not configured)")
        lines.append(f"{d['name']}{state}: {d['query']}")
        last = d["last_poll"]
        if last:
            lines.append(
                f"  last poll {last['at']}: {_n(last['hits'], 'hit')}, {last['new']} new, "
                f"{_n(last['duplicates'], 'duplicate')}, {last['failed']} failed"
                + ("" if last["ok"] else " (not settled)")
            )
        else:
            lines.append("  never polled")
        if d["last_full_run"]:
            lines.append(f"  last full run {d['last_full_run']}")
        if d["next_poll"]:
            lines.append(f"  next poll {d['next_poll']}")
        if d["last_error"]:
            lines.append(f"  last error: {d['last_error']}")
    return lines


def _n(count: int | None, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def failed_last(described: list[dict[str, Any]]) -> bool:
    """Whether a configured search's last poll failed (``search list`` then exits 1)."""
    return any(
        d["configured"] and d["last_poll"] is not None and d["last_poll"]["ok"] is False
        for d in described
    )


def doctor_checks(
    config: Config, deadline: float = 30.0
) -> list[tuple[str, bool, str, str | None]]:
    """``syncd doctor``'s lines for saved searches (name, ok, detail, fix): whether the
    E-utilities answer, and whether PubMed parses each query (a refused query is the user's
    mistake, named by its search)."""
    if not config.searches:
        return []
    from syncd.pubmed.eutils import Eutils

    out: list[tuple[str, bool, str, str | None]] = []
    url = config.pubmed.eutils_url
    try:
        client = Eutils(config.pubmed, state_dir=config.state.path.parent, deadline=deadline)
    except ConfigError as exc:
        return [("E-utilities", False, exc.message, exc.hint)]
    with contextlib.closing(client):
        for n, search in enumerate(config.searches):
            try:
                hits = client.esearch(search.query, retmax=0)
            except RemoteError as exc:
                fix = "check [pubmed] eutils_url and the network; syncd retries later by itself"
                out.append(("E-utilities", False, f"{url}: {exc.message}", fix))
                return out
            except ConfigError as exc:  # esearch's ERROR: the query does not parse
                if n == 0:
                    out.append(("E-utilities", True, f"{url} answers", None))
                out.append((f"search {search.name!r}", False, exc.message, exc.hint))
                continue
            if n == 0:
                out.append(("E-utilities", True, f"{url} answers", None))
            remarks = f" (PubMed says: {'; '.join(hits.errors)})" if hits.errors else ""
            state = "" if search.enabled else " (paused)"
            out.append(
                (
                    f"search {search.name!r}",
                    True,
                    f"{hits.count} entries in PubMed for {search.query!r}{state}{remarks}",
                    None,
                )
            )
    return out
