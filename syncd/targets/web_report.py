"""The Web API's answer to a write, read into a :class:`~syncd.targets.base.WriteResult`.

``POST /items`` answers with ``successful`` / ``unchanged`` / ``failed`` maps by index; a
per-object 412 means the key exists (a retry after a lost answer, or another writer first), and
an item the report does not mention at all is failed rather than assumed written.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from syncd.targets.base import WriteResult


def write_result(
    payload: Sequence[Mapping[str, Any]], report: Mapping[str, Any], version: int
) -> WriteResult:
    """Sort a ``POST /items`` report into created / existing / failed, by index into the
    items sent (``payload``); ``version`` is the library version the answer carried."""
    result = WriteResult(library_version=version)
    for index, obj in (report.get("successful") or {}).items():
        result.created[int(index)] = (str(obj["key"]), int(obj["version"]))
    for index, key in (report.get("success") or {}).items():
        # The deprecated map; only consulted if a server leaves ``successful`` out.
        result.created.setdefault(int(index), (str(key), version))
    for index, key in (report.get("unchanged") or {}).items():
        result.existing[int(index)] = str(key)
    for index, failure in (report.get("failed") or {}).items():
        i = int(index)
        code = int(failure.get("code", 0))
        if code == 412:
            result.existing[i] = str(payload[i]["key"])
        else:
            result.failed[i] = (code, html.unescape(str(failure.get("message", ""))))
    for i in range(len(payload)):
        if i not in result.created and i not in result.existing and i not in result.failed:
            result.failed[i] = (0, "the server's report does not mention this item")
    return result
