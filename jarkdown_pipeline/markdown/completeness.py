"""What Jira says an issue has and what its file holds, per section: the frontmatter's
``<section>_total`` and ``<section>_written`` (comments, worklogs, history, attachments).

A total is Jira's own count (a page's ``total``, the attachment list's length); written is what the
file (or, for history, ``KEY.history.md``) shows. They differ when a page could not be fetched or an
attachment not downloaded; the knowledge base's completeness check reports every such issue.
"""

from collections.abc import Container, Mapping
from typing import Any

from jarkdown_pipeline.markdown.history import history_counts

SECTIONS = ("comments", "worklogs", "history", "attachments")


def _paged(container: Any, items_name: str) -> tuple[int, int]:
    """(Jira's total, the items present) of an inline page such as ``fields.comment``."""
    if not isinstance(container, Mapping):
        return 0, 0
    items = container.get(items_name)
    present = sum(isinstance(item, Mapping) for item in items) if isinstance(items, list) else 0
    total = container.get("total")
    return (max(total, present) if isinstance(total, int) and not isinstance(total, bool) else present), present


def _attachments(fields: Mapping[str, Any], downloaded_ids: Container[str]) -> tuple[int, int]:
    listed = fields.get("attachment")
    entries = [a for a in listed if isinstance(a, Mapping)] if isinstance(listed, list) else []
    return len(entries), sum(str(a.get("id")) in downloaded_ids for a in entries)


def completeness(issue: Mapping[str, Any], downloaded_ids: Container[str], history_mode: str) -> dict[str, int | None]:
    """The eight frontmatter keys; history's are null when the history is left out, its total null
    when the issue came without a changelog (stored before changelogs were fetched)."""
    fields = issue.get("fields") if isinstance(issue.get("fields"), Mapping) else {}
    counts = {
        "comments": _paged(fields.get("comment"), "comments"),
        "worklogs": _paged(fields.get("worklog"), "worklogs"),
        "history": (None, None) if history_mode == "omit" else history_counts(issue),
        "attachments": _attachments(fields, downloaded_ids),
    }
    data: dict[str, int | None] = {}
    for section in SECTIONS:
        data[f"{section}_total"], data[f"{section}_written"] = counts[section]
    return data
