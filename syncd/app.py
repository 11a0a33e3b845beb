"""Wiring: builds what the commands run on from the config, in one place.

The engine and the daemon know only :class:`~syncd.targets.base.Target`; which target a config
names, and how it is built (retries for a one-shot import, short ones for the daemon, whose own
backoff takes over), is decided here for ``import``, ``run`` and ``doctor`` alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from syncd.config import Config
from syncd.errors import ConfigError
from syncd.targets.base import Target

IGNORED = (
    "%s: ignored with zotero.target = 'desktop' (the Zotero app writes to My Library on this "
    "computer)"
)


def target_for(
    config: Config, *, sleep: Callable[[float], object] = time.sleep, daemon: bool = False
) -> Target:
    """The target ``config`` names, waiting with ``sleep`` (a daemon passes a wait that its
    stop request interrupts). ``daemon``: a few quick retries per request, as the daemon's own
    schedule (up to ``watch.retry_max_seconds``, for as long as it takes) retries beyond them."""
    from syncd.zotero import RetryPolicy, ZoteroGateway

    z = config.zotero
    if z.target == "desktop":
        return desktop_target(config, sleep=sleep, daemon=daemon)
    if z.library_id is None or z.api_key is None:
        raise ConfigError(
            "no Zotero library is configured",
            hint="set zotero.library_id and an API key (see 'syncd doctor')",
        )
    retry = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=15.0) if daemon else RetryPolicy()
    return ZoteroGateway(
        library_type=z.library_type,
        library_id=z.library_id,
        api_key=z.api_key.reveal(),
        api_url=z.api_url,
        retry=retry,
        sleep=sleep,
    )


def desktop_target(
    config: Config, *, sleep: Callable[[float], object] = time.sleep, daemon: bool = False
) -> Target:
    """The Zotero app named by ``config`` (``target = "desktop"``), with the key that
    ``syncd setup --desktop`` stored. It asks the app which database and user it has now;
    when Zotero is not running, the stored Server-ID stands until it is."""
    from syncd.config import DESKTOP_KEY_NAME
    from syncd.errors import RemoteError
    from syncd.targets.desktop import DesktopTarget
    from syncd.targets.desktop_auth import read_desktop_key

    z = config.zotero
    if z.ignored:
        logging.getLogger(__name__).warning(IGNORED, ", ".join(z.ignored))
    # In the service, systemd's copy of the key file (LoadCredential=); in a shell, the file.
    copy = Path(os.environ.get("CREDENTIALS_DIRECTORY") or "/nonexistent") / DESKTOP_KEY_NAME
    key = read_desktop_key(copy if copy.is_file() else z.desktop_key_file)
    target = DesktopTarget(
        z.desktop_url,
        key,
        key_file=z.desktop_key_file,
        attempts=3 if daemon else 5,
        sleep=sleep,
        group=z.desktop_group,
    )
    # Whatever is wrong (Zotero closed, too old) is said by check_access, where the engine and
    # the daemon expect it.
    with contextlib.suppress(RemoteError):
        target.connect()
    return target
