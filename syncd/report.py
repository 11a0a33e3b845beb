"""The report of an import run: what became of every record and of every input.

:class:`Report` is what ``syncd import`` prints (and ``--json`` dumps), what the daemon logs per
file and what the history rows are made from. The counts add up: every record read has exactly
one outcome (``new + duplicates + failed + pending == records``), and each input's
:class:`FileReport` holds its share (:func:`count_files`), so the per-file line, the summary,
``--json`` and ``syncd status`` agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncd.core.records import Problem
from syncd.core.text import shorten_name
from syncd.errors import InputError


@dataclass
class Entry:
    """One record in the report: where it is, the item key concerned, and why."""

    where: str
    key: str | None = None
    reason: str = ""
    pmid: str | None = None
    uncertain: bool = False
    """Created under its planned key, but the answer to this process's write was lost (or the
    row was left pending by an interrupted run): another writer may have created it at the
    same moment under the same key."""
    outcome: str = ""
    """In ``recovered`` only: created | duplicate | failed | pending."""

    @property
    def source(self) -> str:
        """The input the record came from (``where`` without its line)."""
        return self.where.rsplit(":", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "where": self.where,
            "key": self.key,
            "reason": self.reason,
            "pmid": self.pmid,
        }
        if self.uncertain:
            out["uncertain"] = True
        if self.outcome:
            out["outcome"] = self.outcome
        return out


@dataclass
class FileReport:
    """What became of one input in one run: the per-file line, the history row and the
    ``files`` array of ``--json`` all read these counts, so they cannot disagree."""

    path: str
    records: int = 0
    outcome: str = "imported"  # imported | unchanged | partial | unreadable
    detail: str = ""
    new: int = 0
    uncertain: int = 0
    """Of ``new``: created under the planned key after a lost answer or a crash."""
    duplicates: int = 0
    completed: int = 0
    """Of ``duplicates``: records that completed the item syncd had created for them."""
    merged: int = 0
    failed: int = 0
    unreadable: int = 0
    """Records that could not be read (each in ``errors`` with its line)."""
    sha256: str | None = None
    hint: str = ""
    """For an unreadable file: how to get a usable one (the hint of its error)."""
    errors: tuple[str, ...] = ()
    """``FILE:LINE: message`` of each failed or unreadable record (the ``.errors.txt``)."""
    recorded: bool = False
    """The session wrote this input's ``files`` and ``history`` rows."""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("errors", "recorded")}


def file_error(source: str, exc: InputError) -> FileReport:
    """An unusable file's report: the cause once, without the name the path already gives."""
    detail = exc.message.removeprefix(f"{source}: ")
    return FileReport(source, 0, "unreadable", detail, hint=exc.hint or "")


@dataclass
class Report:
    library: str
    dry_run: bool = False
    files: list[FileReport] = field(default_factory=list)
    created: list[Entry] = field(default_factory=list)
    recovered: list[Entry] = field(default_factory=list)
    duplicates: list[Entry] = field(default_factory=list)
    possible_duplicates: list[Entry] = field(default_factory=list)
    """Created articles that share a DOI with another item or record whose title differs
    (already counted among ``created``): worth a look in Zotero."""
    merged: list[str] = field(default_factory=list)
    completed: list[Entry] = field(default_factory=list)
    """Duplicates (already counted among ``duplicates``) that completed the item syncd had
    created for their article: the fields filled are in each entry's reason."""
    failed: list[Entry] = field(default_factory=list)
    pending: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    records_read: int = 0
    collection: str | None = None
    collection_name: str | None = None
    gave_up: str | None = None
    """Why the import stopped sending (other writers kept changing the library), or None."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def unusable_files(self) -> list[FileReport]:
        """Files that could not be used at all (unreadable, empty, not an export)."""
        return [f for f in self.files if f.outcome == "unreadable"]

    @property
    def exit_code(self) -> int:
        """0 when everything went in; 1 when some records failed, could not be read, or were
        left pending (to be settled by the next run); 2 when a file could not be used at all
        (the README's "unusable input", as ``syncd convert`` says it; the other files went in)."""
        if self.unusable_files:
            return 2
        bad = (
            self.failed
            or self.pending
            or self.errors
            or any(e.outcome in ("failed", "pending") for e in self.recovered)
        )
        return 1 if bad else 0

    def counts(self) -> dict[str, int]:
        """Every record read in this run has exactly one outcome:
        ``new + duplicates + failed + pending == records``. ``uncertain`` counts the ``new``
        ones whose write lost its answer (another writer may have made them); ``recovered``
        counts rows of earlier runs settled now whose records were not read in this run;
        ``completed`` counts the ``duplicates`` that completed syncd's item for them."""
        return {
            "files": len(self.files),
            "unusable_files": len(self.unusable_files),
            "records": self.records_read,
            "new": len(self.created),
            "uncertain": sum(1 for e in self.created if e.uncertain),
            "recovered": len(self.recovered),
            "duplicates": len(self.duplicates),
            "possible_duplicates": len(self.possible_duplicates),
            "merged": len(self.merged),
            "completed": len(self.completed),
            "failed": len(self.failed),
            "pending": len(self.pending),
            "problems": len(self.problems),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "dry_run": self.dry_run,
            "collection": self.collection,
            "collection_name": self.collection_name,
            "counts": self.counts(),
            "files": [f.as_dict() for f in self.files],
            "created": [e.as_dict() for e in self.created],
            "recovered": [e.as_dict() for e in self.recovered],
            "duplicates": [e.as_dict() for e in self.duplicates],
            "possible_duplicates": [e.as_dict() for e in self.possible_duplicates],
            "merged": list(self.merged),
            "completed": [e.as_dict() for e in self.completed],
            "failed": [e.as_dict() for e in self.failed],
            "pending": [e.as_dict() for e in self.pending],
            "gave_up": self.gave_up,
            "problems": [
                {"where": f"{p.source}:{p.line}", "message": p.message, "severity": p.severity}
                for p in self.problems
            ],
        }


def problems_detail(failed: int, unreadable_lines: list[int]) -> str:
    """What went wrong in a partly imported file: ``1 record failed; 2 records could not be
    read (lines 12, 40)``."""
    parts = []
    if failed:
        parts.append(f"{failed} record{'' if failed == 1 else 's'} failed")
    if unreadable_lines:
        n = len(unreadable_lines)
        lines = ", ".join(str(x) for x in unreadable_lines[:5]) + (", ..." if n > 5 else "")
        parts.append(
            f"{n} record{'' if n == 1 else 's'} could not be read "
            f"(line{'' if n == 1 else 's'} {lines})"
        )
    return "; ".join(parts)


ERRORS_SUFFIX = ".errors.txt"
"""The problem report the daemon writes beside (or with) a file: ``NAME.errors.txt``."""


def report_name(name: str) -> str:
    """The name of the problem report for a file called ``name``: ``NAME.errors.txt``, cut
    to fit the file system when ``name`` is long (:func:`syncd.core.text.shorten_name`)."""
    return shorten_name(name, ERRORS_SUFFIX)


def file_line(name: str, f: FileReport) -> str:
    """The log line of one file: ``NAME: 12 records: 10 new, 2 duplicates, 0 failed``."""
    if f.outcome == "unchanged":
        return f"{name}: already imported ({f.detail})"
    if f.outcome == "unreadable":
        return f"{name}: could not be read: {f.detail}"
    line = (
        f"{name}: {f.records} record{'' if f.records == 1 else 's'}: "
        f"{f.new} new, {f.duplicates} duplicate{'' if f.duplicates == 1 else 's'}"
    )
    if f.completed:
        line += f" ({f.completed} completing the item syncd made)"
    line += f", {f.failed} failed"
    if f.uncertain:
        line += f" ({f.uncertain} of the new uncertain: a lost answer or a crash)"
    if f.unreadable:
        line += f", {f.unreadable} unreadable (see {report_name(name)})"
    return line


def count_files(report: Report) -> None:
    """Give each input of ``report`` its share of the run's outcomes.

    A record settled from an earlier, interrupted run counts where it was read: as new (and
    uncertain) for its file, never as a duplicate of the item it created itself."""
    files = {f.path: f for f in report.files}
    for f in files.values():
        f.new = f.uncertain = f.duplicates = f.merged = f.failed = f.unreadable = 0
        f.completed = 0
    errors: dict[str, list[str]] = {}
    recovered = {e.key for e in report.recovered}
    for e in [*report.created, *report.recovered]:
        if (got := files.get(e.source)) is not None:
            got.new += 1
            got.uncertain += e.uncertain
    merged = set(report.merged)
    for e in report.duplicates:
        if (got := files.get(e.source)) is not None and e.key not in recovered:
            got.duplicates += 1
            got.merged += e.key in merged
    for e in report.completed:
        if (got := files.get(e.source)) is not None:
            got.completed += 1
    for e in report.failed:
        if (got := files.get(e.source)) is not None:
            got.failed += 1
            errors.setdefault(got.path, []).append(f"{e.where}: {e.reason}")
    for p in report.errors:
        errors.setdefault(p.source, []).append(f"{p.source}:{p.line}: {p.message}")
        if p.source in files:
            files[p.source].unreadable += 1
    for f in files.values():
        if f.outcome == "unreadable":
            errors.setdefault(f.path, []).append(f"{f.path}: {f.detail}")
        f.errors = tuple(errors.get(f.path, ()))
