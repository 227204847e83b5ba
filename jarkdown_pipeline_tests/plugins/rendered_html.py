"""Markdown as a reader sees it: rendered to HTML by GitHub's own parser (cmark-gfm), then its text."""

import html.parser
import re

import cmarkgfm
from cmarkgfm.cmark import Options

GFM_OPTIONS = Options.CMARK_OPT_UNSAFE


class TextExtractor(html.parser.HTMLParser):
    """Collects displayed text, split by paragraph (<p>, <h1-6>, <li>, <td>...)."""

    BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "pre", "summary"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.paragraphs: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self._current = []
        if tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag):
        if tag == "p" and self._current is not None:
            self.paragraphs.append("".join(self._current))
            self._current = None
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data):
        self.parts.append(data)
        if self._current is not None:
            self._current.append(data)


def render_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=GFM_OPTIONS)


def displayed(markdown: str) -> TextExtractor:
    extractor = TextExtractor()
    extractor.feed(render_html(markdown))
    extractor.close()
    return extractor


# U+FEFF is invisible, and cmark drops it at the very start of a document.
WHITESPACE = re.compile(r"[\s\u00a0\ufeff]+")


def normalize(text: str) -> str:
    # HTML collapses whitespace; CommonMark turns NUL into U+FFFD (excluded from the alphabet).
    return WHITESPACE.sub(" ", text).strip()
