"""The user docs stay usable: every page is in the index, every relative link leads to a file,
no page or ``--help`` text cites internal work items or reference data outsiders do not have,
and every message docs/troubleshooting.md quotes is one syncd can print."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SYNCD = ROOT / "syncd"
# The pages a user reads (CONTRIBUTING.md may name ../shared: it is for contributors).
USER_PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
PAGES = [*USER_PAGES, ROOT / "CONTRIBUTING.md"]

# "issue 8 §1", "issue §2", "(issue 10)", "stop 3", "§5", "../shared/...", "shared/conformance"
INTERNAL = re.compile(r"\bissue\s*(?:\d|§)|§\s*\d|\bstop\s+\d|\.\./shared|(?<![\w/.-])shared/")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("page", USER_PAGES, ids=_ids(USER_PAGES))
def test_user_pages_cite_no_internal_work_items(page: Path) -> None:
    found = [
        f"{page.name}:{n}: {line.strip()}"
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if INTERNAL.search(line)
    ]
    assert not found, "\n".join(found)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_help_texts_cite_no_internal_work_items() -> None:
    helps = {p.prog: p.format_help() for p in _parsers(build_parser())}
    assert len(helps) > 8  # syncd, its commands, and service's own subcommands
    found = [f"{prog}: {line}" for prog, text in helps.items() for line in text.splitlines()]
    assert not [line for line in found if INTERNAL.search(line)]


def test_the_docs_index_has_one_line_for_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    # One list item a page, its link first.
    listed = [_LINK.findall(line)[0] for line in index.splitlines() if line.startswith("* [")]
    assert sorted(listed) == pages


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_relative_links_lead_to_files(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


# ---- the quoted messages ------------------------------------------------------------------

_WILD = None  # a value filled in at run time
_PERCENT = re.compile(r"%(?:\.\d+)?[sdrf]")  # logging's placeholders
# How a message reaches the user: before the message itself (see syncd.cli.main, doctor).
_PREFIXES = re.compile(r"^(?:syncd: error: |syncd: |\s*hint: |\[(?:ok  |FAIL)\] [^:]+: |\s*fix: )")
_MIN_LITERAL = 10  # a template must say this much itself ("%s" or "{name}: {x}" say nothing)


def _pieces(node: ast.AST) -> list[str | None] | None:
    """A string expression as its literal pieces, None for each value filled in at run time."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else _WILD for v in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pieces(node.left), _pieces(node.right)
        if left is None and right is None:
            return None
        return (left or [_WILD]) + (right or [_WILD])
    return None


def _pattern(pieces: list[str | None]) -> re.Pattern[str] | None:
    parts: list[str] = []
    literal = 0
    for i, piece in enumerate(pieces):
        if piece is None:
            parts.append(".*?")
            continue
        # (a prefix says nothing either: "syncd: error: {exc}" would match any error)
        said = _PREFIXES.sub("", piece) if i == 0 else piece
        literal += len(re.sub(r"\s|" + _PERCENT.pattern, "", said))
        parts.append(".*?".join(re.escape(s) for s in _PERCENT.split(piece)))
    return re.compile("".join(parts), re.DOTALL) if literal >= _MIN_LITERAL else None


def _templates() -> list[re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for path in sorted(SYNCD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pieces = _pieces(node)
            pattern = _pattern(pieces) if pieces else None
            if pattern is not None:
                found.setdefault(pattern.pattern, pattern)
    return list(found.values())


def _quoted_lines() -> list[str]:
    """The lines of every ```text block of docs/troubleshooting.md (the quoted messages)."""
    lines, inside = [], False
    for line in (DOCS / "troubleshooting.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line == "```text"
        elif inside and line.strip():
            lines.append(line)
    return lines


def _candidates(line: str) -> Iterator[str]:
    """The line, without its prefix, and each of its tails after a ": " (a message carried
    inside another: "fatal: ...", "PATH: ...")."""
    text = _PREFIXES.sub("", line)
    yield line
    yield text
    yield text.strip()
    for m in re.finditer(": ", text):
        yield text[m.end() :]


def test_troubleshooting_quotes_only_messages_syncd_prints() -> None:
    templates = _templates()
    quoted = _quoted_lines()
    assert len(quoted) > 40
    unknown = [
        line
        for line in quoted
        if not any(t.fullmatch(c) for c in _candidates(line) for t in templates)
    ]
    assert not unknown, "quoted in docs/troubleshooting.md, printed nowhere:\n" + "\n".join(unknown)


def test_a_reworded_message_is_noticed() -> None:
    # The check above can fail: a message syncd does not print matches no template.
    templates = _templates()
    line = "syncd: error: Zotero refused the API key for library users/1 (Invalid key)"
    assert not any(t.fullmatch(c) for c in _candidates(line) for t in templates)
    real = line.replace("refused", "rejected")
    assert any(t.fullmatch(c) for c in _candidates(real) for t in templates)
