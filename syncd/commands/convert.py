"""Show the Zotero items an import would create from MEDLINE exports, without sending anything.

PATH may be export files or folders (the input files in a folder, .nbib, .txt, .medline and
.csv, are read sorted by name). PMID lists and PubMed CSV exports, and PMIDs given with
--pmid N, are fetched from PubMed through NCBI's E-utilities ([pubmed] in the config), so that
you can look at their items first; a PMID that PubMed does not have is a skipped record.
Items go to stdout: a readable summary per record, or with --json the exact
item JSON an import sends to the Zotero Web API (one array, written compactly with an item per
line; --jsonl writes JSON Lines instead, an item per line and nothing else). Problems go to
stderr as file:line: message.

Exit status: 0 every record converted (warnings aside), 1 some records were skipped, 2 an
input could not be used at all (missing or unreadable file, a folder without exports); the
other inputs are still converted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from syncd.errors import EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, InputError

if TYPE_CHECKING:
    from syncd.sources.ids import Inputs

HELP = "show the Zotero items an import would create (nothing is sent)"

_EXPORT_SUFFIXES = (".nbib", ".txt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from syncd.commands import add_config_option
    from syncd.commands.import_ import add_pmid_option
    from syncd.core.mapping import DEFAULT_OPTIONS, MeshPolicy

    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="export file (MEDLINE, PMID list, PubMed CSV) or folder",
    )
    add_pmid_option(parser)
    add_config_option(parser)
    parser.add_argument(
        "--profile",
        choices=("enhanced", "zotero"),
        default=DEFAULT_OPTIONS.profile,
        help="enhanced (default): fixed-up items; zotero: exactly what Zotero's importer makes",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print the item JSON: one array, an item per line"
    )
    output.add_argument(
        "--jsonl", action="store_true", help="print the item JSON as JSON Lines: an item per line"
    )
    parser.add_argument(
        "--mesh",
        choices=[p.value for p in MeshPolicy],
        default=DEFAULT_OPTIONS.mesh.value,
        help="MeSH headings as tags: verbatim, descriptor (default), qualified, major, none",
    )
    parser.add_argument(
        "--no-keywords", action="store_true", help="no tags from author keywords (OT/KW)"
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="add this (manual) tag to every item; repeatable",
    )
    parser.add_argument(
        "--manual-tags",
        action="store_true",
        help="make tags taken from the records manual tags (default: automatic)",
    )
    parser.add_argument(
        "--native-ids",
        action="store_true",
        help="write PMID/PMCID (and DOI on books) as fields: for libraries on Zotero 8",
    )


def run(args: argparse.Namespace) -> int:
    from syncd.commands.import_ import checked_pmids
    from syncd.core.id_files import Listed
    from syncd.core.mapping import MappingOptions, MeshPolicy, map_record
    from syncd.core.records import Problem

    pmids = checked_pmids(args)

    options = MappingOptions(
        profile=args.profile,
        mesh=MeshPolicy(args.mesh),
        keywords=not args.no_keywords,
        extra_tags=tuple(args.tag),
        automatic_tags=not args.manual_tags,
        native_ids=args.native_ids,
    )
    out, err = sys.stdout, sys.stderr
    unusable = skipped = items = warnings = 0
    files: list[Path] = []
    for path in args.paths:
        try:
            files.extend(_export_files(path))
        except InputError as exc:
            _error(err, exc)
            unusable += 1

    writer = _JsonWriter(out, lines=args.jsonl) if args.json or args.jsonl else None
    inputs = _Inputs(args)
    for file in [*files, *([None] if pmids else [])]:
        try:
            for entry in inputs.read(file) if file is not None else inputs.read_pmids(pmids):
                if isinstance(entry, Listed):  # an article that could not be fetched
                    print(f"{entry.where}: {entry.error or entry.pending}", file=err)
                    skipped += 1
                    continue
                if isinstance(entry, Problem):
                    print(_problem_text(entry), file=err)
                    skipped += entry.severity == "error"
                    warnings += entry.severity == "warning"
                    continue
                item, problems = map_record(entry, options)
                for problem in problems:
                    print(_problem_text(problem), file=err)
                warnings += len(problems)
                items += 1
                if writer is not None:
                    writer.add(item)
                else:
                    where = f"{entry.source}:{entry.line}" if entry.line else entry.source
                    _summary(out, items, where, item)
        except InputError as exc:
            _error(err, exc)
            unusable += 1
    inputs.close()
    if writer is not None:
        writer.close()

    read = f"{len(files)} file{'s' * (len(files) != 1)}"
    if pmids:
        read += f", {len(pmids)} PMID{'s' * (len(pmids) != 1)}"
    note = f"{items} item{'s' * (items != 1)} from {read}"
    if skipped:
        note += f", {skipped} record{'s' * (skipped != 1)} skipped"
    if warnings:
        note += f", {warnings} warning{'s' * (warnings != 1)}"
    if unusable:
        note += f", {unusable} input{'s' * (unusable != 1)} unusable"
    print(f"syncd convert: {note}", file=err)
    if unusable:
        return EXIT_FATAL
    return EXIT_PARTIAL if skipped else EXIT_OK


class _Inputs:
    """The reader of convert's inputs: MEDLINE exports as they are; ID inputs fetched from
    PubMed (the config is read only when one needs fetching, so that converting an export
    works without any config)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._inputs: Inputs | None = None

    def _ids(self) -> Inputs:
        if self._inputs is None:
            from syncd.config import load
            from syncd.sources.ids import Inputs

            # A one-shot: NCBI is waited for at most two minutes, then the rest is skipped.
            self._inputs = Inputs(load(self.args.config), None, "", deadline=120.0)
        return self._inputs

    def read(self, path: Path) -> Iterator[Any]:
        from syncd.reading import read_path
        from syncd.sources.registry import kind_of

        kind = kind_of(path)
        if kind is None or not kind.is_id_list:
            return read_path(path)
        return self._ids().read(path, lambda ids: [False] * len(ids))

    def read_pmids(self, pmids: list[str]) -> Iterator[Any]:
        return self._ids().read_pmids(pmids, lambda ids: [False] * len(ids))

    def close(self) -> None:
        if self._inputs is not None:
            self._inputs.close()


def _export_files(path: Path) -> Iterator[Path]:
    """``path`` itself, or the export files in the folder ``path`` (sorted by name)."""
    import syncd.reading

    expand = getattr(syncd.reading, "iter_export_files", None)
    if expand is not None:  # the reader's own rule, when it has one
        found = list(expand([path]))
    elif path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in _EXPORT_SUFFIXES)
    elif path.exists():
        found = [path]
    else:
        raise InputError(f"{path}: no such file or folder", hint="check the path", source=str(path))
    if not found:
        if not path.exists():
            raise InputError(
                f"{path}: no such file or folder", hint="check the path", source=str(path)
            )
        suffixes = getattr(syncd.reading, "EXPORT_SUFFIXES", _EXPORT_SUFFIXES)
        raise InputError(
            f"{path}: no export files ({', '.join(suffixes)}) in this folder",
            hint="save PubMed results with 'Send to: Citation manager' (.nbib)",
            source=str(path),
        )
    yield from found


def _error(err: TextIO, exc: InputError) -> None:
    print(f"syncd: error: {exc}", file=err)
    if exc.hint:
        print(f"  hint: {exc.hint}", file=err)


def _problem_text(problem: Any) -> str:
    if problem.severity == "warning":
        return f"{problem.source}:{problem.line}: warning: {problem.message}"
    return str(problem)


class _JsonWriter:
    """Writes items as JSON while they are made, so that a 10,000-record export starts printing
    at once: one array (``[``, one item per line, ``]``) or, with ``lines``, JSON Lines (one item
    per line, nothing around them).

    Each item is encoded once, compactly: without ``indent`` the json module uses its C
    encoder, which is about 10x faster than the pure-Python path that pretty-printing takes.
    Lines are handed to ``out`` in batches to save a call per item.
    """

    _BATCH = 256

    def __init__(self, out: TextIO, lines: bool = False) -> None:
        self._out = out
        self._lines = lines
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._pending: list[str] = []
        self._count = 0

    def add(self, item: dict[str, Any]) -> None:
        text = self._encode(item)
        if self._lines:
            self._pending.append(text + "\n")
        else:
            self._pending.append(("[\n" if self._count == 0 else ",\n") + text)
        self._count += 1
        if len(self._pending) >= self._BATCH:
            self._flush()

    def _flush(self) -> None:
        self._out.write("".join(self._pending))
        self._pending = []

    def close(self) -> None:
        if not self._lines:
            self._pending.append("[]\n" if self._count == 0 else "\n]\n")
        self._flush()


_TYPE_NAMES = {
    "journalArticle": "Journal article",
    "book": "Book",
    "bookSection": "Book chapter",
    "preprint": "Preprint",
    "report": "Report",
    "thesis": "Thesis",
}


def _summary(out: TextIO, number: int, where: str, item: dict[str, Any]) -> None:
    """One block per record: what a researcher checks before importing."""
    from syncd.core.identity import item_identifiers

    kind = _TYPE_NAMES.get(item["itemType"], item["itemType"])
    lines = [f"[{number}] {kind}  ({where})"]
    title = item.get("title") or item.get("caseName") or item.get("nameOfAct")
    lines.append(f"    {title}" if title else "    (no title)")
    if people := _people(item.get("creators", [])):
        lines.append(f"    {people}")
    if source := _source(item):
        lines.append(f"    {source}")
    ids = item_identifiers(item)
    shown = [f"PMID {ids.pmid}" if ids.pmid else "", f"DOI {ids.doi}" if ids.doi else ""]
    shown.append(ids.pmcid or "")
    lines.append("    " + (" · ".join(s for s in shown if s) or "no PMID or DOI"))
    tags = item.get("tags", [])
    manual = sum(1 for t in tags if not t.get("type"))
    if tags:
        lines.append(
            f"    {len(tags)} tag{'s' * (len(tags) != 1)}"
            + (f" ({manual} manual)" if manual and manual != len(tags) else "")
        )
    out.write("\n".join(lines) + "\n\n")


def _person_short(creator: dict[str, str]) -> str:
    if "name" in creator:
        return creator["name"]
    initials = "".join(p[0] for p in creator.get("firstName", "").replace("-", " ").split() if p)
    return f"{creator.get('lastName', '')} {initials}".strip()


def _people(creators: list[dict[str, str]]) -> str:
    authors = [c for c in creators if c["creatorType"] == "author"]
    shown = authors or creators
    if not shown:
        return ""
    text = _person_short(shown[0])
    if len(shown) == 2:
        text += f", {_person_short(shown[1])}"
    elif len(shown) > 2:
        text += f", et al. ({len(shown)} authors)" if authors else f", et al. ({len(shown)})"
    return text if authors else f"{text} (ed.)"


def _source(item: dict[str, Any]) -> str:
    container = (
        item.get("journalAbbreviation")
        or item.get("publicationTitle")
        or item.get("bookTitle")
        or item.get("repository")
        or item.get("publisher")
        or item.get("institution")
        or item.get("university")
        or ""
    )
    where = ""
    if volume := item.get("volume"):
        where = volume + (f"({item['issue']})" if item.get("issue") else "")
    if pages := item.get("pages"):
        where = f"{where}:{pages}" if where else pages
    return " · ".join(p for p in (container, item.get("date", ""), where) if p)
