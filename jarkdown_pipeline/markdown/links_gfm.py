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

# The cheap guard: no protocol (read with references decoded) means nothing to do.
_EMAIL_PROTOCOL = re.compile(r"(?:mailto|xmpp)\\?:", re.IGNORECASE)
_FTP_PROTOCOL = re.compile(r"ftp\\?:", re.IGNORECASE)
_FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})")
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BACKTICKS = re.compile(r"`+")
_TAG_OR_AUTOLINK = re.compile(r"<[A-Za-z/!?][^<>\n]*>")
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_PROTOCOLS = ("mailto", "xmpp")
_DOMAIN = re.compile(r"[A-Za-z0-9.\-_]*")


def defuse_gfm_autolinks(markdown: str) -> str:
    """``markdown`` with no email/xmpp or ftp autolink GitHub would give a scheme outside the
    allow-list; everything else, and the text a reader sees, unchanged."""
    if not _may_need_work(markdown):
        return markdown
    lines = markdown.split("\n")
    for index in lines_outside_fences(lines, _FENCE):
        if _may_need_work(lines[index]):
            lines[index] = _defuse_line(lines[index])
    return "\n".join(lines)


def _may_need_work(markdown: str) -> bool:
    """Whether ``markdown`` holds an ftp protocol, or an email protocol and an ``@`` (generous)."""
    text = html.unescape(markdown) if "&" in markdown and _REFERENCE.search(markdown) else markdown
    return bool(_FTP_PROTOCOL.search(text) or ("@" in text and _EMAIL_PROTOCOL.search(text)))


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
    """(start, end) of each stretch of ``line`` a parser reads as text (linear in the line's length:
    a hostile line of brackets or backticks costs no more than any other)."""
    position = 0
    for start, end in _merged(_protected(line)):
        if position < start:
            yield position, start
        position = max(position, end)
    if position < len(line):
        yield position, len(line)


def _protected(line: str) -> list[tuple[int, int]]:
    """Code spans, tags and autolinks, and inline links (text and destination) in ``line``."""
    ranges = _code_spans(line)
    masked = bytearray(len(line))
    for start, end in ranges:
        masked[start:end] = b"\x01" * (end - start)
    for tag in _TAG_OR_AUTOLINK.finditer(line):
        if not masked[tag.start()]:
            ranges.append(tag.span())
            masked[tag.start() : tag.end()] = b"\x01" * (tag.end() - tag.start())
    ranges.extend(_inline_links(line, masked))
    return ranges


def _code_spans(line: str) -> list[tuple[int, int]]:
    """Each unescaped backtick run with the next run of the same length after it."""
    runs = [(match.start(), match.end()) for match in _BACKTICKS.finditer(line)]
    following: list[int | None] = [None] * len(runs)
    last_of_length: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        following[index] = last_of_length.get(length)
        last_of_length[length] = index
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        closing = following[index]
        if closing is None or _is_escaped(line, runs[index][0]):
            index += 1
            continue
        spans.append((runs[index][0], runs[closing][1]))
        index = closing + 1
    return spans


def _is_escaped(line: str, index: int) -> bool:
    start = index
    while start > 0 and line[start - 1] == "\\":
        start -= 1
    return (index - start) % 2 == 1


def _inline_links(line: str, masked: bytearray) -> list[tuple[int, int]]:
    """``[text](destination)`` (and images): brackets and parentheses matched with stacks."""
    closing_paren = _matching(line, masked, "(", ")")
    openers: list[int] = []
    links: list[tuple[int, int]] = []
    index = 0
    while index < len(line):
        char = line[index]
        if masked[index]:
            pass
        elif char == "\\":
            index += 1
        elif char == "[":
            openers.append(index)
        elif char == "]" and openers:
            opener = openers.pop()
            end = closing_paren.get(index + 1)
            if end is not None:
                links.append((opener - (opener > 0 and line[opener - 1] == "!"), end + 1))
        index += 1
    return links


def _matching(line: str, masked: bytearray, open_char: str, close_char: str) -> dict[int, int]:
    """Each unescaped, unmasked ``open_char`` with its balancing ``close_char``."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    index = 0
    while index < len(line):
        char = line[index]
        if masked[index]:
            pass
        elif char == "\\":
            index += 1
        elif char == open_char:
            stack.append(index)
        elif char == close_char and stack:
            pairs[stack.pop()] = index
        index += 1
    return pairs


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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
    out: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits):
        out.append(source[position:start] + replacement)
        position = end
    out.append(source[position:])
    return "".join(out)


def lines_outside_fences(lines: list[str], fence_pattern: re.Pattern[str]) -> Iterator[int]:
    """The indexes of ``lines`` outside fenced code blocks (``fence_pattern``'s group 1 is the fence)."""
    fence: str | None = None
    for index, line in enumerate(lines):
        match = fence_pattern.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        yield index
