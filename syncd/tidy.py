"""Tidying up after an import, for the daemon: moving a file into a folder under a free name
(never overwriting, also across devices), and desktop notifications through notify-send."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

from syncd.core.text import shorten_name

logger = logging.getLogger(__name__)


def free_name(directory: Path, name: str) -> Path:
    """``directory/name``, or ``name (1)``, ``name (2)``, ... when taken: never overwrite
    (and never a name longer than the file system takes)."""
    target = directory / name
    stem, dot, suffix = name.partition(".")
    n = 0
    while target.exists() or target.is_symlink():
        n += 1
        target = directory / shorten_name(f"{stem} ({n})", dot + suffix)
    return target


def move_file(src: Path, directory: Path) -> Path:
    """Move ``src`` into ``directory`` under a free name (no overwrite, also across devices)."""
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        target = free_name(directory, src.name)
        try:
            os.link(src, target)  # fails if the name was taken meanwhile: never overwrites
        except FileExistsError:
            continue
        except OSError:
            with src.open("rb") as fin, target.open("xb") as fout:
                shutil.copyfileobj(fin, fout)
            shutil.copystat(src, target)
        src.unlink()
        return target


def desktop_notify(summary: str, body: str) -> threading.Thread | None:
    """A desktop notification through notify-send, in the background; never raises."""
    exe = shutil.which("notify-send")
    if exe is None:
        logger.debug("notify-send not found; no desktop notification")
        return None

    def show() -> None:
        try:
            subprocess.run(
                [exe, "--app-name=syncd", summary, body],
                timeout=10,
                check=False,
                capture_output=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            logger.debug("desktop notification failed: %s", exc)

    thread = threading.Thread(target=show, name="syncd-notify", daemon=True)
    thread.start()
    return thread
