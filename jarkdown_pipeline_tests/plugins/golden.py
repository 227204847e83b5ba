"""The golden fixtures (fixtures/adf, fixtures/issues, fixtures/wiki) and how each is rendered.

ADF fixtures: an ADF document, or {"adf": document, "attachments": [...], "heading_offset": n,
"base_url": ..., "known_issue_keys": [...]} (cards to those issues link to their files).
Issue fixtures: {"issue": ..., "field_definitions": [...], "attachments": [...], "base_url": ...,
"known_issue_keys": [...], "include_custom_fields": [...] | null, "exclude_custom_fields": [...],
"history": "inline" | "separate" | "omit"}.
Wiki fixtures: Jira Data Center wiki markup, rendered with WIKI_ATTACHMENTS and WIKI_USERS as the
issue's attachments and people.
"""

import json
from pathlib import Path

from jarkdown_pipeline.markdown import adf_to_markdown, render_issue, wiki_to_markdown
from jarkdown_pipeline.markdown.links import IssueLinks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN_FOLDERS = {"adf": ".json", "issues": ".json", "wiki": ".wiki"}


def golden_inputs(folder: str) -> list[Path]:
    return sorted((FIXTURES / folder).glob(f"*{GOLDEN_FOLDERS[folder]}"))


def render_adf_fixture(path: Path) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("type") == "doc":
        return adf_to_markdown(data) + "\n"
    links = IssueLinks(data.get("base_url", ""), data.get("known_issue_keys", ()))
    return (
        adf_to_markdown(
            data["adf"], media=data.get("attachments"), heading_offset=data.get("heading_offset", 0), links=links
        )
        + "\n"
    )


WIKI_ATTACHMENTS = [
    {"attachment_id": "10", "filename": "screen.png", "mime_type": "image/png", "size": 10},
    {"attachment_id": "11", "filename": "report.pdf", "mime_type": "application/pdf", "size": 20},
    {"attachment_id": "12", "filename": "screen shot (1).png", "mime_type": "image/png", "size": 30},
]
WIKI_USERS = {"jdoe": "John Doe", "john.doe": "Johnny Doe", "5b10a2844c20165700ede21g": "Ana Cloud"}
# The Jira the wiki fixtures come from, and the one issue the knowledge base holds besides theirs.
WIKI_LINKS = IssueLinks("https://jira.example.com", {"ABC-2"})


def render_wiki_fixture(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return wiki_to_markdown(text, media=WIKI_ATTACHMENTS, users=WIKI_USERS, links=WIKI_LINKS) + "\n"


def render_issue_fixture(path: Path) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))
    return render_issue(
        data["issue"],
        field_definitions=data.get("field_definitions", []),
        attachments=data.get("attachments", []),
        base_url=data.get("base_url", "https://example.atlassian.net"),
        known_issue_keys=frozenset(data.get("known_issue_keys", [])),
        include_custom_fields=data.get("include_custom_fields"),
        exclude_custom_fields=data.get("exclude_custom_fields", []),
        history=data.get("history", "inline"),
    )


RENDERERS = {"adf": render_adf_fixture, "issues": render_issue_fixture, "wiki": render_wiki_fixture}


def render_all_fixtures() -> bytes:
    """Every golden input rendered, in one stream of bytes (name, NUL, text, NUL)."""
    parts = []
    for folder, render in RENDERERS.items():
        for path in golden_inputs(folder):
            parts += [f"{folder}/{path.name}".encode(), render(path).encode("utf-8")]
    return b"\0".join(parts)


if __name__ == "__main__":  # what test_rendering_is_the_same_in_processes_with_other_hash_seeds runs
    import sys

    sys.stdout.buffer.write(render_all_fixtures())
