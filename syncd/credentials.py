"""The systemd credential that holds the API key in the service, and the file it is copied from.

systemd copies ``~/.config/syncd/zotero-api-key`` into the service's private
``$CREDENTIALS_DIRECTORY`` when the service starts (``LoadCredential=`` in the unit), and the
daemon reads the copy. A key written to the file later is not seen until a restart: a reload
(SIGHUP) reads the config again, but the copy stays the old one. :func:`stale_credential` tells.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from syncd.config import CREDENTIAL_NAME, default_key_path


def stale_credential(env: Mapping[str, str] | None = None) -> str | None:
    """A message when this process's credential copy of the key differs from the file it was
    copied from (the user put a new key in the file after the service started); else None,
    also when either cannot be read. The message never holds a key."""
    env = os.environ if env is None else env
    if not (cred_dir := env.get("CREDENTIALS_DIRECTORY")):
        return None
    source = default_key_path(env)
    try:
        copied = (Path(cred_dir) / CREDENTIAL_NAME).read_bytes().strip()
        current = source.read_bytes().strip()
    except OSError:
        return None
    if copied == current:
        return None
    return (
        f"the API key in {source} changed after the service started, but the service reads the "
        "copy systemd made at the start: run 'systemctl --user restart syncd' to use the new key"
    )
