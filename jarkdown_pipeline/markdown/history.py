"""An issue's changelog as Markdown: a ``History`` section, oldest first, deterministic bytes.

Each entry is one list item: its date (UTC) and author, then each changed field as
``field: from → to``. Fields are named by their id's current name (a custom field renamed since
the change keeps one name throughout), long values are shortened with their length noted, and
entries come in date order (ties by id), whatever order Jira sent them in.

``history`` (the setting): ``inline`` puts the section in ``KEY.md``; ``separate`` writes it to
``KEY.history.md`` beside it (``KEY.md`` links there); ``omit`` leaves it out.
"""

from collections.abc import Callable, Mapping
from typing import Any

from jarkdown_pipeline.issue_keys import is_issue_key
from jarkdown_pipeline.markdown.escape import clean_text, escape_text, link
from jarkdown_pipeline.markdown.fields import FieldDefinition, display_datetime, format_duration, normalize_datetime

HISTORY_MODES = ("inline", "separate", "omit")
HISTORY_FILE_SUFFIX = ".history.md"
LONG_VALUE_CHARS = 200  # a value longer than this is shortened ...
SHORTENED_TO_CHARS = 120  # ... to its first characters, with its length noted
_NONE = "(none)"
_DURATION_FIELDS = frozenset({"timeoriginalestimate", "timeestimate", "timespent"})  # seconds in the changelog


def history_file_name(key: str) -> str:
    return f"{key}{HISTORY_FILE_SUFFIX}"


def check_history_mode(mode: str) -> str:
    if mode not in HISTORY_MODES:
        raise ValueError(f"history must be one of {', '.join(HISTORY_MODES)}; got {mode!r}")
    return mode


def changelog_entries(issue: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The issue's changelog entries (objects only), oldest first; ties by numeric id."""
    changelog = issue.get("changelog")
    histories = changelog.get("histories") if isinstance(changelog, Mapping) else None
    entries = [entry for entry in histories or [] if isinstance(entry, Mapping)] if isinstance(histories, list) else []
    return sorted(entries, key=_entry_order)


def _entry_order(entry: Mapping[str, Any]) -> tuple[str, int, str]:
    created = normalize_datetime(entry.get("created")) or ""
    text = str(entry.get("id") or "")
    return created, int(text) if text.isdigit() and len(text) < 19 else 0, text


def history_counts(issue: Mapping[str, Any]) -> tuple[int | None, int]:
    """(Jira's announced total, entries present); the total is None when the issue came without a changelog."""
    changelog = issue.get("changelog")
    total = changelog.get("total") if isinstance(changelog, Mapping) else None
    present = len(changelog_entries(issue))
    if not isinstance(total, int) or isinstance(total, bool):
        return (present if isinstance(changelog, Mapping) else None), present
    return max(total, present), present


def shorten(value: str) -> str:
    """A changed value on one line; past LONG_VALUE_CHARS its start and its length."""
    text = " ".join(clean_text(value).split())
    if len(text) <= LONG_VALUE_CHARS:
        return text
    return f"{text[:SHORTENED_TO_CHARS].rstrip()}… ({len(text):,} characters)"


def _value(item: Mapping[str, Any], side: str) -> str:
    text = item.get(f"{side}String")
    if text in (None, ""):
        text = item.get(side)
    if text in (None, ""):
        return _NONE
    if item.get("fieldId") in _DURATION_FIELDS and str(text).isdigit():
        return format_duration(int(text))
    return escape_text(shorten(str(text)))


def _field_name(item: Mapping[str, Any], definitions: Mapping[str, FieldDefinition]) -> str:
    field_id = item.get("fieldId")
    definition = definitions.get(str(field_id)) if field_id else None
    name = definition.name if definition is not None else item.get("field")
    return clean_text(str(name or field_id or "field"))


UserName = Callable[[Any], str | None]


def entry_lines(entry: Mapping[str, Any], definitions: Mapping[str, FieldDefinition], user_name: UserName) -> list[str]:
    """One entry: ``- date · author`` and a sub-item per changed field."""
    when = display_datetime(entry.get("created")) or "unknown date"
    author = user_name(entry.get("author")) or "Unknown author"
    lines = [f"- {escape_text(when)} · {escape_text(author)}"]
    items = entry.get("items") if isinstance(entry.get("items"), list) else []
    for item in (item for item in items if isinstance(item, Mapping)):
        name = escape_text(_field_name(item, definitions))
        lines.append(f"  - {name}: {_value(item, 'from')} → {_value(item, 'to')}")
    return lines


def history_section(issue: Mapping[str, Any], definitions: Mapping[str, FieldDefinition], user_name: UserName) -> str:
    """The section's body (no heading): every entry, and a note when Jira counts more than are here."""
    entries = changelog_entries(issue)
    lines = [line for entry in entries for line in entry_lines(entry, definitions, user_name)]
    total, present = history_counts(issue)
    if total is not None and total > present:
        lines.append("")
        lines.append(f"*Jira reports {total} changes; {total - present} could not be fetched.*")
    return "\n".join(lines)


def history_link(key: str, issue: Mapping[str, Any]) -> str:
    """What ``KEY.md`` says under History when the history is in its own file."""
    total, present = history_counts(issue)
    if not present and not total:
        return ""
    count = total if total is not None else present
    return f"{link(f'{count} change' + ('s' if count != 1 else ''), history_file_name(key))} (oldest first)."


def history_document(key: str, body: str) -> str:
    """``KEY.history.md``: a title linking back to the issue file beside it, then the entries."""
    heading = f"# History of {link(escape_text(key), f'{key}.md')}"
    return f"{heading}\n\n{body}\n" if body else f"{heading}\n\nNo changes recorded.\n"


def previous_keys(issue: Mapping[str, Any]) -> list[str]:
    """The keys the issue had before moves to other projects, oldest first: the changelog's "Key" changes."""
    own = issue.get("key")
    keys: list[str] = []
    for entry in changelog_entries(issue):
        items = entry.get("items")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or str(item.get("field", "")).casefold() != "key":
                continue
            old = item.get("fromString")
            if is_issue_key(old) and old != own and old not in keys:
                keys.append(old)
    return keys
