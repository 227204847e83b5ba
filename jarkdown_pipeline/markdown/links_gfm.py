"""GitHub's extended autolinks that escaping cannot stop, made safe in finished Markdown.

cmark-gfm (GitHub's parser) links an email in plain text after parsing, on the text as it reads
it: backslash escapes and character references already decoded, neighbouring text joined. Walking
back from ``@`` it takes letters, digits and ``.+-_``, and also a ``mailto:`` or ``xmpp:`` with
a non-alphanumeric before it, so ``xmpp:a@b.c`` and ``x.mailto:a@b.c`` become links with the
schemes ``xmpp`` and ``x.mailto`` (outside the allow-list), whatever escapes the source has, and
even when two separately escaped pieces of text meet there. Only another node (a link, code...)
between the protocol and the address stops it, so such an address is written as an explicit
``mailto:`` link: the text reads the same, and the link is the one GitHub makes of ``foo:a@b.c``.

``ftp://`` is linked while parsing, from the source: an unescaped ``:`` after ``ftp`` (with no
letter before it) followed by ``//``; its colon is escaped.

The scan works on Markdown this project writes: outside code (fences, code spans), HTML tags,
autolinks and inline links, per line (a line break ends a text node).
"""

import html
import re
from collections.abc import Iterator

# Cheap guards: no protocol (possibly behind a reference) means nothing to do.
_MAY_NEED_WORK = re.compile(r"(?:mailto|xmpp)\\?:|ftp\\?:|&", re.IGNORECASE)
_FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})")
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BACKTICKS = re.compile(r"`+")
_TAG_OR_AUTOLINK = re.compile(r"<[A-Za-z/!?][^<>\n]*>")
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_PROTOCOLS = ("mailto", "xmpp")
_DOMAIN = re.compile(r"[A-Za-z0-9.\-_]*")
# How far a link's text or a code span is looked for: past it, a `[` or backtick reads as text
# (a hostile line of brackets must not cost quadratic time).
_LOOKAHEAD = 4096


def defuse_gfm_autolinks(markdown: str) -> str:
    """``markdown`` with no email/xmpp or ftp autolink GitHub would give a scheme outside the
    allow-list; everything else, and the text a reader sees, unchanged."""
    if not markdown or not _MAY_NEED_WORK.search(markdown):
        return markdown
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
        if _MAY_NEED_WORK.search(line):
            lines[index] = _defuse_line(line)
    return "\n".join(lines)


def _defuse_line(line: str) -> str:
    out: list[str] = []
    position = 0
    for start, end in _text_segments(line):
        out.append(line[position:start])
        out.append(_defuse_text(line[start:end]))
        position = end
    out.append(line[position:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Where the text is: everything but code spans, tags, autolinks and inline links
# ---------------------------------------------------------------------------------------------


def _text_segments(line: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each stretch of ``line`` a parser reads as text."""
    start = index = 0
    while index < len(line):
        skip_to = _construct_end(line, index)
        if skip_to is None:
            index += 2 if line[index] == "\\" else 1
            continue
        if start < index:
            yield start, index
        start = index = skip_to
    if start < len(line):
        yield start, len(line)


def _construct_end(line: str, index: int) -> int | None:
    """Where the code span, tag, autolink or inline link at ``index`` ends; None for text."""
    char = line[index]
    if char == "`":
        run = _BACKTICKS.match(line, index).group(0)  # type: ignore[union-attr]
        closing = re.compile(rf"(?<!`){run}(?!`)").search(line, index + len(run), index + _LOOKAHEAD)
        return closing.end() if closing else index + len(run)
    if char == "<":
        tag = _TAG_OR_AUTOLINK.match(line, index)
        return tag.end() if tag else None
    if char == "[" or (char == "!" and line.startswith("[", index + 1)):
        return _inline_link_end(line, index + (char == "!"))
    return None


def _inline_link_end(line: str, index: int) -> int | None:
    """The end of ``[text](destination)`` starting at ``index``, or None when it is not one."""
    depth = 0
    position = index
    limit = min(len(line), index + _LOOKAHEAD)
    while position < limit:
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char == "`":
            position = _construct_end(line, position) or position + 1
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        position += 1
        if depth == 0:
            break
    if depth != 0 or not line.startswith("(", position):
        return None
    return _destination_end(line, position + 1, limit + _LOOKAHEAD)


def _destination_end(line: str, position: int, limit: int) -> int | None:
    depth = 1
    while position < min(len(line), limit):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        position += 1
        if depth == 0:
            return position
    return None


# ---------------------------------------------------------------------------------------------
# Text as cmark-gfm reads it, and the autolinks it would make
# ---------------------------------------------------------------------------------------------


def _decoded(source: str) -> tuple[str, list[int]]:
    """The text a parser reads from ``source`` (escapes and references decoded), with the source
    offset each character starts at (one extra entry: the end)."""
    chars: list[str] = []
    offsets: list[int] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source) and source[index + 1] in _ASCII_PUNCTUATION:
            chars.append(source[index + 1])
            offsets.append(index)
            index += 2
            continue
        reference = _REFERENCE.match(source, index) if char == "&" else None
        decoded = html.unescape(reference.group(0)) if reference else char
        chars.append(decoded if len(decoded) == 1 else char)
        offsets.append(index)
        index = reference.end() if reference and len(decoded) == 1 else index + 1
    offsets.append(len(source))
    return "".join(chars), offsets


def _is_rewind_char(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or char in ".+-_"


def _protocol_before(text: str, colon: int) -> bool:
    """cmark-gfm's ``validate_protocol``: ``mailto``/``xmpp`` right before ``colon``, with no
    ASCII letter or digit before it."""
    for protocol in _PROTOCOLS:
        start = colon - len(protocol)
        if start >= 0 and text.startswith(protocol, start):
            return start == 0 or not (text[start - 1].isascii() and text[start - 1].isalnum())
    return False


def _link_start(text: str, at: int) -> int:
    """Where cmark-gfm's email autolink for the ``@`` at ``at`` would start."""
    index = at
    while index > 0:
        char = text[index - 1]
        if _is_rewind_char(char) or (char == ":" and _protocol_before(text, index - 1)):
            index -= 1
            continue
        break
    return index


def _unsafe_emails(text: str) -> Iterator[tuple[int, int]]:
    """(address start, address end) of each email cmark-gfm would link with a scheme outside the
    allow-list: the address is what follows the last protocol's colon."""
    at = text.find("@")
    while at >= 0:
        start = _link_start(text, at)
        colon = text.rfind(":", start, at)
        end = at + 1 + len(_DOMAIN.match(text, at + 1).group(0).rstrip(".-_"))  # type: ignore[union-attr]
        if colon >= 0 and not text.startswith("mailto:", start) and end > at + 1:
            yield colon + 1, end
            at = text.find("@", end)
        else:
            at = text.find("@", at + 1)


def _ftp_colons(text: str, source: str, offsets: list[int]) -> Iterator[int]:
    """Source offsets of each unescaped ``:`` that would start an ``ftp://`` autolink."""
    for match in re.finditer(r"(?<![A-Za-z])ftp(?=://)", text, re.IGNORECASE):
        colon = match.end()
        if source[offsets[colon]] == ":":
            yield offsets[colon]


def _defuse_text(source: str) -> str:
    """One text segment with each unsafe email written as an explicit ``mailto:`` link and each
    ``ftp://`` colon escaped."""
    if "@" not in source and "&" not in source and ":" not in source:
        return source
    text, offsets = _decoded(source)
    edits: list[tuple[int, int, str]] = []
    for start, end in _unsafe_emails(text):
        label = source[offsets[start] : offsets[end]]
        edits.append((offsets[start], offsets[end], f"[{label}](mailto:{text[start:end]})"))
    edits.extend((colon, colon + 1, "\\:") for colon in _ftp_colons(text, source, offsets))
    for start, end, replacement in sorted(edits, reverse=True):
        source = source[:start] + replacement + source[end:]
    return source
