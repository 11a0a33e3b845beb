"""What `syncd setup` decides, without any I/O: which libraries an API key can write (from the
answers of ``GET /keys/current`` and ``GET /users/N/groups``), whether a library asked for is
usable (and what to change on zotero.org when it is not), and the config file to write: only
the keys that differ from the defaults, merged into what an existing config already holds.

The edges (``syncd/setup_web.py``, ``syncd/commands/setup.py``) fetch the answers, ask the
questions and write the files; every decision is here, so it is tested without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from syncd.errors import UsageError

KEYS_PAGE = "https://www.zotero.org/settings/keys"

# The keys a web setup decides; an existing config's values for them are replaced (or, when
# the new answer is the default, removed), everything else in it is kept as it was.
WEB_KEYS = (
    "zotero.library_type",
    "zotero.library_id",
    "zotero.api_url",
    "zotero.collection",
    "watch.directory",
    # a config that was set up for the app before goes back to the default target
    "zotero.target",
    "zotero.desktop_url",
    "zotero.desktop_key_file",
    "zotero.desktop_group",
)
# The keys a desktop setup decides: the same, since the web's library and server are not used
# with the app (left in, they would be warned about as ignored); its key is in the default
# desktop key file. A web key file is kept, for a return to the web target.
DESKTOP_KEYS = WEB_KEYS
# The key now lives in the default key file (the one the service loads as its credential): a
# key file named elsewhere, or a key written inline, would win over it, so they go.
KEY_LOCATIONS = ("zotero.api_key_file", "zotero.api_key")


@dataclass(frozen=True)
class KeyRights:
    """What ``GET /keys/current`` says of a key: whose it is and what it may do."""

    user_id: int
    username: str
    user_read: bool
    user_write: bool
    # "all" (every group of the user) or a group id -> (read, write)
    groups: Mapping[str, tuple[bool, bool]]

    def group_access(self, group_id: int) -> tuple[bool, bool]:
        """(read, write) for group ``group_id``: its own entry wins over ``all``, as on the
        server (a key may allow all groups but one, or one group only)."""
        return self.groups.get(str(group_id)) or self.groups.get("all") or (False, False)


def key_rights(info: Mapping[str, Any]) -> KeyRights:
    """Read the JSON of ``GET /keys/current`` (zotero-api.md 2.5: ``access.user`` and
    ``access.groups`` are left out when empty)."""
    access = info.get("access") or {}
    user = access.get("user") or {}
    groups: dict[str, tuple[bool, bool]] = {}
    for gid, rights in (access.get("groups") or {}).items():
        read = bool(rights.get("library"))
        groups[str(gid)] = (read, read and bool(rights.get("write")))
    read = bool(user.get("library"))
    return KeyRights(
        user_id=int(info.get("userID", 0)),
        username=str(info.get("username", "")),
        user_read=read,
        user_write=read and bool(user.get("write")),
        groups=groups,
    )


@dataclass(frozen=True)
class LibraryChoice:
    """A library the key's user can import into (or could, with another key)."""

    kind: str  # "user" or "group"
    id: int
    name: str
    can_read: bool
    can_write: bool

    @property
    def flag(self) -> str:
        """How ``--library`` names it: ``user`` or ``group:ID``."""
        return "user" if self.kind == "user" else f"group:{self.id}"

    @property
    def path(self) -> str:
        """``users/N`` or ``groups/N`` as the API spells it."""
        return f"{self.kind}s/{self.id}"

    @property
    def label(self) -> str:
        what = "My Library" if self.kind == "user" else f"group {self.name!r}"
        rights = "read/write" if self.can_write else "read only" if self.can_read else "no access"
        return f"{what} ({self.flag}, {rights})"


def libraries(rights: KeyRights, groups: Iterable[Mapping[str, Any]]) -> list[LibraryChoice]:
    """My Library first, then the user's groups by name (``groups``: the rows of
    ``GET /users/N/groups``), each with what this key may do there."""
    out = [LibraryChoice("user", rights.user_id, "My Library", rights.user_read, rights.user_write)]
    found = []
    for row in groups:
        data = row.get("data") or {}
        gid = int(row.get("id") or data.get("id") or 0)
        if gid <= 0:
            continue
        read, write = rights.group_access(gid)
        found.append(LibraryChoice("group", gid, str(data.get("name") or gid), read, write))
    out += sorted(found, key=lambda c: (c.name.casefold(), c.id))
    return out


def parse_library(spec: str) -> tuple[str, int | None]:
    """``--library``: ``user`` -> ("user", None), ``group:ID`` -> ("group", ID)."""
    text = spec.strip().lower()
    if text in ("user", "my library"):
        return "user", None
    m = re.fullmatch(r"group:(\d+)", text)
    if m and int(m.group(1)) > 0:
        return "group", int(m.group(1))
    raise UsageError(
        f"--library {spec!r}: not a library",
        hint="use --library user (My Library) or --library group:ID (the number in the "
        "group's address on zotero.org)",
    )


def pick_library(
    choices: Sequence[LibraryChoice], kind: str, group_id: int | None, rights: KeyRights
) -> LibraryChoice:
    """The library asked for, when this key can write to it; else a :class:`UsageError`
    (exit 2) saying what to change on zotero.org."""
    edit = f"edit the key at {KEYS_PAGE}"
    if kind == "user":
        mine = choices[0]
        if not mine.can_write:
            raise UsageError(
                f"this API key cannot write to My Library (user {rights.user_id}): "
                + ("it may only read it" if mine.can_read else "it has no access to it"),
                hint=f"{edit}: under Personal Library tick 'Allow library access' and "
                "'Allow write access' (or choose a group with --library group:ID)",
            )
        return mine
    for choice in choices:
        if choice.kind == "group" and choice.id == group_id:
            if not choice.can_write:
                raise UsageError(
                    f"this API key cannot write to group {choice.name!r} ({group_id}): "
                    "it may only read it",
                    hint=f"{edit}: under Default Group Permissions (or for this group) "
                    "choose 'Read/Write'; the group's owner must also let members edit",
                )
            return choice
    raise UsageError(
        f"group {group_id} is not one of the groups of user {rights.user_id} "
        f"({rights.username}) this API key can access",
        hint=f"join the group on zotero.org, or {edit} and give it access to the group "
        "(Default Group Permissions, or Per Group Permissions); the groups it can write: "
        + (", ".join(c.flag for c in choices if c.can_write and c.kind == "group") or "none"),
    )


def writable(choices: Sequence[LibraryChoice]) -> list[LibraryChoice]:
    return [c for c in choices if c.can_write]


def no_writable_library(rights: KeyRights) -> UsageError:
    return UsageError(
        f"this API key (user {rights.user_id}, {rights.username}) cannot write to any library",
        hint=f"edit the key at {KEYS_PAGE}: tick 'Allow write access' under Personal "
        "Library, or give it Read/Write access to a group",
    )


def collection_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the collections in ``rows`` (``GET .../collections/top``) not in the
    trash, sorted."""
    names = {
        str((r.get("data") or {}).get("name", ""))
        for r in rows
        if not (r.get("data") or {}).get("deleted")
    }
    return sorted((n for n in names if n), key=str.casefold)


# --- the config file ------------------------------------------------------------------------


@dataclass(frozen=True)
class WebAnswers:
    """What a web setup settled on; ``None`` means "the default"."""

    library: LibraryChoice
    api_url: str | None = None  # None: api.zotero.org
    collection: str | None = None
    directory: str | None = None  # None: the download folder


def web_values(answers: WebAnswers) -> dict[str, Any]:
    """The config keys a web setup writes: only those that differ from the defaults."""
    lib = answers.library
    values: dict[str, Any] = {}
    if lib.kind == "group":
        values["zotero.library_type"] = "group"
    values["zotero.library_id"] = lib.id
    if answers.api_url is not None:
        values["zotero.api_url"] = answers.api_url
    if answers.collection is not None:
        values["zotero.collection"] = answers.collection
    if answers.directory is not None:
        values["watch.directory"] = answers.directory
    return values


def merged(
    existing: Mapping[str, Any], values: Mapping[str, Any], decided: Iterable[str]
) -> dict[str, Any]:
    """``existing`` (a parsed TOML document) with the ``decided`` dotted keys replaced by
    ``values`` (removed where ``values`` leaves them out); sections left empty go."""
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in existing.items()}
    for dotted in decided:
        section, _, name = dotted.partition(".")
        table = out.get(section)
        if isinstance(table, dict):
            table.pop(name, None)
    for dotted, value in values.items():
        section, _, name = dotted.partition(".")
        out.setdefault(section, {})[name] = value
    return {k: v for k, v in out.items() if not (isinstance(v, dict) and not v)}


HEADER = (
    "# syncd configuration, written by `syncd setup` (only what differs from the defaults).",
    "# Every key, with its default: docs/config.md and config.example.toml.",
)


def render_toml(document: Mapping[str, Any]) -> str:
    """``document`` (sections of strings, numbers, booleans, lists, dates; arrays of tables
    such as ``[[search]]``) as TOML, sections in the order given, ``[zotero]`` first."""
    order = sorted(document, key=lambda s: (s != "zotero", list(document).index(s)))
    out = list(HEADER)
    for section in order:
        content = document[section]
        if isinstance(content, Mapping):
            out += ["", f"[{section}]"]
            out += [f"{_bare(k)} = {toml_value(v)}" for k, v in content.items()]
        elif isinstance(content, list) and all(isinstance(t, Mapping) for t in content):
            for table in content:
                out += ["", f"[[{section}]]"]
                out += [f"{_bare(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            out += ["", f"{_bare(section)} = {toml_value(content)}"]
    return "\n".join(out) + "\n"


def _bare(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def toml_value(value: Any) -> str:
    """One TOML value. A JSON string is a valid TOML basic string (the same escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # DEL is a control character to TOML, not to JSON
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_bare(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if hasattr(value, "isoformat"):  # a TOML date, time or datetime read by tomllib
        return str(value.isoformat())
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
