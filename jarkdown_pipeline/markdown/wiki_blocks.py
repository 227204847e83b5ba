"""Wiki markup cut into pieces jira2markdown converts in bounded time (issue 13).

jira2markdown (pyparsing) tries every element at every character, and an emphasis marker with no
closer makes it scan to the end of the line, re-scanning for every marker: a few hundred ``*a `` take
seconds, a hostile 32 KB field hours. So the text is converted piece by piece, and a piece whose
markers would make the parser scan far more than its own length is kept as escaped plain text.

- Pieces are the paragraphs (split at blank lines), with ``{code}``, ``{noformat}``, ``{quote}``,
  ``{panel}`` and ``{info}``-like blocks kept whole (tables and lists have no blank lines, so they stay whole too). A
  piece longer than MAX_PIECE_CHARS is cut at line ends.
- A piece's scan estimate adds, for every marker that opens an element, the distance to where the
  parser would stop looking for its end (its closer, else the end of the line or piece).
- Everything is decided from the text alone: the same input always gives the same pieces.
"""

import re
from dataclasses import dataclass

# Above these a piece is kept as plain text (content kept, markup shown as typed).
MAX_PIECE_CHARS = 8_000
SCAN_PER_CHAR = 12  # a piece may make the parser scan up to this many characters per character...
SCAN_ALLOWANCE = 400  # ...plus this (short pieces with a few unmatched markers stay converted)
# Characters given to the converter per field: past them, the rest is plain text. Jira Data Center
# caps a text field at 32,767 characters by default, so real fields are converted whole.
MAX_CONVERTED_CHARS = 64_000

# A block macro jira2markdown keeps whole (its end is the first closing tag: no nesting).
_MACRO_OPEN = re.compile(r"\{(code|noformat|quote|panel|info|tip|note|warning)(?=[:}|])[^\n{}]*\}")
# Any character some element starts with (and emoticons); a piece without one converts to itself.
_TRIGGER = re.compile(r"[*#\-{}\[\]!|+?^~\\]|^[ \t]*(?:h[1-6]|bq)\.|[:;][()PD]|\([a-z/]{1,7}\)", re.MULTILINE)
# An inline effect's opener: at a word start, followed by a character that is not a space or itself.
_EFFECT_OPENER = re.compile(r"(?<!\w)([*\-+^~]|\?\?)(?=[^\s*\-+^~?])")
_EFFECT_CLOSER = {"*": re.compile(r"(?<=\S)\*(?!\w)"), "-": re.compile(r"(?<=\S)-(?!\w)")}
for _token in "+^~":
    _EFFECT_CLOSER[_token] = re.compile(rf"(?<=\S)\{_token}(?!\w)")
_EFFECT_CLOSER["??"] = re.compile(r"(?<=\S)\?\?(?!\w)")
# Openers of elements that look for their end beyond the line: links, mentions, attachments.
_BRACKET = re.compile(r"\[")
_BRACKET_CLOSE = re.compile(r"\]")
_MACRO_ANY = re.compile(r"\{(?:code|noformat|panel|quote|info|tip|note|warning|color)")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class Piece:
    """A slice of the text; ``kind`` is "convert", "inert" (no markup at all) or "plain" (over budget)."""

    text: str
    kind: str


def macro_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each closed block macro, scanning left to right as jira2markdown does.
    Linear: once a closing tag is missing after some point, no later opener can find it."""
    spans: list[tuple[int, int]] = []
    missing_after: dict[str, int] = {}
    position = 0
    while (match := _MACRO_OPEN.search(text, position)) is not None:
        closer = "{" + match.group(1) + "}"
        if match.group(1) in missing_after and missing_after[match.group(1)] <= match.end():
            position = match.end()
            continue
        end = text.find(closer, match.end())
        if end < 0:
            missing_after[match.group(1)] = match.end()
            position = match.end()
            continue
        spans.append((match.start(), end + len(closer)))
        position = end + len(closer)
    return spans


def paragraphs(text: str) -> list[tuple[str, str]]:
    """(paragraph, separator after it) pairs: split at blank lines outside block macros."""
    spans = macro_spans(text)
    out: list[tuple[str, str]] = []
    start = 0
    span_index = 0
    for blank in _BLANK_LINES.finditer(text):
        while span_index < len(spans) and spans[span_index][1] <= blank.start():
            span_index += 1
        if span_index < len(spans) and spans[span_index][0] < blank.end():
            continue  # blank lines inside a macro
        out.append((text[start : blank.start()], blank.group(0)))
        start = blank.end()
    out.append((text[start:], ""))
    return out


def cut_long(paragraph: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """A paragraph as chunks of at most ``limit`` characters cut at line ends (a longer line alone)."""
    if len(paragraph) <= limit:
        return [paragraph]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in paragraph.split("\n"):
        if current and size + len(line) + 1 > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    chunks.append("\n".join(current))
    return chunks


def _effect_scan(line: str) -> int:
    """How far the parser looks for the ends of this line's inline effects (bold, strike...)."""
    total = 0
    closers: dict[str, list[int]] = {}
    for opener in _EFFECT_OPENER.finditer(line):
        token = opener.group(1)
        if token not in closers:
            closers[token] = [m.start() for m in _EFFECT_CLOSER[token].finditer(line)]
        total += _distance_to_next(closers[token], opener.end(), len(line))
    return total


def _distance_to_next(positions: list[int], start: int, end: int) -> int:
    import bisect

    index = bisect.bisect_left(positions, start)
    return (positions[index] if index < len(positions) else end) - start


def scan_estimate(piece: str) -> int:
    """Characters the parser would scan looking for element ends: inline effects to their closer or
    the line's end, ``[`` to the next ``]`` or the piece's end, a block macro tag to the piece's end."""
    total = sum(_effect_scan(line) for line in piece.split("\n") if line)
    brackets = [m.start() for m in _BRACKET_CLOSE.finditer(piece)]
    total += sum(_distance_to_next(brackets, m.end(), len(piece)) for m in _BRACKET.finditer(piece))
    total += sum(len(piece) - m.end() for m in _MACRO_ANY.finditer(piece))
    return total


def is_inert(text: str) -> bool:
    """Whether ``text`` holds nothing jira2markdown converts (it then gives the text back as is)."""
    return _TRIGGER.search(text) is None


def within_budget(piece: str) -> bool:
    return len(piece) <= MAX_PIECE_CHARS and scan_estimate(piece) <= SCAN_PER_CHAR * len(piece) + SCAN_ALLOWANCE


def split_pieces(text: str) -> list[tuple[Piece, str]]:
    """The text as (piece, separator) pairs; joining every piece's text and separator gives it back."""
    pairs: list[tuple[Piece, str]] = []
    converted = 0
    for paragraph, separator in paragraphs(text):
        chunks = cut_long(paragraph)
        for index, chunk in enumerate(chunks):
            chunk_separator = separator if index == len(chunks) - 1 else "\n"
            if is_inert(chunk):
                kind = "inert"
            elif converted + len(chunk) <= MAX_CONVERTED_CHARS and within_budget(chunk):
                kind = "convert"
                converted += len(chunk)
            else:
                kind = "plain"
            pairs.append((Piece(chunk, kind), chunk_separator))
    return pairs
