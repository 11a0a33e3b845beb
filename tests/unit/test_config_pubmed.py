"""The [pubmed] section: its keys in the spec, the NCBI key's sources and checks (never shown)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load
from syncd.config_pubmed import DEFAULT_EUTILS_URL
from syncd.errors import ConfigError

KEY = "abcdef0123456789abcdef0123456789ab12"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_a_section(tmp_path: Path) -> None:
    config = load(write(tmp_path, ""), env={"HOME": str(tmp_path)})
    assert config.pubmed.eutils_url == DEFAULT_EUTILS_URL
    assert (config.pubmed.tool, config.pubmed.email, config.pubmed.api_key) == ("syncd", None, None)


def test_key_from_a_private_file_and_never_in_the_repr(tmp_path: Path) -> None:
    key_file = tmp_path / "ncbi-key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    body = f'[pubmed]\napi_key_file = "{key_file.name}"\nemail = "me@example.org"\n'
    config = load(write(tmp_path, body), env={"HOME": str(tmp_path), "NCBI_API_KEY": "x" * 20})
    assert config.pubmed.api_key is not None and config.pubmed.api_key.reveal() == KEY
    assert config.pubmed.api_key_source == f"file {key_file}"
    assert KEY not in repr(config)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "ncbi-key"
    key_file.write_text(KEY)
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others") as err:
        load(write(tmp_path, f'[pubmed]\napi_key_file = "{key_file}"\n'), env={})
    assert KEY not in str(err.value) + (err.value.hint or "")


def test_key_from_the_environment_and_a_bad_one_is_not_echoed(tmp_path: Path) -> None:
    config = load(write(tmp_path, ""), env={"NCBI_API_KEY": f"  {KEY}\n"})
    assert config.pubmed.api_key is not None and config.pubmed.api_key.reveal() == KEY
    assert config.pubmed.api_key_source == "$NCBI_API_KEY"
    bad = "not a key; " + KEY
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, ""), env={"NCBI_API_KEY": bad})
    assert bad not in str(err.value) and KEY not in str(err.value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('eutils_url = "http://eutils.example.org/e"', "plain http"),
        ('tool = "my tool"', "one word"),
        ('email = "nobody"', "e-mail"),
        ("retries = 3", "unknown key"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, f"[pubmed]\n{body}\n"), env={})
    assert problem in str(err.value)


def test_plain_http_to_this_machine_is_allowed(tmp_path: Path) -> None:
    body = '[pubmed]\neutils_url = "http://127.0.0.1:23121/entrez/eutils/"\n'
    assert load(write(tmp_path, body), env={}).pubmed.eutils_url.endswith("/entrez/eutils")
