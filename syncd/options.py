"""The core's options as a config gives them: one translation for every command.

An import, the daemon and ``syncd convert`` must map and match records alike for one config;
they all take their :class:`~syncd.core.mapping.MappingOptions` and
:class:`~syncd.core.dedup.DedupOptions` from here.
"""

from __future__ import annotations

from syncd.config import Config
from syncd.core.dedup import DedupOptions
from syncd.core.mapping import MappingOptions, MeshPolicy


def mapping_options(config: Config, native_ids: bool) -> MappingOptions:
    """How records become items under ``config`` (``native_ids``: the library has Zotero 8's
    PMID/PMCID fields)."""
    return MappingOptions(
        mesh=MeshPolicy(config.tags.mesh),
        keywords=config.tags.keywords,
        extra_tags=config.tags.extra,
        automatic_tags=config.tags.automatic,
        native_ids=native_ids,
    )


def dedup_options(config: Config) -> DedupOptions:
    """How records are matched to each other and to the library under ``config``."""
    return DedupOptions(
        match=config.dedup.match,
        include_trash=config.dedup.include_trash,
        recreate_deleted=config.dedup.recreate_deleted,
        on_duplicate=config.dedup.on_duplicate,
    )
