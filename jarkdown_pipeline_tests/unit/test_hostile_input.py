"""Hostile and unlucky input (issue 13): bounded depth, bounded output, no live script, clean names."""

import json
import unicodedata

import pytest

from jarkdown_pipeline import _json
from jarkdown_pipeline.attachment_handler import local_attachment_names, safe_filename
from jarkdown_pipeline.exceptions import IssueError
from jarkdown_pipeline.markdown import adf_to_markdown, html_to_markdown, render_issue, wiki_to_markdown
from jarkdown_pipeline.markdown import issue as issue_module
from jarkdown_pipeline.markdown.adf import MAX_RENDER_DEPTH
from jarkdown_pipeline.markdown.fields import MAX_FIELD_DEPTH, field_value_to_data
from jarkdown_pipeline_tests.plugins.link_safety import dangerous_links

DEEP = 3000  # far past Python's default recursion limit of 1000


def _text(text, marks=()):
    return {"type": "text", "text": text, "marks": list(marks)}


def _para(*content):
    return {"type": "paragraph", "content": list(content)}


def _doc(*content):
    return {"type": "doc", "version": 1, "content": list(content)}


def _nest(inner, wrap, depth):
    node = inner
    for _ in range(depth):
        node = wrap(node)
    return node


def _issue(description=None, **fields):
    return {"key": "ABC-1", "id": "1", "fields": {"summary": "s", "description": description, **fields}}


NESTINGS = {
    "blockquote": lambda node: {"type": "blockquote", "content": [node]},
    "bulletList": lambda node: {
        "type": "bulletList",
        "content": [{"type": "listItem", "content": [_para(_text("i")), node]}],
    },
    "orderedList": lambda node: {"type": "orderedList", "content": [{"type": "listItem", "content": [node]}]},
    "panel": lambda node: {"type": "panel", "attrs": {"panelType": "info"}, "content": [node]},
    "expand": lambda node: {"type": "expand", "attrs": {"title": "t"}, "content": [node]},
    "taskList": lambda node: {"type": "taskList", "content": [{"type": "taskItem", "content": [_text("t")]}, node]},
    "tableCell": lambda node: {
        "type": "table",
        "content": [{"type": "tableRow", "content": [{"type": "tableCell", "content": [node]}]}],
    },
    "unknown": lambda node: {"type": "mysteryBlock", "content": [node]},
    "unknownInline": lambda node: {"type": "mysteryInline", "content": [node, _text("x")]},
}


@pytest.mark.parametrize("kind", sorted(NESTINGS))
def test_deep_nesting_renders_and_keeps_the_innermost_text(kind):
    inner = _para(_text("innermost words")) if kind not in ("taskList", "unknownInline") else _text("innermost words")
    if kind == "taskList":
        inner = {"type": "taskList", "content": [{"type": "taskItem", "content": [inner]}]}
    description = _doc(_nest(inner, NESTINGS[kind], DEEP))
    markdown = render_issue(_issue(description))
    assert "innermost words" in markdown
    assert len(markdown) < 2_000_000


def test_nesting_within_the_cap_keeps_its_structure():
    shallow = _nest(_para(_text("deep")), NESTINGS["blockquote"], MAX_RENDER_DEPTH - 2)
    assert adf_to_markdown(_doc(shallow)).endswith(">" * 1 + " deep")
    assert adf_to_markdown(_doc(shallow)).count(">") == MAX_RENDER_DEPTH - 2


def test_thousands_of_marks_on_one_text_node():
    marks = [{"type": "strong", "attrs": {"n": n}} for n in range(DEEP)]
    marks += [{"type": "link", "attrs": {"href": f"https://example.com/{n}"}} for n in range(DEEP)]
    nested_attrs = _nest({}, lambda inner: {"a": inner}, DEEP)
    marks.append({"type": "em", "attrs": nested_attrs})
    markdown = adf_to_markdown(_doc(_para(_text("word", marks))))
    assert markdown == "[__*word*__](https://example.com/0)"


def test_deep_field_values_are_read_as_their_text():
    value = _nest("bottom", lambda inner: [{"value": inner}], DEEP)
    data = field_value_to_data(value, None)
    assert "bottom" in json.dumps(data)
    markdown = render_issue(
        _issue(None, customfield_10001=value, customfield_10002=_nest("b2", lambda i: {"x": i}, DEEP))
    )
    assert "bottom" in markdown and "b2" in markdown
    assert MAX_FIELD_DEPTH < 50


def test_deep_wiki_markup_and_html():
    for wiki in ("{quote}" * DEEP + "core" + "{quote}" * DEEP, "bq. " * 200 + "core", "{panel}" * DEEP + "core"):
        assert "core" in wiki_to_markdown(wiki)
    for tag in ("div", "blockquote", "ul><li", "table><tr><td", "b"):
        opening, closing = f"<{tag}>", "".join(f"</{t}>" for t in reversed(tag.split("><")))
        markdown = html_to_markdown(opening * DEEP + "core text" + closing * DEEP)
        assert "core text" in markdown
    issue = _issue(None)
    issue["renderedFields"] = {"description": "<ul><li>" * DEEP + "rendered core"}
    assert "rendered core" in render_issue(issue)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [600, 1100, 100_000])
@pytest.mark.parametrize("tail", ["", "NaN"])  # NaN: only the standard library reads it
def test_deeply_nested_json_is_a_value_error(depth, tail):
    text = "[" * depth + tail + "]" * depth
    if depth <= 1024 and not tail:
        assert _json.load_json(text)  # within orjson's own limit
        return
    with pytest.raises(ValueError, match="nested deeper than"):
        _json.load_json(text.encode())


def test_json_depth_check_skips_brackets_in_strings():
    assert _json.load_json('{"a": "' + "[" * 2000 + '", "b": NaN}')["a"] == "[" * 2000


def test_dump_json_refuses_values_it_cannot_write_without_recursing():
    value = _nest([], lambda inner: [inner], _json.MAX_JSON_DEPTH + 10)
    with pytest.raises(ValueError, match="nested deeper than"):
        _json.dump_json(value)
    assert _json.dump_json(_nest([], lambda inner: [inner], 300)).startswith(b"[[[")


# ---------------------------------------------------------------------------------------------
# Bounded output
# ---------------------------------------------------------------------------------------------


def _table(*rows):
    return {"type": "table", "content": [{"type": "tableRow", "content": list(cells)} for cells in rows]}


def _cell(text, **attrs):
    return {"type": "tableCell", "attrs": attrs, "content": [_para(_text(text))]}


def test_huge_spans_are_capped_at_the_table_size():
    doc = _doc(_table([_cell("a", colspan=10_000_000, rowspan=10_000_000)], [_cell("b"), _cell("c")]))
    assert len(json.dumps(doc)) < 600
    markdown = adf_to_markdown(doc)
    # "a" spans the table's real width and height (2 x 2); the second row's cells follow it.
    assert markdown == "| | | | |\n| --- | --- | --- | --- |\n| a |  |  |  |\n|  |  | b | c |"


@pytest.mark.parametrize("span", ["1e999", -5, "x", None, [3], {"a": 1}, 0])
def test_malformed_spans_count_as_one(span):
    markdown = adf_to_markdown(_doc(_table([_cell("a", colspan=span, rowspan=span), _cell("b")])))
    assert markdown == "| | |\n| --- | --- |\n| a | b |"


def test_a_table_too_large_for_a_grid_is_written_as_text_rows():
    wide_row = [_cell(f"w{n}") for n in range(400)]
    tall = [[_cell(f"t{n}")] for n in range(400)]
    markdown = adf_to_markdown(_doc(_table(wide_row, *tall)))
    assert "w399" in markdown and "t399" in markdown
    assert len(markdown) < 50_000


def test_output_past_the_bound_is_an_issue_error(monkeypatch):
    monkeypatch.setattr(issue_module, "MAX_ISSUE_MARKDOWN_CHARS", 2_000)
    render_issue(_issue(_doc(_para(_text("x" * 1000)))))
    with pytest.raises(IssueError, match=r"over the limit of 2,000") as caught:
        render_issue(_issue(_doc(_para(_text("x" * 3000)))))
    assert caught.value.key == "ABC-1"


@pytest.mark.parametrize("issue", [{"key": "../X-1"}, {"key": "ABC-2\n"}, {"fields": {}}, ["ABC-1"], {"key": 5}])
def test_an_unusable_issue_is_an_issue_error(issue):
    with pytest.raises(IssueError, match="not a Jira issue"):
        render_issue(issue)


# ---------------------------------------------------------------------------------------------
# No live script
# ---------------------------------------------------------------------------------------------

HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "javascript&#58;alert(1)",
    "&#x6A;avascript:alert(1)",
    "&#106;avascript:alert(1)",
    "java\tscript:alert(1)",
    "java&Tab;script:alert(1)",
    "\x01 javascript:alert(1)",
    "\u00a0javascript:alert(1)",
    " javascript:alert(1)",
    "javascript\\:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
]


def _hostile_adf(url):
    link = {"type": "link", "attrs": {"href": url, "title": url}}
    return _doc(
        _para(_text("linked text", [link]), {"type": "inlineCard", "attrs": {"url": url}}),
        {"type": "blockCard", "attrs": {"url": url}},
        {"type": "embedCard", "attrs": {"url": url}},
        {"type": "blockCard", "attrs": {"data": {"url": url, "name": "card name"}}},
        {
            "type": "mediaSingle",
            "marks": [link],
            "content": [{"type": "media", "attrs": {"type": "external", "url": url, "alt": "alt text"}}],
        },
        _para({"type": "mediaInline", "attrs": {"type": "external", "url": url, "alt": "inline alt"}}),
        _para({"type": "mention", "attrs": {"id": url, "text": url}}),
        _para(_text(f"[md]({url}) <{url}> {url}")),
    )


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_adf_links_with_a_hostile_url_keep_their_text_only(url):
    markdown = render_issue(_issue(_doc(*_hostile_adf(url)["content"])))
    assert dangerous_links(markdown) == []
    for text in ("linked text", "card name", "alt text", "inline alt"):
        assert text in markdown


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_wiki_links_with_a_hostile_url_keep_their_text_only(url):
    wiki = f"[click|{url}] [{url}] !{url}! <{url}> [a]: {url}\n\n[a] [b][a] [x]({url}) [^{url}]"
    markdown = wiki_to_markdown(wiki)
    assert dangerous_links(markdown) == []
    assert "click" in markdown


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_rendered_html_with_a_hostile_url_keeps_its_text_only(url):
    quoted = url.replace('"', "&quot;")
    page = (
        f'<p><a href="{quoted}">anchor text</a> <img src="{quoted}" alt="img alt"> [x]({url})</p>'
        f'<p onclick="alert(1)" style="x">para</p><iframe src="{quoted}"></iframe>'
    )
    markdown = html_to_markdown(page)
    assert dangerous_links(markdown) == []
    assert "anchor text" in markdown and "para" in markdown


def test_wiki_tags_keep_no_attributes_and_safe_links_stay_links():
    markdown = wiki_to_markdown(
        '+under+ <u onclick="alert(1)">x</u> <font color="red" onmouseover=y>f</font> <br style=x> '
        "{color:red}red{color} [site|https://example.com/a?b=1&c=2] <https://example.com>"
    )
    assert dangerous_links(markdown) == []
    assert "onclick" not in markdown and "color=" not in markdown
    assert "[site](https://example.com/a?b=1&c=2)" in markdown
    assert "<https://example.com>" in markdown


def test_safe_adf_links_are_unchanged_and_exact():
    href = "https://example.com/a?b=1&amp;c=2&#58;"
    markdown = adf_to_markdown(_doc(_para(_text("t", [{"type": "link", "attrs": {"href": href}}]))))
    import cmarkgfm

    assert 'href="https://example.com/a?b=1&amp;amp;c=2&amp;#58;"' in cmarkgfm.github_flavored_markdown_to_html(
        markdown
    )
    for href in ("mailto:a@example.com", "../ABC-2/ABC-2.md", "#frag", "/browse/ABC-1", "attachments/x%20y.png"):
        assert adf_to_markdown(_doc(_para(_text("t", [{"type": "link", "attrs": {"href": href}}])))).startswith("[t](")


# ---------------------------------------------------------------------------------------------
# Attachment names
# ---------------------------------------------------------------------------------------------

INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff"


def test_attachment_names_lose_bidi_zero_width_and_control_characters():
    name = safe_filename("in\u202evoice\u200b\u2066.\u200dtxt\x07\x85.exe", "fallback")
    assert name == "invoice.txt__.exe"
    assert not set(name) & set(INVISIBLE)
    assert safe_filename(INVISIBLE, "attachment-7") == "attachment-7"


def test_nfc_and_nfd_spellings_become_one_name_then_unique_names():
    composed, decomposed = (
        "Caf\u00e9 r\u00e9sum\u00e9.pdf",
        unicodedata.normalize("NFD", "Caf\u00e9 r\u00e9sum\u00e9.pdf"),
    )
    assert composed != decomposed
    assert safe_filename(decomposed, "x") == composed
    names = local_attachment_names([{"id": "20", "filename": decomposed}, {"id": "10", "filename": composed}])
    assert names == {"10": composed, "20": "Caf\u00e9 r\u00e9sum\u00e9-20.pdf"}
    again = local_attachment_names([{"id": "10", "filename": composed}, {"id": "20", "filename": decomposed}])
    assert again == names
    assert all(unicodedata.is_normalized("NFC", name) for name in names.values())


def test_wiki_markup_the_parser_cannot_nest_is_kept_as_plain_text(monkeypatch):
    from jarkdown_pipeline.markdown import wiki

    def too_deep(text):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(wiki, "_convert_wiki", too_deep)
    markdown = wiki.wiki_to_markdown("*bold* [x|javascript:alert(1)]\n# item")
    assert markdown == "\\*bold\\* \\[x\\|javascript:alert(1)\\]\n\\# item"
    assert dangerous_links(markdown) == []


def test_wiki_markup_the_converter_fails_on_is_kept_as_plain_text(monkeypatch):
    from jarkdown_pipeline.markdown import wiki

    def failing(text):
        raise IndexError("list index out of range")

    monkeypatch.setattr(wiki, "_convert_wiki", failing)
    assert wiki_to_markdown("||") == "\\|\\|"
    assert wiki_to_markdown("before\n||") == "before\n\\|\\|"


@pytest.mark.parametrize(
    "text",
    [
        "https://a.example<img src=x onerror=alert(1)>",
        "www.a.example`<b onclick=x>`",
        "https://a.example\\[x](javascript:alert(1))",
    ],
)
def test_text_right_after_a_bare_url_cannot_become_markup(text):
    # cmark-gfm's autolink takes a following backslash or backtick into the URL.
    deep = _nest(_para(_text(text)), NESTINGS["blockquote"], MAX_RENDER_DEPTH + 5)
    issue = _issue(_doc(deep, {"type": "extension", "attrs": {"text": text}}, _para(_text(text))), environment=text)
    issue["fields"]["comment"] = {"comments": [{"body": text}, {"renderedBody": f"<p>{text}</p>"}]}
    issue["fields"]["summary"] = text
    markdown = render_issue(issue)
    assert dangerous_links(markdown) == []


# GitHub's email autolink reads the text after escapes and references are decoded, so escaping
# cannot stop these; the ftp:// ones are linked from the source unless the colon is escaped.
GFM_AUTOLINK_TEXTS = [
    "x.mailto:a@x.com",
    "x-mailto:a@x.com",
    "x_mailto:a@x.com",
    "x+mailto:a@x.com",
    "xmpp:a@x.com",
    "xmpp:a@x.com/resource",
    "see (xmpp:a@x.com)",
    "*xmpp:a@x.com*",
    "a:b:xmpp:a@x.com",
    "xmpp:mailto:a@x.com",
    "xmpp:@x.com",
    "x.mailto&#58;a@x.com",
    "x.mai&#108;to:a@x.com",
    "x.mailto:a_b@x.com.",
    "0ftp://x.com",
    "\u00e9.ftp://x.com",
    "FTP://x.com",
    "x.mailto:a@x.com and xmpp:b@y.org",
]


def _displayed_text(markdown):
    import html as html_module
    import re

    import cmarkgfm

    page = cmarkgfm.github_flavored_markdown_to_html(markdown)
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("text", GFM_AUTOLINK_TEXTS)
def test_gfm_email_and_ftp_autolinks_never_get_another_scheme_in_any_path(text):
    outputs = {
        "adf": adf_to_markdown(_doc(_para(_text(text)))),
        "adf heading": adf_to_markdown(_doc({"type": "heading", "attrs": {"level": 2}, "content": [_text(text)]})),
        "adf cell": adf_to_markdown(_doc(_table([_cell(text)]))),
        "wiki": wiki_to_markdown(text),
        "wiki in a quote": wiki_to_markdown("{quote}" + text + "{quote}"),
        "rendered html": html_to_markdown(f"<p>{text}</p>"),
    }
    issue = _issue(None, environment=text)
    issue["fields"]["summary"] = text
    issue["fields"]["worklog"] = {"worklogs": [{"author": {"displayName": text}, "timeSpent": text}]}
    issue["fields"]["customfield_10001"] = text
    issue["fields"]["comment"] = {"comments": [{"author": {"displayName": text}, "body": _doc(_para(_text(text)))}]}
    outputs["issue"] = render_issue(issue)
    for path, markdown in outputs.items():
        assert dangerous_links(markdown) == [], (path, markdown)
    import html as html_module

    for path, shown in (("adf", text), ("adf heading", text), ("rendered html", html_module.unescape(text))):
        assert _displayed_text(outputs[path]).strip() == shown, path


@pytest.mark.parametrize(
    "pieces",
    [
        # Two text nodes with different marks, the first one's mark writing no syntax.
        [_text("x.", [{"type": "link", "attrs": {"href": ""}}]), _text("mailto:a@x.com")],
        [_text("xmpp:"), _text("a@x.com", [{"type": "link", "attrs": {"href": "javascript:alert(1)"}}])],
        [_text("xmpp"), _text(":a@x.com", [{"type": "link", "attrs": {"href": ""}}])],
        [
            _text("x.mailto:", [{"type": "link", "attrs": {"href": ""}}]),
            {"type": "mention", "attrs": {"text": "x.com"}},
        ],
        [{"type": "emoji", "attrs": {"text": "0"}}, _text("ftp://x.com", [{"type": "link", "attrs": {"href": ""}}])],
    ],
)
def test_gfm_autolinks_across_separately_escaped_pieces(pieces):
    markdown = adf_to_markdown(_doc(_para(*pieces)))
    assert dangerous_links(markdown) == [], markdown
    assert dangerous_links(render_issue(_issue(_doc(_para(*pieces))))) == []


def test_a_safe_email_stays_as_github_links_it_and_code_is_left_alone():
    assert adf_to_markdown(_doc(_para(_text("mail mailto:a@x.com or a@x.com")))) == "mail mailto:a@x.com or a@x.com"
    code = _doc(
        _para(_text("xmpp:a@x.com", [{"type": "code"}])),
        {"type": "codeBlock", "content": [_text("x.mailto:a@x.com\nftp://x.com")]},
        _para(_text("t", [{"type": "link", "attrs": {"href": "https://x.com/xmpp:a@x.com"}}])),
    )
    assert adf_to_markdown(code) == (
        "`xmpp:a@x.com`\n\n```\nx.mailto:a@x.com\nftp://x.com\n```\n\n[t](https://x.com/xmpp:a@x.com)"
    )
    assert adf_to_markdown(_doc(_para(_text("xmpp:a@x.com")))) == "xmpp:[a@x.com](mailto:a@x.com)"


def test_index_pages_show_hostile_summaries_as_text():
    from jarkdown_pipeline.markdown.index import index_pages

    row = {"key": "ABC-1", "updated_at": "2026-11-20T10:00:00.000Z", "type": "0ftp://x.com"}
    row |= {
        "summary": "x.mailto:a@x.com [x](javascript:alert(1))",
        "status": "xmpp:s@x.com",
        "assignee": "<b onclick=x>",
    }
    pages = index_pages([row])
    assert set(pages) == {"index.md", "_index/ABC.md"}
    for page in pages.values():
        assert dangerous_links(page) == [], page
