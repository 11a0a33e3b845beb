"""Schema look-ups for the sandbox: which fields and creator types an item type has, the
mapping endpoints (``/itemTypes``, ``/itemFields``, ...) and ``/items/new`` templates.

The facts come from :mod:`syncd.sandbox.schema_data` (zotero-schema v41); this module only
shapes them the way the Web API serves them.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.schema_data import (
    BASE_FIELDS,
    CREATOR_TYPE_LABELS,
    FIELD_LABELS,
    ITEM_TYPE_LABELS,
    ITEM_TYPES,
    SCHEMA_VERSION,
)

__all__ = [
    "ALL_FIELDS",
    "SCHEMA_VERSION",
    "creator_types",
    "field_label",
    "fields_of",
    "is_valid_type",
    "item_fields",
    "item_template",
    "item_type_creator_types",
    "item_type_fields",
    "item_types",
    "primary_creator_type",
]

# Every name the schema knows as a field (including base-only fields such as `medium`).
ALL_FIELDS: frozenset[str] = frozenset(FIELD_LABELS) - {"itemType", "dateAdded", "dateModified"}
# Fields that some item type uses directly: the list /itemFields serves.
_USED_FIELDS: frozenset[str] = frozenset(f for spec in ITEM_TYPES.values() for f in spec[0])
# Types a client may create through the API (annotations need a parent file: not emulated).
_CREATABLE = frozenset(ITEM_TYPES) - {"annotation"}


def is_valid_type(item_type: str) -> bool:
    return item_type in ITEM_TYPES


def fields_of(item_type: str) -> tuple[str, ...]:
    return ITEM_TYPES[item_type][0]


def creator_types(item_type: str) -> tuple[str, ...]:
    return ITEM_TYPES[item_type][1]


def primary_creator_type(item_type: str) -> str | None:
    return ITEM_TYPES[item_type][2]


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def map_field(item_type: str, field: str, to_type: str) -> str | None:
    """The field of ``to_type`` that holds ``field`` of ``item_type`` (through base fields),
    or None when ``to_type`` has no place for it (used when an item changes type)."""
    if field in fields_of(to_type):
        return field
    base = BASE_FIELDS.get((item_type, field), field)
    for candidate in fields_of(to_type):
        if BASE_FIELDS.get((to_type, candidate)) == base or candidate == base:
            return candidate
    return None


def base_field(item_type: str, field: str) -> str:
    return BASE_FIELDS.get((item_type, field), field)


def item_types() -> list[dict[str, str]]:
    # The API lists types by their English label, in byte order (as MySQL returned them).
    rows = [
        {"itemType": t, "localized": ITEM_TYPE_LABELS.get(t, t)}
        for t in ITEM_TYPES
        if t in _CREATABLE
    ]
    return sorted(rows, key=lambda r: r["localized"])


# Fields sharing an English label come out in the dataserver's field-id order, which the
# schema does not carry; this is that order as the recorded server served /itemFields.
_LABEL_TIES = (
    "videoRecordingFormat",
    "audioRecordingFormat",
    "format",
    "artworkMedium",
    "interviewMedium",
    "letterType",
    "manuscriptType",
    "mapType",
    "thesisType",
    "presentationType",
    "type",
)


def item_fields() -> list[dict[str, str]]:
    rows = [{"field": f, "localized": field_label(f)} for f in sorted(_USED_FIELDS)]
    rank = {f: i for i, f in enumerate(_LABEL_TIES)}
    return sorted(rows, key=lambda r: (r["localized"], rank.get(r["field"], 0)))


def item_type_fields(item_type: str) -> list[dict[str, str]]:
    return [{"field": f, "localized": field_label(f)} for f in fields_of(item_type)]


def item_type_creator_types(item_type: str) -> list[dict[str, str]]:
    return [
        {"creatorType": c, "localized": CREATOR_TYPE_LABELS.get(c, c)}
        for c in creator_types(item_type)
    ]


def creator_fields() -> list[dict[str, str]]:
    return [
        {"field": "firstName", "localized": "First"},
        {"field": "lastName", "localized": "Last"},
        {"field": "name", "localized": "Name"},
    ]


def item_template(item_type: str, link_mode: str | None = None) -> dict[str, Any]:
    """The ``/items/new?itemType=`` template: every field empty, in schema order, with one
    empty creator of the primary type right after the first field (attachments: per
    ``linkMode``, as the dataserver builds them)."""
    out: dict[str, Any] = {"itemType": item_type}
    if item_type == "attachment":
        out["linkMode"] = link_mode or "imported_file"
    primary = primary_creator_type(item_type)
    for i, field in enumerate(fields_of(item_type)):
        if item_type == "attachment" and field == "url" and not out["linkMode"].endswith("_url"):
            continue
        out[field] = ""
        if i == 0 and primary is not None:
            out["creators"] = [{"creatorType": primary, "firstName": "", "lastName": ""}]
    if item_type in ("note", "attachment"):
        out["note"] = ""
    out["tags"] = []
    out["collections"] = []
    out["relations"] = {}
    if item_type == "attachment":
        out["contentType"] = ""
        out["charset"] = ""
        if out["linkMode"] == "linked_file":
            out["path"] = ""
        if out["linkMode"].startswith("imported_"):
            out["filename"] = ""
            out["md5"] = None
            out["mtime"] = None
    return out


__all__ += ["base_field", "creator_fields", "map_field"]
