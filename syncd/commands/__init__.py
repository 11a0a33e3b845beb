"""The sub-commands of ``syncd``: one module each (see :mod:`syncd.cli`), and what they share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``, as every command that reads the configuration takes it."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config file (default: $SYNCD_CONFIG, else $XDG_CONFIG_HOME/syncd/config.toml)",
    )
