"""What a reader's browser would get from rendered Markdown: every href/src and HTML attribute,
read by two real parsers (cmark-gfm, GitHub's, and markdown-it-py) with their own URL filters off.

Written independently of jarkdown_pipeline.markdown.escape on purpose: a test must not judge the
output with the code under test.
"""

import html.parser
import re

import cmarkgfm
from cmarkgfm.cmark import Options
from markdown_it import MarkdownIt

ALLOWED_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "background", "poster", "xlink:href"}


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads: C0 controls and spaces at the edges, tabs/newlines anywhere ignored."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(chr(c) for c in range(0x21)))
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


class _AttributeCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            name = name.lower()
            if name in _URL_ATTRIBUTES:
                scheme = browser_scheme(value or "")
                if scheme is not None and scheme not in ALLOWED_SCHEMES:
                    self.problems.append(f"<{tag} {name}={value!r}>")
            elif tag not in ("a", "img", "input", "li", "ol", "td", "th", "code", "pre"):
                # Tags the parsers write themselves carry only these; raw HTML from Jira text none.
                self.problems.append(f"<{tag} {name}={value!r}>")
            elif name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def _markdown_it() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    parser.validateLink = lambda url: True  # report javascript: links instead of hiding them
    return parser


_MARKDOWN_IT = _markdown_it()


def rendered_html(markdown: str) -> list[str]:
    gfm = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return [gfm, _MARKDOWN_IT.render(markdown)]


def _without_frontmatter(markdown: str) -> str:
    """The YAML frontmatter is data, not Markdown: viewers show it as a table or not at all."""
    if markdown.startswith("---\n"):
        end = markdown.find("\n---\n", 3)
        return markdown[end + 5 :] if end >= 0 else markdown
    return markdown


def dangerous_links(markdown: str) -> list[str]:
    """Every href/src outside the allow-list, and every attribute raw HTML brought, in either parser's
    HTML of the Markdown body."""
    problems: list[str] = []
    for page in rendered_html(_without_frontmatter(markdown)):
        collector = _AttributeCollector()
        collector.feed(page)
        collector.close()
        problems.extend(collector.problems)
    return problems
