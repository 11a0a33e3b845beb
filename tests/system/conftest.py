"""Shared set-up of the system tests: a sandbox with one user and its key, the engine's config
and a quick gateway for the in-process engine tests, and an environment of the test's own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from syncd.config import Config, Secret, StateConfig, ZoteroConfig
from syncd.sandbox import SandboxServer
from syncd.zotero import RetryPolicy, ZoteroGateway

KEY = "SystemTestKey0123456789a"
LIB = "users/1"

Gateway = TypeVar("Gateway", bound=ZoteroGateway)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A running in-memory sandbox with user 1 and the full-access key ``KEY``."""
    with SandboxServer() as server:
        server.add_user(1)
        server.add_key(KEY, 1)
        yield server


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No configuration, key or state from the machine: XDG folders under ``tmp_path``."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    for var in ("SYNCD_CONFIG", "ZOTERO_API_KEY", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    # main() points logging at this test's captured stderr; undo it for the next test.
    root.handlers[:] = handlers
    root.setLevel(level)


def engine_config(sandbox: SandboxServer, db: Path) -> Config:
    """The engine's config for user 1's library in ``sandbox``, its state in ``db``."""
    return Config(
        zotero=ZoteroConfig(library_id=1, api_key=Secret(KEY), api_url=sandbox.url),
        state=StateConfig(db),
    )


def quick_gateway(cls: type[Gateway], sandbox: SandboxServer) -> Gateway:
    """A gateway of class ``cls`` to user 1's library that retries without sleeping."""
    return cls(
        library_type="user",
        library_id=1,
        api_key=KEY,
        api_url=sandbox.url,
        retry=RetryPolicy(max_attempts=3, base_delay=0.01),
        sleep=lambda s: None,
    )
