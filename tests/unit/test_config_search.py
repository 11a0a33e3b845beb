"""``[[search]]`` tables in the config: defaults, checks that name the search and the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from syncd import config
from syncd.config_search import SearchConfig
from syncd.errors import ConfigError


def _load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return config.load(path, {"HOME": str(tmp_path)})


def _problems(tmp_path: Path, text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, text)
    return exc.value.problems


def test_a_search_gets_the_documented_defaults(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[[search]]\nname = "k"\nquery = "ketamine"\n')
    assert cfg.searches == (SearchConfig(name="k", query="ketamine"),)
    s = cfg.searches[0]
    assert (s.every_hours, s.overlap_days, s.full_every_days, s.enabled) == (24.0, 7, 30, True)
    assert s.since is None and s.collection is None and s.tags == ()


def test_every_key_is_read(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        """
[tags]
extra = ["pubmed"]

[[search]]
name = " ketamine "
query = "ketamine AND depression"
collection = "Ketamine alerts"
tags = ["alert:ketamine", " ", "alert:ketamine"]
every_hours = 6
overlap_days = 3
full_every_days = 10
since = 2025-01-01
enabled = false

[[search]]
name = "b"
query = "b"
since = "2024-02-29"
""",
    )
    a, b = cfg.searches
    assert a == SearchConfig(
        "ketamine",
        "ketamine AND depression",
        "Ketamine alerts",
        ("alert:ketamine",),
        6.0,
        3,
        10,
        "2025-01-01",
        False,
    )
    assert b.since == "2024-02-29"
    assert cfg.tags.extra == ("pubmed",)  # search tags are added to these, not instead


def test_problems_name_the_search_and_the_key(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
[[search]]
name = "k"
query = "q"
every_hours = 0
since = "2025-02-30"
colection = "x"

[[search]]
query = "no name"
overlap_days = -1

[[search]]
name = "k"
query = ""
enabled = "yes"
""",
    )
    text = "\n".join(problems)
    assert "[[search]] 'k': 'every_hours': must be greater than 0" in text
    assert "[[search]] 'k': 'since': must be a day of the calendar" in text
    assert "[[search]] 'k': 'colection': unknown key" in text
    assert "[[search]] #2: 'name': missing" in text
    assert "[[search]] #2: 'overlap_days': must be 0 or more" in text
    assert "[[search]] 'k': 'name': used by search #1 too" in text
    assert "[[search]] 'k': 'query': must not be empty" in text
    assert "[[search]] 'k': 'enabled': must be true or false, not str" in text


def test_search_must_be_an_array_of_tables(tmp_path: Path) -> None:
    assert "must be tables written [[search]]" in _problems(tmp_path, '[search]\nname = "x"\n')[0]


def test_the_example_block_is_a_valid_search_once_uncommented() -> None:
    text = "\n".join(config.render_example().split("# Uncomment and edit to add one.")[1:])
    lines = [ln[2:] for ln in text.splitlines() if re.match(r"# (\[\[search\]\]$|\w+ = )", ln)]
    tables, problems = config.validate(tomllib.loads("\n".join(lines)))
    assert not problems
    assert config.from_values(tables, None, {"HOME": "/nonexistent"}).searches[0].name == "ketamine"


def test_docs_list_every_search_key() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text("utf-8")
    for row in config.config_search.render_reference():
        assert row in docs
