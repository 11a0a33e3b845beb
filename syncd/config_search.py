"""Saved PubMed searches in the config: the ``[[search]]`` tables, checked and rendered.

Each ``[[search]]`` table is one saved search (issue 16 §2)::

    [[search]]
    name = "ketamine"
    query = "ketamine AND treatment-resistant depression"
    collection = "Ketamine alerts"     # optional; default zotero.collection
    tags = ["alert:ketamine"]          # optional; added to tags.extra
    every_hours = 24
    # since = "2025-01-01"

:data:`SEARCH_KEYS` describes every key (type, default, meaning, check), like
:data:`syncd.config.SPEC` does for the sections; :func:`validate` checks the list of tables
(every problem names the search, by its name when it has one, and the key) and
:func:`searches` turns the checked tables into :class:`SearchConfig` values.
:func:`render_example` and :func:`render_reference` give the commented block of
``config.example.toml`` and the table of ``docs/config.md``. The TOML value helpers used by
both renderings live here too.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SECTION = "search"
"""The TOML name of the array of tables (``[[search]]``)."""

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class SearchConfig:
    """One saved search. Its identity is (name, query): see :func:`syncd.core.searches.identity`."""

    name: str
    query: str
    collection: str | None = None
    tags: tuple[str, ...] = ()
    every_hours: float = 24.0
    overlap_days: int = 7
    full_every_days: int = 30
    since: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class SearchKey:
    name: str
    kind: str  # str | int | float | bool | list | day
    default: Any
    description: str
    check: Callable[[Any], str | None] | None = None
    example: str | None = None


def _not_empty(value: Any) -> str | None:
    return None if str(value).strip() else "must not be empty"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _at_least_one(value: Any) -> str | None:
    return None if value >= 1 else "must be 1 or more"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _day(value: Any) -> str | None:
    if not _DAY.match(value):
        return "must be a day written YYYY-MM-DD"
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return "must be a day of the calendar (YYYY-MM-DD)"
    return None


SEARCH_KEYS: tuple[SearchKey, ...] = (
    SearchKey(
        "name",
        "str",
        None,
        "Required, unique: names the search in `syncd search`, `syncd status` and the state "
        "database. Renaming a search starts it again (a new window).",
        _not_empty,
        example='"ketamine"',
    ),
    SearchKey(
        "query",
        "str",
        None,
        "Required: the query as typed into PubMed. Changing it makes a new search (its window "
        "starts again); `syncd doctor` checks that PubMed can parse it.",
        _not_empty,
        example='"ketamine AND treatment-resistant depression"',
    ),
    SearchKey(
        "collection",
        "str",
        None,
        "Put this search's items into this collection (a name, a 'Parent/Child' path or a "
        "key; created when missing). Not set: zotero.collection.",
        _not_empty,
        example='"Ketamine alerts"',
    ),
    SearchKey(
        "tags",
        "list",
        [],
        "Tags added to every item of this search, besides tags.extra.",
    ),
    SearchKey(
        "every_hours",
        "float",
        24.0,
        "How often `syncd run` polls the search (plus up to 10 % at random, so that searches "
        "do not fire together). `syncd search poll` runs it at once.",
        _positive,
    ),
    SearchKey(
        "overlap_days",
        "int",
        7,
        "Each poll searches from the last successful poll's day minus this many days (PubMed "
        "gives some entries an Entrez date a little in the past); what is already held is "
        "not fetched again.",
        _non_negative,
    ),
    SearchKey(
        "full_every_days",
        "int",
        30,
        "This often a poll searches the whole window from `since` (or the first poll) again: "
        "PubMed backdates the Entrez date of citations added more than 12 months after "
        "publication. Only entries not yet held are fetched.",
        _at_least_one,
    ),
    SearchKey(
        "since",
        "day",
        None,
        "Also take the entries with an Entrez date from this day on (YYYY-MM-DD). Not set: "
        "from the day the search first runs (no backfill).",
        _day,
        example='"2025-01-01"',
    ),
    SearchKey(
        "enabled",
        "bool",
        True,
        "false pauses the search (its state is kept). A search removed from the config keeps "
        "its state too and is no longer polled.",
    ),
)
_BY_NAME: Mapping[str, SearchKey] = {k.name: k for k in SEARCH_KEYS}
_KINDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list of strings",
    "day": "a day (YYYY-MM-DD)",
}


def _typed(kind: str, value: Any) -> Any:
    """``value`` as ``kind`` wants it, or None when it is of the wrong type."""
    if kind == "day" and isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value.isoformat()  # TOML's bare date (since = 2025-01-01)
    ok = {
        "str": isinstance(value, str),
        "day": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[kind]
    return value if ok else None


def validate(content: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Check the ``search`` entry of the parsed TOML: the checked tables, and every problem."""
    if not isinstance(content, list) or not all(isinstance(t, dict) for t in content):
        return [], [f"'{SECTION}': must be tables written [[{SECTION}]], one per search"]
    problems: list[str] = []
    tables: list[dict[str, Any]] = []
    names: dict[str, int] = {}
    for n, table in enumerate(content, 1):
        name = table.get("name")
        who = (
            f"[[search]] {name!r}" if isinstance(name, str) and name.strip() else f"[[search]] #{n}"
        )
        checked: dict[str, Any] = {}
        for key, value in table.items():
            spec = _BY_NAME.get(key)
            if spec is None:
                known = ", ".join(k.name for k in SEARCH_KEYS)
                problems.append(f"{who}: '{key}': unknown key (known: {known})")
                continue
            typed = _typed(spec.kind, value)
            if typed is None:
                problems.append(
                    f"{who}: '{key}': must be {_KINDS[spec.kind]}, not {type(value).__name__}"
                    f" ({value!r})"
                )
                continue
            problem = spec.check(typed) if spec.check else None
            if problem:
                problems.append(f"{who}: '{key}': {problem}")
                continue
            checked[key] = typed
        for required in ("name", "query"):
            if required not in table:
                problems.append(f"{who}: '{required}': missing (every search needs one)")
        if "name" in checked:
            clean = checked["name"].strip()
            if clean in names:
                problems.append(
                    f"{who}: 'name': used by search #{names[clean]} too; names must be unique"
                )
            names.setdefault(clean, n)
        tables.append(checked)
    return tables, problems


def searches(tables: Sequence[Mapping[str, Any]]) -> tuple[SearchConfig, ...]:
    """The checked tables as :class:`SearchConfig` values, defaults filled in."""

    def get(table: Mapping[str, Any], key: str) -> Any:
        return table.get(key, _BY_NAME[key].default)

    return tuple(
        SearchConfig(
            name=t["name"].strip(),
            query=t["query"].strip(),
            collection=get(t, "collection"),
            tags=tuple(dict.fromkeys(x.strip() for x in get(t, "tags") if x.strip())),
            every_hours=float(get(t, "every_hours")),
            overlap_days=int(get(t, "overlap_days")),
            full_every_days=int(get(t, "full_every_days")),
            since=get(t, "since"),
            enabled=bool(get(t, "enabled")),
        )
        for t in tables
    )


# --- rendering ------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def wrap(text: str, width: int = 98) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def render_example() -> list[str]:
    """The lines of ``config.example.toml`` for saved searches: one search, commented out."""
    out = [
        "",
        "# Saved PubMed searches: one [[search]] table per search, polled by `syncd run` and",
        "# `syncd search poll`; new entries go into Zotero like an export (docs/searches.md).",
        "# Uncomment and edit to add one.",
        "",
        f"# [[{SECTION}]]",
    ]
    for key in SEARCH_KEYS:
        out.append("#")
        out += [f"# {line}" for line in wrap(key.description, 96)]
        shown = key.example if key.default is None else toml_value(key.default)
        out.append(f"# {key.name} = {shown}")
    return out


def render_reference() -> list[str]:
    """The rows of the ``docs/config.md`` table for the keys of a ``[[search]]``."""
    rows = []
    for key in SEARCH_KEYS:
        default = "(not set)" if key.default is None else toml_value(key.default)
        rows.append(
            f"| `{SECTION}.{key.name}` | {key.kind} | `{default}` | "
            f"{key.description.replace('|', '/')} |"
        )
    return rows
