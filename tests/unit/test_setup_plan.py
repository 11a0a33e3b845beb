"""The decisions of `syncd setup` (syncd/core/setup_plan.py): what a key may write, which
library is refused and with what hint, and the config written (only what differs from the
defaults, merged into an existing one, valid TOML)."""

from __future__ import annotations

import datetime
import tomllib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from syncd.config import validate
from syncd.core.setup_plan import (
    DESKTOP_KEYS,
    KEY_LOCATIONS,
    WEB_KEYS,
    WebAnswers,
    collection_names,
    key_rights,
    libraries,
    merged,
    parse_library,
    pick_library,
    render_toml,
    web_values,
    writable,
)
from syncd.errors import UsageError

# GET /keys/current as zotero-api.md 2.5 shows it (the recorded server's answer, with groups).
FULL = {
    "key": "x",
    "userID": 7,
    "username": "ada",
    "access": {
        "user": {"library": True, "files": True, "notes": True, "write": True},
        "groups": {
            "all": {"library": True, "write": True},
            "456": {"library": True, "write": False},
        },
    },
}
GROUPS = [
    {"id": 456, "data": {"id": 456, "name": "Read-only lab"}},
    {"id": 123, "data": {"id": 123, "name": "Journal club"}},
]


def test_key_rights_and_the_libraries_in_order() -> None:
    rights = key_rights(FULL)
    assert (rights.user_id, rights.username, rights.user_write) == (7, "ada", True)
    choices = libraries(rights, GROUPS)
    assert [(c.flag, c.can_write) for c in choices] == [
        ("user", True),
        ("group:123", True),  # by name: "Journal club" before "Read-only lab"
        ("group:456", False),  # its own entry wins over "all"
    ]
    assert [c.path for c in writable(choices)] == ["users/7", "groups/123"]
    assert choices[1].label == "group 'Journal club' (group:123, read/write)"


def test_missing_access_parts_mean_no_access() -> None:
    # zotero-api.md 2.5: access.user / access.groups are left out when empty.
    rights = key_rights({"userID": 7, "username": "ada", "access": {}})
    choices = libraries(rights, GROUPS)
    assert not any(c.can_read or c.can_write for c in choices)


def test_a_read_only_my_library_is_refused_with_what_to_tick() -> None:
    rights = key_rights({"userID": 7, "access": {"user": {"library": True}}})
    with pytest.raises(UsageError) as info:
        pick_library(libraries(rights, []), "user", None, rights)
    assert "cannot write to My Library" in info.value.message
    assert "Allow write access" in (info.value.hint or "")
    assert "zotero.org/settings/keys" in (info.value.hint or "")


def test_a_read_only_group_and_a_foreign_group_are_refused() -> None:
    rights = key_rights(FULL)
    choices = libraries(rights, GROUPS)
    with pytest.raises(UsageError, match="cannot write to group 'Read-only lab'") as ro:
        pick_library(choices, "group", 456, rights)
    assert "Read/Write" in (ro.value.hint or "")
    with pytest.raises(UsageError, match="group 999 is not one of the groups") as foreign:
        pick_library(choices, "group", 999, rights)
    assert "group:123" in (foreign.value.hint or "")
    assert pick_library(choices, "group", 123, rights).name == "Journal club"


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [("user", ("user", None)), ("group:42", ("group", 42)), (" GROUP:7 ", ("group", 7))],
)
def test_library_flag(spec: str, parsed: tuple[str, int | None]) -> None:
    assert parse_library(spec) == parsed


@pytest.mark.parametrize("spec", ["group", "group:", "group:0", "groups/5", "42", "me"])
def test_library_flag_refused(spec: str) -> None:
    with pytest.raises(UsageError, match="not a library"):
        parse_library(spec)


def test_only_what_differs_from_the_defaults_is_written() -> None:
    rights = key_rights(FULL)
    mine = libraries(rights, [])[0]
    assert web_values(WebAnswers(mine)) == {"zotero.library_id": 7}
    group = libraries(rights, GROUPS)[1]
    values = web_values(WebAnswers(group, "http://127.0.0.1:1", "A/B", "/data/in"))
    assert values == {
        "zotero.library_type": "group",
        "zotero.library_id": 123,
        "zotero.api_url": "http://127.0.0.1:1",
        "zotero.collection": "A/B",
        "watch.directory": "/data/in",
    }


def test_merged_keeps_other_settings_and_drops_the_old_key_locations() -> None:
    existing = {
        "zotero": {
            "library_id": 1,
            "collection": "Old",
            "api_key_file": "/old",
            "native_ids": "extra",
        },
        "watch": {"directory": "/old/in"},
        "tags": {"extra": ["x"]},
        "search": [{"name": "s", "query": "q"}],
    }
    new = merged(existing, {"zotero.library_id": 2}, WEB_KEYS + KEY_LOCATIONS)
    assert new == {
        "zotero": {"native_ids": "extra", "library_id": 2},
        "tags": {"extra": ["x"]},
        "search": [{"name": "s", "query": "q"}],
    }
    assert existing["zotero"]["collection"] == "Old"  # the input is left alone


def test_rendered_config_is_valid_for_syncd() -> None:
    document = {
        "tags": {"extra": ['a "quoted" tag', "ü\\n"]},
        "zotero": {"library_id": 5, "collection": "Parent/Child"},
        "search": [{"name": "s", "query": "a AND b", "every_hours": 24, "since": "2020-01-01"}],
    }
    text = render_toml(document)
    assert text.index("[zotero]") < text.index("[tags]")
    parsed = tomllib.loads(text)
    assert parsed == document
    values, problems = validate(parsed)
    assert problems == [] and values["zotero.library_id"] == 5


def test_dates_read_by_tomllib_are_written_back_as_dates() -> None:
    text = render_toml({"x": {"when": datetime.date(2020, 1, 2)}})
    assert tomllib.loads(text) == {"x": {"when": datetime.date(2020, 1, 2)}}


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
@example('a\x7fb\x00\n\t"\\')
def test_any_string_survives_the_round_trip(value: str) -> None:
    assert (
        tomllib.loads(render_toml({"zotero": {"collection": value}}))["zotero"]["collection"]
        == value
    )


def test_collection_names_leave_out_the_trash() -> None:
    rows = [
        {"data": {"name": "b"}},
        {"data": {"name": "A"}},
        {"data": {"name": "gone", "deleted": True}},
        {"data": {}},
    ]
    assert collection_names(rows) == ["A", "b"]


def test_the_two_targets_replace_each_other_in_a_config() -> None:
    """A desktop setup drops the web's library and server (ignored with the app) but keeps a
    web key file for a return; a web setup drops the desktop keys (the target is the web)."""
    web = {
        "zotero": {"library_id": 5, "api_url": "http://127.0.0.1:1", "api_key_file": "/k"},
        "tags": {"extra": ["kept"]},
    }
    desktop = merged(web, {"zotero.target": "desktop"}, DESKTOP_KEYS)
    assert desktop == {
        "zotero": {"api_key_file": "/k", "target": "desktop"},
        "tags": {"extra": ["kept"]},
    }
    with_url = {**desktop, "zotero": {**desktop["zotero"], "desktop_url": "http://[::1]:9"}}
    back = merged(with_url, {"zotero.library_id": 5}, WEB_KEYS + KEY_LOCATIONS)
    assert back == {"zotero": {"library_id": 5}, "tags": {"extra": ["kept"]}}
