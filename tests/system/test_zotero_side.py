"""What syncd believes of the server's answers (issue 14 §4): a success that names keys that
were not sent is a protocol error, never phantom items in the index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncd.engine import Importer
from syncd.errors import RemoteError
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from tests.helpers import medline, model_config


class Phantom(MemoryTarget):
    """Applies the write, then answers with other keys than those sent."""

    def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> Any:
        result = super().create_items(items, if_unmodified_since=if_unmodified_since)
        result.created = {i: ("PHANTOM" + str(i), v) for i, (_, v) in result.created.items()}
        return result


def test_a_success_naming_keys_not_sent_is_a_protocol_error(tmp_path: Path) -> None:
    config = model_config(tmp_path)
    export = tmp_path / "a.nbib"
    export.write_text(medline([43800001, 43800002]), encoding="utf-8")
    server = MemoryLibrary()
    with StateStore(config.state.path) as store:
        with pytest.raises(RemoteError, match="not what the Zotero API does"):
            Importer(config, store, Phantom(server)).run([export])
        # The records stay pending; no phantom key reached the index.
        assert store.status_counts("users/1") == {"pending": 2}
        assert not any(i.key.startswith("PHANTOM") for i in store.index_items("users/1"))
        # An honest server next time: the pending rows are settled, each article once.
        report = Importer(config, store, MemoryTarget(server)).run([export])
        assert report.exit_code == 0
        assert sorted(server.pmids()) == ["43800001", "43800002"]
