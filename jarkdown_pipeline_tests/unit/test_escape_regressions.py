"""Cases the property tests found once; kept as plain examples so they can never come back."""

import warnings

import cmarkgfm
import pytest

from jarkdown_pipeline.markdown import adf_to_markdown, html_to_markdown


def _paragraph(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.mark.parametrize(
    "text, shown",
    [
        ("!www.x.org", "!"),  # `!` before the link written for a bare URL must not make an image
        ("a!www.x.org", "a!"),
        ("a\\!www.x.org", "a\\!"),  # an escaped backslash before `!` leaves the `!` unescaped
        ("a\\\\!www.x.org", "a\\\\!"),
    ],
)
def test_bang_before_bare_url_stays_text(text, shown):
    html = cmarkgfm.github_flavored_markdown_to_html(adf_to_markdown(_paragraph(text)))
    assert "<img" not in html
    assert html.startswith(f'<p>{shown}<a href="http://www.x.org">www.x.org</a>')


@pytest.mark.parametrize(
    "summary, shown",
    [
        ({"value": [""], "child": {"value": "c"}}, "c"),  # was "[''] › c": a Python repr
        ({"value": None, "child": {"value": "c"}}, "c"),  # was "None › c"
        ({"value": ["a", {"name": "b"}], "child": {"value": "c"}}, "a, b › c"),
        ({"value": [""], "child": {"value": [""]}}, ""),
    ],
)
def test_a_malformed_cascading_select_shows_its_text_not_a_repr(summary, shown):
    from jarkdown_pipeline.markdown import parse_frontmatter, render_issue

    markdown = render_issue({"key": "ABC-1", "fields": {"summary": summary}})
    assert parse_frontmatter(markdown)["summary"] == shown
    assert "['" not in markdown and "None" not in markdown


@pytest.mark.parametrize("page", ["<p><![</p>", "<p>before <![ after</p>", "<![<b onclick=x>javascript:x"])
def test_rendered_html_the_parser_rejects_is_kept_as_plain_text(page):
    """Found by the autolink property test: bs4's html.parser raises ParserRejectedMarkup on ``<![``
    inside an element, which escaped the per-issue error as a foreign exception."""
    from jarkdown_pipeline.markdown import html_to_markdown, render_issue
    from jarkdown_pipeline_tests.plugins.link_safety import dangerous_links

    markdown = html_to_markdown(page)
    assert "<![" in cmarkgfm.github_flavored_markdown_to_html(markdown).replace("&lt;", "<")
    assert dangerous_links(markdown) == []
    issue = {"key": "ABC-1", "fields": {"summary": "s"}, "renderedFields": {"description": page}}
    assert "## Description" in render_issue(issue)


@pytest.mark.parametrize(
    "marks, shown",
    [
        ([{"type": "strong"}], "<p>*</p>"),  # was "\*\": the break's backslash, literal at the end
        ([{"type": "em"}, {"type": "underline"}], "<p>*</p>"),
        ([{"type": "code"}], "<p>*<br />\n<code> </code></p>"),  # a code span of a space is shown
    ],
)
def test_a_hard_break_before_marked_whitespace_at_the_end_shows_no_backslash(marks, shown):
    paragraph = {
        "type": "paragraph",
        "content": [
            {"type": "text", "text": "*"},
            {"type": "hardBreak"},
            {"type": "text", "text": " ", "marks": marks},
        ],
    }
    markdown = adf_to_markdown({"type": "doc", "version": 1, "content": [paragraph]})
    assert cmarkgfm.github_flavored_markdown_to_html(markdown).strip() == shown


def test_rendered_html_that_is_one_url_converts_without_a_warning():
    # Beautiful Soup warns when markup "looks like a URL"; Jira's rendered HTML never is a locator.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "example.com/a" in html_to_markdown("https://example.com/a")
