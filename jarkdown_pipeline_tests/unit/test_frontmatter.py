"""The one frontmatter parser: what it accepts and what it rejects, on purpose."""

import pytest

from jarkdown_pipeline.knowledge_base import parse_frontmatter_block
from jarkdown_pipeline.markdown.frontmatter import FrontmatterError, dump_frontmatter, parse_frontmatter


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
