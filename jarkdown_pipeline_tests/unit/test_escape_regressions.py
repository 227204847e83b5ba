"""Cases the property tests found once; kept as plain examples so they can never come back."""

import cmarkgfm
import pytest

from jarkdown_pipeline.markdown import adf_to_markdown


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
