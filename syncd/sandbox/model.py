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
    m = re.match(r"^(\d{4})(?:-(\d\d?)(?:-(\d\d?))?)?(?:[T ].*)?$", text)
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


def _creators(value: Any, item_type: str, is_new: bool) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ObjectError(400, "'creators' property must be an array")
    # The /items/new template carries one empty creator; a new item may send it back as is.
    if is_new and len(value) == 1 and isinstance(value[0], dict):
        only = value[0]
        if all(_is_empty(only.get(k)) for k in ("firstName", "lastName", "name")):
            return []
    out = []
    allowed = schema.creator_types(item_type)
    for creator in value:
        if not isinstance(creator, dict):
            raise ObjectError(400, "Creator must be an object")
        if not creator:
            raise ObjectError(400, "Creator object is empty")
        for prop in creator:
            if prop not in ("creatorType", "firstName", "lastName", "name"):
                raise ObjectError(400, f"Invalid creator property '{prop}'")
        if "creatorType" not in creator:
            raise ObjectError(400, "creator object must contain 'creatorType'")
        ctype = creator["creatorType"]
        if not isinstance(ctype, str) or ctype not in CREATOR_TYPE_LABELS:
            raise ObjectError(400, f"'{ctype}' is not a valid creator type")
        if ctype not in allowed and ctype != "author":
            raise ObjectError(
                400, f"'{ctype}' is not a valid creator type for item type '{item_type}'"
            )
        if "name" in creator:
            for other in ("firstName", "lastName"):
                if other in creator:
                    raise ObjectError(
                        400, f"'{other}' and 'name' creator fields are mutually exclusive"
                    )
            name = _field_value("name", creator["name"])
            if not name:
                raise ObjectError(
                    400, "creator object must contain 'firstName'/'lastName' or 'name'"
                )
            _check_creator_length(name)
            out.append({"creatorType": ctype, "name": name})
            continue
        if "firstName" in creator and "lastName" not in creator:
            raise ObjectError(400, "'lastName' creator field must be set if 'firstName' is set")
        if "lastName" not in creator:
            raise ObjectError(400, "creator object must contain 'firstName'/'lastName' or 'name'")
        first = _field_value("firstName", creator.get("firstName"))
        last = _field_value("lastName", creator["lastName"])
        if not first and not last:
            raise ObjectError(400, "creator object must contain 'firstName'/'lastName' or 'name'")
        _check_creator_length(first)
        _check_creator_length(last)
        out.append({"creatorType": ctype, "firstName": first, "lastName": last})
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


def _tags(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ObjectError(400, "'tags' property must be an array")
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for tag in value:
        if not isinstance(tag, dict):
            raise ObjectError(400, "Tag must be an object")
        if not tag:
            raise ObjectError(400, "Tag object is empty")
        for prop in tag:
            if prop not in ("tag", "type"):
                raise ObjectError(400, f"Invalid tag property '{prop}'")
        name = tag.get("tag", "")
        if isinstance(name, (list, dict)):
            raise ObjectError(400, "Invalid tag name")
        name = _field_value("tag", name)
        ttype = tag.get("type", 0)
        if isinstance(ttype, bool) or not (
            isinstance(ttype, int) or (isinstance(ttype, str) and ttype.strip().isdigit())
        ):
            raise ObjectError(400, f"Invalid tag type '{ttype}'")
        ttype = int(ttype)
        if not name:  # empty and whitespace-only tags are dropped silently
            continue
        if len(name) > MAX_NAME_CHARS:
            raise ObjectError(413, f"Tag '{name[:50]}…' too long", {"tag": name})
        if (name, ttype) in seen:
            continue
        seen.add((name, ttype))
        out.append({"tag": name, "type": ttype} if ttype else {"tag": name})
    return out


def _relations(value: Any) -> dict[str, Any]:
    if value == []:
        return {}
    if not isinstance(value, dict):
        raise ObjectError(400, "'relations' property must be an object")
    out: dict[str, Any] = {}
    for predicate, objects in value.items():
        if predicate not in _RELATION_PREDICATES:
            raise ObjectError(400, f"Unsupported predicate '{predicate}'")
        if isinstance(objects, str):
            out[predicate] = objects
        elif isinstance(objects, list) and all(isinstance(o, str) for o in objects):
            out[predicate] = objects[0] if len(objects) == 1 else list(objects)
        else:
            raise ObjectError(400, f"Invalid value for relation '{predicate}'")
    return out


def _key_list(value: Any, prop: str) -> list[str]:
    if not isinstance(value, list):
        raise ObjectError(400, f"'{prop}' property must be an array")
    out = []
    for key in value:
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise ObjectError(400, f"'{key}' is not a valid collection key")
        if key not in out:
            out.append(key)
    return sorted(out)


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
    properties, ``dateAdded``, ``dateModified``). Existing keys are merged (PATCH semantics).
    ``replace`` is PUT: require the full-object properties and reset the flags."""
    is_new = existing is None
    for old, new in (("itemKey", "key"), ("itemVersion", "version")):
        if old in obj:
            raise ObjectError(400, f"'{old}' property is now '{new}'")
    if "itemType" in obj:
        item_type = obj["itemType"]
        if not isinstance(item_type, str):
            raise ObjectError(400, "'itemType' must be a string")
        if not schema.is_valid_type(item_type) or item_type == "annotation":
            raise ObjectError(400, f"'{item_type}' is not a valid itemType")
    elif existing is not None and not replace:
        item_type = existing["itemType"]
    else:
        raise ObjectError(400, "'itemType' property not provided")
    if replace:
        for required in ("tags", "collections", "relations"):
            if required not in obj:
                raise ObjectError(400, f"'{required}' property not provided")

    data: dict[str, Any] = (
        copy.deepcopy(dict(existing))
        if existing is not None
        else {"creators": [], "tags": [], "collections": [], "relations": {}}
    )
    if replace:
        for flag in ("deleted", "inPublications", "parentItem"):
            data.pop(flag, None)
    if existing is not None and existing["itemType"] != item_type:
        _change_type(data, existing["itemType"], item_type)
    data["itemType"] = item_type
    type_fields = schema.fields_of(item_type)
    is_note_like = item_type in ("note", "attachment")

    for prop, value in obj.items():
        if prop in ("key", "version", "itemType"):
            continue
        if prop in _ITEM_PROPS:
            _apply_property(data, prop, value, item_type, is_new, collection_exists, item_exists)
        elif prop in schema.ALL_FIELDS:
            if prop in type_fields:
                text = _field_value(prop, value)
                if prop == "accessDate" and text:
                    text = _access_date(text, now)
                if len(text.encode("utf-8")) > MAX_FIELD_BYTES:
                    label = schema.field_label(prop)
                    raise ObjectError(
                        413,
                        f"{label} field value '{text[:50]}…' too long for item "
                        f"'{library_id}/{key}'",
                        {"field": label, "value": text},
                    )
                if text:
                    data[prop] = text
                else:
                    data.pop(prop, None)
            elif not _is_empty(value) and not isinstance(value, (list, dict)):
                raise ObjectError(400, f"'{prop}' is not a valid field for type '{item_type}'")
            elif isinstance(value, (list, dict)) and value:
                raise ObjectError(400, f"Unexpected array for property '{prop}'")
        else:
            raise ObjectError(400, f"Invalid property '{prop}'")

    if not is_note_like and "note" in data:
        raise ObjectError(400, "'note' property is valid only for note and attachment items")
    if data.get("parentItem") and data.get("collections"):
        raise ObjectError(400, "Child items cannot be assigned to collections")
    if data.get("parentItem") and not is_note_like:
        raise ObjectError(400, "Parent item must be set only for note and attachment items")
    if item_type == "attachment" and "linkMode" not in data:
        raise ObjectError(400, "'linkMode' property not provided")
    if existing is None:
        data.setdefault("dateAdded", now)
        data.setdefault("dateModified", now)
    return data


def _access_date(text: str, now: str) -> str:
    if text == "CURRENT_TIMESTAMP":
        return now
    parsed = parse_timestamp(text, date_only_ok=True)
    if parsed is None:
        raise ObjectError(
            400,
            "'accessDate' must be in ISO 8601 or UTC 'YYYY-MM-DD[ hh:mm:ss]' format or "
            f"'CURRENT_TIMESTAMP' ({text})",
        )
    return parsed


def _apply_property(
    data: dict[str, Any],
    prop: str,
    value: Any,
    item_type: str,
    is_new: bool,
    collection_exists: Callable[[str], bool],
    item_exists: Callable[[str], bool],
) -> None:
    if prop == "creators":
        data["creators"] = _creators(value, item_type, is_new)
    elif prop == "tags":
        data["tags"] = _tags(value)
    elif prop == "collections":
        keys = _key_list(value, "collections")
        for key in keys:
            if not collection_exists(key):
                raise ObjectError(409, f"Collection {key} not found", {"collection": key})
        data["collections"] = keys
    elif prop == "relations":
        data["relations"] = _relations(value)
    elif prop == "parentItem":
        if _is_empty(value):
            data.pop("parentItem", None)
            return
        if not isinstance(value, str) or not KEY_RE.match(value):
            raise ObjectError(400, f"'{value}' is not a valid item key")
        if not item_exists(value):
            raise ObjectError(409, f"Parent item {value} not found", {"parentItem": value})
        data["parentItem"] = value
    elif prop in ("deleted", "inPublications"):
        if value in (True, 1, "1", "true"):
            data[prop] = True
        elif value in (False, 0, "0", "false", None, ""):
            data.pop(prop, None)
        else:
            raise ObjectError(400, f"Invalid value for '{prop}'")
    elif prop == "note":
        if item_type not in ("note", "attachment"):
            raise ObjectError(400, "'note' property is valid only for note and attachment items")
        text = _field_value("note", value)
        if len(text) > MAX_NOTE_CHARS:
            raise ObjectError(413, f"Note '{text[:50]}…' too long", {"value": text[:50]})
        data["note"] = text
    elif prop in ("dateAdded", "dateModified"):
        text = _field_value(prop, value)
        parsed = parse_timestamp(text) if text else None
        if parsed is None:
            raise ObjectError(
                400,
                f"'{prop}' must be in ISO 8601 or UTC 'YYYY-MM-DD hh:mm:ss' format ({text})",
            )
        data["_client_" + prop] = parsed
    else:  # attachment properties
        if item_type != "attachment":
            raise ObjectError(400, f"'{prop}' is valid only for attachment items")
        if value is None:
            data.pop(prop, None)
        else:
            data[prop] = value if prop == "mtime" else _field_value(prop, value)


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
    ignore = {"collections", "relations", "dateAdded", "dateModified"}
    keys = (set(new) | set(old)) - {"_client_dateAdded", "_client_dateModified"}
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


def item_meta(data: Mapping[str, Any], num_children: int) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if data["itemType"] not in ("note", "attachment"):
        summary = creator_summary(data["itemType"], data.get("creators", []))
        if summary:
            meta["creatorSummary"] = summary
        parsed = parse_date(data.get("date", ""))
        if parsed:
            meta["parsedDate"] = parsed
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


def validate_collection(
    obj: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    *,
    collection_exists: Callable[[str], bool],
) -> dict[str, Any]:
    """Apply one uploaded collection object; returns ``{name, parentCollection, relations}``."""
    for old, new in (
        ("collectionKey", "key"),
        ("collectionVersion", "version"),
        ("parent", "parentCollection"),
    ):
        if old in obj:
            raise ObjectError(400, f"'{old}' property is now '{new}'")
    data: dict[str, Any] = (
        copy.deepcopy(dict(existing))
        if existing is not None
        else {"parentCollection": False, "relations": {}}
    )
    if "name" not in obj and existing is None:
        raise ObjectError(400, "'name' property not provided")
    for prop, value in obj.items():
        if prop in ("key", "version"):
            continue
        if prop == "name":
            if not isinstance(value, str):
                raise ObjectError(400, "'name' must be a string")
            name = value.strip()
            if not name:
                raise ObjectError(400, "Collection name cannot be empty")
            if len(name) > MAX_NAME_CHARS:
                raise ObjectError(413, f"Collection name '{name[:50]}…' too long", {"value": name})
            data["name"] = name
        elif prop == "parentCollection":
            if _is_empty(value):
                data["parentCollection"] = False
                continue
            if not isinstance(value, str) or not KEY_RE.match(value):
                raise ObjectError(400, f"'{value}' is not a valid collection key")
            if not collection_exists(value):
                raise ObjectError(
                    409, f"Parent collection {value} not found", {"collection": value}
                )
            data["parentCollection"] = value
        elif prop == "relations":
            data["relations"] = _relations(value)
        elif prop == "deleted":
            if value in (True, 1, "1", "true"):
                data["deleted"] = True
            else:
                data.pop("deleted", None)
        else:
            raise ObjectError(400, f"Invalid property '{prop}'")
    return data
