"""The ``[pubmed]`` section of the configuration: where NCBI's E-utilities are and how syncd
introduces itself to them (``tool``, ``email``, the optional NCBI API key).

Its keys join :data:`syncd.config.SPEC` (so validation, ``config.example.toml`` and the docs
table cover them like every other key); :func:`pubmed_from_values` builds the frozen
:class:`PubmedConfig` that :class:`syncd.pubmed.eutils.Eutils` is made from.

The NCBI key, first found wins: ``pubmed.api_key_file`` (a file holding only the key, private
to its owner like the Zotero key's file), then ``$NCBI_API_KEY``. Without one syncd keeps to
NCBI's 3 requests per second; with one, 10.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.config_keys import Key, Secret, _check_private, _url
from syncd.errors import ConfigError

DEFAULT_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
NCBI_KEY_ENV = "NCBI_API_KEY"
_NCBI_KEY = re.compile(r"[A-Za-z0-9]{8,64}")
_KEY_HINT = (
    "copy the key from your NCBI account settings (https://account.ncbi.nlm.nih.gov/settings/, "
    "'API Key Management'); a key file holds only the key, on one line"
)


def _tool(value: Any) -> str | None:
    # NCBI: "Value must be a string with no internal spaces".
    if not value or re.search(r"\s", value):
        return f"must be one word without spaces (NCBI asks so), not {value!r}"
    return None


def _email(value: Any) -> str | None:
    if not re.fullmatch(r"[^\s@]+@[^\s@]+", value):
        return f"must be an e-mail address, not {value!r}"
    return None


PUBMED_SPEC: tuple[Key, ...] = (
    Key(
        "pubmed.eutils_url",
        "str",
        DEFAULT_EUTILS_URL,
        "NCBI's E-utilities, which syncd asks for the PubMed records of PMID lists, PubMed "
        "CSV files and --pmid. Point it at a local double (`syncd sandbox --eutils`) for "
        "trials. Plain http:// is refused except to this machine (localhost, 127.0.0.0/8, "
        "::1), as it would send the NCBI key unencrypted.",
        _url,
    ),
    Key(
        "pubmed.api_key_file",
        "path",
        None,
        "A file holding only your NCBI API key, readable and writable by you only (chmod 600), "
        "or syncd refuses it. With a key syncd may send 10 requests per second to NCBI instead "
        "of 3. Relative paths are relative to this file. Not set: the key comes from "
        "$NCBI_API_KEY, else syncd goes without one. The key is never shown or logged.",
        example='"~/.config/syncd/ncbi-api-key"',
    ),
    Key(
        "pubmed.email",
        "str",
        None,
        "Your e-mail address, sent with every request as NCBI asks, so that NCBI can reach you "
        "before blocking a misbehaving client. Not set: none is sent.",
        _email,
        example='"you@example.org"',
    ),
    Key(
        "pubmed.tool",
        "str",
        "syncd",
        "The program's name sent with every request to NCBI (one word).",
        _tool,
    ),
)


@dataclass(frozen=True)
class PubmedConfig:
    eutils_url: str = DEFAULT_EUTILS_URL
    api_key: Secret | None = field(default=None, repr=False)
    api_key_source: str | None = None  # where the key came from, for `syncd doctor`
    email: str | None = None
    tool: str = "syncd"


def _read_key(path: Path) -> Secret:
    what = f"pubmed.api_key_file: the NCBI API key file {path}"
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} does not hold an NCBI API key: it is not text") from None
    except OSError as exc:
        raise ConfigError(
            f"pubmed.api_key_file: cannot read the NCBI API key file {path}: {exc.strerror or exc}",
            hint="create it with only the key inside (chmod 600), or fix the path",
        ) from None
    return checked_key(raw, what)


def checked_key(raw: str, where: str) -> Secret:
    """``raw`` stripped, as a Secret, or a ConfigError naming ``where`` (never the key)."""
    key = raw.strip()
    if not key:
        raise ConfigError(f"{where} is empty", hint=_KEY_HINT)
    if not _NCBI_KEY.fullmatch(key):
        shape = (
            f"it has {len(key.splitlines())} lines"
            if len(key.splitlines()) > 1
            else f"it has {len(key)} characters, not only letters and digits"
            if not key.isalnum()
            else f"it has {len(key)} characters"
        )
        raise ConfigError(
            f"{where} does not hold an NCBI API key: {shape}; a key is one line of letters "
            "and digits",
            hint=_KEY_HINT,
        )
    return Secret(key)


def pubmed_from_values(
    values: Mapping[str, Any], config_file: Path | None, env: Mapping[str, str] | None = None
) -> PubmedConfig:
    """The ``[pubmed]`` section from validated values (defaults from :data:`PUBMED_SPEC`)."""
    env = os.environ if env is None else env
    defaults = {k.name: k.default for k in PUBMED_SPEC}

    def get(name: str) -> Any:
        return values.get(name, defaults[name])

    key: Secret | None = None
    source: str | None = None
    if (raw_path := get("pubmed.api_key_file")) is not None:
        path = Path(raw_path).expanduser()
        if not path.is_absolute():
            path = (config_file.parent if config_file else Path.cwd()) / path
        key = _read_key(path)
        _check_private(path, "the NCBI API key (pubmed.api_key_file)", "")
        source = f"file {path}"
    elif env.get(NCBI_KEY_ENV, "").strip():
        key, source = checked_key(env[NCBI_KEY_ENV], f"${NCBI_KEY_ENV}"), f"${NCBI_KEY_ENV}"
    return PubmedConfig(
        eutils_url=str(get("pubmed.eutils_url")).rstrip("/"),
        api_key=key,
        api_key_source=source,
        email=get("pubmed.email"),
        tool=get("pubmed.tool"),
    )
