"""Structure survives: nesting depth, list numbering, verbatim code (checked with GitHub's parser)."""

import html
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.markdown import adf_to_markdown
from jarkdown_pipeline_tests.plugins.rendered_html import TextExtractor, normalize, render_html


def _text(value):
    return {"type": "text", "text": value}


def _paragraph(value):
    return {"type": "paragraph", "content": [_text(value)]}


def test_lists_nest_to_any_depth():
    depth = 25
    node = {"type": "bulletList", "content": [{"type": "listItem", "content": [_paragraph(f"level {depth}")]}]}
    for level in range(depth - 1, 0, -1):
        kind = "orderedList" if level % 2 else "bulletList"
        node = {"type": kind, "content": [{"type": "listItem", "content": [_paragraph(f"level {level}"), node]}]}
    page = render_html(adf_to_markdown({"type": "doc", "content": [node]}))
    assert page.count("<ul>") + page.count("<ol>") == depth
    # every level is inside all the levels above it
    opened = 0
    for tag in re.findall(r"<(/?)(?:ul|ol)>", page):
        opened += -1 if tag else 1
        assert opened >= 0
    assert f"level {depth}" in page


def test_ordered_list_keeps_its_start_number():
    doc = {
        "type": "doc",
        "content": [
            {
                "type": "orderedList",
                "attrs": {"order": 7},
                "content": [
                    {"type": "listItem", "content": [_paragraph("seven")]},
                    {"type": "listItem", "content": [_paragraph("eight")]},
                ],
            }
        ],
    }
    assert '<ol start="7">' in render_html(adf_to_markdown(doc))


CODE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(code=CODE, language=st.sampled_from(["", "python", "c++", "a`b"]))
def test_code_blocks_are_verbatim(code, language):
    doc = {
        "type": "doc",
        "content": [{"type": "codeBlock", "attrs": {"language": language}, "content": [_text(code)] if code else []}],
    }
    page = render_html(adf_to_markdown(doc))
    match = re.search(r"<pre(?: lang=\"[^\"]*\")?><code(?: class=\"[^\"]*\")?>(.*?)</code></pre>", page, re.DOTALL)
    assert match, page
    shown = html.unescape(match.group(1))
    assert shown == (code + "\n" if code else "")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(code=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30))
def test_inline_code_is_verbatim(code):
    doc = {
        "type": "doc",
        "content": [
            {"type": "paragraph", "content": [_text("x "), {"type": "text", "text": code, "marks": [{"type": "code"}]}]}
        ],
    }
    page = render_html(adf_to_markdown(doc))
    spans = re.findall(r"<code>(.*?)</code>", page, re.DOTALL)
    assert [html.unescape(span) for span in spans] == [code]


CELL_TEXT = st.lists(
    st.sampled_from(list("|\\`*_ab <>-#")) | st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.tuples(CELL_TEXT, st.booleans()), min_size=2, max_size=2), min_size=1, max_size=3))
def test_table_cells_keep_their_text_and_shape(rows):

    def cell(text, as_code):
        node = {"type": "text", "text": text, **({"marks": [{"type": "code"}]} if as_code else {})}
        return {"type": "tableCell", "content": [{"type": "paragraph", "content": [node]}]}

    doc = {
        "type": "doc",
        "content": [
            {
                "type": "table",
                "content": [{"type": "tableRow", "content": [cell(text, code) for text, code in row]} for row in rows],
            }
        ],
    }
    page = render_html(adf_to_markdown(doc))
    body = page.split("<tbody>", 1)[1]
    shown_rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    assert len(shown_rows) == len(rows)
    for shown, row in zip(shown_rows, rows):
        cells = re.findall(r"<td>(.*?)</td>", shown, re.DOTALL)
        assert len(cells) == 2
        for shown_cell, (text, _) in zip(cells, row):
            extractor = TextExtractor()
            extractor.feed(shown_cell)
            assert normalize("".join(extractor.parts)) == normalize(text)
