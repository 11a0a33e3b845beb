"""Shared test set-up: hypothesis profiles and paths to reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"
# One reason for every test that needs the reference data, raised from one line (shared_path):
# pytest's -rs summary then folds all of those skips into one line instead of one per file.
SHARED_MISSING = "reference data ../shared is not available"

# dev: quick local runs; ci: more examples, no deadline (CI machines are shared and noisy);
# deterministic: reproduce a failure exactly.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("deterministic", max_examples=200, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the calling test with :data:`SHARED_MISSING`."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(SHARED_MISSING)
    return path


@pytest.fixture(autouse=True)
def _fresh_library_channels() -> None:
    """Forget the per-library request lock and backoff that gateways share in one process.

    They are keyed by (API URL, library): a later test's sandbox may get the port of an
    earlier one, and must not inherit a ``Backoff`` that test's server asked for.
    """
    from syncd import zotero

    with zotero._CHANNELS_LOCK:
        zotero._CHANNELS.clear()
