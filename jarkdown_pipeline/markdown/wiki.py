"""Data Center (REST API v2) text: Jira wiki markup via jira2markdown; rendered HTML via markdownify
as the last resort. Both libraries pass ``<...>`` through, which a Markdown viewer would swallow as
an HTML tag (``List<String>`` shows as ``List``), so stray ``<`` are escaped outside code."""

import re
import threading
from typing import TYPE_CHECKING

from jarkdown_pipeline.markdown.escape import clean_text

if TYPE_CHECKING:
    from pyparsing import ParserElement

# jira2markdown (pyparsing) and markdownify (BeautifulSoup, soupsieve) are imported on first use:
# only Data Center text needs them, and they were ~0.25 s of every process's start-up (each Dagster
# step, the render process) on a Cloud site that never does.

# Tags jira2markdown itself writes (underline, sub/sup, quotes, colour, breaks) and autolinks.
_KEPT_TAG = re.compile(
    r"</?(?:u|sup|sub|q|br|font|del|ins|s)\b[^<>]*>"
    r"|<[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*>"
    r"|<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>",
    re.IGNORECASE,
)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def _escape_outside_tags(text: str) -> str:
    out = []
    position = 0
    for match in _KEPT_TAG.finditer(text):
        out.append(_TAG_START.sub(r"\\<", text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(_TAG_START.sub(r"\\<", text[position:]))
    return "".join(out)


_ATX_HEADING = re.compile(r"^(\s{0,3})(#{1,6})(?=[ \t]|$)")


def escape_stray_html(markdown: str, *, heading_offset: int = 0) -> str:
    """Escape ``<`` that would start an HTML tag, except in code and in the tags kept above;
    push ATX headings down by ``heading_offset`` levels (at most 6)."""
    lines = markdown.split("\n")
    fence: str | None = None
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        if heading_offset:
            line = _ATX_HEADING.sub(lambda m: m.group(1) + "#" * min(6, len(m.group(2)) + heading_offset), line)
        pieces = []
        position = 0
        for span in _CODE_SPAN.finditer(line):
            pieces.append(_escape_outside_tags(line[position : span.start()]))
            pieces.append(span.group(0))
            position = span.end()
        pieces.append(_escape_outside_tags(line[position:]))
        lines[index] = "".join(pieces)
    return "\n".join(lines)


_grammar: "ParserElement | None" = None
_grammar_lock = threading.Lock()


def _convert_wiki(text: str) -> str:
    """``jira2markdown.convert`` with its grammar built once, not on every call (3-4x faster).
    pyparsing grammars are not safe to share between threads, hence the lock."""
    global _grammar
    with _grammar_lock:
        if _grammar is None:
            import jira2markdown
            from jira2markdown.elements import MarkupElements
            from pyparsing import Forward

            jira2markdown.convert("")  # sets pyparsing's whitespace defaults as the library expects
            elements = MarkupElements()
            inline_markup, markup = Forward(), Forward()
            inline_markup <<= elements.expr(inline_markup, markup, {}, [e for e in elements if e.is_inline_element])
            markup <<= elements.expr(inline_markup, markup, {}, elements)
            _grammar = markup
        return _grammar.transform_string(text)


def wiki_to_markdown(wiki_markup: str, *, heading_offset: int = 0) -> str:
    """Jira wiki markup (Data Center, API v2) as Markdown."""
    if not wiki_markup or not wiki_markup.strip():
        return ""
    text = clean_text(wiki_markup).replace("\r\n", "\n").replace("\r", "\n")
    return escape_stray_html(_convert_wiki(text), heading_offset=heading_offset).strip("\n")


def html_to_markdown(html: str, *, heading_offset: int = 0) -> str:
    """Rendered HTML (``renderedFields``) as Markdown: only when nothing better is available."""
    if not html or not html.strip():
        return ""
    import markdownify

    converted = markdownify.markdownify(clean_text(html), heading_style="ATX", bullets="-", strip=["script", "style"])
    return escape_stray_html(converted, heading_offset=heading_offset).strip("\n")
