"""The sub-commands of ``syncd``: one module each (see :mod:`syncd.cli`), and what they share."""

from __future__ import annotations

import argparse
from pathlib import Path

from syncd.core.text import shown


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, as every command that reads the configuration takes it."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config file (default: $SYNCD_CONFIG, else $XDG_CONFIG_HOME/syncd/config.toml)",
    )


def say(line: str = "") -> None:
    """Print one line for a person: names from the Downloads folder in it are escaped (see
    :func:`syncd.core.text.shown`), so a name cannot forge a line or turn text around."""
    print(shown(line))
