"""The configuration: validation against the spec, key sources, the example file and the docs."""

from __future__ import annotations

import pickle
import tomllib
from pathlib import Path

import pytest

from syncd import config
from syncd.config import SPEC, Secret, load, render_example
from syncd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
KEY = "abcdefghijklmnopqrstuvwx"
FROM_FILE = "FromFile0123456789abcdef"
FROM_ENV = "FromEnv0123456789abcdefg"
FROM_CRED = "FromCred0123456789abcdef"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path), **extra}


def test_committed_example_is_the_rendering_of_the_spec() -> None:
    committed = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert committed == render_example(), "run: python -m syncd.config > config.example.toml"


def test_example_loads_cleanly_and_sets_every_default(tmp_path: Path) -> None:
    example = write(tmp_path, render_example(), 0o644)
    cfg = load(example, env(tmp_path))
    assert cfg.zotero.library_id is None and cfg.zotero.api_key is None
    assert cfg.dedup.match == ("pmid", "doi") and cfg.dedup.on_duplicate == "merge"
    # Every key with a default is written out (uncommented) in the example.
    data = tomllib.loads(render_example())
    for key in SPEC:
        section, name = key.name.split(".")
        if key.default is not None:
            assert data[section][name] == key.default, key.name
        else:
            assert f"# {name} = " in render_example(), key.name


def test_commented_examples_are_valid_values(tmp_path: Path) -> None:
    # Uncommenting an example line must give a valid config (except the inline key, whose
    # example conflicts with api_key_file by design).
    for key in SPEC:
        if key.default is None and key.name != "zotero.api_key":
            section, name = key.name.split(".")
            data = tomllib.loads(f"[{section}]\n{name} = {key.example}\n")
            _values, problems = config.validate(data)
            assert not problems, (key.name, problems)


def test_docs_list_every_key() -> None:
    docs = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for key in SPEC:
        assert f"`{key.name}`" in docs, f"docs/config.md does not describe {key.name}"
    assert config.render_reference() in docs, "regenerate the table with render_reference()"


def test_all_problems_are_reported_at_once_with_dotted_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[zotero]
library_id = "123x"
library_type = "team"
colection = "X"

[dedup]
match = ["pmid", "isbn"]
include_trash = "yes"

[nope]
a = 1
""",
    )
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    problems = exc.value.problems
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert "'zotero.library_id': must be an integer, not str" in text
    assert "'zotero.library_type': must be one of 'user', 'group'" in text
    assert "'zotero.colection': unknown key" in text and "collection" in text
    assert "'dedup.match': unknown identifier 'isbn'" in text
    assert "'dedup.include_trash': must be true or false" in text
    assert "'nope': unknown section" in text
    assert str(path) in str(exc.value)


def test_bool_is_not_an_integer_and_lists_hold_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "[zotero]\nlibrary_id = true\n[tags]\nextra = ['a', 2]\n")
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    assert len(exc.value.problems) == 2


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[zotero\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path, env(tmp_path))


def test_location_order(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "syncd").mkdir(parents=True)
    (xdg / "syncd" / "config.toml").write_text("[zotero]\nlibrary_id = 1\n")
    other = tmp_path / "other.toml"
    other.write_text("[zotero]\nlibrary_id = 2\n")
    third = tmp_path / "third.toml"
    third.write_text("[zotero]\nlibrary_id = 3\n")
    e = env(tmp_path, XDG_CONFIG_HOME=str(xdg))
    assert load(None, e).zotero.library_id == 1
    assert load(None, {**e, "SYNCD_CONFIG": str(other)}).zotero.library_id == 2
    assert load(third, {**e, "SYNCD_CONFIG": str(other)}).zotero.library_id == 3


def test_missing_default_file_means_defaults_but_explicit_file_must_exist(tmp_path: Path) -> None:
    cfg = load(None, env(tmp_path, XDG_CONFIG_HOME=str(tmp_path / "none")))
    assert cfg.source is None and cfg.zotero.library is None
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "missing.toml", env(tmp_path))
    with pytest.raises(ConfigError, match="no such config file"):
        load(None, env(tmp_path, SYNCD_CONFIG=str(tmp_path / "gone.toml")))


def test_state_path_defaults_under_xdg_state_home(tmp_path: Path) -> None:
    cfg = load(None, env(tmp_path, XDG_STATE_HOME=str(tmp_path / "st")))
    assert cfg.state.path == tmp_path / "st" / "syncd" / "state.db"
    cfg = load(None, env(tmp_path, XDG_STATE_HOME="relative/is/ignored"))
    assert cfg.state.path == tmp_path / ".local" / "state" / "syncd" / "state.db"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[state]\npath = 'db/state.db'\n[watch]\ndirectory = '/abs/in'\n")
    cfg = load(path, env(tmp_path))
    assert cfg.state.path == tmp_path / "db" / "state.db"
    assert cfg.watch.directory == Path("/abs/in")


def test_library_string(tmp_path: Path) -> None:
    path = write(tmp_path, "[zotero]\nlibrary_type = 'group'\nlibrary_id = 42\n")
    assert load(path, env(tmp_path)).zotero.library == "groups/42"


# --- the API key ---------------------------------------------------------------------------


def test_key_sources_in_documented_order(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(FROM_FILE + "\n")
    key_file.chmod(0o600)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "zotero-api-key").write_text(FROM_CRED)
    inline = write(tmp_path, f"[zotero]\napi_key = '{KEY}'\n")
    with_file = tmp_path / "with_file.toml"
    with_file.write_text("[zotero]\napi_key_file = 'key'\n")
    full = env(tmp_path, ZOTERO_API_KEY=FROM_ENV, CREDENTIALS_DIRECTORY=str(creds))

    cfg = load(with_file, full)
    assert cfg.zotero.api_key == Secret(FROM_FILE)
    assert cfg.zotero.api_key_source == f"file {key_file}"
    assert load(inline, full).zotero.api_key == Secret(FROM_ENV)
    no_env = {k: v for k, v in full.items() if k != "ZOTERO_API_KEY"}
    assert load(inline, no_env).zotero.api_key == Secret(FROM_CRED)
    assert load(inline, env(tmp_path)).zotero.api_key == Secret(KEY)
    # A credentials directory without our credential does not count.
    (creds / "zotero-api-key").unlink()
    assert load(inline, no_env).zotero.api_key == Secret(KEY)


def test_both_inline_key_and_key_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"[zotero]\napi_key = '{KEY}'\napi_key_file = 'k'\n")
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    assert "only one" in str(exc.value)
    assert KEY not in str(exc.value)


def test_unreadable_or_empty_key_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[zotero]\napi_key_file = 'missing'\n")
    with pytest.raises(ConfigError, match="cannot read the API key file"):
        load(path, env(tmp_path))
    (tmp_path / "missing").write_text("  \n")
    (tmp_path / "missing").chmod(0o600)
    with pytest.raises(ConfigError, match="is empty"):
        load(path, env(tmp_path))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_inline_key_in_a_readable_file_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path, f"[zotero]\napi_key = '{KEY}'\n", mode)
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    assert "chmod 600" in (exc.value.hint or "")
    assert "api_key_file" in (exc.value.hint or "")
    assert KEY not in str(exc.value) + (exc.value.hint or "")


def test_readable_file_without_inline_key_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "[zotero]\nlibrary_id = 5\n", 0o644)
    assert load(path, env(tmp_path, ZOTERO_API_KEY=KEY)).zotero.api_key == Secret(KEY)


def test_bad_inline_key_is_never_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "[zotero]\napi_key = 12345678\n")
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    assert "12345678" not in str(exc.value)


def test_secret_never_shows_itself() -> None:
    s = Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}"
    assert s.reveal() == KEY
    cfg = config.ZoteroConfig(api_key=s, library_id=1)
    assert KEY not in repr(cfg)
    with pytest.raises(TypeError):
        pickle.dumps(s)


# --- issue 9 §3: the key is checked where it is read, and never shown ----------------------

SECOND_LINE = KEY + "\nsecondline"


@pytest.mark.parametrize(
    ("content", "shape"),
    [
        (SECOND_LINE, "2 lines"),
        (KEY[:20], "20 characters"),
        (KEY[:23] + "é", "other than ASCII"),
        (KEY[:23] + "-", "other than letters and digits"),
        (KEY[:12] + " " + KEY[12:23], "other than letters and digits"),
    ],
)
def test_a_key_that_is_not_24_alphanumerics_is_refused_unseen(
    tmp_path: Path, content: str, shape: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"  {content}\n", encoding="utf-8")
    key_file.chmod(0o600)
    sources = {
        "zotero.api_key_file": ("[zotero]\napi_key_file = 'key'\n", {}),
        "$ZOTERO_API_KEY": ("[zotero]\n", {"ZOTERO_API_KEY": content}),
    }
    for where, (text, extra) in sources.items():
        with pytest.raises(ConfigError) as exc:
            load(write(tmp_path, text), env(tmp_path, **extra))
        text = str(exc.value) + (exc.value.hint or "")
        assert where in text and shape in text and "24 letters and digits" in text
        assert KEY[:12] not in text and "secondline" not in text


def test_surrounding_whitespace_is_not_part_of_the_key(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"\n  {KEY}\t\r\n\n")
    key_file.chmod(0o600)
    path = write(tmp_path, "[zotero]\napi_key_file = 'key'\n")
    assert load(path, env(tmp_path)).zotero.api_key == Secret(KEY)


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        (0o666, "readable and writable by its group and readable and writable by others"),
        (0o644, "readable by its group and readable by others"),
        (0o620, "writable by its group"),
        (0o602, "writable by others"),
        (0o640, "readable by its group"),
    ],
)
def test_a_key_file_others_may_read_or_change_is_refused(
    tmp_path: Path, mode: int, words: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    key_file.chmod(mode)
    path = write(tmp_path, "[zotero]\napi_key_file = 'key'\n")
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    message = str(exc.value)
    assert f"{key_file}: holds the Zotero API key (zotero.api_key_file) but is {words}" in message
    assert f"(mode {mode:o})" in message
    assert exc.value.hint == f"run 'chmod 600 {key_file}'"
    assert KEY not in message


def test_an_inline_key_in_a_writable_config_says_writable(tmp_path: Path) -> None:
    path = write(tmp_path, f"[zotero]\napi_key = '{KEY}'\n", 0o602)
    with pytest.raises(
        ConfigError, match=r"holds an inline zotero\.api_key but is writable by others"
    ):
        load(path, env(tmp_path))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:23120",
        "http://127.8.9.10",
        "http://localhost:8080/",
        "http://[::1]:23120",
        "https://api.zotero.org",
        "https://example.org:8443",
    ],
)
def test_http_only_to_this_machine(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f"[zotero]\napi_url = '{url}'\n")
    assert load(path, env(tmp_path)).zotero.api_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://api.zotero.org", "http://10.0.0.5:23120", "http://[2001:db8::1]/"]
)
def test_plain_http_to_another_machine_is_refused(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f"[zotero]\napi_url = '{url}'\n")
    with pytest.raises(ConfigError) as exc:
        load(path, env(tmp_path))
    assert "'zotero.api_url': plain http://" in str(exc.value)
    assert "unencrypted" in str(exc.value) and "https://" in str(exc.value)
