"""Block Markdown on one line, for a GFM table cell: lines joined by ``<br>``, lists as HTML lists
(a cell holds no Markdown list, but GitHub renders ``<ul>``/``<ol>`` in one, nested too)."""

import re
from collections.abc import Iterable

# A list item's line: its indent, its marker, its text (a marker needs a space or the line's end).
_LIST_ITEM = re.compile(r"^( *)([-*+]|[0-9]{1,9}[.)])(?: +(.*)|$)")


def join_cell_pieces(pieces: Iterable[str]) -> str:
    """Pieces of a cell on one line: ``<br>`` between lines, none next to an HTML list (a block)."""
    out = ""
    for piece in pieces:
        if not piece:
            continue
        if out and not (piece.startswith(("<ul>", "<ol")) or out.endswith(("</ul>", "</ol>"))):
            out += "<br>"
        out += piece
    return out


class _ListBuilder:
    """Nested HTML lists from Markdown list lines, by their markers' indents."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.open: list[tuple[int, str]] = []  # (marker indent, tag) of each open list, outermost first

    def item(self, indent: int, ordered: bool, text: str) -> None:
        tag = "ol" if ordered else "ul"
        while self.open and self.open[-1][0] > indent:
            self.close_one()
        if self.open and self.open[-1][0] == indent:
            if self.open[-1][1] == tag:
                self.out.append("</li>")
            else:
                self.close_one()
        if not self.open or self.open[-1][0] < indent:
            self.out.append(f"<{tag}>")
            self.open.append((indent, tag))
        self.out.append(f"<li>{text}")

    def continuation(self, text: str) -> None:
        self.out.append(f"<br>{text}")

    def close_one(self) -> None:
        self.out.append(f"</li></{self.open.pop()[1]}>")

    def close(self) -> str:
        while self.open:
            self.close_one()
        text = "".join(self.out)
        self.out = []
        return text


def markdown_to_cell(markdown: str) -> str:
    """``markdown`` (blocks) on one line: list items as nested HTML lists, other lines joined by ``<br>``.
    A line indented under an open list item continues that item. Pipes are left for the caller."""
    pieces: list[str] = []
    lists = _ListBuilder()
    for line in markdown.split("\n"):
        if not line.strip():
            continue
        match = _LIST_ITEM.match(line)
        if match:
            indent, marker, text = match.groups()
            lists.item(len(indent), marker[0].isdigit(), (text or "").strip())
        elif lists.open and line.startswith(" "):
            lists.continuation(line.strip())
        else:
            pieces.append(lists.close())
            pieces.append(line.strip())
    pieces.append(lists.close())
    return join_cell_pieces(pieces)
