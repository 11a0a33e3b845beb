"""The pure core stays pure: it imports nothing that does I/O, and nothing from the edges."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "syncd" / "core"

# Modules whose import would let the core touch files, sockets, databases, clocks or loggers.
FORBIDDEN = {
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "sqlite3",
    "socket",
    "ssl",
    "http",
    "urllib",
    "httpx",
    "httpx2",
    "pyzotero",
    "watchdog",
    "logging",
    "time",
    "datetime",
    "random",
    "subprocess",
    "threading",
    "asyncio",
    "signal",
    "sys",
    "tomllib",
}
ALLOWED_SYNCD = ("syncd.core", "syncd.errors")


def _core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_module_imports_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.name} imports {name}"
            if top == "syncd":
                assert name.startswith(ALLOWED_SYNCD), f"{path.name} imports the edge {name}"


def test_core_has_modules() -> None:
    # Guards against the parametrised test above silently collecting nothing.
    assert len(_core_files()) >= 3
