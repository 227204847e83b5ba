"""Jira wiki markup from the sample data's ADF documents, as Jira Data Center stores the same content.

The sample Jira keeps one data set (ADF); in Data Center mode every rich-text value is written
out here, so both flavours serve the same issues. Mentions become ``[~username]``, attachments
``!name!`` / ``!name|thumbnail!`` / ``[^name]``, code ``{code:lang}`` or ``{noformat}``, colour
``{color:#hex}...{color}``. Text is escaped where wiki markup would read it as markup.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_SPECIAL = re.compile(r"([*_{}\[\]|!^~+\\-])")
_MARK_DELIMITERS = {"strong": "*", "em": "_", "strike": "-", "underline": "+"}
_PANEL_TITLES = {"info": "Info", "note": "Note", "tip": "Tip", "warning": "Warning", "error": "Error"}


@dataclass(frozen=True)
class WikiContext:
    """What a wiki document names that ADF names by id: users (accountId -> username), media (id -> file)."""

    usernames: Mapping[str, str] = field(default_factory=dict)
    media: Mapping[str, tuple[str, bool]] = field(default_factory=dict)  # media id -> (filename, is image)


def escape(text: str) -> str:
    """Plain text that wiki markup shows as it is."""
    return _SPECIAL.sub(r"\\\1", text)


def adf_to_wiki(doc: Any, context: WikiContext | None = None) -> str | None:
    """The wiki markup of an ADF document (None for None)."""
    if doc is None:
        return None
    if not isinstance(doc, dict):
        return ""
    writer = _Writer(context or WikiContext())
    return writer.blocks(doc.get("content") or []).strip("\n")


class _Writer:
    def __init__(self, context: WikiContext) -> None:
        self.context = context
        self._block: dict[str, Callable[[dict[str, Any], str], str]] = {
            "paragraph": self._paragraph,
            "heading": self._heading,
            "bulletList": self._list,
            "orderedList": self._list,
            "taskList": self._list,
            "decisionList": self._list,
            "blockquote": self._quote,
            "codeBlock": self._code,
            "rule": lambda node, prefix: "----",
            "panel": self._panel,
            "table": self._table,
            "mediaSingle": self._media_block,
            "mediaGroup": self._media_block,
            "expand": self._expand,
            "nestedExpand": self._expand,
        }
        self._inline: dict[str, Callable[[dict[str, Any]], str]] = {
            "text": self._text,
            "hardBreak": lambda node: "\n",
            "mention": self._mention,
            "emoji": lambda node: _attr(node, "text") or _attr(node, "shortName"),
            "date": self._date,
            "status": lambda node: f"*{escape(_attr(node, 'text'))}*",
            "inlineCard": self._card,
            "mediaInline": self._media_inline,
            "placeholder": lambda node: "",
            "inlineExtension": lambda node: escape(_attr(node, "text")),
        }

    # ------------------------------------------------------------ blocks

    def blocks(self, nodes: list[Any], prefix: str = "") -> str:
        parts = [self.block(node, prefix) for node in nodes if isinstance(node, dict)]
        return "\n\n".join(part for part in parts if part)

    def block(self, node: dict[str, Any], prefix: str = "") -> str:
        handler = self._block.get(node.get("type", ""))
        if handler is not None:
            return handler(node, prefix)
        if node.get("type") in ("blockCard", "embedCard"):
            return self._card(node)
        if node.get("type") in self._inline:
            return self.inline([node])
        return self.blocks(node.get("content") or [], prefix)  # layouts, extensions, sync blocks

    def _paragraph(self, node: dict[str, Any], prefix: str = "") -> str:
        return self.inline(node.get("content") or [])

    def _heading(self, node: dict[str, Any], prefix: str = "") -> str:
        level = min(max(int(_attr(node, "level") or 1), 1), 6)
        return f"h{level}. {self.inline(node.get('content') or [])}"

    def _list(self, node: dict[str, Any], prefix: str = "") -> str:
        marker = prefix + ("#" if node.get("type") == "orderedList" else "*")
        return "\n".join(self._item(item, marker) for item in node.get("content") or [] if isinstance(item, dict))

    def _item(self, item: dict[str, Any], marker: str) -> str:
        lead = {"DONE": "☑ ", "TODO": "☐ ", "DECIDED": "✔ "}.get(_attr(item, "state"), "")
        children = [c for c in item.get("content") or [] if isinstance(c, dict)]
        inline = [c for c in children if c.get("type") in self._inline]
        blocks = [c for c in children if c.get("type") not in self._inline]
        lines = [self.inline(inline)] if inline else []
        nested = []
        for child in blocks:
            if child.get("type") in ("bulletList", "orderedList"):
                nested.append(self._list(child, marker))
            else:
                lines.append(self.block(child).replace("\n", " "))
        return "\n".join([f"{marker} {lead}{' '.join(lines)}".rstrip(), *nested])

    def _quote(self, node: dict[str, Any], prefix: str = "") -> str:
        return "{quote}\n" + self.blocks(node.get("content") or []) + "\n{quote}"

    def _code(self, node: dict[str, Any], prefix: str = "") -> str:
        body = "".join(str(c.get("text", "")) for c in node.get("content") or [] if isinstance(c, dict))
        language = _attr(node, "language")
        if language:
            return f"{{code:{language}}}\n{body.rstrip(chr(10))}\n{{code}}"
        return f"{{noformat}}\n{body.rstrip(chr(10))}\n{{noformat}}"

    def _panel(self, node: dict[str, Any], prefix: str = "") -> str:
        title = _PANEL_TITLES.get(_attr(node, "panelType"), "Success")
        return f"{{panel:title={title}}}\n" + self.blocks(node.get("content") or []) + "\n{panel}"

    def _table(self, node: dict[str, Any], prefix: str = "") -> str:
        rows = []
        for row in node.get("content") or []:
            cells = [c for c in row.get("content") or [] if isinstance(c, dict)]
            text = ""
            for cell in cells:
                bar = "||" if cell.get("type") == "tableHeader" else "|"
                body = self.blocks(cell.get("content") or []).replace("\n\n", " ").replace("\n", " ")
                text += f"{bar}{body or ' '}"
            rows.append(text + ("||" if cells and cells[-1].get("type") == "tableHeader" else "|"))
        return "\n".join(rows)

    def _media_block(self, node: dict[str, Any], prefix: str = "") -> str:
        parts = []
        for child in node.get("content") or []:
            if child.get("type") == "media":
                parts.append(self._media(child, thumbnail=node.get("type") == "mediaGroup"))
            elif child.get("type") == "caption":
                parts.append(self.inline(child.get("content") or []))
        return "\n".join(part for part in parts if part)

    def _media(self, node: dict[str, Any], thumbnail: bool) -> str:
        if _attr(node, "type") == "external":
            return f"!{_attr(node, 'url')}!"
        found = self.context.media.get(_attr(node, "id"))
        if found is None:
            return escape(_attr(node, "alt"))  # an attachment that is gone: its name, as text
        name, is_image = found
        if not is_image:
            return f"[^{name}]"
        return f"!{name}|thumbnail!" if thumbnail else f"!{name}!"

    def _expand(self, node: dict[str, Any], prefix: str = "") -> str:
        title = f"*{escape(_attr(node, 'title'))}*" if _attr(node, "title") else ""
        return "\n\n".join(part for part in (title, self.blocks(node.get("content") or [])) if part)

    # ------------------------------------------------------------ inline

    def inline(self, nodes: list[Any]) -> str:
        out = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            handler = self._inline.get(node.get("type", ""))
            out.append(handler(node) if handler else self.inline(node.get("content") or []))
        return "".join(out)

    def _text(self, node: dict[str, Any]) -> str:
        marks = [m for m in node.get("marks") or [] if isinstance(m, dict)]
        value = str(node.get("text", ""))
        if any(m.get("type") == "code" for m in marks):
            return "{{" + value.replace("}}", "} }") + "}}"
        out = escape(value)
        for mark in marks:
            out = _apply_mark(mark, out)
        return out

    def _mention(self, node: dict[str, Any]) -> str:
        username = self.context.usernames.get(_attr(node, "id"))
        return f"[~{username}]" if username else escape(_attr(node, "text"))

    def _date(self, node: dict[str, Any]) -> str:
        try:
            moment = datetime.fromtimestamp(int(_attr(node, "timestamp")) / 1000, UTC)
        except ValueError:
            return escape(_attr(node, "timestamp"))
        return moment.date().isoformat()

    def _card(self, node: dict[str, Any]) -> str:
        return f"[{_attr(node, 'url')}]"

    def _media_inline(self, node: dict[str, Any]) -> str:
        found = self.context.media.get(_attr(node, "id"))
        return f"[^{found[0]}]" if found else ""


def _apply_mark(mark: dict[str, Any], text: str) -> str:
    kind = mark.get("type")
    attrs = mark.get("attrs") or {}
    if kind in _MARK_DELIMITERS:
        delimiter = _MARK_DELIMITERS[kind]
        return f"{delimiter}{text}{delimiter}"
    if kind == "link":
        return f"[{text}|{attrs.get('href', '')}]"
    if kind == "subsup":
        return f"~{text}~" if attrs.get("type") == "sub" else f"^{text}^"
    if kind == "textColor":
        return f"{{color:{attrs.get('color', '')}}}{text}{{color}}"
    return text  # backgroundColor, annotation and the block marks have no wiki form


def _attr(node: dict[str, Any], name: str) -> str:
    value = (node.get("attrs") or {}).get(name)
    return "" if value is None else str(value)
