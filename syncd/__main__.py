"""``python -m syncd``: the same entry point as the ``syncd`` console script."""

from __future__ import annotations

import sys

from syncd.cli import main

sys.exit(main())
