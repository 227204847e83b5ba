"""Atlassian Document Format to GitHub-flavoured Markdown, directly (never through HTML).

One small handler per node type in two dispatch tables (block and inline); marks are data
(``MARKS``: precedence, delimiters, HTML fallback). Inline content is grouped into a tree of mark
spans, and each emphasis span picks a delimiter that CommonMark will really parse as one (its
flanking rules), else an HTML tag: so text is never corrupted. Unknown nodes render their
children's text and are logged once per type.

Any input renders in bounded work: blocks nested deeper than ``MAX_RENDER_DEPTH`` are written as
their plain text (nothing is dropped), a node keeps one mark per mark type, and table spans are
capped at the table's real size.
"""

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jarkdown_pipeline.markdown.cells import join_cell_pieces
from jarkdown_pipeline.markdown.escape import (
    clean_text,
    code_fence,
    code_info_string,
    code_span,
    escape_heading_end,
    escape_html,
    escape_line_start,
    escape_table_cell,
    escape_text,
    escape_text_linking_urls,
    image,
    is_markdown_punctuation,
    is_markdown_whitespace,
    link,
)
from jarkdown_pipeline.markdown.links import IssueLinks
from jarkdown_pipeline.markdown.links_gfm import defuse_gfm_autolinks
from jarkdown_pipeline.markdown.media import MediaIndex

logger = logging.getLogger(__name__)

# Real documents nest a handful of levels; this many keeps the Python stack far from its limit.
MAX_RENDER_DEPTH = 32
# A table whose padded grid would be larger than this is written row by row as text instead.
MAX_TABLE_GRID_CELLS = 100_000

_reported_unknown: set[str] = set()


def _report_unknown(kind: str, type_name: str) -> None:
    key = f"{kind}:{type_name}"
    if key not in _reported_unknown:
        _reported_unknown.add(key)
        logger.warning("ADF %s type %r is not supported; its text is rendered without formatting", kind, type_name)


# ---------------------------------------------------------------------------------------------
# Marks as data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkSpec:
    """How a mark renders. Lower ``rank`` = outer. ``delimiters`` are tried in order; when none
    would parse (CommonMark flanking rules), ``html_tag`` is used. ``verbatim`` = code span."""

    rank: int
    delimiters: tuple[str, ...] = ()
    html_tag: str | Callable[[Mapping[str, Any]], str] | None = None
    verbatim: bool = False
    is_link: bool = False


MARKS: dict[str, MarkSpec | None] = {
    "link": MarkSpec(rank=0, is_link=True),
    "strong": MarkSpec(rank=1, delimiters=("**", "__"), html_tag="strong"),
    "em": MarkSpec(rank=2, delimiters=("*", "_"), html_tag="em"),
    "strike": MarkSpec(rank=3, delimiters=("~~",), html_tag="del"),
    "underline": MarkSpec(rank=4, html_tag="ins"),
    "subsup": MarkSpec(rank=5, html_tag=lambda attrs: "sup" if attrs.get("type") == "sup" else "sub"),
    "code": MarkSpec(rank=9, verbatim=True),
    # Presentation only: the text is kept, the styling has no Markdown equivalent.
    "textColor": None,
    "backgroundColor": None,
    "alignment": None,
    "indentation": None,
    "breakout": None,
    "border": None,
    "annotation": None,
    "dataConsumer": None,
    "fragment": None,
}


@dataclass(frozen=True)
class _Mark:
    type: str
    attrs_key: str
    attrs: Mapping[str, Any] = field(compare=False, hash=False)

    @property
    def spec(self) -> MarkSpec:
        spec = MARKS[self.type]
        assert spec is not None
        return spec


def _marks_of(node: Mapping[str, Any]) -> tuple[_Mark, ...]:
    """The node's marks, one per type (the first): a mark applied twice means nothing more, and
    thousands of same-type marks would nest thousands of spans."""
    marks: dict[str, _Mark] = {}
    raw_marks = node.get("marks")
    for mark in raw_marks if isinstance(raw_marks, list) else ():
        if not _is_mapping(mark):
            continue
        mark_type = str(mark.get("type"))
        if mark_type not in MARKS:
            _report_unknown("mark", mark_type)
            continue
        if MARKS[mark_type] is None or mark_type in marks:
            continue
        attrs = mark.get("attrs") if _is_mapping(mark.get("attrs")) else {}
        marks[mark_type] = _Mark(mark_type, _attrs_key(attrs), attrs)
    return tuple(sorted(marks.values(), key=lambda m: (m.spec.rank, m.attrs_key)))


def _attrs_key(attrs: Mapping[str, Any]) -> str:
    """Mark attributes compared by their scalar values, the only ones a mark reads (a nested value
    could be arbitrarily deep)."""
    scalars = {str(k): v for k, v in attrs.items() if v is None or isinstance(v, (str, int, float, bool))}
    return json.dumps(scalars, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Rendering context
# ---------------------------------------------------------------------------------------------


@dataclass
class _Nesting:
    """How deep the block being rendered sits; one per document, shared by its derived contexts."""

    level: int = 0


@dataclass
class _Context:
    media: MediaIndex
    links: IssueLinks = field(default_factory=IssueLinks)
    nesting: _Nesting = field(default_factory=_Nesting)
    heading_offset: int = 0
    in_table: bool = False  # inline text escapes pipes at cell level; line breaks become <br>
    single_line: bool = False  # headings: a hard break becomes <br>
    list_variant: bool = False  # set for a list that directly follows a list of the same kind

    def derive(self, **changes: Any) -> "_Context":
        if all(getattr(self, name) == value for name, value in changes.items()):
            return self
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# Inline content: leaves, mark spans, emission
# ---------------------------------------------------------------------------------------------


@dataclass
class _Leaf:
    marks: tuple[_Mark, ...]
    raw: str = ""  # the text a reader sees (used in code spans and link labels)
    markdown: str | None = None  # prerendered Markdown; None = escape ``raw``
    link_safe: bool = True  # False for leaves that are links themselves (cannot nest in a link)
    is_break: bool = False

    def without(self, mark: _Mark) -> "_Leaf":
        return _Leaf(tuple(m for m in self.marks if m != mark), self.raw, self.markdown, self.link_safe, self.is_break)


@dataclass
class _Span:
    mark: _Mark
    children: list["_Leaf | _Span"]


# Stands for a neighbouring delimiter not chosen yet (`*`, `_`, `~`, `<`, `[` or a backtick):
# read both as punctuation and as a letter, so a decision holds whichever it becomes.
_PUNCT_SENTINEL = "\ue000"


def _is_inline_node(node: Any) -> bool:
    return _is_mapping(node) and node.get("type") in INLINE_HANDLERS


def _inline_leaves(nodes: Iterable[Any], ctx: _Context) -> list[_Leaf]:
    leaves: list[_Leaf] = []
    for node in nodes:
        if not _is_mapping(node):
            continue
        handler = INLINE_HANDLERS.get(str(node.get("type")))
        if handler is None:
            leaves.extend(_unknown_inline(node, ctx))
        else:
            leaves.extend(handler(node, ctx))
    # Merge neighbouring plain text with equal marks, so escaping sees whole words.
    merged: list[_Leaf] = []
    for leaf in leaves:
        if not leaf.is_break and leaf.markdown is None and not leaf.raw:
            continue
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.markdown is None
            and leaf.markdown is None
            and not previous.is_break
            and not leaf.is_break
            and previous.marks == leaf.marks
        ):
            merged[-1] = _Leaf(previous.marks, previous.raw + leaf.raw)
        else:
            merged.append(leaf)
    return merged


def _group(leaves: Sequence[_Leaf]) -> list[_Leaf | _Span]:
    """Nest leaves into mark spans, opening the mark that covers the longest run first."""
    result: list[_Leaf | _Span] = []
    index = 0
    while index < len(leaves):
        leaf = leaves[index]
        if not leaf.marks:
            result.append(leaf)
            index += 1
            continue
        candidates = [m for m in leaf.marks if not m.spec.verbatim] or list(leaf.marks)
        best: tuple[tuple[int, int], _Mark, int] | None = None
        for mark in candidates:
            end = index + 1
            if mark.spec.verbatim:
                # A code span is innermost: it only takes neighbours with no other mark left.
                while end < len(leaves) and leaves[end].marks == (mark,):
                    end += 1
            else:
                while end < len(leaves) and mark in leaves[end].marks:
                    end += 1
            key = (end - index, -mark.spec.rank)
            if best is None or key > best[0]:
                best = (key, mark, end)
        assert best is not None
        _, mark, end = best
        result.append(_Span(mark, _group([item.without(mark) for item in leaves[index:end]])))
        index = end
    return result


def _left_flanking(before: str, after: str, symbols: bool) -> bool:
    if is_markdown_whitespace(after):
        return False
    punct = is_markdown_punctuation
    return not punct(after, symbols=symbols) or is_markdown_whitespace(before) or punct(before, symbols=symbols)


def _right_flanking(before: str, after: str, symbols: bool) -> bool:
    if is_markdown_whitespace(before):
        return False
    punct = is_markdown_punctuation
    return not punct(before, symbols=symbols) or is_markdown_whitespace(after) or punct(after, symbols=symbols)


# Parsers disagree on a few characters' class: Unicode symbols are punctuation only since
# CommonMark 0.31, and cmark-gfm (GitHub) treats a `~` next to a delimiter run like a letter.
# A delimiter is used only when every reading agrees it opens/closes; else an HTML tag is used.
_READINGS = [(symbols, tilde_as_letter) for symbols in (False, True) for tilde_as_letter in (False, True)]


def _read(char: str, tilde_as_letter: bool) -> str:
    if char == _PUNCT_SENTINEL:
        return "a" if tilde_as_letter else "!"
    return "a" if tilde_as_letter and char == "~" else char


def _can_open(char: str, before: str, after: str) -> bool:
    """True when a delimiter run of ``char`` between ``before`` and ``after`` opens emphasis."""
    for symbols, tilde_as_letter in _READINGS:
        b, a = _read(before, tilde_as_letter), _read(after, tilde_as_letter)
        if not _left_flanking(b, a, symbols):
            return False
        if char == "_" and _right_flanking(b, a, symbols) and not is_markdown_punctuation(b, symbols=symbols):
            return False
    return True


def _can_close(char: str, before: str, after: str) -> bool:
    for symbols, tilde_as_letter in _READINGS:
        b, a = _read(before, tilde_as_letter), _read(after, tilde_as_letter)
        if not _right_flanking(b, a, symbols):
            return False
        if char == "_" and _left_flanking(b, a, symbols) and not is_markdown_punctuation(a, symbols=symbols):
            return False
    return True


_EDGE_WHITESPACE = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)


class _InlineWriter:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def leaf_markdown(self, leaf: _Leaf, in_link: bool) -> str:
        if leaf.is_break:
            return "<br>" if (self.ctx.in_table or self.ctx.single_line) else "\\\n"
        if leaf.markdown is not None and (leaf.link_safe or not in_link):
            return leaf.markdown
        if in_link:
            return escape_text(leaf.raw, in_table=self.ctx.in_table)
        return escape_text_linking_urls(leaf.raw, in_table=self.ctx.in_table)

    def first_char(self, item: _Leaf | _Span, in_link: bool) -> str:
        if isinstance(item, _Span):
            return _PUNCT_SENTINEL
        text = self.leaf_markdown(item, in_link)
        return text[0] if text else ""

    def render(self, items: Sequence[_Leaf | _Span], before: str, after: str, in_link: bool) -> str:
        out: list[str] = []
        previous = before
        for index, item in enumerate(items):
            following = after if index == len(items) - 1 else self.first_char(items[index + 1], in_link)
            if isinstance(item, _Leaf):
                text = self.leaf_markdown(item, in_link)
                if text.endswith("!") and self._starts_link(items, index + 1, in_link) and _unescaped_end(text):
                    text = text[:-1] + "\\!"  # `!` before a link would make it an image
            else:
                text = self.render_span(item, previous, following, in_link)
            out.append(text)
            if text:
                previous = "\n" if text.endswith("\n") else text[-1]
        return "".join(out)

    def _starts_link(self, items: Sequence[_Leaf | _Span], index: int, in_link: bool) -> bool:
        if index >= len(items):
            return False
        item = items[index]
        if isinstance(item, _Span):
            return True  # a span may open with `[` (a link, or a link inside it)
        return self.leaf_markdown(item, in_link).startswith("[")

    def render_span(self, span: _Span, before: str, after: str, in_link: bool) -> str:
        spec = span.mark.spec
        if spec.verbatim:
            return self._code(span, in_link)
        if spec.is_link:
            return self._link(span, in_link)
        content = self.render(span.children, _PUNCT_SENTINEL, _PUNCT_SENTINEL, in_link)
        if not spec.delimiters:
            return f"<{_html_tag(span.mark)}>{content}</{_html_tag(span.mark)}>" if content else ""
        return _emphasis(span.mark, content, before, after)

    def _code(self, span: _Span, in_link: bool) -> str:
        code = "".join(_plain_text_of(child) for child in span.children)
        if in_link and ("[" in code or "]" in code):
            # A bracket in a code span inside link text can turn `[label]:` at a line start
            # into a link reference definition; an escaped <code> element cannot.
            code = code.replace("\n", " ")
            return f"<code>{escape_text(code, in_table=self.ctx.in_table)}</code>"
        return code_span(code)

    def _link(self, span: _Span, in_link: bool) -> str:
        href = _s(span.mark.attrs.get("href"))
        content = self.render(span.children, "[", "]", True)
        if not href:
            return content
        label = content or escape_text(href, in_table=self.ctx.in_table)
        if in_link:  # links cannot nest: keep the text
            return label
        title = span.mark.attrs.get("title")
        return link(label, href, _s(title) or None)


def _html_tag(mark: _Mark) -> str:
    tag = mark.spec.html_tag
    return str(tag(mark.attrs) if callable(tag) else tag)


def _emphasis(mark: _Mark, content: str, before: str, after: str) -> str:
    """``content`` between the first delimiter CommonMark will read as this mark here, else in its HTML tag."""
    lead, inner, trail = _EDGE_WHITESPACE.match(content).groups()  # type: ignore[union-attr]
    if not inner:
        return content
    before_open = lead[-1] if lead else before
    after_close = trail[0] if trail else after
    for delimiter in mark.spec.delimiters:
        char = delimiter[0]
        if char in (before_open, inner[0], inner[-1], after_close):
            continue  # would merge with a neighbouring delimiter run
        if _can_open(char, before_open, inner[0]) and _can_close(char, inner[-1], after_close):
            return f"{lead}{delimiter}{inner}{delimiter}{trail}"
    tag = _html_tag(mark)
    return f"{lead}<{tag}>{inner}</{tag}>{trail}"


def _unescaped_end(text: str) -> bool:
    """The last character is not itself backslash-escaped."""
    body = text[:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 0


def _plain_text_of(item: _Leaf | _Span) -> str:
    if isinstance(item, _Span):
        return "".join(_plain_text_of(child) for child in item.children)
    return " " if item.is_break else item.raw


def _is_blank(leaf: _Leaf) -> bool:
    """Whitespace that shows as plain whitespace (no mark, or only marks that leave whitespace bare,
    as ``_emphasis`` does): a block's edges drop it anyway."""
    return (
        leaf.markdown is None
        and not leaf.raw.strip()
        and not any(mark.spec.is_link or mark.spec.verbatim for mark in leaf.marks)
    )


def _render_inline(nodes: Iterable[Any], ctx: _Context) -> str:
    leaves = _inline_leaves(nodes, ctx)
    # A hard break at the end of a block would show a literal backslash (also when only blanks,
    # which the paragraph drops, follow it).
    while leaves and (leaves[-1].is_break or _is_blank(leaves[-1])):
        leaves.pop()
    while leaves and (leaves[0].is_break or _is_blank(leaves[0])):
        leaves.pop(0)
    return _InlineWriter(ctx).render(_group(leaves), "", "", False)


def _paragraph_text(nodes: Iterable[Any], ctx: _Context) -> str:
    """Inline content as paragraph lines, each safe from starting block syntax."""
    text = _render_inline(nodes, ctx)
    if ctx.in_table or ctx.single_line:
        return text.strip()
    return "\n".join(escape_line_start(line).rstrip(" \t") for line in text.split("\n")).strip("\n")


# ---------------------------------------------------------------------------------------------
# Inline handlers: node -> leaves
# ---------------------------------------------------------------------------------------------

InlineHandler = Callable[[Mapping[str, Any], _Context], list[_Leaf]]
INLINE_HANDLERS: dict[str, InlineHandler] = {}


def _inline(*types: str) -> Callable[[InlineHandler], InlineHandler]:
    def register(handler: InlineHandler) -> InlineHandler:
        for type_name in types:
            INLINE_HANDLERS[type_name] = handler
        return handler

    return register


def _s(value: Any) -> str:
    """An attribute as text: strings and numbers only; anything malformed reads as empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _is_mapping(value: Any) -> bool:
    # JSON gives dicts; the exact type check first avoids the slow ABC check on the hot path.
    return type(value) is dict or isinstance(value, Mapping)


def _attrs(node: Mapping[str, Any]) -> Mapping[str, Any]:
    attrs = node.get("attrs")
    return attrs if _is_mapping(attrs) else {}


@_inline("text")
def _text(node, ctx):
    marks = _marks_of(node)
    text = clean_text(_s(node.get("text"))).replace("\r\n", "\n").replace("\r", "\n")
    leaves: list[_Leaf] = []
    for index, line in enumerate(text.split("\n")):
        if index:  # a line break typed into a text node shows as one
            leaves.append(_Leaf((), is_break=True))
        leaves.append(_Leaf(marks, raw=line))
    return leaves


@_inline("hardBreak")
def _hard_break(node, ctx):
    return [_Leaf((), is_break=True)]


@_inline("mention")
def _mention(node, ctx):
    attrs = _attrs(node)
    text = _s(attrs.get("text"))
    if not text:
        text = f"@{attrs.get('id')}" if attrs.get("id") else "@unknown"
    elif not text.startswith("@"):
        text = "@" + text
    return [_Leaf(_marks_of(node), raw=text)]


_EMOJI_ID = re.compile(r"^[0-9a-fA-F]{4,6}(?:-[0-9a-fA-F]{4,6})*$")


@_inline("emoji")
def _emoji(node, ctx):
    attrs = _attrs(node)
    text = _s(attrs.get("text"))
    if not text and _EMOJI_ID.match(_s(attrs.get("id"))):
        try:
            text = "".join(chr(int(part, 16)) for part in str(attrs["id"]).split("-"))
        except (ValueError, OverflowError):
            text = ""
    if not text:
        short = _s(attrs.get("shortName"))
        text = short if short.startswith(":") else f":{short}:" if short else ""
    return [_Leaf(_marks_of(node), raw=text)]


def format_adf_date(timestamp: Any) -> str:
    """ADF dates are epoch milliseconds (as a string); show the UTC calendar date."""
    text = _s(timestamp).strip()
    try:
        millis = int(text)
        return datetime.fromtimestamp(millis / 1000, tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return text


@_inline("date")
def _date(node, ctx):
    return [_Leaf(_marks_of(node), raw=format_adf_date(_attrs(node).get("timestamp")))]


@_inline("status")
def _status(node, ctx):
    text = _s(_attrs(node).get("text"))
    return [_Leaf(_marks_of(node), raw=text, markdown=code_span(text) if text else "")]


@_inline("placeholder")
def _placeholder(node, ctx):
    text = _s(_attrs(node).get("text"))
    em = _Mark("em", "{}", {})
    return [_Leaf(tuple(sorted(set(_marks_of(node)) | {em}, key=lambda m: (m.spec.rank, m.attrs_key))), raw=text)]


def _card_url_and_label(attrs: Mapping[str, Any], links: IssueLinks) -> tuple[str, str]:
    """A card's target and label. A card to this Jira's page of an issue reads as its key, and
    goes to the issue's file when the knowledge base holds it."""
    url = _s(attrs.get("url"))
    label = url
    data = attrs.get("data")
    if isinstance(data, Mapping):
        url = url or _s(data.get("url")) or _s(data.get("@url"))
        label = _s(data.get("name")) or url
    key = links.key_of_url(url) if url else None
    if key is None:
        return url, label
    return links.local_href(key) or url, key if label == url else label


@_inline("inlineCard")
def _inline_card(node, ctx):
    url, label = _card_url_and_label(_attrs(node), ctx.links)
    if not url:
        return [_Leaf(_marks_of(node), raw=label or "[card]")]
    markdown = link(escape_text(label, in_table=ctx.in_table), url)
    return [_Leaf(_marks_of(node), raw=label, markdown=markdown, link_safe=False)]


def _extension_text(attrs: Mapping[str, Any]) -> str:
    text = attrs.get("text")
    if text:
        return _s(text)
    key = attrs.get("extensionKey") or "unknown"
    return f"[Jira extension: {key}]"


@_inline("inlineExtension")
def _inline_extension(node, ctx):
    return [_Leaf(_marks_of(node), raw=_extension_text(_attrs(node)))]


def _missing_media_text(attrs: Mapping[str, Any]) -> str:
    """What a reader sees for media whose attachment is not here: its name when ADF gives one (a
    Media Services id means nothing to a reader)."""
    for key in ("alt", "title", "__fileName", "fileName", "name"):
        name = _s(attrs.get(key)).strip()
        if name:
            return f"{name} (attachment not available)"
    return "(image not available)"


def _media_markdown(attrs: Mapping[str, Any], ctx: _Context) -> tuple[str, str, bool]:
    """(markdown, plain label, is a link to a file) for a media node. An image is shown (and the
    issue's Attachments section then lists it without showing it again); another file is linked."""
    if attrs.get("type") == "external" or (attrs.get("url") and not attrs.get("id")):
        url = _s(attrs.get("url"))
        alt = _s(attrs.get("alt"))
        return image(escape_text(alt, in_table=ctx.in_table), url), alt or url, False
    info = ctx.media.resolve(attrs)
    if info is None:
        text = _missing_media_text(attrs)
        return escape_text(text, in_table=ctx.in_table), text, False
    label = MediaIndex.label(info)
    markdown = link(escape_text(label, in_table=ctx.in_table), ctx.media.href(info))
    if MediaIndex.is_image(info):
        ctx.media.mark_shown(info)
        return "!" + markdown, label, False
    return markdown, label, True


@_inline("mediaInline")
def _media_inline(node, ctx):
    markdown, label, is_file_link = _media_markdown(_attrs(node), ctx)
    return [_Leaf(_marks_of(node), raw=label, markdown=markdown, link_safe=not is_file_link)]


def _unknown_inline(node: Mapping[str, Any], ctx: _Context) -> list[_Leaf]:
    _report_unknown("node", str(node.get("type")))
    return [_Leaf(_marks_of(node), raw=_node_text(node))]


def _node_text(root: Any) -> str:
    """Every piece of text in a node, for nodes rendered without their structure. Iterative (a
    post-order walk with its own stack): it is what too-deep content is rendered as."""
    if not _is_mapping(root):
        return ""
    texts: dict[int, str] = {}
    stack: list[tuple[Mapping[str, Any], bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        raw_children = _raw_content(node)
        children = [child for child in raw_children if _is_mapping(child)]
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))
            continue
        parts = []
        if isinstance(node.get("text"), str):
            parts.append(node["text"])
        attrs = _attrs(node)
        for key in ("text", "title", "url", "shortName"):
            if isinstance(attrs.get(key), str) and attrs[key] and not parts:
                parts.append(attrs[key])
        parts.extend(text for text in (texts.get(id(child), "") for child in children) if text)
        inline_only = all(_is_mapping(c) and c.get("type") in INLINE_HANDLERS for c in raw_children)
        texts[id(node)] = ("" if inline_only else " ").join(parts)
    return clean_text(texts[id(root)])


def _flattened(node: Mapping[str, Any], ctx: _Context) -> str:
    """A node past the depth cap: its text, as escaped paragraph lines (or one line in a table)."""
    text = _node_text(node).replace("\r\n", "\n").replace("\r", "\n")
    lines = [escape_line_start(escape_text(line, in_table=ctx.in_table)) for line in text.split("\n") if line.strip()]
    return ("<br>" if ctx.in_table or ctx.single_line else "\n").join(lines)


def _nested(render: Callable[[Mapping[str, Any], _Context], str], node: Mapping[str, Any], ctx: _Context) -> str:
    """``render(node, ctx)`` one level deeper, or the node's plain text past MAX_RENDER_DEPTH."""
    nesting = ctx.nesting
    if nesting.level >= MAX_RENDER_DEPTH:
        return _flattened(node, ctx)
    nesting.level += 1
    try:
        return render(node, ctx)
    finally:
        nesting.level -= 1


# ---------------------------------------------------------------------------------------------
# Block handlers: node -> Markdown text (no trailing newline; "" = nothing to show)
# ---------------------------------------------------------------------------------------------

BlockHandler = Callable[[Mapping[str, Any], _Context], str]
BLOCK_HANDLERS: dict[str, BlockHandler] = {}

_LIST_KIND = {"bulletList": "bullet", "taskList": "bullet", "decisionList": "bullet", "orderedList": "ordered"}
# Items found outside their list render as one-item bullet lists.
_STRAY_ITEM_KIND = {"listItem": "bullet", "taskItem": "bullet", "blockTaskItem": "bullet", "decisionItem": "bullet"}


def _block(*types: str) -> Callable[[BlockHandler], BlockHandler]:
    def register(handler: BlockHandler) -> BlockHandler:
        for type_name in types:
            BLOCK_HANDLERS[type_name] = handler
        return handler

    return register


def _raw_content(node: Mapping[str, Any]) -> list[Any]:
    content = node.get("content")
    return content if isinstance(content, list) else []


def _content(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [child for child in _raw_content(node) if _is_mapping(child)]


def _render_blocks(nodes: Iterable[Any], ctx: _Context) -> str:
    """Block nodes separated by blank lines; loose inline nodes become paragraphs."""
    parts: list[str] = []
    previous_list_kind: str | None = None
    variant = False
    inline_run: list[Mapping[str, Any]] = []

    def flush_inline() -> None:
        nonlocal previous_list_kind
        if inline_run:
            text = _paragraph_text(inline_run, ctx)
            inline_run.clear()
            if text:
                parts.append(text)
                previous_list_kind = None

    for node in nodes:
        if not _is_mapping(node):
            continue
        type_name = str(node.get("type"))
        if type_name in INLINE_HANDLERS:
            inline_run.append(node)
            continue
        flush_inline()
        kind = _LIST_KIND.get(type_name) or _STRAY_ITEM_KIND.get(type_name)
        # Two lists in a row would merge into one: switch the marker of the second.
        variant = (not variant) if (kind and kind == previous_list_kind) else False
        text = _render_block(node, ctx.derive(list_variant=variant))
        if text:
            parts.append(text)
            previous_list_kind = kind
    flush_inline()
    return "\n\n".join(parts)


def _render_block(node: Mapping[str, Any], ctx: _Context) -> str:
    return _nested(_render_block_here, node, ctx)


def _render_block_here(node: Mapping[str, Any], ctx: _Context) -> str:
    handler = BLOCK_HANDLERS.get(str(node.get("type")))
    if handler is None:
        _report_unknown("node", str(node.get("type")))
        children = _content(node)
        if children and all(child.get("type") in INLINE_HANDLERS for child in children):
            return _paragraph_text(children, ctx)
        if children:
            return _render_blocks(children, ctx)
        text = _node_text(node)
        return escape_line_start(escape_text(text, in_table=ctx.in_table)) if text else ""
    return handler(node, ctx)


@_block("doc")
def _doc(node, ctx):
    return _render_blocks(_content(node), ctx)


@_block("paragraph")
def _paragraph(node, ctx):
    return _paragraph_text(_content(node), ctx)


@_block("heading")
def _heading(node, ctx):
    try:
        level = int(_attrs(node).get("level") or 1)
    except (TypeError, ValueError):
        level = 1
    level = min(6, max(1, level + ctx.heading_offset))
    text = _render_inline(_content(node), ctx.derive(single_line=True)).strip()
    if not text:
        return ""
    if ctx.in_table:
        return text
    return f"{'#' * level} {escape_heading_end(text)}"


@_block("rule")
def _rule(node, ctx):
    return "<hr>" if ctx.in_table else "---"


def _prefix_lines(text: str, prefix: str) -> str:
    bare = prefix.rstrip()
    return "\n".join(prefix + line if line else bare for line in text.split("\n"))


@_block("blockquote")
def _blockquote(node, ctx):
    body = _render_blocks(_content(node), ctx)
    if not body:
        return ""
    return _prefix_lines(body, "> ")


_PANEL_ALERTS = {
    "info": "NOTE",
    "note": "IMPORTANT",
    "tip": "TIP",
    "success": "TIP",
    "warning": "WARNING",
    "error": "CAUTION",
}


# A list item that CommonMark does not let interrupt a paragraph: an ordered one not numbered 1, or
# one whose marker has nothing after it on its line. (number or None, first character after the marker)
_LIST_ITEM_START = re.compile(r"(?:(\d{1,9})[.)]|[-+*])(?:[ \t]+(\S)?|$)")


def _cannot_interrupt_paragraph(line: str) -> bool:
    item = _LIST_ITEM_START.match(line)
    return item is not None and (item.group(2) is None or (item.group(1) is not None and int(item.group(1)) != 1))


@_block("panel")
def _panel(node, ctx):
    attrs = _attrs(node)
    body = _render_blocks(_content(node), ctx)
    alert = _PANEL_ALERTS.get(str(attrs.get("panelType")))
    if alert is None:  # custom panels: a plain quote, with the panel's emoji if it has one
        icon = _s(attrs.get("panelIconText"))
        if icon:
            body = f"{escape_text(icon)} {body}" if body else escape_text(icon)
        return _prefix_lines(body, "> ") if body else ""
    if not body:
        return f"> [!{alert}]"
    # Where GitHub's alerts are not known, the marker line is a paragraph: a first block that cannot
    # interrupt one would be read as its continuation (a list as text, a code fence as backticks).
    gap = ">\n" if _cannot_interrupt_paragraph(body.split("\n", 1)[0]) else ""
    return f"> [!{alert}]\n{gap}" + _prefix_lines(body, "> ")


@_block("codeBlock")
def _code_block(node, ctx):
    code = "".join(_s(child.get("text")) for child in _content(node))
    code = clean_text(code).replace("\r\n", "\n").replace("\r", "\n")
    fence = code_fence(code)
    info = code_info_string(_attrs(node).get("language"))
    return f"{fence}{info}\n{code}\n{fence}" if code else f"{fence}{info}\n{fence}"


def _list_items(items: Sequence[tuple[str, str]]) -> str:
    """Each (marker, body) as a list item; continuation lines indented by the marker's width."""
    lines: list[str] = []
    for marker, body in items:
        indent = " " * len(marker)
        body_lines = body.split("\n") if body else [""]
        lines.append((marker + body_lines[0]).rstrip() if body_lines[0] else marker.rstrip())
        lines.extend(indent + line if line else "" for line in body_lines[1:])
    return "\n".join(lines)


def _item_body(children: Sequence[Mapping[str, Any]], ctx: _Context) -> str:
    """A list item's blocks: a nested list follows its paragraph directly (a tight list)."""
    parts: list[str] = []
    previous_type = None
    for child in children:
        type_name = str(child.get("type"))
        if _is_inline_node(child):
            text = _paragraph_text([child], ctx)
        else:
            text = _render_block(child, ctx)
        if not text:
            continue
        if parts:
            tight = type_name in _LIST_KIND and previous_type == "paragraph" and _list_can_interrupt(child)
            parts.append("\n" if tight else "\n\n")
        parts.append(text)
        previous_type = type_name
    return "".join(parts)


def _list_can_interrupt(node: Mapping[str, Any]) -> bool:
    # An ordered list interrupts a paragraph only when it starts at 1.
    if node.get("type") != "orderedList":
        return True
    return _order_start(node) == 1


def _order_start(node: Mapping[str, Any]) -> int:
    try:
        start = int(_attrs(node).get("order", 1))
    except (TypeError, ValueError):
        return 1
    return start if 0 <= start <= 999_999_999 else 1


def _bullet(ctx: _Context) -> str:
    return "* " if ctx.list_variant else "- "


@_block("bulletList")
def _bullet_list(node, ctx):
    bullet = _bullet(ctx)
    inner = ctx.derive(list_variant=False)
    items = [
        (bullet, _item_body(_content(item) if item.get("type") == "listItem" else [item], inner))
        for item in _content(node)
    ]
    return _list_items(items)


@_block("orderedList")
def _ordered_list(node, ctx):
    delimiter = ")" if ctx.list_variant else "."
    start = _order_start(node)
    inner = ctx.derive(list_variant=False)
    items = []
    for offset, item in enumerate(_content(node)):
        body = _item_body(_content(item) if item.get("type") == "listItem" else [item], inner)
        items.append((f"{start + offset}{delimiter} ", body))
    return _list_items(items)


@_block("listItem")
def _list_item(node, ctx):
    return _list_items([(_bullet(ctx), _item_body(_content(node), ctx))])


def _task_body(node: Mapping[str, Any], body: str) -> str:
    """The checkbox belongs to the item's text: continuation lines indent by the bullet only."""
    done = _s(_attrs(node).get("state")).upper() == "DONE"
    box = "[x]" if done else "[ ]"
    return f"{box} {body}" if body else box


@_block("taskList")
def _task_list(node, ctx):
    bullet = _bullet(ctx)
    inner = ctx.derive(list_variant=False)
    items: list[list[str]] = []
    for child in _content(node):
        type_name = child.get("type")
        if type_name == "taskList":  # a nested list belongs to the item before it
            nested = _nested(_task_list, child, inner)
            if items:
                items[-1][1] = items[-1][1] + "\n" + nested if items[-1][1] else nested
            else:
                items.append([bullet, nested])
        elif type_name == "taskItem":
            items.append([bullet, _task_body(child, _paragraph_text(_content(child), inner))])
        elif type_name == "blockTaskItem":
            items.append([bullet, _task_body(child, _item_body(_content(child), inner))])
        else:
            items.append([bullet, _item_body([child], inner)])
    return _list_items([(marker, body) for marker, body in items])


@_block("taskItem")
def _task_item(node, ctx):
    return _list_items([(_bullet(ctx), _task_body(node, _paragraph_text(_content(node), ctx)))])


@_block("blockTaskItem")
def _block_task_item(node, ctx):
    return _list_items([(_bullet(ctx), _task_body(node, _item_body(_content(node), ctx)))])


def _decision_body(node: Mapping[str, Any], ctx: _Context) -> str:
    decided = _s(_attrs(node).get("state")).upper() == "DECIDED"
    label = "**Decision:**" if decided else "**Decision (undecided):**"
    text = _paragraph_text(_content(node), ctx)
    return f"{label} {text}" if text else label


@_block("decisionList")
def _decision_list(node, ctx):
    bullet = _bullet(ctx)
    inner = ctx.derive(list_variant=False)
    items = []
    for child in _content(node):
        if child.get("type") == "decisionItem":
            items.append((bullet, _decision_body(child, inner)))
        else:
            items.append((bullet, _item_body([child], inner)))
    return _list_items(items)


@_block("decisionItem")
def _decision_item(node, ctx):
    return _list_items([(_bullet(ctx), _decision_body(node, ctx))])


@_block("expand", "nestedExpand")
def _expand(node, ctx):
    title = _s(_attrs(node).get("title"))
    if ctx.in_table:
        body = _render_blocks(_content(node), ctx)
        head = escape_text(title, in_table=True)
        return f"{head}: {body}" if head and body else head or body
    body = _render_blocks(_content(node), ctx.derive(list_variant=False))
    summary = f"<summary>{escape_html(title)}</summary>\n" if title else ""
    return f"<details>\n{summary}\n{body}\n\n</details>" if body else f"<details>\n{summary}</details>"


@_block("layoutSection")
def _layout_section(node, ctx):
    return _render_blocks(_content(node), ctx)


@_block("layoutColumn", "bodiedExtension", "bodiedSyncBlock", "tableRow", "tableCell", "tableHeader")
def _container(node, ctx):
    return _render_blocks(_content(node), ctx)


@_block("extension")
def _extension(node, ctx):
    return escape_line_start(escape_text(_extension_text(_attrs(node)), in_table=ctx.in_table))


@_block("syncBlock")
def _sync_block(node, ctx):
    resource = _attrs(node).get("resourceId") or "unknown"
    return escape_line_start(escape_text(f"[Synced block: {resource}]", in_table=ctx.in_table))


@_block("blockCard", "embedCard")
def _block_card(node, ctx):
    attrs = _attrs(node)
    url, label = _card_url_and_label(attrs, ctx.links)
    if not url:
        datasource = attrs.get("datasource")
        text = "[Jira datasource view]" if isinstance(datasource, Mapping) else label or "[card]"
        return escape_line_start(escape_text(text, in_table=ctx.in_table))
    return link(escape_text(label, in_table=ctx.in_table), url)


@_block("caption")
def _caption(node, ctx):
    return _paragraph_text(_content(node), ctx)


def _link_href(node: Mapping[str, Any]) -> str:
    return next((_s(m.attrs.get("href")) for m in _marks_of(node) if m.type == "link"), "")


def _media_block_markdown(node: Mapping[str, Any], ctx: _Context, outer_href: str = "") -> str:
    """A media node as a block, with its link (its own, or its mediaSingle's) kept: around an image
    or a missing attachment's text, after a link to a file (links cannot nest)."""
    markdown, _, is_file_link = _media_markdown(_attrs(node), ctx)
    href = _link_href(node) or outer_href
    if href and is_file_link:
        return f"{markdown} ({link(escape_text(href, in_table=ctx.in_table), href)})"
    if href:
        return link(markdown, href)
    return markdown if ctx.in_table or markdown.startswith(("!", "[")) else escape_line_start(markdown)


@_block("media")
def _media(node, ctx):
    return _media_block_markdown(node, ctx)


@_block("mediaSingle")
def _media_single(node, ctx):
    parts = []
    href = _link_href(node)
    for child in _content(node):
        if child.get("type") == "media":
            parts.append(_media_block_markdown(child, ctx, href))
        else:
            text = _render_block(child, ctx) if not _is_inline_node(child) else _paragraph_text([child], ctx)
            if text:
                parts.append(text)
    return ("<br>" if ctx.in_table else "\n\n").join(parts)


@_block("mediaGroup")
def _media_group(node, ctx):
    parts = [_render_block(child, ctx) for child in _content(node)]
    return ("<br>" if ctx.in_table else "\n\n").join(part for part in parts if part)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _cell_markdown(cell: Mapping[str, Any], ctx: _Context) -> str:
    """A cell's blocks on one line, with every pipe escaped for the GFM table."""
    return escape_table_cell(_cell_line(cell, ctx))


def _cell_line(cell: Mapping[str, Any], ctx: _Context) -> str:
    """A cell's blocks on one line: blocks and lines joined by <br>, code as code spans (pipes
    not yet escaped: that happens once, for the outermost cell)."""
    cell_ctx = ctx.derive(in_table=True, single_line=True)
    pieces: list[str] = []
    for child in _content(cell):
        type_name = child.get("type")
        if type_name == "codeBlock":
            code = "".join(_s(c.get("text")) for c in _content(child))
            pieces.extend(code_span(line) for line in code.replace("\r\n", "\n").split("\n") if line)
        elif type_name == "table":
            for row in _content(child):
                cells = [_nested(_cell_line, c, ctx) for c in _content(row)]
                pieces.append(" / ".join(c for c in cells if c))
        elif type_name in _LIST_KIND:
            pieces.append(_nested(_html_list, child, ctx))
        elif type_name in ("panel", "blockquote", "expand", "nestedExpand", "layoutSection", "layoutColumn"):
            nested = _nested(_cell_line, child, ctx)
            title = _attrs(child).get("title")
            if title:
                nested = f"{escape_text(_s(title), in_table=True)}: {nested}"
            pieces.append(nested)
        else:
            text = _paragraph_text([child], cell_ctx) if _is_inline_node(child) else _render_block(child, cell_ctx)
            pieces.extend(line.strip() for line in text.split("\n") if line.strip())
    return join_cell_pieces(pieces)


def _html_list(node: Mapping[str, Any], ctx: _Context) -> str:
    """A list inside a table cell, where Markdown cannot hold one: an HTML list on one line."""
    tag = "ol" if node.get("type") == "orderedList" else "ul"
    start = _order_start(node) if tag == "ol" else 1
    items: list[str] = []
    for child in _content(node):
        if child.get("type") in _LIST_KIND and items:  # a nested task list belongs to the item before it
            items[-1] += _nested(_html_list, child, ctx)
        else:
            items.append(_html_list_item(child, ctx))
    opening = f'<{tag} start="{start}">' if start != 1 else f"<{tag}>"
    return opening + "".join(f"<li>{item}</li>" for item in items) + f"</{tag}>"


def _html_list_item(item: Mapping[str, Any], ctx: _Context) -> str:
    type_name = item.get("type")
    line_ctx = ctx.derive(in_table=True, single_line=True)
    if type_name == "taskItem":
        return _task_body(item, _paragraph_text(_content(item), line_ctx))
    if type_name == "blockTaskItem":
        return _task_body(item, _cell_line(item, ctx))
    if type_name == "decisionItem":
        return _decision_body(item, line_ctx)
    if type_name in _LIST_KIND:
        return _nested(_html_list, item, ctx)
    return _cell_line(item if type_name == "listItem" else {"content": [item]}, ctx)


def _cell_span(cell: Mapping[str, Any], key: str, limit: int) -> int:
    """A cell's colspan/rowspan, between 1 and ``limit`` (what is left of the table's real size)."""
    try:
        return max(1, min(limit, int(_attrs(cell).get(key) or 1)))
    except (TypeError, ValueError, OverflowError):
        return 1


def _table_cells(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in _content(row) if c.get("type") in ("tableCell", "tableHeader")]


def _table_grid(rows: Sequence[Mapping[str, Any]], ctx: _Context) -> list[list[str]]:
    """The cells' Markdown placed on a grid, spans padded with empty cells. A span never reaches
    past the table's real width (its widest row's cell count) or height (its row count)."""
    real_width = max(len(_table_cells(row)) for row in rows)
    grid: list[list[str]] = []
    occupied: set[tuple[int, int]] = set()  # cells covered by a rowspan from above
    for row_index, row in enumerate(rows):
        line: list[str] = []
        column = 0
        for cell in _table_cells(row):
            while (row_index, column) in occupied:
                line.append("")
                column += 1
            colspan = _cell_span(cell, "colspan", real_width - column)
            rowspan = _cell_span(cell, "rowspan", len(rows) - row_index)
            line.append(_cell_markdown(cell, ctx))
            line.extend([""] * (colspan - 1))
            for extra_row in range(1, rowspan):
                occupied.update((row_index + extra_row, column + extra_col) for extra_col in range(colspan))
            column += colspan
        while (row_index, column) in occupied:
            line.append("")
            column += 1
        grid.append(line)
    return grid


def _table_as_text(rows: Sequence[Mapping[str, Any]], ctx: _Context) -> str:
    """A table too large to pad as a grid: each row as one line of its cells' text."""
    lines = [" / ".join(c for c in (_cell_markdown(cell, ctx) for cell in _table_cells(row)) if c) for row in rows]
    return ("<br>" if ctx.in_table else "\n\n").join(escape_line_start(line) for line in lines if line)


@_block("table")
def _table(node, ctx):
    rows = [row for row in _content(node) if row.get("type") == "tableRow"]
    if not rows:
        return ""
    if len(rows) * (max(len(_table_cells(row)) for row in rows) + 1) > MAX_TABLE_GRID_CELLS:
        return _table_as_text(rows, ctx)
    first_cells = _table_cells(rows[0])
    first_is_header = bool(first_cells) and all(c.get("type") == "tableHeader" for c in first_cells)
    grid = _table_grid(rows, ctx)
    if _attrs(node).get("isNumberColumnEnabled"):
        _add_number_column(grid, first_is_header)
    return _grid_markdown(grid, first_is_header, ctx)


def _add_number_column(grid: list[list[str]], first_is_header: bool) -> None:
    for index, line in enumerate(grid):
        number = "" if (index == 0 and first_is_header) else str(index if first_is_header else index + 1)
        line.insert(0, number)


def _grid_markdown(grid: list[list[str]], first_is_header: bool, ctx: _Context) -> str:
    width = max(len(line) for line in grid) or 1
    for line in grid:
        line.extend([""] * (width - len(line)))
    if first_is_header:
        header, body = grid[0], grid[1:]
    else:  # GFM needs a header row; an empty one keeps every Jira row a body row
        header, body = [""] * width, grid

    def row_text(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |" if any(cells) else "|" + " |" * len(cells)

    lines = [row_text(header), "|" + " --- |" * width]
    lines.extend(row_text(line) for line in body)
    if ctx.in_table:
        return " / ".join(" ".join(c for c in line if c) for line in [header, *body] if any(line))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def is_adf_document(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "doc"


def adf_to_markdown(
    adf_doc: Mapping[str, Any] | None,
    *,
    media: "MediaIndex | Iterable[Mapping[str, Any]] | None" = None,
    heading_offset: int = 0,
    links: IssueLinks | None = None,
) -> str:
    """Render an ADF document (or any ADF node) as Markdown, without a trailing newline.

    ``media`` is a :class:`MediaIndex` or the AttachmentHandler info dicts (linked under
    ``attachments/``). ``heading_offset`` pushes headings down (2 turns ``#`` into ``###``)
    when the document sits under a section heading. ``links`` says which issues' cards go to their
    file in the knowledge base. ``None`` or an empty document gives "".
    """
    if adf_doc is None:
        return ""
    if not isinstance(adf_doc, Mapping) or "type" not in adf_doc:
        raise ValueError(f"not an ADF node (expected a mapping with a 'type'): {type(adf_doc).__name__}")
    index = media if isinstance(media, MediaIndex) else MediaIndex(media or ())
    ctx = _Context(media=index, links=links or IssueLinks(), heading_offset=heading_offset)
    node = adf_doc
    if node.get("type") not in BLOCK_HANDLERS and node.get("type") in INLINE_HANDLERS:
        return defuse_gfm_autolinks(_paragraph_text([node], ctx))
    return defuse_gfm_autolinks(_render_blocks([node], ctx).strip("\n"))


def adf_to_table_cell(
    adf_doc: Mapping[str, Any] | None, *, media: "MediaIndex | None" = None, links: IssueLinks | None = None
) -> str:
    """An ADF document on one line, safe inside a GFM table cell (lists as HTML lists)."""
    if not adf_doc:
        return ""
    ctx = _Context(media=media or MediaIndex(), links=links or IssueLinks())
    if adf_doc.get("type") in INLINE_HANDLERS:
        adf_doc = {"type": "paragraph", "content": [adf_doc]}
    if adf_doc.get("type") != "doc":
        adf_doc = {"type": "doc", "content": [adf_doc]}
    return defuse_gfm_autolinks(_cell_markdown(adf_doc, ctx))
