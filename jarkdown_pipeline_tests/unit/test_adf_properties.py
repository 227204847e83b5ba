"""Property tests: the Markdown, rendered by GitHub's own parser (cmark-gfm), shows the same text.

"Appears" is checked on what a reader sees: the Markdown is rendered to HTML with cmarkgfm and
the HTML's text is compared (whitespace collapsed, as HTML displays it) with the ADF text.
"""

import html.parser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.markdown import adf_to_markdown
from jarkdown_pipeline_tests.plugins.fuzz import examples
from jarkdown_pipeline_tests.plugins.rendered_html import WHITESPACE, displayed, normalize, render_html

SPECIALS = list("*_`[]<>#|\\~-+=!&;:$()0123456789.\"' \nabcxyz") + [
    "&amp;",
    "<a>",
    "```",
    "www.x.org",
    "1. ",
    "- ",
    "> ",
]
ALPHABET = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
TEXT = st.lists(st.one_of(st.sampled_from(SPECIALS), ALPHABET), min_size=1, max_size=10).map("".join)

SIMPLE_MARKS = [
    {"type": "strong"},
    {"type": "em"},
    {"type": "strike"},
    {"type": "underline"},
    {"type": "code"},
    {"type": "subsup", "attrs": {"type": "sup"}},
    {"type": "textColor", "attrs": {"color": "#ff0000"}},
    {"type": "link", "attrs": {"href": "https://example.com/a_b(c)"}},
]


@st.composite
def text_nodes(draw):
    marks = draw(st.lists(st.sampled_from(SIMPLE_MARKS), unique_by=lambda m: m["type"], max_size=3))
    return {"type": "text", "text": draw(TEXT), "marks": marks}


INLINE = st.one_of(text_nodes(), text_nodes(), text_nodes(), st.just({"type": "hardBreak"}))
PARAGRAPH = st.lists(INLINE, min_size=1, max_size=8).map(lambda content: {"type": "paragraph", "content": content})


def _item(blocks):
    return {"type": "listItem", "content": blocks}


BLOCKS = st.recursive(
    st.one_of(PARAGRAPH, st.builds(lambda t: {"type": "codeBlock", "content": [{"type": "text", "text": t}]}, TEXT)),
    lambda children: st.one_of(
        st.lists(
            st.builds(lambda p, rest: _item([p, *rest]), PARAGRAPH, st.lists(children, max_size=2)),
            min_size=1,
            max_size=3,
        ).map(lambda items: {"type": "bulletList", "content": items}),
        st.lists(
            st.builds(lambda p, rest: _item([p, *rest]), PARAGRAPH, st.lists(children, max_size=2)),
            min_size=1,
            max_size=3,
        ).map(lambda items: {"type": "orderedList", "attrs": {"order": 7}, "content": items}),
        st.lists(PARAGRAPH, min_size=1, max_size=2).map(lambda c: {"type": "blockquote", "content": c}),
        st.lists(children, min_size=1, max_size=2).map(
            lambda c: {"type": "panel", "attrs": {"panelType": "warning"}, "content": c}
        ),
        st.lists(st.lists(PARAGRAPH, min_size=1, max_size=3), min_size=1, max_size=3).map(
            lambda rows: {
                "type": "table",
                "content": [
                    {"type": "tableRow", "content": [{"type": "tableCell", "content": [p]} for p in row]}
                    for row in rows
                ],
            }
        ),
    ),
    max_leaves=6,
)


def _texts(node, out):
    if node.get("type") == "text":
        out.append(node["text"])
    for child in node.get("content", ()):
        _texts(child, out)
    return out


def _paragraph_text(paragraph) -> str:
    return "".join(" " if n["type"] == "hardBreak" else n["text"] for n in paragraph["content"])


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PARAGRAPH, min_size=1, max_size=4))
def test_paragraph_text_renders_exactly(paragraphs):
    """Each paragraph, whatever its characters and marks, displays exactly its text."""
    markdown = adf_to_markdown({"type": "doc", "version": 1, "content": paragraphs})
    expected = [normalize(_paragraph_text(p)) for p in paragraphs]
    expected = [text for text in expected if text]
    got = [normalize(p) for p in displayed(markdown).paragraphs]
    got = [text for text in got if text]  # a paragraph of only no-break spaces is kept, but shows nothing
    assert got == expected, markdown


@settings(max_examples=examples(75), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(BLOCKS, min_size=1, max_size=4))
def test_every_text_node_appears_in_nested_documents(blocks):
    doc = {"type": "doc", "version": 1, "content": blocks}
    markdown = adf_to_markdown(doc)
    shown = normalize("".join(displayed(markdown).parts))
    for text in _texts(doc, []):
        for piece in text.split("\n"):
            assert normalize(piece) in shown, (piece, markdown)


_MARK_ELEMENTS = {
    "strong": "strong",
    "em": "em",
    "strike": "del",
    "underline": "ins",
    "code": "code",
    "link": "a",
    "subsup": "sup",
}


class _StyledChars(html.parser.HTMLParser):
    """Each displayed non-whitespace character with the inline elements around it."""

    TRACKED = set(_MARK_ELEMENTS.values())

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.chars: list[tuple[str, frozenset[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.TRACKED:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.TRACKED and tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag)]

    def handle_data(self, data):
        styles = frozenset(self.open)
        self.chars.extend((char, styles) for char in data if not WHITESPACE.match(char))


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PARAGRAPH, min_size=1, max_size=3))
def test_marks_style_exactly_their_text(paragraphs):
    """Every non-blank character shows with exactly its marks (strong, em, strike, underline, code,
    link, sup); a bare URL may additionally be linked."""
    markdown = adf_to_markdown({"type": "doc", "version": 1, "content": paragraphs})
    expected = []
    for paragraph in paragraphs:
        for node in paragraph["content"]:
            if node["type"] != "text":
                continue
            styles = frozenset(_MARK_ELEMENTS[m["type"]] for m in node["marks"] if m["type"] in _MARK_ELEMENTS)
            expected.extend((char, styles) for char in node["text"] if not WHITESPACE.match(char))
    parser = _StyledChars()
    parser.feed(render_html(markdown))
    parser.close()
    assert [char for char, _ in parser.chars] == [char for char, _ in expected], markdown
    for (char, got), (_, want) in zip(parser.chars, expected):
        assert want <= got and got - {"a"} <= want, (char, got, want, markdown)


# Malformed documents: any node type anywhere, attrs of the wrong shape, stray values.
_NODE_TYPES = sorted(
    {
        "doc",
        "paragraph",
        "text",
        "heading",
        "bulletList",
        "orderedList",
        "listItem",
        "taskList",
        "taskItem",
        "blockTaskItem",
        "decisionList",
        "decisionItem",
        "table",
        "tableRow",
        "tableCell",
        "tableHeader",
        "panel",
        "expand",
        "nestedExpand",
        "codeBlock",
        "blockquote",
        "mediaSingle",
        "mediaGroup",
        "media",
        "mediaInline",
        "caption",
        "mention",
        "emoji",
        "date",
        "status",
        "inlineCard",
        "blockCard",
        "embedCard",
        "hardBreak",
        "rule",
        "layoutSection",
        "layoutColumn",
        "extension",
        "bodiedExtension",
        "inlineExtension",
        "placeholder",
        "syncBlock",
        "bodiedSyncBlock",
        "notARealNode",
    }
)
_ODD_VALUE = (
    st.none() | st.booleans() | st.integers() | st.text("ab <|*", max_size=4) | st.lists(st.integers(), max_size=2)
)
_ODD_ATTRS = (
    st.dictionaries(
        st.sampled_from(
            [
                "level",
                "order",
                "state",
                "text",
                "url",
                "id",
                "alt",
                "colspan",
                "rowspan",
                "timestamp",
                "language",
                "panelType",
                "title",
                "type",
            ]
        ),
        _ODD_VALUE,
        max_size=3,
    )
    | _ODD_VALUE
)
_ODD_MARKS = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["strong", "link", "code", "subsup", "bogus"])}, optional={"attrs": _ODD_ATTRS}
    )
    | _ODD_VALUE,
    max_size=2,
)
MALFORMED = st.recursive(
    st.fixed_dictionaries(
        {"type": st.sampled_from(_NODE_TYPES)}, optional={"text": _ODD_VALUE, "attrs": _ODD_ATTRS, "marks": _ODD_MARKS}
    ),
    lambda children: st.fixed_dictionaries(
        {"type": st.sampled_from(_NODE_TYPES), "content": st.lists(children | _ODD_VALUE, max_size=3)},
        optional={"attrs": _ODD_ATTRS, "marks": _ODD_MARKS},
    ),
    max_leaves=10,
)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MALFORMED, max_size=4))
def test_malformed_documents_render_without_errors(content):
    markdown = adf_to_markdown({"type": "doc", "content": content})
    assert isinstance(markdown, str)
    assert "{'" not in markdown and "None" not in markdown


def _warning_panel(*blocks):
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "panel", "attrs": {"panelType": "warning"}, "content": list(blocks)}],
    }


def _ordered(order, *item_blocks):
    return {
        "type": "orderedList",
        "attrs": {"order": order},
        "content": [{"type": "listItem", "content": list(item_blocks)}],
    }


def test_a_panel_opening_with_a_list_that_cannot_interrupt_a_paragraph_keeps_it_a_list():
    # Found by the property above: an ordered list from 7 whose item opens with an empty line, then a
    # code block, became the "[!WARNING]" paragraph's continuation, backticks and all.
    code = {"type": "codeBlock", "content": [{"type": "text", "text": "*"}]}
    doc = _warning_panel(
        _ordered(7, {"type": "paragraph", "content": [{"type": "hardBreak"}]}, code),
        {"type": "paragraph", "content": [{"type": "text", "text": "**"}]},
    )
    markdown = adf_to_markdown(doc)
    assert markdown.startswith("> [!WARNING]\n>\n> 7. ")
    shown = normalize("".join(displayed(markdown).parts))
    assert "```" not in shown and "**" in shown
    assert '<ol start="7">' in render_html(markdown)


def test_a_panel_opening_with_a_paragraph_or_a_first_item_keeps_its_marker_line_tight():
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": "careful"}]}
    assert adf_to_markdown(_warning_panel(paragraph)) == "> [!WARNING]\n> careful"
    assert adf_to_markdown(_warning_panel(_ordered(1, paragraph))).startswith("> [!WARNING]\n> 1. careful")
