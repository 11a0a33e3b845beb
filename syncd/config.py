"""The configuration: one spec that drives validation, ``config.example.toml`` and the docs.

:data:`SPEC` is a table of every key (dotted name, type, default, description, validator).
:func:`load` reads a TOML file with :mod:`tomllib`, checks it against the spec (unknown keys,
wrong types and bad values are all collected and raised together as one :class:`ConfigError`,
each naming its dotted key) and returns a frozen :class:`Config`. :func:`render_example` turns
the spec into ``config.example.toml`` (a test keeps the committed file equal to it) and
:func:`render_reference` into the key table of ``docs/config.md``.

Where the file is, in order: ``--config PATH``, ``$SYNCD_CONFIG``,
``$XDG_CONFIG_HOME/syncd/config.toml`` (``~/.config/syncd/config.toml``). Only the last may be
missing (then every key has its default and no library is configured).

The API key, first found wins (an explicit file beats the environment, which beats the systemd
credential, which beats a key written into the config itself):

1. ``zotero.api_key_file`` (a file holding only the key),
2. the ``ZOTERO_API_KEY`` environment variable,
3. the systemd credential ``$CREDENTIALS_DIRECTORY/zotero-api-key`` (``LoadCredential=``),
4. the default key file ``$XDG_CONFIG_HOME/syncd/zotero-api-key``
   (``~/.config/syncd/zotero-api-key``): the file the service's credential is loaded from, so
   that ``syncd doctor`` and ``syncd import`` in a shell use the key the service uses,
5. ``zotero.api_key`` inline; the config file must then be readable by its owner only.

The key is held in a :class:`Secret`, whose ``repr`` and ``str`` never show it.
"""

from __future__ import annotations

import errno
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syncd import config_search
from syncd.config_keys import (  # Key, Secret and the checks live there; named here as before
    Key,
    _check_private,
    _choice,
    _match,
    _non_empty_list,
    _non_negative,
    _not_empty,
    _positive,
    _positive_number,
    _url,
    is_loopback,
)
from syncd.config_keys import (
    Secret as Secret,
)
from syncd.config_pubmed import PUBMED_SPEC, PubmedConfig, pubmed_from_values
from syncd.config_search import SearchConfig, toml_value, wrap
from syncd.core.mapping import MeshPolicy
from syncd.errors import ConfigError

KEY_ENV = "ZOTERO_API_KEY"
CONFIG_ENV = "SYNCD_CONFIG"
CREDENTIAL_NAME = "zotero-api-key"
DEFAULT_API_URL = "https://api.zotero.org"
MESH_POLICIES = tuple(p.value for p in MeshPolicy)
_COLLECTION_KEY = re.compile(r"^[23456789ABCDEFGHIJKLMNPQRSTUVWXYZ]{8}$")
_API_KEY = re.compile(r"[A-Za-z0-9]{24}")
API_KEY_SHAPE = "24 letters and digits"
DEFAULT_DESKTOP_URL = "http://127.0.0.1:23119"
DESKTOP_KEY_NAME = "zotero-desktop-key"
_IGNORED_ON_DESKTOP = ("zotero.library_type", "zotero.library_id", "zotero.api_url")


def _loopback_url(value: Any) -> str | None:
    if not re.match(r"^http://[^\s/]+", value):
        return f"must be an http:// URL on this machine, not {value!r}"
    if not is_loopback(urlsplit(value).hostname or ""):
        return f"must name this machine (127.0.0.1, localhost or ::1), not {value!r}"
    return None


SPEC: tuple[Key, ...] = (
    Key(
        "zotero.target",
        "str",
        "web",
        "Where items go: 'web', the Zotero Web API (any library, groups too; works while "
        "Zotero is closed; needs an API key), or 'desktop', the Zotero app on this computer "
        "(Zotero 10 or later: no account or API key, items appear at once, only while Zotero "
        "runs; My Library, or a group the app holds: desktop_group; see docs/desktop.md). "
        "With 'desktop', library_type, library_id and api_url are ignored.",
        _choice("web", "desktop"),
    ),
    Key(
        "zotero.desktop_url",
        "str",
        DEFAULT_DESKTOP_URL,
        "Where the Zotero app's local API listens (target = 'desktop'); a double in tests "
        "(`syncd sandbox --desktop`). Only this machine is allowed.",
        _loopback_url,
    ),
    Key(
        "zotero.desktop_group",
        "int",
        None,
        "With target = 'desktop': the group library to write to (its zotero.org group id); the "
        "app holds a group only while signed in to zotero.org and syncing it. Not set: My "
        "Library. Written by `syncd setup --desktop --library group:ID`.",
        _positive,
        example="2",
    ),
    Key(
        "zotero.desktop_key_file",
        "path",
        None,
        "The file holding the Zotero app's permission to write, as JSON {server_id, key} "
        "(chmod 600), written by `syncd setup --desktop` (target = 'desktop'). Not set: "
        "~/.config/syncd/zotero-desktop-key ($XDG_CONFIG_HOME).",
        example='"~/.config/syncd/zotero-desktop-key"',
    ),
    Key(
        "zotero.library_type",
        "str",
        "user",
        "Which kind of library to import into: 'user' (your own) or 'group'.",
        _choice("user", "group"),
    ),
    Key(
        "zotero.library_id",
        "int",
        None,
        "The library's numeric id: your user id (shown as 'Your userID for use in API calls' "
        "at zotero.org/settings/keys) or the group id (the number in the group's URL). "
        "Not set: no library is configured, and `syncd import` says how to set one.",
        _positive,
        example="1234567",
    ),
    Key(
        "zotero.api_key_file",
        "path",
        None,
        "A file holding only the Zotero API key (the recommended way), readable and writable "
        "by you only (chmod 600), or syncd refuses it. Relative paths are relative to this "
        "file. Without it the key comes from $ZOTERO_API_KEY, then from the systemd "
        "credential $CREDENTIALS_DIRECTORY/zotero-api-key, then from the file that "
        "credential is loaded from, ~/.config/syncd/zotero-api-key ($XDG_CONFIG_HOME), then "
        "from api_key.",
        example='"~/.config/syncd/zotero-api-key"',
    ),
    Key(
        "zotero.api_key",
        "str",
        None,
        "The API key written here directly (last resort). This file must then be readable "
        "by you only (chmod 600), or syncd refuses it.",
        _not_empty,
        example='"your-24-character-api-key"',
    ),
    Key(
        "zotero.api_url",
        "str",
        DEFAULT_API_URL,
        "The Zotero Web API. Point it at a sandbox (`syncd sandbox`) for trials. Plain "
        "http:// is refused except to this machine (localhost, 127.0.0.0/8, ::1), as it "
        "would send the API key unencrypted.",
        _url,
    ),
    Key(
        "zotero.collection",
        "str",
        None,
        "Put imported items into this collection: a name, a 'Parent/Child' path, or a "
        "collection key. Created when missing. Not set: no collection.",
        _not_empty,
        example='"PubMed imports"',
    ),
    Key(
        "zotero.native_ids",
        "str",
        "auto",
        "Where PMID and PMCID go: 'auto' puts them in the PMID/PMCID fields when the server's "
        "schema has them (Zotero 8) and in Extra lines otherwise; 'extra' always uses Extra "
        "lines (for libraries still synced by Zotero 7 desktop clients, which cannot store "
        "those fields).",
        _choice("auto", "extra"),
    ),
    Key(
        "zotero.conflict_timeout_seconds",
        "float",
        600.0,
        "Other programs or syncd machines writing to the same library make Zotero refuse a "
        "write made against an older library version; syncd then reads what changed and "
        "tries again, waiting a growing random pause in between. A one-shot `syncd import` "
        "gives up when none of its writes has been accepted for this many seconds: the "
        "records not yet sent stay pending, it exits 1, and the next run sends them. "
        "`syncd run` never gives up.",
        _positive_number,
    ),
    Key(
        "tags.extra",
        "list",
        [],
        "Tags added to every imported item (manual tags).",
    ),
    Key(
        "tags.mesh",
        "str",
        "descriptor",
        "Which MeSH headings become tags: 'descriptor' (the heading without qualifiers, as "
        "Zotero's PubMed web import does), 'verbatim' (as written, with qualifiers and *, as "
        "Zotero's MEDLINE file import does), 'qualified' (descriptor and "
        "descriptor/qualifier), 'major' (major topics only) or 'none'.",
        _choice(*MESH_POLICIES),
    ),
    Key(
        "tags.keywords",
        "bool",
        True,
        "Turn the authors' keywords (OT) into tags.",
    ),
    Key(
        "tags.automatic",
        "bool",
        True,
        "Mark tags taken from the record (MeSH, keywords) as automatic, so that Zotero can "
        "hide them; the extra tags above are always manual.",
    ),
    Key(
        "dedup.match",
        "list",
        ["pmid", "doi"],
        "Which identifiers make two articles the same: 'pmid' (with the PMCID), 'doi', and "
        "'title' (a title/year/first-author fingerprint, for records with neither).",
        _match,
    ),
    Key(
        "dedup.on_duplicate",
        "str",
        "merge",
        "What to do with an article the library already holds: 'merge' adds the missing tags "
        "and the collection to the existing item (nothing else changes, except that an item "
        "syncd created is completed from a later version of its record where the user changed "
        "nothing: see docs/import.md); 'skip' leaves it.",
        _choice("merge", "skip"),
    ),
    Key(
        "dedup.include_trash",
        "bool",
        True,
        "Count items in the library's trash as already held (so they are not created again).",
    ),
    Key(
        "dedup.recreate_deleted",
        "bool",
        False,
        "Create again an article that syncd imported before and that was since deleted from "
        "the library. Off: a deletion in Zotero is respected.",
    ),
    Key(
        "watch.directory",
        "path",
        None,
        "The folder `syncd run` watches for exports. Not set: your download folder "
        "(XDG_DOWNLOAD_DIR from ~/.config/user-dirs.dirs, else ~/Downloads); there, the exports "
        "already present at the very first start are recorded as a baseline and not imported "
        "(`syncd run --import-existing` imports them). A folder set here is imported whole.",
        example='"~/Downloads/pubmed"',
    ),
    Key(
        "watch.recursive",
        "bool",
        False,
        "Watch the folders inside watch.directory too.",
    ),
    Key(
        "watch.patterns",
        "list",
        ["*.nbib", "*.txt", "*.csv"],
        "Which files in the folder are inputs (shell patterns). Their content decides: a .txt "
        "is read when it is a MEDLINE export, or a PMID list named as PubMed names it "
        "(pmid-*.txt); a .csv when it is a PubMed CSV export; other files are ignored. *.csv "
        "files already in the folder when an upgrade added that pattern are a baseline, not "
        "imported.",
        _non_empty_list,
    ),
    Key(
        "watch.settle_seconds",
        "float",
        2.0,
        "Wait until a file has not changed for this long before importing it.",
        _non_negative,
    ),
    Key(
        "watch.after_import",
        "str",
        "keep",
        "What to do with a file once all of it is in the library: 'keep', 'move' (to "
        "watch.done_directory) or 'delete'.",
        _choice("keep", "move", "delete"),
    ),
    Key(
        "watch.done_directory",
        "path",
        None,
        "Where 'move' puts imported files. Not set: a 'done' folder inside watch.directory.",
        example='"~/Downloads/pubmed/done"',
    ),
    Key(
        "watch.failed_directory",
        "path",
        None,
        "Where files with records that failed go (with a NAME.errors.txt beside them listing "
        "file:line: reason). Not set: they stay where they are, the .errors.txt beside them.",
        example='"~/Downloads/pubmed/failed"',
    ),
    Key(
        "watch.wait_for_directory",
        "bool",
        False,
        "When watch.directory does not exist at start: wait for it to appear (true) or stop "
        "with an error (false). A folder that vanishes later is always waited for.",
    ),
    Key(
        "watch.events",
        "bool",
        True,
        "Use file system events (inotify) to notice new files at once. Off (e.g. on a network "
        "file system where events do not arrive): only the periodic rescan finds them.",
    ),
    Key(
        "watch.rescan_seconds",
        "float",
        600.0,
        "A cheap stat-only rescan of the folder this often catches files whose events were "
        "lost. 0 = off (events only, and a full scan at start).",
        _non_negative,
    ),
    Key(
        "watch.max_file_bytes",
        "int",
        1 << 30,
        "A file larger than this is not read: it is reported as failed, and the daemon moves "
        "on (PubMed caps an export at 10,000 records, tens of MB).",
        _positive_number,
    ),
    Key(
        "watch.other_owners",
        "bool",
        False,
        "Also import files in the watched folder that belong to other users (and symlinks "
        "whose target does). Off: such files are skipped, and the log and syncd status say so. "
        "syncd import of a file you name is never restricted.",
    ),
    Key(
        "watch.retry_max_seconds",
        "float",
        900.0,
        "When Zotero cannot be reached or keeps failing, the daemon retries with growing "
        "waits up to this long between attempts, for as long as it takes; nothing is lost.",
        _positive_number,
    ),
    Key(
        "notify.desktop",
        "bool",
        False,
        "Show a desktop notification (through notify-send) for each imported file and for "
        "problems that need you. A notification that cannot be shown never affects an import.",
    ),
    Key(
        "state.path",
        "path",
        None,
        "The state database (what was imported, the library index). Not set: "
        "$XDG_STATE_HOME/syncd/state.db (~/.local/state/syncd/state.db).",
        example='"~/.local/state/syncd/state.db"',
    ),
    *PUBMED_SPEC,
)

SPEC_BY_NAME: Mapping[str, Key] = {k.name: k for k in SPEC}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(k.name.split(".")[0] for k in SPEC))

# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoteroConfig:
    target: str = "web"
    desktop_url: str = DEFAULT_DESKTOP_URL
    desktop_key_file: Path = field(default_factory=lambda: default_desktop_key_path())
    desktop_server_id: str | None = None  # from desktop_key_file, when it can be read
    desktop_group: int | None = None
    ignored: tuple[str, ...] = ()  # keys set in the file that target = "desktop" ignores
    library_type: str = "user"
    library_id: int | None = None
    api_key: Secret | None = field(default=None, repr=False)
    api_key_source: str | None = None  # where the key came from, for `syncd doctor`
    api_url: str = DEFAULT_API_URL
    collection: str | None = None
    native_ids: str = "auto"
    conflict_timeout_seconds: float = 600.0

    @property
    def library(self) -> str | None:
        """``users/N`` or ``groups/N`` as the API spells it (``desktop/<Server-ID>`` for the
        Zotero app), or None when not configured."""
        if self.target == "desktop":
            from syncd.core.desktop_answers import library_name

            sid, group = self.desktop_server_id, self.desktop_group
            return library_name(sid, group) if sid else None
        if self.library_id is None:
            return None
        return f"{self.library_type}s/{self.library_id}"


@dataclass(frozen=True)
class TagsConfig:
    extra: tuple[str, ...] = ()
    mesh: str = "descriptor"
    keywords: bool = True
    automatic: bool = True


@dataclass(frozen=True)
class DedupConfig:
    match: tuple[str, ...] = ("pmid", "doi")
    on_duplicate: str = "merge"
    include_trash: bool = True
    recreate_deleted: bool = False


@dataclass(frozen=True)
class WatchConfig:
    directory: Path | None = None
    patterns: tuple[str, ...] = ("*.nbib", "*.txt", "*.csv")
    settle_seconds: float = 2.0
    after_import: str = "keep"
    done_directory: Path | None = None
    failed_directory: Path | None = None
    recursive: bool = False
    wait_for_directory: bool = False
    events: bool = True
    rescan_seconds: float = 600.0
    retry_max_seconds: float = 900.0
    max_file_bytes: int = 1 << 30
    other_owners: bool = False


@dataclass(frozen=True)
class NotifyConfig:
    desktop: bool = False


@dataclass(frozen=True)
class StateConfig:
    path: Path = field(default_factory=lambda: default_state_path())


@dataclass(frozen=True)
class Config:
    zotero: ZoteroConfig = field(default_factory=ZoteroConfig)
    tags: TagsConfig = field(default_factory=TagsConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    state: StateConfig = field(default_factory=StateConfig)
    searches: tuple[SearchConfig, ...] = ()  # [[search]] tables (syncd/config_search.py)
    pubmed: PubmedConfig = field(default_factory=PubmedConfig)
    source: Path | None = None  # the file it was read from; None when none exists


# --- locations ------------------------------------------------------------------------------


def _xdg(var: str, fallback: str, env: Mapping[str, str]) -> Path:
    value = env.get(var, "")
    # The XDG spec: relative paths in these variables are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / fallback


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "syncd" / "config.toml"


def default_key_path(env: Mapping[str, str] | None = None) -> Path:
    """The API key file that the systemd unit loads as its credential and that a shell falls
    back to: ``$XDG_CONFIG_HOME/syncd/zotero-api-key``."""
    env = os.environ if env is None else env
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "syncd" / CREDENTIAL_NAME


def default_desktop_key_path(env: Mapping[str, str] | None = None) -> Path:
    """Where ``syncd setup --desktop`` keeps the Zotero app's key:
    ``$XDG_CONFIG_HOME/syncd/zotero-desktop-key``."""
    env = os.environ if env is None else env
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "syncd" / DESKTOP_KEY_NAME


def _desktop_server_id(path: Path) -> str | None:
    """The Server-ID in the desktop key file (the key itself is read by the target)."""
    from syncd.targets.desktop_auth import read_desktop_key

    try:
        return read_desktop_key(path).server_id
    except ConfigError:
        return None  # `syncd doctor` and the target say what is wrong with it


def default_download_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user's download folder: ``XDG_DOWNLOAD_DIR`` from ``user-dirs.dirs`` (as
    xdg-user-dirs writes it, ``"$HOME/..."``), else ``~/Downloads``."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    dirs = _xdg("XDG_CONFIG_HOME", ".config", env) / "user-dirs.dirs"
    try:
        text = dirs.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    for line in text.splitlines():
        m = re.match(r'^\s*XDG_DOWNLOAD_DIR\s*=\s*"(.*)"\s*$', line)
        if m:
            value = m.group(1).replace("$HOME", str(home))
            if os.path.isabs(value) and Path(value) != home:
                return Path(value)
    return home / "Downloads"


def default_state_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return _xdg("XDG_STATE_HOME", ".local/state", env) / "syncd" / "state.db"


def locate(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """The config file to read and whether it must exist (it must unless it is the default)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser(), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser(), True
    return default_config_path(env), False


# --- loading --------------------------------------------------------------------------------

_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list of strings",
    "path": "a path (a string)",
}


def _check_type(kind: str, value: Any) -> bool:
    if kind in ("str", "path"):
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise AssertionError(f"unknown kind {kind}")


def validate(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check parsed TOML against :data:`SPEC`: the values by dotted name, and every problem."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for section, content in data.items():
        if section == config_search.SECTION:  # [[search]]: an array of tables, checked there
            values[section], found = config_search.validate(content)
            problems += found
            continue
        if section not in SECTIONS:
            problems.append(
                f"'{section}': unknown section (known: {', '.join(SECTIONS)})"
                if isinstance(content, dict)
                else f"'{section}': unknown key at the top level (keys belong in a section)"
            )
            continue
        if not isinstance(content, dict):
            problems.append(f"'{section}': must be a table ([{section}])")
            continue
        for name, value in content.items():
            dotted = f"{section}.{name}"
            spec = SPEC_BY_NAME.get(dotted)
            if spec is None:
                known = [k.name.split(".", 1)[1] for k in SPEC if k.name.startswith(section + ".")]
                problems.append(
                    f"'{dotted}': unknown key (known in [{section}]: {', '.join(known)})"
                )
                continue
            if not _check_type(spec.kind, value):
                problems.append(
                    f"'{dotted}': must be {_TYPE_NAMES[spec.kind]}, not {type(value).__name__}"
                    f" ({value!r})"
                    if spec.name != "zotero.api_key"
                    else f"'{dotted}': must be {_TYPE_NAMES[spec.kind]}"
                )
                continue
            if spec.validate is not None:
                problem = spec.validate(value)
                if problem:
                    # Never echo the key itself, even when it is malformed.
                    if spec.name == "zotero.api_key":
                        problem = "must not be empty"
                    problems.append(f"'{dotted}': {problem}")
                    continue
            values[dotted] = value
    if "zotero.api_key" in values and "zotero.api_key_file" in values:
        problems.append(
            "'zotero.api_key': set together with 'zotero.api_key_file'; keep only one "
            "(preferably api_key_file)"
        )
    return values, problems


def _path(value: str | None, base: Path) -> Path | None:
    if value is None:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def key_problem(key: str) -> str | None:
    """What is wrong with ``key`` (already stripped) as a Zotero API key, or None. Never
    quotes the key: it says only what shape it has."""
    if _API_KEY.fullmatch(key):
        return None
    if "\n" in key or "\r" in key:
        return f"it has {len(key.splitlines())} lines; a key is one line of {API_KEY_SHAPE}"
    if not key.isascii():
        return f"it has characters other than ASCII letters and digits; a key is {API_KEY_SHAPE}"
    if not key.isalnum():
        return f"it has characters other than letters and digits; a key is {API_KEY_SHAPE}"
    return f"it has {len(key)} characters; a key is {API_KEY_SHAPE}"


def _checked_key(raw: str, where: str) -> Secret:
    """``raw`` without surrounding whitespace, as a Secret, or a ConfigError naming ``where``
    the key came from (never the key itself)."""
    key = raw.strip()
    if not key:
        raise ConfigError(f"{where} is empty", hint=_KEY_HINT)
    problem = key_problem(key)
    if problem:
        raise ConfigError(f"{where} does not hold a Zotero API key: {problem}", hint=_KEY_HINT)
    return Secret(key)


_KEY_HINT = (
    "copy the key (24 letters and digits) from https://www.zotero.org/settings/keys; a key "
    "file holds only the key, on one line"
)


def _read_key_file(path: Path, what: str) -> Secret:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{what}: the API key file {path} does not hold a Zotero API key: it is not text",
            hint=_KEY_HINT,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{what}: cannot read the API key file {path}: {exc.strerror or exc}",
            hint="create it with only the key inside (chmod 600), or fix the path",
        ) from None
    return _checked_key(raw, f"{what}: the API key file {path}")


def resolve_api_key(
    values: Mapping[str, Any], config_file: Path | None, env: Mapping[str, str]
) -> tuple[Secret | None, str | None]:
    """The API key and a description of where it came from, in the documented order.

    Every source is checked the same way: 24 letters and digits once surrounding whitespace
    is stripped (a :class:`ConfigError` that never shows the value otherwise), and a file
    that holds the key must be private to its owner.
    """
    base = config_file.parent if config_file else Path.cwd()
    if (key_file := _path(values.get("zotero.api_key_file"), base)) is not None:
        secret = _read_key_file(key_file, "zotero.api_key_file")
        _check_private(key_file, "the Zotero API key (zotero.api_key_file)", "")
        return secret, f"file {key_file}"
    if env.get(KEY_ENV, "").strip():
        return _checked_key(env[KEY_ENV], f"${KEY_ENV}"), f"${KEY_ENV}"
    if cred_dir := env.get("CREDENTIALS_DIRECTORY"):
        cred = Path(cred_dir) / CREDENTIAL_NAME
        if cred.exists():
            return _read_key_file(cred, "systemd credential"), f"credential {cred}"
    # The credential's source file (LoadCredential= in the unit): in a shell there is no
    # $CREDENTIALS_DIRECTORY, and the same key must be found there as in the service.
    if (default := default_key_path(env)).is_file():
        secret = _read_key_file(default, "the default key file")
        _check_private(default, "the Zotero API key", "")
        return secret, f"file {default}"
    if "zotero.api_key" in values:
        if config_file is not None:
            _check_private(
                config_file,
                "an inline zotero.api_key",
                ", or move the key to a file named by zotero.api_key_file (or $ZOTERO_API_KEY)",
            )
        return (
            _checked_key(str(values["zotero.api_key"]), f"zotero.api_key in {config_file}"),
            f"zotero.api_key in {config_file}",
        )
    return None, None


def from_values(
    values: Mapping[str, Any], config_file: Path | None, env: Mapping[str, str] | None = None
) -> Config:
    """Build a :class:`Config` from validated values (defaults filled in from the spec)."""
    env = os.environ if env is None else env

    def get(name: str) -> Any:
        return values.get(name, SPEC_BY_NAME[name].default)

    base = config_file.parent if config_file else Path.cwd()
    desktop = get("zotero.target") == "desktop"
    desktop_key = _path(get("zotero.desktop_key_file"), base) or default_desktop_key_path(env)
    if desktop:
        # The 24-character web key is neither needed nor checked: the app's key is its own.
        api_key, source = None, None
    else:
        api_key, source = resolve_api_key(values, config_file, env)
    state_path = _path(get("state.path"), base) or default_state_path(env)
    return Config(
        zotero=ZoteroConfig(
            target=get("zotero.target"),
            desktop_url=str(get("zotero.desktop_url")).rstrip("/"),
            desktop_key_file=desktop_key,
            desktop_server_id=_desktop_server_id(desktop_key) if desktop else None,
            desktop_group=get("zotero.desktop_group"),
            ignored=tuple(k for k in _IGNORED_ON_DESKTOP if k in values) if desktop else (),
            library_type=get("zotero.library_type"),
            library_id=get("zotero.library_id"),
            api_key=api_key,
            api_key_source=source,
            api_url=str(get("zotero.api_url")).rstrip("/"),
            collection=get("zotero.collection"),
            native_ids=get("zotero.native_ids"),
            conflict_timeout_seconds=float(get("zotero.conflict_timeout_seconds")),
        ),
        tags=TagsConfig(
            extra=tuple(dict.fromkeys(t.strip() for t in get("tags.extra") if t.strip())),
            mesh=get("tags.mesh"),
            keywords=get("tags.keywords"),
            automatic=get("tags.automatic"),
        ),
        dedup=DedupConfig(
            match=tuple(dict.fromkeys(get("dedup.match"))),
            on_duplicate=get("dedup.on_duplicate"),
            include_trash=get("dedup.include_trash"),
            recreate_deleted=get("dedup.recreate_deleted"),
        ),
        watch=WatchConfig(
            directory=_path(get("watch.directory"), base),
            patterns=tuple(get("watch.patterns")),
            settle_seconds=float(get("watch.settle_seconds")),
            after_import=get("watch.after_import"),
            done_directory=_path(get("watch.done_directory"), base),
            failed_directory=_path(get("watch.failed_directory"), base),
            recursive=get("watch.recursive"),
            wait_for_directory=get("watch.wait_for_directory"),
            events=get("watch.events"),
            rescan_seconds=float(get("watch.rescan_seconds")),
            retry_max_seconds=float(get("watch.retry_max_seconds")),
            max_file_bytes=int(get("watch.max_file_bytes")),
            other_owners=get("watch.other_owners"),
        ),
        notify=NotifyConfig(desktop=get("notify.desktop")),
        state=StateConfig(path=state_path),
        searches=config_search.searches(values.get(config_search.SECTION, ())),
        pubmed=pubmed_from_values(values, config_file, env),
        source=config_file,
    )


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration (``path`` is ``--config``; see the module doc).

    Raises :class:`ConfigError` listing every problem, each naming its dotted key.
    """
    env = os.environ if env is None else env
    file, required = locate(path, env)
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        if required:
            raise ConfigError(
                f"{file}: no such config file",
                hint="check the path given with --config or $SYNCD_CONFIG; "
                "docs/config.md and config.example.toml describe the file",
            ) from None
        return from_values({}, None, env)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}", hint="fix the syntax") from None
    except OSError as exc:
        raise ConfigError(
            f"{file}: cannot read the config file: {exc.strerror or exc}",
            hint="a symbolic link on its path leads back to itself: check where the links "
            "point ('ls -l')"
            if exc.errno == errno.ELOOP
            else "check the path and its permissions",
        ) from None
    values, problems = validate(data)
    if problems:
        raise ConfigError(
            f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''} "
            "in the configuration",
            hint="see config.example.toml or docs/config.md for every key",
            problems=tuple(problems),
        )
    return from_values(values, file, env)


# --- rendering ------------------------------------------------------------------------------


def render_example() -> str:
    """``config.example.toml``: every key with its description and default (unset keys
    commented out, with an example value)."""
    out = [
        "# syncd configuration: every key, with its default. Copy this file to",
        "# ~/.config/syncd/config.toml (or point --config / $SYNCD_CONFIG at it) and set at least",
        "# zotero.library_id and the API key. Generated from syncd/config.py (SPEC); a test keeps",
        "# it in step, so edit the spec, then run: python -m syncd.config > config.example.toml",
    ]
    for section in SECTIONS:
        out += ["", f"[{section}]"]
        for key in SPEC:
            if not key.name.startswith(section + "."):
                continue
            short = key.name.split(".", 1)[1]
            out.append("")
            out += [f"# {line}" for line in wrap(key.description)]
            if key.default is None:
                out.append(f"# {short} = {key.example}")
            else:
                out.append(f"{short} = {toml_value(key.default)}")
    out += config_search.render_example()
    return "\n".join(out) + "\n"


def render_reference() -> str:
    """The key table for ``docs/config.md`` (Markdown)."""
    rows = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for key in SPEC:
        default = "(not set)" if key.default is None else toml_value(key.default)
        rows.append(
            f"| `{key.name}` | {key.kind} | `{default}` | {key.description.replace('|', '/')} |"
        )
    rows += config_search.render_reference()
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m syncd.config > config.example.toml`
    import sys

    sys.stdout.write(render_example())
