"""Data Center (REST API v2) text: Jira wiki markup via jira2markdown; rendered HTML via markdownify
as the last resort. Both libraries pass ``<...>`` through, which a Markdown viewer would swallow as
an HTML tag (``List<String>`` shows as ``List``), so stray ``<`` are escaped outside code.

Neither library judges links: both pass ``javascript:`` through, and their text is Markdown as it
comes. So tags they keep lose their attributes, and every link the result really contains (as a
CommonMark parser reads it) is checked: one with a scheme outside the allow-list is turned back
into text (``defuse_unsafe_links``)."""

import html
import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline.markdown.adf import MAX_RENDER_DEPTH
from jarkdown_pipeline.markdown.escape import (
    clean_text,
    escape_autolink_schemes,
    escape_line_start,
    escape_tag_starts,
    escape_text,
    is_safe_url,
)
from jarkdown_pipeline.markdown.links import IssueLinks
from jarkdown_pipeline.markdown.links_gfm import defuse_gfm_autolinks, lines_outside_fences
from jarkdown_pipeline.markdown.media import MediaIndex
from jarkdown_pipeline.markdown.wiki_blocks import Piece, split_pieces
from jarkdown_pipeline.markdown.wiki_elements import CONTEXT, LOCK, build_grammar

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from markdown_it import MarkdownIt
    from pyparsing import ParserElement

# jira2markdown (pyparsing) and markdownify (BeautifulSoup, soupsieve) are imported on first use:
# only Data Center text needs them, and they were a large share of every process's start-up (each Dagster
# step, the render process) on a Cloud site that never does.

# Tags jira2markdown itself writes (underline, sub/sup, quotes, colour, breaks) and autolinks.
_KEPT_TAG = re.compile(
    r"(?P<tag></?(?:u|sup|sub|q|br|font|del|ins|s)\b)[^<>]*>"
    r"|<(?P<url>[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>"
    r"|<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>",
    re.IGNORECASE,
)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# A code span opens with a whole run of backticks: "``x`" is text, not "`" + a span "`x`".
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _kept_tag(match: "re.Match[str]") -> str:
    """A kept tag without its attributes (no ``on...=``, style or colour); an autolink only when
    its scheme is allowed, else its ``<`` is escaped and it reads as text."""
    if match.group("tag"):
        return match.group("tag").lower() + ">"
    if match.group("url") is not None and not is_safe_url(match.group("url")):
        return "&lt;" + match.group(0)[1:]
    return match.group(0)


def _escape_outside_tags(text: str) -> str:
    out = []
    position = 0
    for match in _KEPT_TAG.finditer(text):
        out.append(_escape_text_run(text[position : match.start()]))
        out.append(_kept_tag(match))
        position = match.end()
    out.append(_escape_text_run(text[position:]))
    return "".join(out)


def _escape_text_run(text: str) -> str:
    """Text between kept tags: tag starts and ``ftp:`` colons escaped (GitHub's email autolinks,
    which escapes cannot stop, are handled on the whole result: ``links_gfm``)."""
    return escape_autolink_schemes(escape_tag_starts(text))


# A bare URL running up to a code span: cmark-gfm's autolink takes everything up to a space or `<`.
_BARE_URL_AT_END = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<]*$", re.IGNORECASE)
_ATX_HEADING = re.compile(r"^(\s{0,3})(#{1,6})(?=[ \t]|$)")


def escape_stray_html(markdown: str, *, heading_offset: int = 0) -> str:
    """Escape ``<`` that would start an HTML tag, except in code and in the tags kept above;
    push ATX headings down by ``heading_offset`` levels (at most 6)."""
    lines = markdown.split("\n")
    for index in lines_outside_fences(lines, _FENCE):
        line = lines[index]
        if heading_offset:
            line = _ATX_HEADING.sub(lambda m: m.group(1) + "#" * min(6, len(m.group(2)) + heading_offset), line)
        pieces = []
        position = 0
        for span in _CODE_SPAN.finditer(line):
            text = _escape_outside_tags(line[position : span.start()])
            pieces.append(text)
            if _BARE_URL_AT_END.search(text):  # GitHub's autolink would take the opening backtick
                pieces.append(" ")
            pieces.append(span.group(0))
            position = span.end()
        pieces.append(_escape_outside_tags(line[position:]))
        lines[index] = "".join(pieces)
    return "\n".join(lines)


_grammar: "ParserElement | None" = None


def _convert_wiki(text: str) -> str:
    """jira2markdown's conversion with the adjusted grammar (``wiki_elements``), built once, not on
    every call (3-4x faster). pyparsing grammars are not safe to share between threads, and the
    elements read the issue's context: the caller holds ``wiki_elements.LOCK``."""
    global _grammar
    if _grammar is None:
        _grammar = build_grammar()
    return _grammar.transform_string(text)


def wiki_to_markdown(
    wiki_markup: str,
    *,
    heading_offset: int = 0,
    media: "MediaIndex | Iterable[Mapping[str, Any]] | None" = None,
    users: Mapping[str, str] | None = None,
    links: IssueLinks | None = None,
) -> str:
    """Jira wiki markup (Data Center, API v2) as Markdown, converted piece by piece in bounded time
    (``wiki_blocks``): a piece over the parser's budget, or one the converter fails on, is kept as
    plain text. ``!file!`` embeds link into ``media`` (the issue's attachments); ``users`` maps
    user names and account ids to display names for ``[~name]`` mentions; ``links`` sends links to
    issues (``[KEY]``, ``[label|KEY]``, this Jira's ``/browse/KEY``) to their file when it is here."""
    if not wiki_markup or not wiki_markup.strip():
        return ""
    text = clean_text(wiki_markup).replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    with LOCK:
        CONTEXT.media = media if isinstance(media, MediaIndex) else MediaIndex(media or ())
        CONTEXT.users = users or {}
        CONTEXT.links = links or IssueLinks()
        for piece, separator in split_pieces(text):
            parts.append(_render_piece(piece, heading_offset))
            parts.append(separator)
    return defuse_unsafe_links("".join(parts).strip("\n"))


def user_names(fields: Mapping[str, Any]) -> dict[str, str]:
    """Display names by user name, key and account id, for every person the issue's fields name
    (assignee, reporter, comment and worklog authors, user pickers): what ``[~name]`` can show."""
    if not isinstance(fields, Mapping):
        return {}
    names: dict[str, str] = {}
    for value in [*fields.values(), *_entry_people(fields)]:
        for user in value if isinstance(value, list) else [value]:
            _add_user(names, user)
    return names


def _entry_people(fields: Mapping[str, Any]) -> list[Any]:
    people: list[Any] = []
    for container, key in (("comment", "comments"), ("worklog", "worklogs")):
        entries = fields.get(container)
        if isinstance(entries, Mapping) and isinstance(entries.get(key), list):
            people.extend(
                entry.get(role)
                for entry in entries[key]
                if isinstance(entry, Mapping)
                for role in ("author", "updateAuthor")
            )
    return people


def _add_user(names: dict[str, str], user: Any) -> None:
    if not isinstance(user, Mapping) or not isinstance(user.get("displayName"), str) or not user["displayName"]:
        return
    for id_key in ("name", "key", "accountId"):
        if isinstance(user.get(id_key), str) and user[id_key]:
            names.setdefault(user[id_key], user["displayName"])


def _render_piece(piece: Piece, heading_offset: int) -> str:
    if piece.kind == "plain":
        logger.info("wiki markup kept as plain text: %d characters over the converter's budget", len(piece.text))
        return _as_plain_text(piece.text)
    if piece.kind == "inert":
        return escape_stray_html(piece.text, heading_offset=heading_offset)
    try:
        converted = _convert_wiki(piece.text)
    except Exception as error:
        logger.warning("wiki markup kept as plain text: the converter failed (%s)", type(error).__name__)
        return _as_plain_text(piece.text)
    return escape_stray_html(converted, heading_offset=heading_offset).strip("\n")


def html_to_markdown(html_text: str, *, heading_offset: int = 0) -> str:
    """Rendered HTML (``renderedFields``) as Markdown: only when nothing better is available.

    Elements nested deeper than MAX_RENDER_DEPTH become their text first (markdownify recurses once
    per level); links and images with a scheme outside the allow-list keep only their text.
    """
    if not html_text or not html_text.strip():
        return ""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
    from bs4.exceptions import ParserRejectedMarkup

    try:
        with warnings.catch_warnings():
            # Jira's rendered HTML is markup even when it is one URL ("https://..."): never a locator.
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            soup = BeautifulSoup(clean_text(html_text), "html.parser")
    except ParserRejectedMarkup:  # html.parser gives up on some broken declarations (``<p><![</p>``)
        logger.warning("rendered HTML kept as plain text: the HTML parser rejected it")
        return defuse_unsafe_links(_as_plain_text(html.unescape(_ANY_TAG.sub(" ", clean_text(html_text))).strip()))
    _flatten_deep_elements(soup)
    converted = _safe_converter().convert_soup(soup)
    return defuse_unsafe_links(escape_stray_html(converted, heading_offset=heading_offset).strip("\n"))


_ANY_TAG = re.compile(r"<[^<>]*>")


def _flatten_deep_elements(soup: "BeautifulSoup") -> None:
    """Replace each element at MAX_RENDER_DEPTH by its text (an explicit stack: no recursion)."""
    from bs4 import NavigableString, Tag

    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        element, depth = stack.pop()
        for child in list(element.children):
            if not isinstance(child, Tag):
                continue
            if depth + 1 >= MAX_RENDER_DEPTH:
                child.replace_with(NavigableString(child.get_text(" ")))
            else:
                stack.append((child, depth + 1))


_converter: Any = None


def _safe_converter() -> Any:
    """markdownify's converter, refusing links and images whose URL is not allowed."""
    global _converter
    if _converter is None:
        import markdownify

        class SafeConverter(markdownify.MarkdownConverter):
            def convert_a(self, el, text, parent_tags):  # type: ignore[no-untyped-def]
                if not is_safe_url(str(el.get("href") or "")):
                    return text
                return super().convert_a(el, text, parent_tags)

            def convert_img(self, el, text, parent_tags):  # type: ignore[no-untyped-def]
                if not is_safe_url(str(el.attrs.get("src") or "")):
                    return str(el.attrs.get("alt") or "")
                return super().convert_img(el, text, parent_tags)

        _converter = SafeConverter(heading_style="ATX", bullets="-", strip=["script", "style"])
    return _converter


# ---------------------------------------------------------------------------------------------
# The link check: what a CommonMark parser reads as a link, judged by its decoded URL
# ---------------------------------------------------------------------------------------------

# Where a link destination can start: an inline link, a reference definition, an autolink.
_LINK_TARGET = re.compile(r"\]\(|\]:|<(?=[A-Za-z][A-Za-z0-9+.\-]{1,31}:)")
# Only text with one of these can hold a link or an HTML attribute at all.
_MAY_LINK = re.compile(r"\]\(|\]:|<[A-Za-z][^<>]*[:=]")
# (Its first 300 characters: the scheme is at the start, and a long run must not be rescanned per target.)
_DESTINATION = re.compile(r"[ \t]{0,40}\n?[ \t]{0,40}(<[^<>\n]{0,300}|[^\s]{0,300})")
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ATTRIBUTE_FREE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*\s*/?>")
_HTML_TAG = re.compile(r"<[^<>]*>?")

_parser: "MarkdownIt | None" = None


def _link_parser() -> "MarkdownIt":
    """CommonMark with tables, that reports every link as written: markdown-it's own refusal of
    ``javascript:`` and its percent-encoding are switched off, so the check sees the decoded URL."""
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        parser = MarkdownIt("commonmark").enable("table")
        parser.validateLink = lambda url: True  # type: ignore[method-assign]
        parser.normalizeLink = lambda url: url  # type: ignore[method-assign]
        parser.normalizeLinkText = lambda url: url  # type: ignore[method-assign]
        _parser = parser
    return _parser


def _is_unsafe_token(token: Any) -> bool:
    if token.type in ("link_open", "image"):
        url = str(token.attrGet("href") or token.attrGet("src") or "")
        # cmark decodes entities before backslash escapes: ``\\&#58;`` is a colon there.
        return not (is_safe_url(url) and is_safe_url(html.unescape(url)))
    if token.type in ("html_inline", "html_block"):
        return any(not _ATTRIBUTE_FREE_TAG.fullmatch(tag) for tag in _HTML_TAG.findall(token.content))
    return False


def has_unsafe_link(markdown: str) -> bool:
    """True when a CommonMark parser finds a link or image with a URL outside the allow-list, or an
    HTML tag with attributes, in ``markdown``."""
    tokens = list(_link_parser().parse(markdown))
    while tokens:
        token = tokens.pop()
        if _is_unsafe_token(token):
            return True
        tokens.extend(token.children or ())
    return False


def _unsafe_target(markdown: str, match: "re.Match[str]") -> bool:
    """Whether the destination after a link target reads (decoded as CommonMark and a browser
    would) as a URL outside the allow-list. Generous: it only decides what to defuse."""
    start = match.end() if match.group(0) != "<" else match.start()
    raw = _DESTINATION.match(markdown, start).group(1)  # type: ignore[union-attr]
    decoded = html.unescape(_BACKSLASH_ESCAPE.sub(r"\1", raw.lstrip("<")))
    return not is_safe_url(decoded)


def _is_escaped(markdown: str, index: int) -> bool:
    start = index
    while start > 0 and markdown[start - 1] == "\\":
        start -= 1
    return (index - start) % 2 == 1


def _defuse_targets(markdown: str) -> str:
    """``](`` becomes ``]\\(``, ``]:`` becomes ``]\\:``, ``<scheme:`` becomes ``&lt;scheme:`` wherever
    the URL that follows is not allowed: each then reads as the same text, not as a link."""
    out = []
    position = 0
    for match in _LINK_TARGET.finditer(markdown):
        if not _unsafe_target(markdown, match):
            continue
        target = match.group(0)
        if target == "<":  # an escaping backslash goes: a bare URL before it could swallow it
            start = match.start() - 1 if _is_escaped(markdown, match.start()) else match.start()
            out.append(markdown[position:start] + "&lt;")
        else:
            out.append(markdown[position : match.start()] + target[0] + "\\" + target[1])
        position = match.end()
    out.append(markdown[position:])
    return "".join(out)


def _as_plain_text(text: str) -> str:
    """Text shown exactly as it is, nothing read as Markdown (the last resort)."""
    return "\n".join(escape_line_start(escape_text(line)) for line in text.split("\n")).strip("\n")


def defuse_unsafe_links(markdown: str) -> str:
    """``markdown`` with every link, image or autolink whose URL is outside the allow-list turned
    into its text, and no HTML tag with attributes. Judged by a CommonMark parser after its own
    escape and entity decoding; when the targeted fix is not enough, the whole text is escaped.
    GitHub's own email and ftp autolinks, which no CommonMark parser reports, are handled last
    (``links_gfm``)."""
    return defuse_gfm_autolinks(_defuse_commonmark_links(markdown))


def _defuse_commonmark_links(markdown: str) -> str:
    if not _MAY_LINK.search(markdown):
        return markdown
    # Every unsafe target goes, even one a CommonMark parser reads as escaped text: after a bare URL
    # cmark-gfm takes the escaping backslash into the URL.
    defused = _defuse_targets(markdown)
    if not has_unsafe_link(defused):
        return defused
    return _as_plain_text(markdown)
