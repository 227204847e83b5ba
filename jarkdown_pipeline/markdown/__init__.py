"""Jira issues to Markdown: pure functions, no I/O, no Dagster.

``adf_to_markdown`` converts Atlassian Document Format; ``render_issue`` writes one issue file
(frontmatter + sections); ``render_index`` the knowledge base's index.md.
"""

from jarkdown_pipeline.markdown.adf import BLOCK_HANDLERS, INLINE_HANDLERS, MARKS, adf_to_markdown, adf_to_table_cell
from jarkdown_pipeline.markdown.fields import FieldDefinition, custom_field_slugs, slugify
from jarkdown_pipeline.markdown.frontmatter import dump_frontmatter, parse_frontmatter
from jarkdown_pipeline.markdown.index import render_index
from jarkdown_pipeline.markdown.issue import issue_markdown_path, render_issue
from jarkdown_pipeline.markdown.media import MediaIndex
from jarkdown_pipeline.markdown.wiki import html_to_markdown, wiki_to_markdown

__all__ = [
    "BLOCK_HANDLERS",
    "INLINE_HANDLERS",
    "MARKS",
    "FieldDefinition",
    "MediaIndex",
    "adf_to_markdown",
    "adf_to_table_cell",
    "custom_field_slugs",
    "dump_frontmatter",
    "html_to_markdown",
    "issue_markdown_path",
    "parse_frontmatter",
    "render_index",
    "render_issue",
    "slugify",
    "wiki_to_markdown",
]
