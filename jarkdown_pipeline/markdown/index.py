"""index.md: one table row per issue, sorted by key (ABC-2 before ABC-10)."""

from collections.abc import Iterable, Mapping
from typing import Any

from jarkdown_pipeline.issue_keys import issue_sort_key

from jarkdown_pipeline.markdown.escape import escape_table_cell, escape_text, link
from jarkdown_pipeline.markdown.fields import data_to_text, display_datetime
from jarkdown_pipeline.markdown.issue import issue_markdown_path

def _cell(value: Any) -> str:
    return escape_table_cell(escape_text(data_to_text(value), in_table=True))


INDEX_ROW_FIELDS = ("key", "summary", "status", "type", "assignee", "updated_at")
"""The frontmatter fields render_index reads from each issue file."""


def render_index(rows: Iterable[Mapping[str, Any]], *, title: str = "Jira issues") -> str:
    """The knowledge base's index.md from issue frontmatter dicts
    (key, summary, status, type, assignee, updated_at). Raises ValueError on a row without a valid key."""
    rows = list(rows)
    for row in rows:
        issue_markdown_path(str(row.get("key")))  # a clear error for a row that is not an issue
    rows.sort(key=lambda row: issue_sort_key(str(row["key"])))
    count = len(rows)
    lines = [f"# {escape_text(title)}", "", f"{count} issue{'s' if count != 1 else ''}."]
    if rows:
        lines += ["", "| Key | Summary | Status | Type | Assignee | Updated |", "| --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            key = str(row["key"])
            cells = [
                escape_table_cell(link(escape_text(key), issue_markdown_path(key))),
                _cell(row.get("summary")),
                _cell(row.get("status")),
                _cell(row.get("type")),
                _cell(row.get("assignee")),
                escape_table_cell(display_datetime(row.get("updated_at")) or ""),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
