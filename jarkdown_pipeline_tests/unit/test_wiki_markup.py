"""Wiki markup (Jira Data Center): bounded work for any text (issue 13), and the same Markdown as the
ADF renderer gives for the same content (issue 15). Goldens are in test_render_golden.py.

Boundedness is shown without timing: the parser's own steps (pyparsing's element attempts) are
counted, and the pieces handed to jira2markdown are checked against the budget."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.markdown import adf_to_markdown, render_issue, wiki_blocks, wiki_to_markdown
from jarkdown_pipeline.markdown import wiki as wiki_module
from jarkdown_pipeline.markdown.wiki_blocks import (
    MAX_PIECE_CHARS,
    SCAN_ALLOWANCE,
    SCAN_PER_CHAR,
    paragraphs,
    scan_estimate,
    split_pieces,
)
from jarkdown_pipeline_tests.plugins.fuzz import examples
from jarkdown_pipeline_tests.plugins.link_safety import dangerous_links


def fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# Text that costs jira2markdown far more than its length (unmatched markers make it rescan lines).
HOSTILE = {
    "emphasis run": lambda size: "x " + fill("*a ", size),
    "mixed effects": lambda size: "x " + fill("*a -b +c ^d ~e ??f ", size),
    "nested brackets": lambda size: "[" * (size // 2) + "x" + "]" * (size // 2),
    "open links": lambda size: fill("[a|", size),
    "mentions": lambda size: fill("[~u ", size),
    "colour macros": lambda size: fill("{color:red}", size),
    "code openers": lambda size: fill("{code}x\n", size),
    "table": lambda size: "||" + "h||" * 10 + "\n" + fill("|" + "c|" * 10 + "\n", size),
    "links in paragraphs": lambda size: fill("Some *bold* and a [link|https://x.org].\n\n", size),
}


class ParseSteps:
    """Counts pyparsing's element attempts (``ParserElement._parse``) while active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from pyparsing import ParserElement

        self.count = 0
        original = ParserElement._parse

        def counting(element, *args, **kwargs):
            self.count += 1
            return original(element, *args, **kwargs)

        monkeypatch.setattr(ParserElement, "_parse", counting)

    def of(self, text: str) -> int:
        self.count = 0
        wiki_to_markdown(text)
        return self.count


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_parser_work_grows_linearly_with_hostile_text(name, monkeypatch):
    wiki_to_markdown("*warm* [up|https://x.org]")  # the grammar is built outside the count
    steps = ParseSteps(monkeypatch)
    small, large = steps.of(HOSTILE[name](800)), steps.of(HOSTILE[name](3_200))
    assert large <= 5 * max(small, 1), (small, large)
    assert large <= 600 * 3_200, "a bounded number of parser steps per character"


# Parser steps per character a whole wiki field may cost (measured: about 5 for the mix below, 42 for
# text dense with links and emphasis; the library alone on one emphasis run grows without bound).
MAX_STEPS_PER_CHAR = 60


def test_a_hostile_32_kb_wiki_field_renders_within_a_step_budget(monkeypatch):
    """Issue 13, bounded work: a Data Center issue whose description is 32 KB of every hostile shape
    above renders through the whole path with a bounded count of parser steps per character."""
    wiki_to_markdown("*warm* [up|https://x.org]")  # the grammar is built outside the count
    size = 32 * 1024
    field = "".join(make(size // len(HOSTILE)) + "\n\n" for make in HOSTILE.values())
    assert len(field) >= size
    steps = ParseSteps(monkeypatch)
    markdown = render_issue({"key": "DC-1", "fields": {"summary": "s", "description": field}})
    assert 0 < steps.count <= MAX_STEPS_PER_CHAR * len(field), steps.count
    assert "Some **bold** and a [link](https://x.org)." in markdown
    assert dangerous_links(markdown) == []


def test_an_emphasis_run_given_whole_to_the_library_is_superlinear(monkeypatch):
    """What the budget prevents: the library alone on the same text (kept short: it is slow)."""
    wiki_module._convert_wiki("*warm*")
    steps = ParseSteps(monkeypatch)
    steps.count = 0
    wiki_module._convert_wiki(HOSTILE["emphasis run"](150))
    small = steps.count
    steps.count = 0
    wiki_module._convert_wiki(HOSTILE["emphasis run"](300))
    assert steps.count > 3 * small  # doubling the text more than triples the work


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_pieces_given_to_the_converter_stay_within_the_budget(name, monkeypatch):
    given_pieces: list[str] = []
    convert = wiki_module._convert_wiki

    def recording(text: str) -> str:
        given_pieces.append(text)
        return convert(text)

    monkeypatch.setattr(wiki_module, "_convert_wiki", recording)
    monkeypatch.setattr(wiki_blocks, "MAX_CONVERTED_CHARS", 12_000)  # the same rule, a faster test
    text = HOSTILE[name](2 * MAX_PIECE_CHARS + 100)
    markdown = wiki_to_markdown(text)
    assert sum(map(len, given_pieces)) <= 12_000
    for piece in given_pieces:
        assert len(piece) <= MAX_PIECE_CHARS
        assert scan_estimate(piece) <= SCAN_PER_CHAR * len(piece) + SCAN_ALLOWANCE
    assert markdown and dangerous_links(markdown) == []


def test_a_megabyte_field_converts_at_most_the_budget_and_keeps_every_word(monkeypatch):
    monkeypatch.setattr(wiki_blocks, "MAX_CONVERTED_CHARS", 20_000)  # the same rule, a faster test
    given_chars = 0
    convert = wiki_module._convert_wiki

    def recording(text: str) -> str:
        nonlocal given_chars
        given_chars += len(text)
        return convert(text)

    monkeypatch.setattr(wiki_module, "_convert_wiki", recording)
    text = "".join(f"Para{n} *bold{n}* [l{n}|https://x.org/{n}]\n\n" for n in range(30_000))
    assert len(text) > 1_000_000
    markdown = wiki_to_markdown(text)
    assert 19_000 <= given_chars <= 20_000
    assert "**bold0**" in markdown and "[l0](https://x.org/0)" in markdown  # the start converted
    assert "Para29999 \\*bold29999\\*" in markdown  # past the budget: plain text, nothing dropped


def test_an_over_budget_paragraph_is_plain_text_and_its_neighbours_convert():
    hostile = "x " + "*a " * 400 + "[x|javascript:alert(1)]"
    markdown = wiki_to_markdown(f"*before*\n\n{hostile}\n\n*after*")
    before, middle, after = markdown.split("\n\n")
    assert before == "**before**" and after == "**after**"
    assert middle.startswith("x \\*a \\*a") and middle.count("\\*a") == 400
    assert dangerous_links(markdown) == []


WIKI_PIECES = st.sampled_from(
    [
        "*b*",
        "*",
        "-",
        "+",
        "^",
        "~",
        "??",
        "_",
        "{quote}",
        "{panel:title=t}",
        "{panel}",
        "{code}",
        "{code:python}",
        "{noformat}",
        "{info}",
        "{color:red}",
        "{color}",
        "{{",
        "}}",
        "bq. ",
        "h2. ",
        "[a|https://x.org]",
        "[~jdoe]",
        "[^f.txt]",
        "[",
        "]",
        "|",
        "||",
        "!a.png!",
        "!",
        "\n",
        "\n\n",
        "\n \n",
        "* ",
        "# ",
        "** ",
        "----",
        "\\\\",
        ":)",
        "(y)",
        "http://x.org/a_b-c",
        "word",
        " ",
        "\t",
        "é",
        "_x_",
        "a-b",
    ]
)
WIKI_TEXT = st.lists(WIKI_PIECES, max_size=25).map("".join)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(text=WIKI_TEXT)
def test_pieces_join_back_into_the_text(text):
    assert "".join(piece.text + separator for piece, separator in split_pieces(text)) == text
    assert "".join(paragraph + separator for paragraph, separator in paragraphs(text)) == text


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(text=WIKI_TEXT)
def test_the_prose_shortcut_changes_no_output(text):
    from jarkdown_pipeline.markdown.wiki_elements import build_grammar

    with_runs, without_runs = _grammars(build_grammar)
    try:
        expected = without_runs.transform_string(text)
    except Exception as error:  # the same failure either way
        with pytest.raises(type(error)):
            with_runs.transform_string(text)
        return
    assert with_runs.transform_string(text) == expected


_GRAMMARS: list = []


def _grammars(build):
    if not _GRAMMARS:
        _GRAMMARS.extend([build(), build(plain_runs=False)])
    return _GRAMMARS


def test_the_same_text_gives_the_same_markdown_whatever_was_converted_before():
    """pyparsing lets an IndexError in a parse action escape only on the action's first call: the
    library's table action raised on ``||`` once, and read it as text afterwards."""
    first = wiki_to_markdown("||")
    wiki_to_markdown("x\n\n|a|b|\n\n||h||")
    assert wiki_to_markdown("||") == first == "||"


def test_users_come_from_the_issue_fields():
    issue = {
        "key": "OPS-1",
        "fields": {
            "summary": "s",
            "assignee": {"name": "jdoe", "key": "JIRAUSER1", "displayName": "John Doe"},
            "description": "Ask [~jdoe] and [~JIRAUSER1] and [~asmith] and [~nobody].",
            "comment": {"comments": [{"author": {"name": "asmith", "displayName": "Alice Smith"}, "body": "hi"}]},
        },
    }
    markdown = render_issue(issue)
    assert "Ask @John Doe and @John Doe and @Alice Smith and @nobody." in markdown


def _doc(*content):
    return {"type": "doc", "version": 1, "content": list(content)}


def _p(*content):
    return {"type": "paragraph", "content": list(content)}


def _t(text, *marks):
    node = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": mark} for mark in marks]
    return node


ATTACHMENTS = [
    {"attachment_id": "10", "filename": "screen.png", "mime_type": "image/png"},
    {"attachment_id": "11", "filename": "report.pdf", "mime_type": "application/pdf"},
]
SAME_CONTENT = {
    "marks": (
        "*bold* -gone- {{code}} +under+ ^up^ ~down~",
        _doc(
            _p(
                _t("bold", "strong"),
                _t(" "),
                _t("gone", "strike"),
                _t(" "),
                _t("code", "code"),
                _t(" "),
                _t("under", "underline"),
                _t(" "),
                {"type": "text", "text": "up", "marks": [{"type": "subsup", "attrs": {"type": "sup"}}]},
                _t(" "),
                {"type": "text", "text": "down", "marks": [{"type": "subsup", "attrs": {"type": "sub"}}]},
            )
        ),
    ),
    "heading and list": (
        "h2. Title\n\n* one\n* two\n** nested",
        _doc(
            {"type": "heading", "attrs": {"level": 2}, "content": [_t("Title")]},
            {
                "type": "bulletList",
                "content": [
                    {"type": "listItem", "content": [_p(_t("one"))]},
                    {
                        "type": "listItem",
                        "content": [
                            _p(_t("two")),
                            {"type": "bulletList", "content": [{"type": "listItem", "content": [_p(_t("nested"))]}]},
                        ],
                    },
                ],
            },
        ),
    ),
    "code block": (
        "{code:python}\nprint(1)\n{code}",
        _doc({"type": "codeBlock", "attrs": {"language": "python"}, "content": [_t("print(1)")]}),
    ),
    "table with a header row": (
        "||Name||Value||\n|a|*b*|",
        _doc(
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {"type": "tableHeader", "content": [_p(_t("Name"))]},
                            {"type": "tableHeader", "content": [_p(_t("Value"))]},
                        ],
                    },
                    {
                        "type": "tableRow",
                        "content": [
                            {"type": "tableCell", "content": [_p(_t("a"))]},
                            {"type": "tableCell", "content": [_p(_t("b", "strong"))]},
                        ],
                    },
                ],
            }
        ),
    ),
    "mention, link and emoji": (
        "Ask [~jdoe] about [the docs|https://example.com/d] (y)",
        _doc(
            _p(
                _t("Ask "),
                {"type": "mention", "attrs": {"id": "acc-1", "text": "@John Doe"}},
                _t(" about "),
                {
                    "type": "text",
                    "text": "the docs",
                    "marks": [{"type": "link", "attrs": {"href": "https://example.com/d"}}],
                },
                _t(" "),
                {"type": "emoji", "attrs": {"shortName": ":thumbsup:", "text": "👍"}},
            )
        ),
    ),
    "attachments": (
        "!screen.png!\n\n!report.pdf|thumbnail!",
        _doc(
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "m1", "alt": "screen.png"}}]},
            {"type": "mediaGroup", "content": [{"type": "media", "attrs": {"id": "m2", "alt": "report.pdf"}}]},
        ),
    ),
    "rule, quote and break": (
        "above\n\n----\n\n{quote}quoted{quote}\n\none\\\\two",
        _doc(
            _p(_t("above")),
            {"type": "rule"},
            {"type": "blockquote", "content": [_p(_t("quoted"))]},
            _p(_t("one"), {"type": "hardBreak"}, _t("two")),
        ),
    ),
    "info panel": (
        "{info}\nHeads up.\n{info}",
        _doc({"type": "panel", "attrs": {"panelType": "info"}, "content": [_p(_t("Heads up."))]}),
    ),
}


@pytest.mark.parametrize("name", sorted(SAME_CONTENT))
def test_wiki_and_adf_of_the_same_content_give_the_same_markdown(name):
    wiki, adf = SAME_CONTENT[name]
    expected = adf_to_markdown(adf, media=ATTACHMENTS)
    assert wiki_to_markdown(wiki, media=ATTACHMENTS, users={"jdoe": "John Doe"}) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{quote}www.mailto:a@example.com",  # found by a long property-test run
        "{x.mailto:a@x.com",
        "(x-mailto:a@x.com and y_mailto:b@x.com",
        "{x.mai&#108;to:a@x.com",
        "{x.mailto&#58;a@x.com",
        "``ftp://example.com`",  # found by a long property-test run: "``" opens no code span here
    ],
)
def test_a_prefixed_mailto_or_a_half_code_span_is_no_link_with_another_scheme(text):
    """cmark-gfm links ``x.mailto:a@x.com`` whole, scheme ``x.mailto``, whatever is escaped; and a
    backtick run without its closer is text, so the ``ftp:`` after it must be escaped."""
    for markdown in (wiki_to_markdown(text), wiki_module.html_to_markdown(f"<p>{text}</p>")):
        assert dangerous_links(markdown) == [], markdown
    assert "x.mailto:[a@x.com](mailto:a@x.com)" in wiki_to_markdown("{x.mailto:a@x.com")


INERT_TEXT = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*#-{}[]!|+?^~\\")),
        st.sampled_from(
            [":)", ";)", ":P", "(y)", "(on)", "(/)", "h1. ", "bq. ", "\n", "http://x.org/a_b", "&#58;", "<b>"]
        ),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(text=INERT_TEXT)
def test_text_without_markup_converts_to_itself(text):
    """What lets split_pieces skip the converter for a piece with no markup character."""
    from hypothesis import assume

    assume(wiki_blocks.is_inert(text))
    assert wiki_module._convert_wiki(text) == text


def test_wiki_table_cells_keep_escaped_pipes_and_line_breaks():
    """``\\|`` is a pipe inside a cell, not a new cell; ``\\\\`` breaks the line inside it."""
    assert wiki_to_markdown("||Field||Value||\n|a|Value \\| unit|\n") == (
        "| Field | Value |\n| --- | --- |\n| a | Value \\| unit |"
    )
    assert wiki_to_markdown("|[a|https://x.org]|c\\|d|\n") == "| [a](https://x.org) | c\\|d |\n| --- | --- |"
    assert wiki_to_markdown("|x \\\\ y|b|\n") == "| x <br> y | b |\n| --- | --- |"
