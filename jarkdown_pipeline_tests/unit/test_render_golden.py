"""Golden files: each fixtures/adf/*.json and fixtures/issues/*.json beside its expected .md.

Regenerate with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest jarkdown_pipeline_tests/unit/test_render_golden.py``
and review every changed .md by eye before committing: they are the specification.

Wiki fixtures: fixtures/wiki/*.wiki (Jira Data Center wiki markup) beside the expected .md, rendered
with WIKI_ATTACHMENTS and WIKI_USERS as the issue's attachments and people.

ADF fixtures: an ADF document, or {"adf": document, "attachments": [...], "heading_offset": n,
"base_url": ..., "known_issue_keys": [...]} (cards to those issues link to their files).
Issue fixtures: {"issue": ..., "field_definitions": [...], "attachments": [...], "base_url": ...,
"known_issue_keys": [...], "include_custom_fields": [...] | null, "exclude_custom_fields": [...],
"history": "inline" | "separate" | "omit"}.
"""

import json
import os
from pathlib import Path

import pytest

from jarkdown_pipeline.markdown import adf_to_markdown, render_issue, wiki_to_markdown
from jarkdown_pipeline.markdown.links import IssueLinks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _cases(folder: str) -> list[Path]:
    return sorted((FIXTURES / folder).glob("*.json"))


def _check(actual: str, expected_path: Path) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert expected_path.exists(), f"{expected_path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert actual == expected_path.read_text(encoding="utf-8")


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


@pytest.mark.parametrize("path", _cases("adf"), ids=lambda p: p.stem)
def test_adf_golden(path):
    _check(render_adf_fixture(path), path.with_suffix(".md"))


@pytest.mark.parametrize("path", _cases("issues"), ids=lambda p: p.stem)
def test_issue_golden(path):
    _check(render_issue_fixture(path), path.with_suffix(".md"))


@pytest.mark.parametrize("path", sorted((FIXTURES / "wiki").glob("*.wiki")), ids=lambda p: p.stem)
def test_wiki_golden(path):
    _check(render_wiki_fixture(path), path.with_suffix(".md"))


@pytest.mark.parametrize("path", _cases("issues"), ids=lambda p: p.stem)
def test_issue_rendering_is_deterministic(path):
    assert render_issue_fixture(path) == render_issue_fixture(path)


def test_fixture_folders_are_not_empty():
    assert len(_cases("adf")) >= 20 and len(_cases("issues")) >= 5
    assert len(list((FIXTURES / "wiki").glob("*.wiki"))) >= 8


def _text_nodes(node, out):
    if isinstance(node, dict):
        if node.get("type") == "text":
            out.append(node["text"])
        for child in node.get("content", ()):
            _text_nodes(child, out)
    return out


@pytest.mark.parametrize("path", _cases("adf"), ids=lambda p: p.stem)
def test_adf_golden_shows_every_text_node_on_github(path):
    """Rendered by cmark-gfm (GitHub's parser), the golden Markdown displays each text node."""
    from jarkdown_pipeline_tests.unit.test_adf_properties import displayed, normalize

    data = json.loads(path.read_text(encoding="utf-8"))
    shown = normalize("".join(displayed(render_adf_fixture(path)).parts))
    for text in _text_nodes(data if data.get("type") == "doc" else data["adf"], []):
        for piece in text.split("\n"):
            assert normalize(piece) in shown, piece
