"""Every node and mark type of the ADF schema (52.2.2) has a handler, and a golden file uses it."""

import json
import logging
from pathlib import Path

import pytest

from jarkdown_pipeline.markdown import BLOCK_HANDLERS, INLINE_HANDLERS, MARKS, adf_to_markdown
from jarkdown_pipeline_tests.reference import REFERENCE_DIR

SCHEMA = REFERENCE_DIR / "adf-full-schema-52.2.2.json"
# The reference folder is outside the repository: the schema's type names are kept here too.
SCHEMA_NODE_TYPES = [
    "blockCard",
    "blockTaskItem",
    "blockquote",
    "bodiedExtension",
    "bodiedSyncBlock",
    "bulletList",
    "caption",
    "codeBlock",
    "date",
    "decisionItem",
    "decisionList",
    "doc",
    "embedCard",
    "emoji",
    "expand",
    "extension",
    "hardBreak",
    "heading",
    "inlineCard",
    "inlineExtension",
    "layoutColumn",
    "layoutSection",
    "listItem",
    "media",
    "mediaGroup",
    "mediaInline",
    "mediaSingle",
    "mention",
    "nestedExpand",
    "orderedList",
    "panel",
    "paragraph",
    "placeholder",
    "rule",
    "status",
    "syncBlock",
    "table",
    "tableCell",
    "tableHeader",
    "tableRow",
    "taskItem",
    "taskList",
    "text",
]
SCHEMA_MARK_TYPES = [
    "alignment",
    "annotation",
    "backgroundColor",
    "border",
    "breakout",
    "code",
    "dataConsumer",
    "em",
    "fragment",
    "indentation",
    "link",
    "strike",
    "strong",
    "subsup",
    "textColor",
    "underline",
]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "adf"


def _schema_types() -> tuple[set[str], set[str]]:
    """(node types, mark types) from the schema's definitions (``*_node`` / ``*_mark``)."""
    if SCHEMA.exists():
        definitions = json.loads(SCHEMA.read_text(encoding="utf-8"))["definitions"]
        nodes, marks = set(), set()
        for name, definition in definitions.items():
            enum = definition.get("properties", {}).get("type", {}).get("enum", [])
            if name.endswith("_node"):
                nodes.update(enum)
            elif name.endswith("_mark"):
                marks.update(enum)
        return nodes, marks
    return set(SCHEMA_NODE_TYPES), set(SCHEMA_MARK_TYPES)


def test_vendored_type_names_match_the_schema():
    if not SCHEMA.exists():
        pytest.skip("reference schema not present on this machine")
    assert _schema_types() == (set(SCHEMA_NODE_TYPES), set(SCHEMA_MARK_TYPES))


def test_schema_is_read():
    nodes, marks = _schema_types()
    assert {"doc", "paragraph", "text", "table", "mediaSingle"} <= nodes
    assert {"strong", "em", "link", "code"} <= marks


def test_every_schema_node_type_has_a_handler():
    nodes, _ = _schema_types()
    missing = sorted(nodes - set(BLOCK_HANDLERS) - set(INLINE_HANDLERS))
    assert missing == []


def test_every_schema_mark_type_is_described():
    _, marks = _schema_types()
    assert sorted(marks - set(MARKS)) == []


def _types_in(node, nodes, marks):
    if isinstance(node, dict):
        if "type" in node:
            nodes.add(node["type"])
        for mark in node.get("marks", ()):
            marks.add(mark["type"])
        for value in node.values():
            _types_in(value, nodes, marks)
    elif isinstance(node, list):
        for item in node:
            _types_in(item, nodes, marks)


def test_golden_files_exercise_every_node_and_mark_type():
    used_nodes, used_marks = set(), set()
    for path in FIXTURES.glob("*.json"):
        _types_in(json.loads(path.read_text(encoding="utf-8")), used_nodes, used_marks)
    nodes, marks = _schema_types()
    assert sorted(nodes - used_nodes) == []
    # Layout-only marks (alignment, indentation, breakout, border, dataConsumer, fragment) carry no text styling.
    assert (
        sorted(marks - used_marks - {"alignment", "indentation", "breakout", "border", "dataConsumer", "fragment"})
        == []
    )


def test_known_types_are_not_reported_as_unknown(caplog):
    caplog.set_level(logging.WARNING, logger="jarkdown_pipeline.markdown.adf")
    for path in FIXTURES.glob("*.json"):
        if path.stem == "unknown_nodes" or "sparkle" in path.read_text(encoding="utf-8"):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        adf_to_markdown(data if data.get("type") == "doc" else data["adf"], media=data.get("attachments"))
    assert [r.getMessage() for r in caplog.records] == []


def test_unknown_types_are_logged_once_per_type(caplog):
    from jarkdown_pipeline.markdown import adf

    adf._reported_unknown.discard("node:testOnlyNode")
    caplog.set_level(logging.WARNING, logger="jarkdown_pipeline.markdown.adf")
    doc = {"type": "doc", "content": [{"type": "testOnlyNode", "content": [{"type": "text", "text": "kept"}]}] * 3}
    assert adf_to_markdown(doc) == "kept\n\nkept\n\nkept"
    messages = [r.getMessage() for r in caplog.records if "testOnlyNode" in r.getMessage()]
    assert len(messages) == 1


def test_layout_marks_keep_text_without_markup():
    for mark in (
        {"type": "alignment", "attrs": {"align": "center"}},
        {"type": "indentation", "attrs": {"level": 2}},
        {"type": "breakout", "attrs": {"mode": "wide"}},
        {"type": "border", "attrs": {"size": 1, "color": "#000000"}},
        {"type": "dataConsumer", "attrs": {"sources": ["x"]}},
        {"type": "fragment", "attrs": {"localId": "f"}},
    ):
        doc = {
            "type": "doc",
            "content": [
                {"type": "paragraph", "marks": [mark], "content": [{"type": "text", "text": "plain", "marks": [mark]}]}
            ],
        }
        assert adf_to_markdown(doc) == "plain"
