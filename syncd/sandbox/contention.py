"""The sandbox at the real server's pace: a multi-object write committed one object at a time.

By default the sandbox applies a whole write of up to 50 objects in one transaction under the
library's lock, 30-40 times faster than api.zotero.org. The real dataserver commits such a write
one object at a time, each with a library version of its own and visible to readers at once (a
reader polling ``since=`` during one 50-item POST saw 3, 11, 20, 30 and 41 of the 50), and takes
0.6-2 s per 50 items. Another writer's write guarded by ``If-Unmodified-Since-Version`` is then
refused whenever the first is mid-request: what makes two writers on one library starve each
other, and what a test can only see in this mode (``syncd sandbox --latency real``).
"""

from __future__ import annotations

import html
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from syncd.sandbox.library import Library, Txn
from syncd.sandbox.model import ObjectError

if TYPE_CHECKING:
    from syncd.sandbox.api import Api, Request


@dataclass(frozen=True)
class Latency:
    """Seconds a write waits, drawn uniformly from each range: once per request, then before
    each object. The defaults are the real server's (12-40 ms an object: 0.6-2 s per 50)."""

    request: tuple[float, float] = (0.02, 0.06)
    per_object: tuple[float, float] = (0.012, 0.04)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def scaled(self, factor: float) -> Latency:
        """The same pace ``factor`` times as slow (below 1: faster, for quick tests)."""
        lo, hi = self.request
        olo, ohi = self.per_object
        return replace(
            self, request=(lo * factor, hi * factor), per_object=(olo * factor, ohi * factor)
        )

    def wait(self, span: tuple[float, float]) -> None:
        self.sleep(self.rng.uniform(*span))


REAL = Latency()


def new_report() -> dict[str, dict[str, Any]]:
    """The four maps of a multi-object write's answer, empty."""
    return {"successful": {}, "success": {}, "unchanged": {}, "failed": {}}


def failure(err: ObjectError) -> dict[str, Any]:
    """A refused object as the dataserver reports it under ``failed`` (its message escaped)."""
    out: dict[str, Any] = {
        "code": err.code,
        "message": html.escape(err.message, quote=False).replace('"', "&quot;"),
    }
    if err.data is not None:
        out["data"] = err.data
    return out


def write_into(
    api: Api,
    report: dict[str, dict[str, Any]],
    req: Request,
    txn: Txn,
    kind: str,
    raw: Any,
    index: int,
    *,
    require_version: bool,
    now: str,
    legacy_version: int,
) -> bool:
    """Write object ``index`` of a multi-object write into ``txn`` and enter it in ``report``:
    ``successful`` (with its JSON) and ``success`` when it changed, ``unchanged`` when not,
    ``failed`` when refused. Returns whether it was refused."""
    try:
        obj, changed = api._write_object(
            req,
            txn.lib,
            txn,
            kind,
            raw,
            index,
            require_version=require_version,
            now=now,
            legacy_version=legacy_version,
        )
    except ObjectError as err:
        report["failed"][str(index)] = failure(err)
        return True
    if changed:
        render = api._item_json if kind == "items" else api._collection_json
        report["successful"][str(index)] = render(req, txn.lib, obj, txn)
        report["success"][str(index)] = obj.key
    else:
        report["unchanged"][str(index)] = obj.key
    return False


def write_each(
    api: Api, req: Request, lib: Library, kind: str, token_hash: str | None, latency: Latency
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Apply a multi-object write one object at a time: the library version precondition is
    checked once, at the start; then each object is written and committed under the library's
    lock on its own (another request may commit between two of them). Returns the answer's
    report, the library version after the write and the number of objects."""
    latency.wait(latency.request)
    with api._library_write(req, lib) as expected:
        body = api._batch_body(req, kind)
    report = new_report()
    now = api.clock()
    last_failed = False
    for i, raw in enumerate(body):
        latency.wait(latency.per_object)
        with lib.lock:
            txn = Txn(lib)
            last_failed = write_into(
                api,
                report,
                req,
                txn,
                kind,
                raw,
                i,
                require_version=expected is None,
                now=now,
                legacy_version=lib.version + 1,
            )
            if not last_failed:
                api.state.commit(txn)
    # The dataserver records the token unless the last object failed.
    if token_hash is not None and not last_failed:
        api.state.record_token(token_hash)
    with lib.lock:
        return report, lib.version, len(body)
