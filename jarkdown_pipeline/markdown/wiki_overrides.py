"""The jira2markdown element classes replaced or added by ``wiki_elements`` (imported with the library,
only when Data Center text is rendered)."""

import re
import sys
from collections.abc import Callable
from typing import Any

from jira2markdown.markup import advanced, headings, images, links, lists, tables, text_breaks, text_effects
from jira2markdown.markup.base import AbstractMarkup
from pyparsing import (
    Combine,
    FollowedBy,
    Group,
    LineEnd,
    LineStart,
    Literal,
    MatchFirst,
    OneOrMore,
    Optional,
    ParseException,
    ParserElement,
    ParseResults,
    PrecededBy,
    Regex,
    SkipTo,
    StringEnd,
    StringStart,
    Suppress,
    Word,
    alphas,
    printables,
)

from jarkdown_pipeline.markdown.escape import escape_text, link
from jarkdown_pipeline.markdown.wiki_blocks import is_inert
from jarkdown_pipeline.markdown.wiki_elements import EMOTICONS, embed_markdown, issue_link_target, mention_text


def make_actions_index_safe() -> None:
    """An IndexError in a parse action means "no match" to pyparsing, except on the action's very
    first call, when it escapes the whole conversion: so the same text converted or failed depending
    on what was converted before. Every action now turns it into a no-match, first call included."""
    modules = [advanced, images, links, tables, text_breaks, text_effects, lists, headings, sys.modules[__name__]]
    for module in modules:
        for cls in list(vars(module).values()):
            if isinstance(cls, type) and issubclass(cls, AbstractMarkup) and "action" in vars(cls):
                if not getattr(cls.action, "_index_safe", False):
                    cls.action = _index_safe(cls.action)


def _index_safe(action: Callable[..., Any]) -> Callable[..., Any]:
    def safe(self: Any, tokens: ParseResults) -> Any:
        try:
            return action(self, tokens)
        except IndexError as error:
            raise ParseException("", 0, "an element without content") from error

    safe._index_safe = True  # type: ignore[attr-defined]
    return safe


class Mention(links.Mention):
    """``[~name]``, ``[~accountid:id]``, ``[Alias|~name]``: Data Center user names have dots,
    underscores and ``@``, which the library's mention does not take."""

    def action(self, tokens: ParseResults) -> str:
        return mention_text(tokens.accountid)

    @property
    def expr(self) -> ParserElement:
        mention = Combine(
            "["
            + Optional(SkipTo("|", fail_on="]") + Suppress("|"), default="")
            + "~"
            + Word(printables, exclude_chars="[]|").set_results_name("accountid")
            + "]",
        )
        return mention.set_parse_action(self.action)


class Link(links.Link):
    """``[KEY]``, ``[label|KEY]`` and links to this Jira's ``/browse/KEY``: to the issue's file when the
    knowledge base holds it (a bare key to its Jira page otherwise, as Jira shows it)."""

    def action(self, tokens: ParseResults) -> str:
        target = issue_link_target(tokens.url)
        if target is None:
            return super().action(tokens)
        href, key = target
        alias = self.markup.transform_string(getattr(tokens, "alias", ""))
        return link(alias or escape_text(key), href)


class Image(images.Image):
    """``!name!``, ``!name|thumbnail!``, ``!name|width=300!``: the attachment, linked locally."""

    def action(self, tokens: ParseResults) -> str:
        return embed_markdown(tokens.url)


class Attachment(links.Attachment):
    """``[^name]``: a link to the local attachment."""

    def action(self, tokens: ParseResults) -> str:
        return embed_markdown(tokens.filename, as_link=True)


class Admonition(AbstractMarkup):
    """``{info}``, ``{tip}``, ``{note}``, ``{warning}`` (Data Center's coloured panels) as the ADF
    renderer writes the panel types they became on Cloud: a GitHub alert, the title in bold."""

    is_inline_element = False
    MACRO = ""
    ALERT = ""

    def action(self, tokens: ParseResults) -> str:
        lines = [f"> [!{self.ALERT}]"]
        title = next((value for name, value in tokens.get("params", []) if name.lower() == "title"), "")
        if title.strip():
            lines.append("> **" + self.inline_markup.transform_string(title.strip()) + "**")
        body = self.markup.transform_string("\n".join(line.lstrip() for line in tokens.text.strip().splitlines()))
        lines.extend(f"> {line}" if line else ">" for line in body.splitlines())
        return "\n".join(lines)

    @property
    def expr(self) -> ParserElement:
        param = Word(alphas) + Suppress("=") + SkipTo(Literal("|") | Literal("}")) + Optional("|").suppress()
        return Combine(
            "{"
            + self.MACRO
            + Optional(":" + OneOrMore(Group(param), stop_on="}").set_results_name("params"))
            + "}"
            + SkipTo("{" + self.MACRO + "}").set_results_name("text")
            + "{"
            + self.MACRO
            + "}",
        ).set_parse_action(self.action)


# Data Center's panel macros and the ADF panel types Cloud gives them (info, success, warning, error).
ADMONITIONS = [
    type(f"{macro.title()}Macro", (Admonition,), {"MACRO": macro, "ALERT": alert})
    for macro, alert in (("info", "NOTE"), ("tip", "TIP"), ("note", "WARNING"), ("warning", "CAUTION"))
]


class Color(text_effects.Color):
    """``{color:red}text{color}``: the text (Markdown has no colour)."""

    def action(self, tokens: ParseResults) -> str:
        return self.inline_markup.transform_string(tokens.text)


def _fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks starting a line of the code."""
    return "`" * max([3, *(len(run) + 1 for run in re.findall(r"^[ \t]*(`{3,})", text, re.MULTILINE))])


class Code(advanced.Code):
    """``{code}`` without a language is a plain fence (the library says Java)."""

    def action(self, tokens: ParseResults) -> str:
        text = tokens.text.strip("\n")
        fence = _fence_for(text)
        return f"{fence}{(tokens.lang or '').lower()}\n{text}\n{fence}"


class Noformat(advanced.Noformat):
    def action(self, tokens: ParseResults) -> str:
        text = tokens.text.strip("\n")
        fence = _fence_for(text)
        return f"{fence}\n{text}\n{fence}"


class Underline(text_effects.Underline):
    QUOTE_CHAR = "<ins>"
    END_QUOTE_CHAR = "</ins>"


class LineBreak(text_breaks.LineBreak):
    """``\\\\`` is a hard break (a plain newline would read as a space)."""

    @property
    def expr(self) -> ParserElement:
        return super().expr.set_parse_action(lambda: "\\\n")


class Ruler(text_breaks.Ruler):
    """A line of four or more dashes is a rule, with blank lines around it: the library leaves
    ``text\n----`` as is, which Markdown reads as a heading."""

    @property
    def expr(self) -> ParserElement:
        rule = Regex(r"[ \t]*-{4,}[ \t]*(?=\n|$)")
        after_break = text_breaks.LineBreak(**self.init_kwargs).expr.suppress() + rule.copy()
        return (LineStart() + rule).set_parse_action(lambda: "\n---\n") | after_break.set_parse_action(
            lambda: "\n\n---\n"
        )


class BlockQuote(text_effects.BlockQuote):
    """``{quote}``: a blank line inside stays a bare ``>`` (no trailing space)."""

    def action(self, tokens: ParseResults) -> str:
        return _blank_quote_lines(super().action(tokens))


class Panel(advanced.Panel):
    def action(self, tokens: ParseResults) -> str:
        return _blank_quote_lines(super().action(tokens))


def _blank_quote_lines(quoted: str) -> str:
    return "\n".join(">" if line == "> " else line for line in quoted.split("\n"))


# A table: lines starting with ``|``; a line not ending with ``|`` runs on into the next non-blank
# line (a cell over several lines), as in the library's grammar.
_TABLE_REGION = r"[ \t]*\|[^\n]*(?:\n[ \t]*\|[^\n]*|(?<!\|)\n(?![ \t]*(?:\n|$))[^\n]*)*\n?"
_ROW_START = re.compile(r"^[ \t]*\|", re.MULTILINE)
# Cell separators outside links, mentions and embeds (``[a|b]``, ``!x.png|thumbnail!``) and
# escapes (``\|`` is a pipe inside a cell).
_CELL_TOKEN = re.compile(r"\\.|\[[^\]\n]*\]|!(?=[^\s!|])[^!\n]*!|\|\|?|[^|\[!\\]+|[\[!\\]")


def table_rows(region: str) -> list[list[str]]:
    """The cells of each row of a table's lines (one regex pass: no per-character parsing)."""
    starts = [match.start() for match in _ROW_START.finditer(region)] + [len(region)]
    rows = []
    for start, end in zip(starts, starts[1:], strict=False):
        cells: list[str] = []
        current: list[str] | None = None
        for token in _CELL_TOKEN.findall(region[start:end].strip(" \t").rstrip("\n")):
            if token in ("|", "||"):
                if current is not None:
                    cells.append("".join(current))
                current = []
            elif current is not None:
                current.append(token)
        if current and "".join(current).strip():
            cells.append("".join(current))
        rows.append(cells)
    return rows


class Table(tables.Table):
    """The ADF renderer's table layout: ``| a | b |`` and ``| --- |``, cells trimmed. Rows are split
    by a regex instead of the library's per-character search (slow on every long row)."""

    def action(self, tokens: ParseResults) -> str:
        rows = [row for row in table_rows(tokens[0]) if row]
        if not rows:
            raise ParseException("", 0, "an empty table")
        width = max(len(row) for row in rows)
        lines = []
        for row in rows:
            cells = [self._cell(cell) for cell in row]
            cells += [""] * (width - len(cells))
            lines.append("| " + " | ".join(cells) + " |")
        lines.insert(1, "|" + " --- |" * width)
        return "\n".join(lines) + "\n"

    def _cell(self, cell: str) -> str:
        converted = cell if is_inert(cell) else self.markup.transform_string(cell)
        # A hard line break (a backslash before the newline) is a <br> too, not an escaped "<".
        return converted.strip().replace("\\\n", "\n").replace("\n", "<br>")

    @property
    def expr(self) -> ParserElement:
        empty_line = LineStart() + Optional(Regex(r"[ \t]+")) + LineEnd()
        return (
            (StringStart() ^ Optional(empty_line, default="\n"))
            + LineStart()
            + Regex(_TABLE_REGION).set_parse_action(self.action)
            + (StringEnd() | Optional(empty_line, default="\n"))
        )


# A list row's markers (``*``, ``#`` in any mix, or one ``-``) and its text; the rows of one block go
# on over continuation lines until a blank line.
_LIST_ROW = r"[ \t]*(?:[*#]+|-)[ \t][^\n]*"
_LIST_BLOCK = re.compile(rf"^(?:{_LIST_ROW}(?:\n(?![ \t]*\n)(?!{_LIST_ROW})[^\n]*)*(?:\n|$))+", re.MULTILINE)
_LIST_MARKERS = re.compile(r"[ \t]*([*#]+|-)[ \t]+")
# Markers jira2markdown's two list elements read: bullets under at most one number, or the reverse.
_LIBRARY_MARKERS = re.compile(r"#?[*-]+|\*?#+")
_MARKER_WIDTH = {"#": 3, "*": 2, "-": 2}


class MixedList(AbstractMarkup):
    """A list whose rows mix ``*`` and ``#`` deeper than jira2markdown reads (``#*#``, ``*#*``): the
    library leaves such rows as text. Laid out as the library lays out the rows it reads (each level
    indented by its parent's marker width, ``- `` or ``1. ``), so lists it reads are left to it."""

    is_inline_element = False

    def action(self, block: str) -> str:
        rows = self._rows(block)
        if all(_LIBRARY_MARKERS.fullmatch(markers) for markers, _ in rows):
            raise ParseException(block, 0, "a list jira2markdown reads itself")
        lines: list[str] = []
        widths: list[int] = []  # the indent each level of the row above takes
        for markers, text in rows:
            # At most one level below the row above: a deeper row would be an indented code block.
            depth = min(len(markers), len(widths) + 1)
            widths = widths[: depth - 1] + [_MARKER_WIDTH[markers[-1]]]
            padding = " " * sum(widths[:-1])
            bullet = "1. " if markers[-1] == "#" else "- "
            converted = self.markup.transform_string(text).splitlines() or [""]
            lines.append(padding + bullet + converted[0])
            lines.extend(padding + " " * len(bullet) + line for line in converted[1:])
        return "\n".join(lines) + ("\n" if block.endswith("\n") else "")

    @staticmethod
    def _rows(block: str) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for line in block.rstrip("\n").split("\n"):
            start = _LIST_MARKERS.match(line)
            if start:
                rows.append((start.group(1), line[start.end() :]))
            else:  # a continuation line: part of the row above
                markers, text = rows[-1]
                rows[-1] = (markers, text + "\n" + line)
        return rows

    @property
    def expr(self) -> ParserElement:
        def parse(text: str, loc: int, tokens: ParseResults) -> str:
            return self.action(tokens[0])

        return Regex(_LIST_BLOCK).set_parse_action(parse)


class Emoticon(AbstractMarkup):
    """Jira's emoticons (``:)``, ``(y)``, ``(/)``...) as emoji, between spaces or punctuation."""

    @property
    def expr(self) -> ParserElement:
        faces = MatchFirst([Literal(text) for text in sorted(EMOTICONS, key=len, reverse=True)])
        boundary = FollowedBy(Regex(r"[\s.,;:!?)]")) | StringEnd()
        start = StringStart() | PrecededBy(Regex(r"[\s(]"), retreat=1)
        return start + faces.set_parse_action(lambda tokens: EMOTICONS[tokens[0]]) + boundary


class PlainRun(AbstractMarkup):
    """A run of word characters and spaces on one line, passed through in one step. Last of the
    elements: pyparsing tries every element at every character, and in prose each of them fails;
    inside such a run no element can start (a line start, a marker or ``[`` is needed) except a
    bare URL, which the run never enters. The output is unchanged (tested)."""

    @property
    def expr(self) -> ParserElement:
        return Regex(r"(?:(?!(?i:https?|ftp)://)[\w \t])+")


REPLACEMENTS: dict[type, type] = {
    links.Mention: Mention,
    links.Link: Link,
    images.Image: Image,
    links.Attachment: Attachment,
    text_effects.Color: Color,
    advanced.Code: Code,
    advanced.Noformat: Noformat,
    text_effects.Underline: Underline,
    text_breaks.LineBreak: LineBreak,
    text_breaks.Ruler: Ruler,
    text_effects.BlockQuote: BlockQuote,
    advanced.Panel: Panel,
    tables.Table: Table,
}
