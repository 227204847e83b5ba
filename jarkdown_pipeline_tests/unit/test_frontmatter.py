"""The one frontmatter parser: what it accepts and what it rejects, on purpose."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.knowledge_base import parse_frontmatter_block
from jarkdown_pipeline.knowledge_base.render_cache import _frontmatter_facts
from jarkdown_pipeline.markdown.frontmatter import (
    FrontmatterError,
    _dump_yaml,
    dump_frontmatter,
    parse_frontmatter,
    scalar_as_written,
)
from jarkdown_pipeline.markdown.index import INDEX_ROW_FIELDS
from jarkdown_pipeline.markdown.issue import render_issue_document


def test_reads_back_what_the_renderer_writes():
    data = {"key": "ABC-1", "summary": "a: b", "labels": ["x", "y"], "description": "two\nlines"}
    assert parse_frontmatter(dump_frontmatter(data) + "# body\n") == data
    assert parse_frontmatter("---\nkey: ABC-1\n---") == {"key": "ABC-1"}  # closed at the end of the text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\ufeff---\nkey: ABC-1\n---\n", "byte order mark"),
        ("---\r\nkey: ABC-1\r\n---\r\n", "CRLF"),
        ("---\n---\n", "empty"),
        ("# no frontmatter\n", "does not start"),
        ("---\nkey: ABC-1\n", "not closed"),
        ("---\nkey: [\n---\n", "not valid YAML"),
        ("---\n- a\n---\n", "not a mapping but list"),
        ("---\njust text\n---\n", "not a mapping but str"),
    ],
)
def test_rejects_what_the_renderer_never_writes(text, reason):
    with pytest.raises(FrontmatterError, match=reason):
        parse_frontmatter(text)


def test_the_knowledge_base_uses_the_same_parser():
    assert parse_frontmatter_block is parse_frontmatter
    assert issubclass(FrontmatterError, ValueError)


# Scalars as Jira may send them: any text (control characters, lone surrogates, line and paragraph
# separators, YAML's own syntax), numbers, booleans, nothing.
_JIRA_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "- a",
            "? x",
            "null",
            "~",
            "2025-01-15",
            "yes",
            "1e3",
            "0x1F",
            "'q'",
            '"q"',
            "a\r\nb",
            "cut \ud83d emoji",
            "nul \x00",
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["key", "summary", "status", "assignee", "parent"]), _JIRA_SCALARS))
def test_scalars_as_written_are_what_the_file_reads_back(data):
    """What the render record keeps of a file's frontmatter without parsing it is what parsing it gives."""
    data = {"key": "ABC-1", **data}
    read_back = parse_frontmatter(dump_frontmatter(data))
    assert {name: scalar_as_written(value) for name, value in data.items()} == read_back


def test_the_render_record_keeps_what_the_file_says():
    """The index row and parent recorded when a file is written, as its YAML reads back."""
    issue = {
        "key": "ABC-2",
        "id": "10002",
        "fields": {
            "summary": "Fix \u2028 the \x07 bell: - [ ] yes",
            "status": {"name": "2025-01-15"},
            "issuetype": {"name": "Bug\ud800"},
            "assignee": {"displayName": "null"},
            "updated": "2025-01-15T10:30:00.000+0100",
            "parent": {"key": "ABC-1", "fields": {"summary": "Epic"}},
        },
    }
    rendered = render_issue_document(issue)
    front = parse_frontmatter(rendered.text)
    row, parent = _frontmatter_facts(rendered.frontmatter)
    assert row == {name: front.get(name) for name in INDEX_ROW_FIELDS}
    assert parent == "ABC-1" == front["parent"]


_TRICKY_TEXT = st.sampled_from(
    [
        "ABC-1",
        "10001",
        "-1",
        "-abc",
        "+1",
        "0o17",
        "1_000",
        "1e3",
        ".5",
        "...x",
        "---",
        "(x)",
        "_x",
        "yes",
        "No",
        "NULL",
        "~",
        "=",
        "<<",
        "2025-01-15",
        "2025-01-15T10:30:00.000Z",
        "a, b",
        "a,b",
        "x.",
        "a  b",
        "Ana Lima",
        "李小龍",
        "Größe",
        "١٢٣",
        "ﬁ",
        "\u00a0x",
        "x\u00a0",
        "𝔘nicode",
        "emoji 🚀",
        "tab\there",
        "é",
        "e\u0301",
    ]  # fmt: skip
)
_TEXT = st.one_of(_TRICKY_TEXT, st.text(max_size=12), st.text(alphabet="aZ09 _./()+=-,", max_size=12))
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), _TEXT)
_VALUE = st.one_of(
    _SCALAR, st.lists(_SCALAR, max_size=4), st.dictionaries(_TEXT, st.one_of(_SCALAR, st.lists(_SCALAR)), max_size=3)
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.one_of(_TEXT, st.sampled_from(["key", "summary", "labels", "custom_fields"])), _VALUE))
@example({"10001": {"\n": None}, "ABC-1": None})  # a key written "? |2+" alone ends its document with "..."
def test_the_frontmatter_is_pyyamls_text_to_the_byte(data):
    """dump_frontmatter writes simple entries itself: always exactly what PyYAML writes for the mapping."""
    assert dump_frontmatter(data) == f"---\n{_dump_yaml(dict(data))}---\n"


@pytest.mark.parametrize(
    "value", ["ends with blank lines\n\n", ["item\n\n"], {"field": "text\n\n\n"}], ids=["text", "list", "mapping"]
)
def test_text_ending_in_blank_lines_before_another_entry_reads_back(value):
    # Alone, such an entry ends its YAML document ("..."); written before another entry, a "..." in
    # the middle of the frontmatter made the file unreadable.
    data = {"custom_fields": value, "key": "ABC-1"}
    text = dump_frontmatter(data)
    assert parse_frontmatter(text + "body\n") == data
    assert text == f"---\n{_dump_yaml(data)}---\n"


def test_a_list_shared_by_two_entries_is_written_by_pyyaml_whole():
    shared = ["a", "b"]
    text = dump_frontmatter({"one": shared, "two": shared})
    assert text == f"---\n{_dump_yaml({'one': shared, 'two': shared})}---\n" and "&id001" in text
