"""Jira field values, type-aware: to plain data (frontmatter) and to Markdown (the issue body).

The field definitions come from ``GET /rest/api/3/field`` (id, name, custom, schema); the schema
decides how a value reads: options by their value, users by display name, sprints by name,
cascading selects as "parent › child", rich text (ADF) as Markdown.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jarkdown_pipeline.markdown.adf import adf_to_markdown, is_adf_document
from jarkdown_pipeline.markdown.escape import clean_text
from jarkdown_pipeline.markdown.media import MediaIndex

SPRINT_SCHEMA = "com.pyxis.greenhopper.jira:gh-sprint"
_CASCADE_SEPARATOR = " › "
# Jira Server's toString form of a sprint: "com.atlassian.greenhopper.service.sprint.Sprint@1a[id=1,...,name=Sprint 1,...]"
_LEGACY_SPRINT_NAME = re.compile(r"[\[,]name=(.*?)(?:,[a-zA-Z]+=|\]$)")
# Keys that name an object, most specific first.
_NAME_KEYS = ("displayName", "name", "value", "key", "title", "label", "text", "emailAddress", "accountId", "id")
# Field values nest a few levels (a cascading select, a list of objects); anything deeper is read as
# its plain text, so a hostile value cannot exhaust the stack (here or in the YAML writer).
MAX_FIELD_DEPTH = 12


@dataclass(frozen=True)
class FieldDefinition:
    id: str
    name: str
    custom: bool
    schema_type: str | None = None
    schema_custom: str | None = None
    schema_items: str | None = None

    @property
    def is_sprint(self) -> bool:
        return self.schema_custom == SPRINT_SCHEMA


def parse_field_definitions(
    field_definitions: Iterable[Mapping[str, Any]] | None, names: Mapping[str, str] | None = None
) -> dict[str, FieldDefinition]:
    """Index ``GET /field`` results by id; ``names`` (the issue's ``expand=names``) fills gaps.

    A window renders every issue with the same definitions list (hundreds of fields): it is indexed
    once, and the last list is remembered by identity, so callers must not change it in place.
    """
    global _last_indexed
    memo = _last_indexed
    if memo is not None and memo[0] is field_definitions:
        indexed = memo[1]
    else:
        indexed = _index_field_definitions(field_definitions)
        if isinstance(field_definitions, (list, tuple)):  # not a one-shot iterator
            _last_indexed = (field_definitions, indexed)
    result = dict(indexed)
    for field_id, name in names.items() if isinstance(names, Mapping) else ():
        if field_id not in result:
            result[field_id] = FieldDefinition(
                id=field_id, name=clean_text(str(name or field_id)), custom=field_id.startswith("customfield_")
            )
    return result


_last_indexed: tuple[object, dict[str, FieldDefinition]] | None = None


def _index_field_definitions(field_definitions: Iterable[Mapping[str, Any]] | None) -> dict[str, FieldDefinition]:
    result: dict[str, FieldDefinition] = {}
    for definition in field_definitions or ():
        if not isinstance(definition, Mapping) or not definition.get("id"):
            continue
        schema = definition.get("schema") if isinstance(definition.get("schema"), Mapping) else {}
        field_id = str(definition["id"])
        result[field_id] = FieldDefinition(
            id=field_id,
            name=clean_text(str(definition.get("name") or field_id)),
            custom=bool(definition.get("custom", field_id.startswith("customfield_"))),
            schema_type=schema.get("type"),
            schema_custom=schema.get("custom"),
            schema_items=schema.get("items"),
        )
    return result


def slugify(name: str) -> str:
    """A stable snake_case key for a field name: "Story Points" -> "story_points"."""
    text = unicodedata.normalize("NFKC", clean_text(name)).casefold()
    slug = re.sub(r"[^\w]+", "_", text).strip("_")
    slug = re.sub(r"_+", "_", slug)
    if slug and slug[0].isdigit():
        slug = f"field_{slug}"
    return slug


def _id_order(field_id: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", field_id)
    return (int(digits) if digits else 0, field_id)


def custom_field_slugs(definitions: Iterable[FieldDefinition]) -> dict[str, str]:
    """{field id: slug}. Same-named fields: the oldest (lowest id) keeps the plain slug, the
    others get their field id appended, so adding a field never renames an existing key."""
    groups: dict[str, list[FieldDefinition]] = {}
    for definition in definitions:
        groups.setdefault(slugify(definition.name) or slugify(definition.id), []).append(definition)
    slugs: dict[str, str] = {}
    suffixed: list[tuple[str, FieldDefinition]] = []
    for slug, members in groups.items():
        members.sort(key=lambda d: _id_order(d.id))
        slugs[members[0].id] = slug
        suffixed.extend((f"{slug}_{slugify(d.id)}", d) for d in members[1:])
    used = set(slugs.values())
    # A suffixed slug can still meet a field literally named like it ("Team customfield 10031").
    for slug, definition in sorted(suffixed, key=lambda pair: _id_order(pair[1].id)):
        while slug in used:
            slug = f"{slug}_{slugify(definition.id)}"
        slugs[definition.id] = slug
        used.add(slug)
    return slugs


def normalize_datetime(value: Any) -> str | None:
    """Jira's "2025-01-15T10:30:00.000+0000" as sortable UTC ISO 8601: "2025-01-15T10:30:00.000Z"."""
    if not isinstance(value, str) or not value:
        return None  # absent or malformed: no date rather than a repr
    return _normalize_datetime_text(value)


# Jira's own spelling (and the UTC form this package writes, ``...Z``), which datetime.fromisoformat
# reads as strptime does, and far faster (a history-rich issue has dozens of dates, few of them
# repeated; every issue's `updated` is read on the event loop, and each index row's date again).
_JIRA_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:[+-][0-9]{2}:?[0-9]{2}|Z)"
)
_STRPTIME_PATTERNS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")


def parse_jira_datetime(text: str) -> datetime | None:
    """Jira's ``2026-11-20T10:30:00.000+0100`` (or with a colon in the offset, or ``Z``) as an aware
    datetime; None when it is not one."""
    if _JIRA_DATETIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass  # e.g. hour 24: strptime below says the same
    for pattern in _STRPTIME_PATTERNS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=4096)
def _normalize_datetime_text(text: str) -> str:
    moment = parse_jira_datetime(text)
    if moment is not None:
        return _utc_text(moment)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return clean_text(text)
    return clean_text(text) if parsed.tzinfo is None else _utc_text(parsed)


def display_datetime(value: Any) -> str:
    """A date-time for readers: "2025-01-15 10:30 UTC"."""
    normalized = normalize_datetime(value)
    if not normalized:
        return ""
    match = re.match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}):\d{2}\.\d{3}Z$", normalized)
    return f"{match.group(1)} {match.group(2)} UTC" if match else normalized


def format_duration(seconds: Any) -> str:
    """Seconds as hours and minutes ("26h 5m"); Jira's day length is configurable, so no days."""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(abs(total), 3600)
    minutes = rest // 60
    sign = "-" if total < 0 else ""
    if hours and minutes:
        return f"{sign}{hours}h {minutes}m"
    if hours:
        return f"{sign}{hours}h"
    return f"{sign}{minutes}m"


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def sprint_names(value: Any) -> list[str]:
    """Names of the sprints in a sprint field value (objects, or Jira Server's strings)."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, Mapping):
            name = item.get("name")
        elif isinstance(item, str):
            match = _LEGACY_SPRINT_NAME.search(item)
            name = match.group(1) if match else item
        else:
            name = None
        if isinstance(name, (str, int, float)) and not isinstance(name, bool) and name != "":
            names.append(clean_text(str(name)))
    return names


def _object_name(value: Mapping[str, Any], depth: int) -> Any:
    if "value" in value and isinstance(value.get("child"), Mapping):  # cascading select
        # Both as text even when malformed (a list or object there is never shown as a Python repr).
        parts = [data_to_text(_to_data(value[key], None, None, depth + 1)) for key in ("value", "child")]
        return _CASCADE_SEPARATOR.join(part for part in parts if part) or None
    for key in _NAME_KEYS:
        item = value.get(key)
        if item in (None, ""):
            continue
        if isinstance(item, str):
            return clean_text(item)
        if isinstance(item, (int, float)):
            return _number(item)
        nested = data_to_text(_to_data(item, None, None, depth + 1))  # a malformed, nested "name"
        if nested:
            return nested
    # No naming key: every entry as "key: value", in a stable order (never a Python repr or JSON).
    pairs = []
    for key, item in sorted(value.items(), key=lambda pair: str(pair[0])):
        text = data_to_text(_to_data(item, None, None, depth + 1))
        if text:
            pairs.append(f"{key}: {text}")
    return clean_text("; ".join(pairs)) if pairs else None


def field_value_to_data(value: Any, definition: FieldDefinition | None, *, media: MediaIndex | None = None) -> Any:
    """A field value as YAML-safe data (str, int, float, bool, list of those) or None when empty."""
    return _to_data(value, definition, media, 0)


def _flat_text(value: Any) -> str | None:
    """Every scalar in a nested value, in order, joined by ", " (an explicit stack: no recursion)."""
    texts: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(reversed([item[key] for key in sorted(item, key=str)]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif item is not None and item != "":
            texts.append(data_to_text(_to_data(item, None, None, 0)))
    return clean_text(", ".join(texts)) if texts else None


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _to_data(value: Any, definition: FieldDefinition | None, media: MediaIndex | None, depth: int) -> Any:
    if _is_empty(value):
        return None
    if depth >= MAX_FIELD_DEPTH and isinstance(value, (list, Mapping)):
        return _flat_text(value)
    if definition is not None and definition.is_sprint:
        return sprint_names(value) or None
    if is_adf_document(value):
        return adf_to_markdown(value, media=media) or None
    if isinstance(value, list):
        return _list_data(value, _item_definition(definition), media, depth + 1)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, Mapping):
        return _object_name(value, depth)
    if isinstance(value, str):
        return _string_data(value, definition.schema_type if definition is not None else None)
    return clean_text(str(value))  # not reachable from JSON input


def _list_data(values: list[Any], definition: FieldDefinition | None, media: MediaIndex | None, depth: int) -> Any:
    items = [_to_data(item, definition, media, depth) for item in values]
    return [item for item in items if item is not None] or None


def _string_data(value: str, schema_type: str | None) -> Any:
    if schema_type == "datetime":
        return normalize_datetime(value)
    if schema_type == "number":
        try:
            return _number(float(value))
        except ValueError:
            return clean_text(value)
    return clean_text(value)


def _item_definition(definition: FieldDefinition | None) -> FieldDefinition | None:
    if definition is None or definition.schema_type != "array":
        return definition
    return FieldDefinition(definition.id, definition.name, definition.custom, definition.schema_items, None, None)


def data_to_text(data: Any) -> str:
    """Plain text for a data value: lists joined by ", ", booleans as yes/no."""
    if data is None:
        return ""
    if isinstance(data, bool):
        return "yes" if data else "no"
    if isinstance(data, list):
        return ", ".join(data_to_text(item) for item in data)
    return str(data)


def is_rich_text(value: Any) -> bool:
    return is_adf_document(value)


def ordered_custom_fields(
    fields: Mapping[str, Any],
    definitions: Mapping[str, FieldDefinition],
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> list[FieldDefinition]:
    """The issue's custom fields that have a value, filtered by name (or id), sorted by name then id."""
    include_keys = None if include is None else {key.casefold() for key in include}
    exclude_keys = {key.casefold() for key in exclude}
    chosen = []
    for field_id, value in fields.items():
        definition = definitions.get(field_id)
        if definition is None:
            if not field_id.startswith("customfield_"):
                continue
            definition = FieldDefinition(id=field_id, name=field_id, custom=True)
        if not definition.custom:
            continue
        keys = {definition.name.casefold(), definition.id.casefold()}
        if include_keys is not None and not keys & include_keys:
            continue
        if keys & exclude_keys:
            continue
        if value is None or value == "" or value == [] or value == {}:
            continue
        chosen.append(definition)
    chosen.sort(key=lambda d: (d.name.casefold(), d.name, _id_order(d.id)))
    return chosen
