"""Property test (issue 13): random and malformed ADF trees and issue JSON through ``render_issue``.

Whatever Jira (or an attacker) sends, rendering one issue gives Markdown under the size bound with
no dangerous link, or raises IssueError for that issue: never anything else (no RecursionError,
TypeError, AttributeError...).
"""

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline._json import load_json
from jarkdown_pipeline.exceptions import IssueError
from jarkdown_pipeline.markdown import (
    BLOCK_HANDLERS,
    INLINE_HANDLERS,
    MARKS,
    adf_to_markdown,
    html_to_markdown,
    render_issue,
    wiki_to_markdown,
)
from jarkdown_pipeline.markdown.issue import MAX_ISSUE_MARKDOWN_CHARS
from jarkdown_pipeline_tests.plugins.fuzz import examples
from jarkdown_pipeline_tests.plugins.link_safety import dangerous_links

HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "javascript&#58;alert(1)",
    "&#x6A;avascript:alert(1)",
    "java\tscript:alert(1)",
    "java&Tab;script:x",
    "\x00javascript:x",
    "\u00a0javascript:x",
    "javascript\\&#58;x",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:x",
    "https://example.com/a?b=1&c=2",
    "mailto:a@example.com",
    "../x",
    "#frag",
    "ftp://example.com",
]
ODD_TEXT = st.sampled_from(
    [
        "\u202e",
        "\u200b",
        "\ud800",
        "e\u0301",
        "\x00",
        "\r\n",
        "\n",
        "|",
        "`",
        "*",
        "_",
        "<",
        ">",
        "&#58;",
        "[",
        "](",
        "]:",
        "!",
        "#",
        "\\",
        " ",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=8), ODD_TEXT, st.sampled_from(HOSTILE_URLS)), max_size=5).map("".join)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10_000_000, -1, 0, 3]),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON_VALUE = st.recursive(
    SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8
)
ATTR_KEYS = st.sampled_from(
    [
        "href",
        "url",
        "colspan",
        "rowspan",
        "level",
        "order",
        "title",
        "text",
        "id",
        "alt",
        "type",
        "language",
        "state",
        "panelType",
        "timestamp",
        "shortName",
        "data",
        "isNumberColumnEnabled",
        "extensionKey",
        "panelIconText",
        "datasource",
    ]
)
ATTRS = st.one_of(
    st.dictionaries(ATTR_KEYS, st.one_of(SCALAR, st.sampled_from(HOSTILE_URLS), JSON_VALUE), max_size=4),
    JSON_VALUE,
)
MARK = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(sorted(MARKS) + ["bogus"])}, optional={"attrs": ATTRS}),
    JSON_VALUE,
)
NODE_TYPES = st.sampled_from(sorted(BLOCK_HANDLERS) + sorted(INLINE_HANDLERS) + ["mystery", "listItem", "tableRow"])
TEXT_NODE = st.fixed_dictionaries(
    {"type": st.just("text"), "text": TEXT}, optional={"marks": st.lists(MARK, max_size=4)}
)


def _node(children):
    return st.fixed_dictionaries(
        {"type": NODE_TYPES},
        optional={
            "content": st.one_of(st.lists(children, max_size=4), JSON_VALUE),
            "attrs": ATTRS,
            "marks": st.one_of(st.lists(MARK, max_size=3), JSON_VALUE),
            "text": TEXT,
        },
    )


def mostly(likely, rarely):
    """``likely`` nine times in ten, else ``rarely`` (malformed shapes stay frequent, not dominant)."""
    return st.integers(0, 9).flatmap(lambda n: rarely if n == 0 else likely)


NODE = st.recursive(st.one_of(TEXT_NODE, JSON_VALUE), _node, max_leaves=25)


@st.composite
def deep_node(draw):
    """One chain of containers a few hundred (or thousand) levels deep around random content."""
    node = draw(NODE)
    for _ in range(draw(st.sampled_from([0, 40, 300, 1500]))):
        node = {
            "type": draw(
                st.sampled_from(
                    [
                        "blockquote",
                        "bulletList",
                        "listItem",
                        "panel",
                        "tableCell",
                        "table",
                        "tableRow",
                        "taskList",
                        "expand",
                        "mystery",
                        "paragraph",
                        "mediaSingle",
                    ]
                )
            ),
            "content": [node],
        }
    return node


ADF = st.builds(
    lambda content: {"type": "doc", "version": 1, "content": content},
    st.lists(st.one_of(NODE, deep_node()), max_size=3),
)
WIKI = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "*b*",
                "{quote}",
                "{panel}",
                "bq. ",
                "[a|",
                "]",
                "!",
                "<u onclick=x>",
                "{color:red}",
                "||",
                "|",
                "\n",
                "* ",
                "# ",
                "{code}",
                "<",
            ]
        ),
        TEXT,
    ),
    max_size=6,
).map("".join)
HTML = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "<a href='javascript:x'>",
                "</a>",
                "<img src=javascript:x>",
                "<ul><li>",
                "<div>" * 300,
                "<p onclick=y>",
                "<table><tr><td>",
                "<b>",
                "<![",  # bs4's html.parser rejects it inside an element
                "<!--",
                "<?x",
            ]
        ),
        TEXT,
    ),
    max_size=6,
).map("".join)
RICH = st.integers(0, 9).flatmap(lambda n: ADF if n < 6 else WIKI if n < 9 else JSON_VALUE)
COMMENT = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "body": RICH,
            "author": JSON_VALUE,
            "created": SCALAR,
            "renderedBody": HTML,
            "visibility": JSON_VALUE,
            "id": SCALAR,
        },
    ),
    JSON_VALUE,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "summary": st.one_of(TEXT, JSON_VALUE),
        "description": RICH,
        "environment": RICH,
        "comment": st.one_of(
            st.fixed_dictionaries({"comments": st.lists(COMMENT, max_size=3)}, optional={"total": SCALAR}), JSON_VALUE
        ),
        "labels": JSON_VALUE,
        "issuelinks": st.one_of(st.lists(JSON_VALUE, max_size=2), JSON_VALUE),
        "subtasks": JSON_VALUE,
        "attachment": st.one_of(
            st.lists(st.fixed_dictionaries({}, optional={"id": SCALAR, "filename": TEXT, "size": SCALAR}), max_size=2),
            JSON_VALUE,
        ),
        "worklog": JSON_VALUE,
        "timetracking": JSON_VALUE,
        "status": JSON_VALUE,
        "customfield_10001": RICH,
        "customfield_10002": JSON_VALUE,
        "customfield_10003": st.one_of(TEXT, JSON_VALUE),
        "customfield_10004": st.one_of(WIKI, JSON_VALUE),
    },
)
ISSUE = mostly(
    st.fixed_dictionaries(
        {
            "key": mostly(st.just("ABC-1"), st.one_of(SCALAR, st.sampled_from(["../X-1", "ABC-2\n", "A-1/../B"]))),
            "fields": mostly(FIELDS, JSON_VALUE),
        },
        optional={
            "renderedFields": mostly(st.fixed_dictionaries({"description": HTML}), JSON_VALUE),
            "names": JSON_VALUE,
            "id": SCALAR,
        },
    ),
    JSON_VALUE,
)
FIELD_DEFINITIONS = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(
                    ["customfield_10001", "customfield_10002", "customfield_10003", "customfield_10004", "summary"]
                )
            },
            optional={
                "name": TEXT,
                "custom": st.booleans(),
                "schema": st.one_of(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "type": st.sampled_from(["array", "string", "datetime", "number", "option"]),
                            "custom": st.sampled_from(
                                [
                                    "com.pyxis.greenhopper.jira:gh-sprint",
                                    "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                                ]
                            ),
                            "items": st.sampled_from(["string", "option"]),
                        },
                    ),
                    JSON_VALUE,
                ),
            },
        ),
        JSON_VALUE,
    ),
    max_size=4,
)
ATTACHMENTS = st.lists(
    st.fixed_dictionaries(
        {"attachment_id": st.integers(1, 99).map(str), "filename": TEXT.filter(bool)},
        optional={
            "original_filename": TEXT,
            "mime_type": st.sampled_from(["image/png", "text/plain", ""]),
            "size": st.integers(0, 2**40),
            "media_id": TEXT,
        },
    ),
    max_size=3,
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(issue=ISSUE, definitions=FIELD_DEFINITIONS, attachments=ATTACHMENTS)
def test_any_issue_renders_bounded_and_safe_or_is_an_issue_error(issue, definitions, attachments):
    try:
        markdown = render_issue(
            issue, field_definitions=definitions, attachments=attachments, base_url="https://jira.example.com"
        )
    except IssueError:
        return
    assert len(markdown) <= MAX_ISSUE_MARKDOWN_CHARS
    assert dangerous_links(markdown) == []


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(issue=ISSUE)
def test_issue_json_through_the_json_reader_too(issue):
    """The same issues as Jira's bytes: the reader, then the renderer (deep nesting on both)."""
    try:
        data = json.dumps(issue, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):  # not expressible as JSON text by the test's own writer
        return
    try:
        parsed = load_json(data)
    except ValueError:
        return
    try:
        markdown = render_issue(parsed)
    except IssueError:
        return
    assert dangerous_links(markdown) == []


# Text dense in what GitHub's autolinks look at (protocols, `@`, the characters an email may hold,
# escapes and references), cut into text nodes with marks that write no syntax or some.
AUTOLINK_TEXT = st.lists(
    st.sampled_from(
        ["mailto", "xmpp", "ftp", "www.", "http", ":", "//", "@", ".", "-", "_", "+", "x", "a1", "co", "\u00e9"]
        + ["\\", "&#58;", "&#64;", "&#109;", "`", "[", "](", "<", ">", "*", "(", ")", " ", "!", "/"]
    ),
    max_size=14,
).map("".join)
AUTOLINK_MARKS = st.lists(
    st.sampled_from(
        [
            {"type": "link", "attrs": {"href": ""}},
            {"type": "link", "attrs": {"href": "javascript:alert(1)"}},
            {"type": "link", "attrs": {"href": "https://x.org/a"}},
            {"type": "strong"},
            {"type": "code"},
            {"type": "underline"},
            {"type": "bogus"},
        ]
    ),
    max_size=2,
    unique_by=lambda mark: mark["type"],
)
AUTOLINK_NODES = st.lists(
    st.one_of(
        st.builds(lambda text, marks: {"type": "text", "text": text, "marks": marks}, AUTOLINK_TEXT, AUTOLINK_MARKS),
        st.builds(lambda text: {"type": "mention", "attrs": {"text": text}}, AUTOLINK_TEXT),
        st.builds(lambda text: {"type": "emoji", "attrs": {"text": text}}, AUTOLINK_TEXT),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(nodes=AUTOLINK_NODES)
@example(nodes=[{"type": "mention", "attrs": {"text": "<!["}}])  # found once: bs4 rejected "<p><![</p>"
def test_text_built_to_meet_githubs_autolinks_never_links_another_scheme(nodes):
    text = "".join(node.get("text") or node.get("attrs", {}).get("text", "") for node in nodes)
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": nodes}]}
    outputs = [
        adf_to_markdown(doc),
        wiki_to_markdown(text),
        html_to_markdown(f"<p>{text}</p>"),
        render_issue({"key": "ABC-1", "fields": {"summary": text, "description": doc}}),
    ]
    for markdown in outputs:
        assert dangerous_links(markdown) == [], markdown
