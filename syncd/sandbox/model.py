"""Objects of a sandbox library and the Zotero rules for them, as plain functions.

:func:`validate_item` / :func:`validate_collection` turn one uploaded JSON object into the
normalised data that is stored (or raise :class:`ObjectError` with the exact status code and
message the dataserver gives); :func:`item_json` / :func:`collection_json` render stored objects
the way the API returns them. Nothing here does I/O; the clock is passed in.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from syncd.sandbox import schema
from syncd.sandbox.schema_data import CREATOR_TYPE_LABELS

KEY_RE = re.compile(r"^[23456789ABCDEFGHIJKLMNPQRSTUVWXYZ]{8}$")
# Server-generated keys use a smaller alphabet (no L, no Y), like the dataserver's.
KEY_ALPHABET = "23456789ABCDEFGHIJKMNPQRSTUVWXZ"
MAX_FIELD_BYTES = 65535
MAX_NAME_CHARS = 255
MAX_NOTE_CHARS = 500000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ATTACHMENT_PROPS = ("linkMode", "contentType", "charset", "filename", "md5", "mtime", "path")
_RELATION_PREDICATES = frozenset(
    {"dc:relation", "dc:replaces", "dc:isReplacedBy", "owl:sameAs", "mendeleyDB:documentUUID"}
)
_ITEM_PROPS = frozenset(
    {
        "key",
        "version",
        "itemType",
        "creators",
        "tags",
        "collections",
        "relations",
        "parentItem",
        "deleted",
        "inPublications",
        "note",
        "dateAdded",
        "dateModified",
        *_ATTACHMENT_PROPS,
    }
)


class ObjectError(Exception):
    """A per-object failure: reported in ``failed[i]`` as ``{code, message, data?}``."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def clean_strings(value: Any) -> Any:
    """Remove ASCII control characters except tab and newline from every string in a parsed
    JSON body (the dataserver does this before anything else; so ``\\r`` disappears)."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    if isinstance(value, dict):
        return {clean_strings(k): clean_strings(v) for k, v in value.items()}
    return value


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def parse_timestamp(value: str, *, date_only_ok: bool = False) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) for an ISO 8601 or ``YYYY-MM-DD hh:mm:ss`` value, or
    None when the value has neither form."""
    m = _ISO.match(value)
    if m:
        year, month, day, hour, minute, second, zone = m.groups()
        try:
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        except ValueError:
            return None
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
            moment = datetime.fromtimestamp(moment.timestamp() - offset * 60, tz=UTC)
        return utc_stamp(moment)
    if date_only_ok and re.match(r"^\d{4}-\d\d-\d\d$", value):
        return value
    return None


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}


def parse_date(value: str) -> str | None:
    """``meta.parsedDate`` for a free-text date: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``.

    Covers the forms that reach Zotero from bibliographic data: ISO dates, ``2024 May 1``
    (MEDLINE), ``May 1, 2024``, ``1 May 2024``, ``5/1/2024`` (US order, as Zotero reads it)
    and a bare year anywhere in the text."""
    text = value.strip()
    if not text:
        return None
    m = re.match(r"^(\d{4})(?:-(\d\d?)(?:-(\d\d?)(?:[T ]\d.*)?)?)?$", text)
    if m:
        return _ymd(m.group(1), m.group(2), m.group(3))
    m = re.match(r"^(\d\d?)[/.-](\d\d?)[/.-](\d{4})$", text)
    if m:
        return _ymd(m.group(3), m.group(1), m.group(2))
    year_m = re.search(r"(?<!\d)(\d{4})(?!\d)", text)
    if not year_m:
        return None
    month = None
    for word in re.findall(r"[A-Za-z]+", text):
        if word.lower() in _MONTHS:
            month = _MONTHS[word.lower()]
            break
    day = None
    if month is not None:
        rest = text.replace(year_m.group(1), " ")
        day_m = re.search(r"(?<!\d)(\d\d?)(?!\d)", rest)
        if day_m:
            day = day_m.group(1)
    return _ymd(year_m.group(1), str(month) if month else None, day)


def _ymd(year: str, month: str | None, day: str | None) -> str:
    if month and 1 <= int(month) <= 12:
        if day and 1 <= int(day) <= 31:
            return f"{year}-{int(month):02d}-{int(day):02d}"
        return f"{year}-{int(month):02d}"
    return year


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value is False


def _set(obj: Mapping[str, Any], prop: str) -> bool:
    """PHP's ``isset``: present and not null."""
    return obj.get(prop) is not None


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return (
        isinstance(value, str)
        and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) is not None
    )


def _field_value(prop: str, value: Any) -> str:
    if isinstance(value, (list, dict)):
        raise ObjectError(400, f"Unexpected array for property '{prop}'")
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_LINK_MODES = ("imported_file", "imported_url", "linked_file", "linked_url", "embedded_image")
_ZOTERO_URI = re.compile(
    r"^http://zotero.org/(users|groups)/[0-9]+/(publications/)?items/[A-Z0-9]{8}$"
)
_EXTERNAL_PREDICATES = frozenset(p for p in _RELATION_PREDICATES if p.startswith("mendeleyDB:"))


def _check_item_json(
    obj: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    *,
    key: str,
    library_id: int,
    replace: bool,
) -> str:
    """The dataserver's validation pass over an uploaded item (before anything is applied):
    required properties, then every property in the order sent. Returns the item type."""
    is_new = existing is None
    partial = not replace and not is_new
    is_child = bool(existing and existing.get("parentItem"))
    if is_child:
        if (partial and obj.get("parentItem") is False) or (
            not partial and obj.get("parentItem") in (None, False)
        ):
            is_child = False
        elif partial and "parentItem" not in obj and obj.get("collections"):
            is_child = False  # collections imply parentItem: false
    elif _set(obj, "parentItem") and obj["parentItem"] is not False:
        is_child = True
    if partial:
        required: list[str] = []
    elif obj.get("itemType") == "attachment":
        required = ["linkMode"]
    elif is_new:
        required = ["itemType"]
    else:
        required = ["itemType", "tags", "relations"] + ([] if is_child else ["collections"])
    for prop in required:
        if not _set(obj, prop):
            raise ObjectError(400, f"'{prop}' property not provided")
    item_type = obj["itemType"] if _set(obj, "itemType") else (existing or {}).get("itemType")

    for prop, value in obj.items():
        if prop in ("key", "version"):
            continue
        if prop == "parentItem":
            if value is not False:
                if not isinstance(value, str) or not KEY_RE.match(value):
                    raise ObjectError(400, "'parentItem' must be a valid item key or false")
                if value == obj.get("key", key):
                    raise ObjectError(400, f"Item {library_id}/{value} cannot be a child of itself")
        elif prop == "itemType":
            if not isinstance(value, str):
                raise ObjectError(400, "'itemType' must be a string")
            if not schema.is_valid_type(value):
                raise ObjectError(400, f"'{value}' is not a valid itemType")
            if (is_child or obj.get("parentItem")) and value not in ("note", "attachment"):
                raise ObjectError(400, "Child item must be note, attachment, or annotation")
        elif prop == "tags":
            _check_tags(value)
        elif prop == "collections":
            if not isinstance(value, list):
                raise ObjectError(400, "'collections' property must be an array")
            if is_child and value:
                raise ObjectError(400, "Child items cannot be assigned to collections")
            for ckey in value:
                if not isinstance(ckey, str) or not KEY_RE.match(ckey):
                    raise ObjectError(400, f"'{ckey}' is not a valid collection key")
        elif prop == "relations":
            _check_relations(value)
        elif prop == "creators":
            _check_creators(value, str(item_type), is_new)
        elif prop == "note":
            if item_type not in ("note", "attachment"):
                raise ObjectError(
                    400, "'note' property is valid only for note and attachment items"
                )
        elif prop == "deleted":
            if not isinstance(value, bool) and value not in (0, 1):
                raise ObjectError(400, "'deleted' must be a boolean")
        elif prop == "inPublications":
            continue
        elif prop == "linkMode":
            if not isinstance(value, str) or value.lower() not in _LINK_MODES:
                raise ObjectError(400, f"'{value}' is not a valid linkMode")
            if existing is not None and existing.get("linkMode", value.lower()) != value.lower():
                raise ObjectError(400, "Cannot change attachment linkMode")
        elif prop in _ATTACHMENT_PROPS:
            _check_attachment_prop(obj, existing, prop, value, item_type)
        elif prop == "accessDate":
            if (
                value != ""
                and value != "CURRENT_TIMESTAMP"
                and (
                    not isinstance(value, str) or parse_timestamp(value, date_only_ok=True) is None
                )
            ):
                raise ObjectError(
                    400,
                    "'accessDate' must be in ISO 8601 or UTC 'YYYY-MM-DD[ hh:mm:ss]' format or "
                    f"'CURRENT_TIMESTAMP' ({value})",
                )
        elif prop in ("dateAdded", "dateModified"):
            if not isinstance(value, str) or parse_timestamp(value) is None:
                raise ObjectError(
                    400,
                    f"'{prop}' must be in ISO 8601 or UTC 'YYYY-MM-DD hh:mm:ss' format ({value})",
                )
        elif prop not in schema.ALL_FIELDS:
            raise ObjectError(400, f"Invalid property '{prop}'")
        elif isinstance(value, (list, dict)):
            raise ObjectError(400, f"Unexpected array for property '{prop}'")
    if item_type is None:
        raise ObjectError(400, "'itemType' property not provided")
    return str(item_type)


def _check_tags(value: Any) -> None:
    if not isinstance(value, list):
        raise ObjectError(400, "'tags' property must be an array")
    for tag in value:
        if not isinstance(tag, dict):
            raise ObjectError(400, "Tag must be an object")
        for prop, v in tag.items():
            if prop == "tag":
                if isinstance(v, (list, dict)) or v is None:
                    raise ObjectError(400, "Invalid tag name")
            elif prop == "type":
                if not _is_numeric(v):
                    raise ObjectError(400, f"Invalid tag type '{v}'")
            else:
                raise ObjectError(400, f"Invalid tag property '{prop}'")
        if not tag:
            raise ObjectError(400, "Tag object is empty")


def _check_relations(value: Any) -> None:
    if not isinstance(value, dict) and value != []:
        raise ObjectError(400, "'relations' property must be an object")
    for predicate, objects in (value or {}).items():
        if predicate not in _RELATION_PREDICATES:
            raise ObjectError(400, f"Unsupported predicate '{predicate}'")
        if predicate in _EXTERNAL_PREDICATES:
            continue
        uris = [objects] if isinstance(objects, str) else objects
        if not isinstance(uris, list) or not all(
            isinstance(u, str) and _ZOTERO_URI.match(u) for u in uris
        ):
            raise ObjectError(400, "'relations' values currently must be Zotero item URIs")


def _blank(creator: Mapping[str, Any], prop: str) -> bool:
    value = creator.get(prop)
    return value is None or str(value).strip() == ""


def _check_creators(value: Any, item_type: str, is_new: bool) -> None:
    if not isinstance(value, list):
        raise ObjectError(400, "'creators' property must be an array")
    allowed = schema.creator_types(item_type) if schema.is_valid_type(item_type) else ()
    for creator in value:
        if not isinstance(creator, dict) or not _set(creator, "creatorType"):
            raise ObjectError(400, "creator object must contain 'creatorType'")
        if all(_blank(creator, p) for p in ("name", "firstName", "lastName")):
            # The /items/new template carries one nameless creator: ignored on a new item.
            if len(value) == 1 and is_new:
                continue
            raise ObjectError(400, "creator object must contain 'firstName'/'lastName' or 'name'")
        for prop, v in creator.items():
            if prop == "creatorType":
                if not isinstance(v, str) or v not in CREATOR_TYPE_LABELS:
                    raise ObjectError(400, f"'{v}' is not a valid creator type")
                if v not in allowed and v != "author":
                    raise ObjectError(
                        400, f"'{v}' is not a valid creator type for item type '{item_type}'"
                    )
            elif prop in ("firstName", "lastName"):
                other = "lastName" if prop == "firstName" else "firstName"
                if not _set(creator, other):
                    raise ObjectError(
                        400, f"'{other}' creator field must be set if '{prop}' is set"
                    )
                if _set(creator, "name"):
                    raise ObjectError(
                        400, f"'{prop}' and 'name' creator fields are mutually exclusive"
                    )
            elif prop == "name":
                for other in ("firstName", "lastName"):
                    if _set(creator, other):
                        raise ObjectError(
                            400, f"'{other}' and 'name' creator fields are mutually exclusive"
                        )
            else:
                raise ObjectError(400, f"Invalid creator property '{prop}'")


def _check_attachment_prop(
    obj: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    prop: str,
    value: Any,
    item_type: Any,
) -> None:
    if item_type != "attachment":
        raise ObjectError(400, f"'{prop}' is valid only for attachment items")
    link_mode = str(obj.get("linkMode") or (existing or {}).get("linkMode") or "").lower()
    if prop in ("filename", "md5", "mtime") and not (
        link_mode.startswith("imported_") or link_mode == "embedded_image"
    ):
        raise ObjectError(
            400, f"'{prop}' is valid only for imported and embedded-image attachments"
        )
    if prop == "path" and link_mode != "linked_file":
        raise ObjectError(400, f"'{prop}' is valid only for linked file attachment items")
    if prop == "md5" and value and not re.fullmatch(r"[a-f0-9]{32}", str(value)):
        raise ObjectError(400, f"'{value}' is not a valid MD5 hash")


def _normal_creators(value: list[Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for creator in value:
        if _set(creator, "name"):
            name = _field_value("name", creator["name"])
            _check_creator_length(name)
            entry = {"creatorType": creator["creatorType"], "name": name}
        else:
            first = _field_value("firstName", creator.get("firstName"))
            last = _field_value("lastName", creator.get("lastName"))
            if not first and not last:
                break  # the server stops at the first nameless creator
            _check_creator_length(first)
            _check_creator_length(last)
            entry = {"creatorType": creator["creatorType"], "firstName": first, "lastName": last}
        out.append(entry)
    return out


def _check_creator_length(name: str) -> None:
    if len(name) > MAX_NAME_CHARS:
        raise ObjectError(
            413,
            f"The creator name ‘{name[:50]}…’ is too long to sync.\n\n"
            "Shorten the name and sync again.\n\n"
            "If you receive this message repeatedly for items saved from a particular site, "
            "you can report this issue in the Zotero Forums.",
            {"field": "creator", "value": name},
        )


def _normal_tags(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for tag in value:
        name = _field_value("tag", tag.get("tag", ""))
        ttype = int(float(tag.get("type", 0) or 0))
        if not name:  # empty and whitespace-only tags are dropped silently
            continue
        if len(name) > MAX_NAME_CHARS:
            raise ObjectError(413, f"Tag '{name[:50]}…' too long", {"tag": name})
        if (name, ttype) in seen:
            continue
        seen.add((name, ttype))
        out.append({"tag": name, "type": ttype} if ttype else {"tag": name})
    return out


def _normal_relations(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for predicate, objects in (value or {}).items():
        if isinstance(objects, list):
            out[predicate] = objects[0] if len(objects) == 1 else list(objects)
        else:
            out[predicate] = objects
    return out


def validate_item(
    obj: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    *,
    key: str,
    library_id: int,
    collection_exists: Callable[[str], bool],
    item_exists: Callable[[str], bool],
    now: str,
    replace: bool = False,
) -> dict[str, Any]:
    """Apply one uploaded item object to ``existing`` (None for a new item) and return the new
    stored data (``itemType``, non-empty fields, ``creators``, ``tags``, ``collections``,
    ``relations``, optional ``parentItem``/``deleted``/``inPublications``/``note``/attachment
    properties, ``dateAdded``, ``dateModified``), or raise :class:`ObjectError`.

    Like the dataserver, a validation pass over every property comes first; then the
    properties are applied in the order sent (where a field the type lacks is refused if it has
    a value), then size limits and references are checked. Existing keys are merged (PATCH
    semantics); ``replace`` is PUT: the full-object properties are required and the flags
    (``deleted``, ``inPublications``, ``parentItem``) reset when omitted."""
    for old, new in (("itemKey", "key"), ("itemVersion", "version")):
        if old in obj:
            raise ObjectError(400, f"'{old}' property is now '{new}'")
    item_type = _check_item_json(obj, existing, key=key, library_id=library_id, replace=replace)
    if item_type == "annotation":
        raise ObjectError(400, "Annotations are not supported by the sandbox")

    data: dict[str, Any] = (
        copy.deepcopy(dict(existing))
        if existing is not None
        else {"creators": [], "tags": [], "collections": [], "relations": {}}
    )
    if replace:
        for flag in ("deleted", "inPublications", "parentItem"):
            if flag not in obj:
                data.pop(flag, None)
    if existing is not None and existing["itemType"] != item_type:
        _change_type(data, existing["itemType"], item_type)
    data["itemType"] = item_type
    type_fields = schema.fields_of(item_type)

    for prop, value in obj.items():
        if prop in ("key", "version", "itemType"):
            continue
        if prop == "creators":
            data["creators"] = _normal_creators(value)
        elif prop == "tags":
            data["tags"] = _normal_tags(value)
        elif prop == "collections":
            data["collections"] = sorted(set(value))
        elif prop == "relations":
            data["relations"] = _normal_relations(value)
        elif prop == "parentItem":
            if value is False:
                data.pop("parentItem", None)
            else:
                data["parentItem"] = value
        elif prop in ("deleted", "inPublications"):
            if value:
                data[prop] = True
            else:
                data.pop(prop, None)
        elif prop == "note":
            text = _field_value("note", value)
            if len(text) > MAX_NOTE_CHARS:
                raise ObjectError(413, f"Note '{text[:50]}…' too long", {"value": text[:50]})
            data["note"] = text
        elif prop in ("dateAdded", "dateModified"):
            data["_client_" + prop] = parse_timestamp(str(value))
        elif prop == "linkMode":
            data["linkMode"] = str(value).lower()
        elif prop in _ATTACHMENT_PROPS:
            if value is None or value == "":
                data.pop(prop, None)
            else:
                data[prop] = value if prop == "mtime" else _field_value(prop, value)
        elif prop in type_fields:
            text = _field_value(prop, value)
            if prop == "accessDate" and text:
                text = _access_date(text, now)
            if len(text.encode("utf-8")) > MAX_FIELD_BYTES:
                label = schema.field_label(prop)
                raise ObjectError(
                    413,
                    f"{label} field value '{text[:50]}…' too long for item '{library_id}/{key}'",
                    {"field": label, "value": text},
                )
            if text:
                data[prop] = text
            else:
                data.pop(prop, None)
        elif not _is_empty(value):
            raise ObjectError(400, f"'{prop}' is not a valid field for type '{item_type}'")

    for ckey in data.get("collections", ()):
        if not collection_exists(ckey):
            raise ObjectError(409, f"Collection {ckey} not found", {"collection": ckey})
    parent = data.get("parentItem")
    if parent and "parentItem" in obj and not item_exists(parent):
        raise ObjectError(409, f"Parent item {parent} not found", {"parentItem": parent})
    if existing is None:
        data.setdefault("dateAdded", now)
        data.setdefault("dateModified", now)
    return data


def _access_date(text: str, now: str) -> str:
    if text == "CURRENT_TIMESTAMP":
        return now
    parsed = parse_timestamp(text, date_only_ok=True)
    return parsed if parsed is not None else text


def _change_type(data: dict[str, Any], old_type: str, new_type: str) -> None:
    for field in schema.fields_of(old_type):
        if field in data:
            value = data.pop(field)
            target = schema.map_field(old_type, field, new_type)
            if target is not None:
                data[target] = value
    allowed = set(schema.creator_types(new_type)) | {"author"}
    data["creators"] = [c for c in data.get("creators", []) if c["creatorType"] in allowed]


def settle_dates(
    new: dict[str, Any], old: Mapping[str, Any] | None, now: str, *, content_changed: bool
) -> None:
    """Apply the dateAdded/dateModified rules: a client-supplied value is kept; on a change the
    server sets dateModified to now unless the client sent a *different* value; changes that
    touch only collections/relations leave it alone."""
    client_added = new.pop("_client_dateAdded", None)
    client_modified = new.pop("_client_dateModified", None)
    if old is None:
        if client_added:
            new["dateAdded"] = client_added
        if client_modified:
            new["dateModified"] = client_modified
        return
    if client_added:
        new["dateAdded"] = client_added
    if client_modified and client_modified != old.get("dateModified"):
        new["dateModified"] = client_modified
    elif content_changed:
        new["dateModified"] = now


def differs(new: Mapping[str, Any], old: Mapping[str, Any]) -> tuple[bool, bool]:
    """(anything changed, something other than collections/relations/dates changed)."""
    ignore = {"collections", "relations", "inPublications", "dateAdded", "dateModified"}
    # Underscored keys are the sandbox's bookkeeping, not item data.
    keys = {k for k in set(new) | set(old) if not k.startswith("_")}
    changed = {k for k in keys if new.get(k) != old.get(k)}
    return bool(changed - {"dateModified"}), bool(changed - ignore)


# ---- rendering -------------------------------------------------------------------------------


def creator_summary(item_type: str, creators: list[dict[str, str]]) -> str | None:
    primary = schema.primary_creator_type(item_type) or "author"
    for ctype in (primary, "editor", "contributor"):
        chosen = [c for c in creators if c["creatorType"] == ctype]
        if chosen:
            names = [c.get("lastName") or c.get("name", "") for c in chosen]
            if len(names) == 1:
                return names[0]
            if len(names) == 2:
                return f"{names[0]} and {names[1]}"
            return f"{names[0]} et al."
    return None


def item_data(key: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data`` part of an item as GET returns it: every field of the type (``""`` when
    empty) in schema order, creators after the first field, then the non-field properties."""
    item_type = data["itemType"]
    out: dict[str, Any] = {"key": key, "version": version}
    if data.get("parentItem"):
        out["parentItem"] = data["parentItem"]
    out["itemType"] = item_type
    if item_type == "attachment":
        out["linkMode"] = data.get("linkMode", "")
    fields = schema.fields_of(item_type)
    for i, field in enumerate(fields):
        out[field] = data.get(field, "")
        if i == 0 and item_type not in ("attachment", "note"):
            out["creators"] = copy.deepcopy(data.get("creators", []))
    if item_type in ("note", "attachment"):
        out["note"] = data.get("note", "")
    if item_type == "attachment":
        for prop in _ATTACHMENT_PROPS[1:]:
            if prop in data:
                out[prop] = data[prop]
    out["tags"] = copy.deepcopy(data.get("tags", []))
    if not data.get("parentItem"):
        out["collections"] = list(data.get("collections", []))
    out["relations"] = copy.deepcopy(data.get("relations", {}))
    if data.get("deleted"):
        out["deleted"] = 1
    if data.get("inPublications"):
        out["inPublications"] = True
    out["dateAdded"] = data["dateAdded"]
    out["dateModified"] = data["dateModified"]
    return out


def item_meta(
    data: Mapping[str, Any],
    num_children: int,
    created_by: dict[str, Any] | None = None,
    modified_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``meta`` of an item: in group libraries who created (and, when someone else, last
    modified) it; for regular items the creator summary and parsed date; ``numChildren`` for
    regular items, notes and PDF attachments."""
    meta: dict[str, Any] = {}
    if created_by is not None:
        meta["createdByUser"] = created_by
    if modified_by is not None and modified_by != created_by:
        meta["lastModifiedByUser"] = modified_by
    item_type = data["itemType"]
    regular = item_type not in ("note", "attachment")
    if regular:
        summary = creator_summary(item_type, data.get("creators", []))
        if summary:
            meta["creatorSummary"] = summary
        parsed = parse_date(data.get("date", ""))
        if parsed:
            meta["parsedDate"] = parsed
    if regular or item_type == "note" or data.get("contentType") == "application/pdf":
        meta["numChildren"] = num_children
    return meta


def collection_data(key: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": key,
        "version": version,
        "name": data["name"],
        "parentCollection": data.get("parentCollection") or False,
        "relations": copy.deepcopy(data.get("relations", {})),
    }
    if data.get("deleted"):
        out["deleted"] = True
    return out


_PHP_TYPES = {
    str: "string",
    int: "integer",
    float: "double",
    bool: "boolean",
    list: "array",
    dict: "object",
}
_COLLECTION_URI = re.compile(
    r"^http://zotero.org/(users|groups)/[0-9]+/(publications/)?collections/[A-Z0-9]{8}$"
)


def validate_collection(
    obj: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    *,
    collection_exists: Callable[[str], bool],
) -> dict[str, Any]:
    """Apply one uploaded collection object; returns ``{name, parentCollection, relations}``.
    A validation pass over every property comes first, as on the dataserver."""
    for old, new in (("collectionKey", "key"), ("collectionVersion", "version")):
        if old in obj:
            raise ObjectError(400, f"'{old}' property is now '{new}'")
    if existing is None and not _set(obj, "name"):
        raise ObjectError(400, "'name' property not provided")
    for prop, value in obj.items():
        if prop in ("key", "version"):
            continue
        if prop == "name":
            if not isinstance(value, str):
                raise ObjectError(400, "'name' must be a string")
            if value == "":
                raise ObjectError(400, "Collection name cannot be empty")
            if len(value) > MAX_NAME_CHARS:
                raise ObjectError(
                    413, f"Collection name '{value[:50]}…' too long", {"value": value}
                )
        elif prop == "parent":
            raise ObjectError(400, "'parent' property is now 'parentCollection'")
        elif prop == "parentCollection":
            if not isinstance(value, str) and not _is_empty(value) and value != 0:
                kind = _PHP_TYPES.get(type(value), "unknown type")
                raise ObjectError(
                    400, f"'parentCollection' must be a collection key or FALSE ({kind})"
                )
        elif prop == "relations":
            if not isinstance(value, dict) and value != []:
                raise ObjectError(400, "'relations' property must be an object")
            for predicate, objects in (value or {}).items():
                if predicate not in ("owl:sameAs", "mendeleyDB:remoteFolderUUID"):
                    raise ObjectError(400, f"Unsupported predicate '{predicate}'")
                if predicate.startswith("mendeleyDB:"):
                    continue
                uris = [objects] if isinstance(objects, str) else objects
                if not isinstance(uris, list) or not all(
                    isinstance(u, str) and _COLLECTION_URI.match(u) for u in uris
                ):
                    raise ObjectError(
                        400, "'relations' values currently must be Zotero collection URIs"
                    )
        elif prop == "deleted":
            if not isinstance(value, bool) and value not in (0, 1):
                raise ObjectError(400, "'deleted' must be a boolean")
        else:
            raise ObjectError(400, f"Invalid property '{prop}'")

    data: dict[str, Any] = (
        copy.deepcopy(dict(existing))
        if existing is not None
        else {"parentCollection": False, "relations": {}}
    )
    for prop, value in obj.items():
        if prop == "name":
            data["name"] = value.strip() or value
        elif prop == "parentCollection":
            if _is_empty(value) or value == 0:
                data["parentCollection"] = False
                continue
            if not KEY_RE.match(value):
                raise ObjectError(400, f"'{value}' is not a valid collection key")
            if not collection_exists(value):
                raise ObjectError(
                    409, f"Parent collection {value} not found", {"collection": value}
                )
            data["parentCollection"] = value
        elif prop == "relations":
            data["relations"] = _normal_relations(value)
        elif prop == "deleted":
            if value:
                data["deleted"] = True
            else:
                data.pop("deleted", None)
    return data
