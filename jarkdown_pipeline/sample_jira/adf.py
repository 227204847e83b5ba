"""Atlassian Document Format for the sample data: seeded documents, and HTML for renderedFields.

`showcase_document` uses every node type and mark of ADF 52.2.2; `random_document` builds
varied, realistic descriptions and comments from the same parts.
"""

import html
import random
from dataclasses import dataclass, field
from typing import Any

# Every node type and mark of the ADF full schema 52.2.2 (tests check the data set covers them).
ADF_NODE_TYPES = frozenset(
    {
        "doc",
        "paragraph",
        "text",
        "heading",
        "bulletList",
        "orderedList",
        "listItem",
        "blockquote",
        "codeBlock",
        "rule",
        "panel",
        "table",
        "tableRow",
        "tableHeader",
        "tableCell",
        "mediaSingle",
        "mediaGroup",
        "media",
        "mediaInline",
        "caption",
        "mention",
        "emoji",
        "date",
        "status",
        "hardBreak",
        "inlineCard",
        "blockCard",
        "embedCard",
        "expand",
        "nestedExpand",
        "taskList",
        "taskItem",
        "blockTaskItem",
        "decisionList",
        "decisionItem",
        "layoutSection",
        "layoutColumn",
        "extension",
        "bodiedExtension",
        "inlineExtension",
        "placeholder",
        "syncBlock",
        "bodiedSyncBlock",
    }
)
ADF_MARK_TYPES = frozenset(
    {
        "strong",
        "em",
        "code",
        "strike",
        "underline",
        "link",
        "subsup",
        "textColor",
        "backgroundColor",
        "alignment",
        "indentation",
        "breakout",
        "border",
        "annotation",
        "dataConsumer",
        "fragment",
    }
)


@dataclass
class MediaRef:
    media_id: str
    filename: str
    is_image: bool
    width: int = 24
    height: int = 16


@dataclass
class DocContext:
    rng: random.Random
    site_url: str
    users: list[dict[str, Any]]  # {"accountId", "displayName"}
    issue_keys: list[str]  # other issues to link to
    media: list[MediaRef] = field(default_factory=list)
    timestamp_ms: int = 0

    def local_id(self) -> str:
        return f"{self.rng.getrandbits(32):08x}-{self.rng.getrandbits(16):04x}-4{self.rng.getrandbits(12):03x}-8{self.rng.getrandbits(12):03x}-{self.rng.getrandbits(48):012x}"


_WORDS = (
    "cache invalidation retry budget checkout latency regression dashboard tenant migration "
    "rollout feature flag webhook payload schema backfill partition timeout replica index "
    "Überweisung naïve café façade Ärger 東京 データ résumé smörgåsbord"
).split()

_EMOJI = [
    (":smile:", "1f604", "😄"),
    (":rocket:", "1f680", "🚀"),
    (":warning:", "26a0", "⚠️"),
    (":thumbsup:", "1f44d", "👍"),
]


def text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def paragraph(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def _sentence(ctx: DocContext, words: int = 8) -> str:
    return " ".join(ctx.rng.choices(_WORDS, k=words)).capitalize() + "."


def _mention(ctx: DocContext) -> dict[str, Any]:
    user = ctx.rng.choice(ctx.users)
    return {"type": "mention", "attrs": {"id": user["accountId"], "text": "@" + user["displayName"], "accessLevel": ""}}


def _emoji(ctx: DocContext) -> dict[str, Any]:
    short, ident, glyph = ctx.rng.choice(_EMOJI)
    return {"type": "emoji", "attrs": {"shortName": short, "id": ident, "text": glyph}}


def _issue_url(ctx: DocContext) -> str:
    key = ctx.rng.choice(ctx.issue_keys) if ctx.issue_keys else "NONE-1"
    return f"{ctx.site_url}/browse/{key}"


def _rich_paragraph(ctx: DocContext) -> dict[str, Any]:
    rng = ctx.rng
    parts: list[dict[str, Any]] = [text(_sentence(ctx) + " ")]
    choice = rng.randrange(6)
    if choice == 0:
        parts += [text("bold", {"type": "strong"}), text(" and "), text("italic", {"type": "em"}), text(" text. ")]
    elif choice == 1:
        parts += [text("Ping "), _mention(ctx), text(" about it "), _emoji(ctx)]
    elif choice == 2:
        parts += [text("Run "), text("make `check` | grep *", {"type": "code"}), text(" first.")]
    elif choice == 3:
        parts += [
            text("See "),
            text("the runbook", {"type": "link", "attrs": {"href": "https://example.com/runbook?a=1&b=<2>"}}),
            text("."),
        ]
    elif choice == 4:
        parts += [text("Related: "), {"type": "inlineCard", "attrs": {"url": _issue_url(ctx)}}]
    else:
        parts += [
            text("old", {"type": "strike"}),
            text(" → "),
            text("new", {"type": "underline"}),
            text(" # not a heading, *not* emphasis_"),
        ]
    return paragraph(*parts)


def _bullet_list(ctx: DocContext, depth: int = 0) -> dict[str, Any]:
    items = []
    for _ in range(ctx.rng.randint(2, 3)):
        content: list[dict[str, Any]] = [paragraph(text(_sentence(ctx, 4)))]
        if depth < 2 and ctx.rng.random() < 0.5:
            content.append(_ordered_list(ctx, depth + 1) if ctx.rng.random() < 0.5 else _bullet_list(ctx, depth + 1))
        items.append({"type": "listItem", "content": content})
    return {"type": "bulletList", "content": items}


def _ordered_list(ctx: DocContext, depth: int = 0) -> dict[str, Any]:
    items = []
    for _ in range(ctx.rng.randint(2, 3)):
        content: list[dict[str, Any]] = [paragraph(text(_sentence(ctx, 4)))]
        if depth < 2 and ctx.rng.random() < 0.4:
            content.append(_bullet_list(ctx, depth + 1))
        items.append({"type": "listItem", "content": content})
    return {"type": "orderedList", "attrs": {"order": 1}, "content": items}


def _code_block(ctx: DocContext) -> dict[str, Any]:
    language = ctx.rng.choice(["python", "bash", "json", "markdown"])
    body = {
        "python": 'def retry(fn):\n    """Use ``` fences? No: `backticks` inside."""\n    return fn()\n',
        "bash": "curl -s \"$JIRA/rest/api/3/myself\" | jq '.timeZone'\necho '```'\n",
        "json": '{"key": "value", "list": [1, 2, 3], "nested": {"ok": true}}',
        "markdown": "# Not a heading\n```\nfenced inside a code block\n```\n| a | b |\n",
    }[language]
    return {"type": "codeBlock", "attrs": {"language": language}, "content": [text(body)]}


def _table(ctx: DocContext) -> dict[str, Any]:
    def cell(kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "attrs": {}, "content": [paragraph(text(value))]}

    header = {"type": "tableRow", "content": [cell("tableHeader", "Metric"), cell("tableHeader", "Value | unit")]}
    rows = [
        {
            "type": "tableRow",
            "content": [cell("tableCell", ctx.rng.choice(_WORDS)), cell("tableCell", f"{ctx.rng.randint(1, 999)} ms")],
        }
        for _ in range(ctx.rng.randint(1, 3))
    ]
    return {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False, "layout": "default", "localId": ctx.local_id()},
        "content": [header, *rows],
    }


def _panel(ctx: DocContext) -> dict[str, Any]:
    kind = ctx.rng.choice(["info", "note", "tip", "warning", "error", "success"])
    return {"type": "panel", "attrs": {"panelType": kind}, "content": [paragraph(text(_sentence(ctx)))]}


def _task_list(ctx: DocContext) -> dict[str, Any]:
    items = [
        {
            "type": "taskItem",
            "attrs": {"localId": ctx.local_id(), "state": ctx.rng.choice(["TODO", "DONE"])},
            "content": [text(_sentence(ctx, 3))],
        }
        for _ in range(ctx.rng.randint(2, 3))
    ]
    return {"type": "taskList", "attrs": {"localId": ctx.local_id()}, "content": items}


def _media_block(ctx: DocContext, ref: MediaRef, with_caption: bool = False) -> dict[str, Any]:
    media = {"type": "media", "attrs": {"type": "file", "id": ref.media_id, "collection": "", "alt": ref.filename}}
    if ref.is_image:
        media["attrs"].update({"width": ref.width, "height": ref.height})
        content: list[dict[str, Any]] = [media]
        if with_caption:
            content.append({"type": "caption", "content": [text("Figure: " + ref.filename)]})
        return {"type": "mediaSingle", "attrs": {"layout": "center"}, "content": content}
    return {"type": "mediaGroup", "content": [media]}


def random_document(ctx: DocContext, blocks: int | None = None) -> dict[str, Any]:
    rng = ctx.rng
    count = blocks if blocks is not None else rng.randint(1, 5)
    builders = [_rich_paragraph, _rich_paragraph, _bullet_list, _ordered_list, _code_block, _table, _panel, _task_list]
    content: list[dict[str, Any]] = []
    if rng.random() < 0.3:
        content.append({"type": "heading", "attrs": {"level": rng.randint(1, 3)}, "content": [text(_sentence(ctx, 3))]})
    for _ in range(count):
        content.append(rng.choice(builders)(ctx))
    for ref in ctx.media:
        if rng.random() < 0.6:
            content.append(_media_block(ctx, ref))
    return {"type": "doc", "version": 1, "content": content}


def showcase_document(ctx: DocContext) -> dict[str, Any]:
    """A description that uses every ADF node type and mark at least once."""
    image = next((m for m in ctx.media if m.is_image), None)
    other = next((m for m in ctx.media if m is not image), None)
    fallback_id = ctx.local_id()
    inline_media_id = (other or image).media_id if (other or image) else fallback_id
    content: list[dict[str, Any]] = [
        {"type": "heading", "attrs": {"level": 1}, "content": [text("Showcase: every ADF node")]},
        {
            "type": "paragraph",
            "marks": [{"type": "alignment", "attrs": {"align": "center"}}],
            "content": [
                text("strong", {"type": "strong"}),
                text(" "),
                text("em", {"type": "em"}),
                text(" "),
                text("code with ` backtick", {"type": "code"}),
                text(" "),
                text("strike", {"type": "strike"}),
                text(" "),
                text("underline", {"type": "underline"}),
                text(" H"),
                text("2", {"type": "subsup", "attrs": {"type": "sub"}}),
                text("O x"),
                text("2", {"type": "subsup", "attrs": {"type": "sup"}}),
                text(" "),
                text("red", {"type": "textColor", "attrs": {"color": "#ff5630"}}),
                text(" "),
                text("highlight", {"type": "backgroundColor", "attrs": {"color": "#fedec8"}}),
                text(" "),
                text(
                    "annotated",
                    {"type": "annotation", "attrs": {"id": ctx.local_id(), "annotationType": "inlineComment"}},
                ),
                text(" "),
                text("a link", {"type": "link", "attrs": {"href": "https://example.com/a_b*c", "title": "Example"}}),
            ],
        },
        {
            "type": "paragraph",
            "marks": [{"type": "indentation", "attrs": {"level": 2}}],
            "content": [text("Indented paragraph.")],
        },
        paragraph(
            text("Mention "),
            _mention(ctx),
            text(", emoji "),
            _emoji(ctx),
            text(", date "),
            {"type": "date", "attrs": {"timestamp": str(ctx.timestamp_ms)}},
            text(", status "),
            {"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue", "localId": ctx.local_id()}},
            {"type": "hardBreak"},
            text("after a hard break, card "),
            {"type": "inlineCard", "attrs": {"url": _issue_url(ctx)}},
            text(", inline media "),
            {"type": "mediaInline", "attrs": {"type": "file", "id": inline_media_id, "collection": ""}},
            text(", inline extension "),
            {
                "type": "inlineExtension",
                "attrs": {"extensionType": "com.atlassian.ecosystem", "extensionKey": "status-badge", "text": "badge"},
            },
            text(", placeholder "),
            {"type": "placeholder", "attrs": {"text": "Type something"}},
        ),
        {"type": "blockquote", "content": [paragraph(text("Quoted > text with *stars* and _underscores_."))]},
        _bullet_list(ctx),
        _ordered_list(ctx),
        _code_block(ctx),
        {
            "type": "codeBlock",
            "attrs": {"language": "markdown"},
            "content": [text("```js\nconsole.log('fence in fence')\n```\n````")],
        },
        {"type": "rule"},
        _panel(ctx),
        _table(ctx),
        {
            "type": "taskList",
            "attrs": {"localId": ctx.local_id()},
            "content": [
                {
                    "type": "taskItem",
                    "attrs": {"localId": ctx.local_id(), "state": "DONE"},
                    "content": [text("Done task")],
                },
                {
                    "type": "taskItem",
                    "attrs": {"localId": ctx.local_id(), "state": "TODO"},
                    "content": [text("Open task")],
                },
                {
                    "type": "blockTaskItem",
                    "attrs": {"localId": ctx.local_id(), "state": "TODO"},
                    "content": [paragraph(text("Block task item with a paragraph"))],
                },
            ],
        },
        {
            "type": "decisionList",
            "attrs": {"localId": ctx.local_id()},
            "content": [
                {
                    "type": "decisionItem",
                    "attrs": {"localId": ctx.local_id(), "state": "DECIDED"},
                    "content": [text("We ship it.")],
                }
            ],
        },
        {
            "type": "expand",
            "attrs": {"title": "Details"},
            "content": [
                paragraph(text("Hidden by default.")),
                {
                    "type": "nestedExpand",
                    "attrs": {"title": "More"},
                    "content": [paragraph(text("Nested expand body."))],
                },
            ],
        },
        {
            "type": "layoutSection",
            "marks": [{"type": "breakout", "attrs": {"mode": "wide"}}],
            "content": [
                {"type": "layoutColumn", "attrs": {"width": 50}, "content": [paragraph(text("Left column"))]},
                {"type": "layoutColumn", "attrs": {"width": 50}, "content": [paragraph(text("Right column"))]},
            ],
        },
        {"type": "blockCard", "attrs": {"url": _issue_url(ctx)}},
        {"type": "embedCard", "attrs": {"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "layout": "center"}},
        {
            "type": "extension",
            "marks": [{"type": "dataConsumer", "attrs": {"sources": [ctx.local_id()]}}],
            "attrs": {
                "extensionType": "com.atlassian.confluence.macro.core",
                "extensionKey": "toc",
                "text": "Table of contents",
            },
        },
        {
            "type": "bodiedExtension",
            "marks": [{"type": "fragment", "attrs": {"localId": ctx.local_id(), "name": "excerpt"}}],
            "attrs": {"extensionType": "com.atlassian.confluence.macro.core", "extensionKey": "excerpt"},
            "content": [paragraph(text("Inside a bodied extension."))],
        },
        {
            "type": "syncBlock",
            "attrs": {"resourceId": "ari:cloud:blocks::sync/" + fallback_id, "localId": ctx.local_id()},
        },
        {
            "type": "bodiedSyncBlock",
            "attrs": {"resourceId": "ari:cloud:blocks::sync/" + ctx.local_id(), "localId": ctx.local_id()},
            "content": [paragraph(text("Synced content."))],
        },
        {
            "type": "mediaSingle",
            "attrs": {"layout": "center"},
            "content": [
                {
                    "type": "media",
                    "marks": [{"type": "border", "attrs": {"size": 2, "color": "#091e4224"}}],
                    "attrs": (
                        {
                            "type": "file",
                            "id": image.media_id,
                            "collection": "",
                            "alt": image.filename,
                            "width": image.width,
                            "height": image.height,
                        }
                        if image
                        else {
                            "type": "external",
                            "url": "https://example.com/static/diagram.png",
                            "alt": "external diagram",
                        }
                    ),
                },
                {"type": "caption", "content": [text("A caption with "), text("marks", {"type": "em"})]},
            ],
        },
    ]
    group_ref = other or image
    if group_ref is not None:
        content.append({"type": "mediaGroup", "content": [_media_block(ctx, group_ref)["content"][0]]})
    else:  # a reference to an attachment that is gone, as real Jira documents have
        content.append(
            {
                "type": "mediaGroup",
                "content": [{"type": "media", "attrs": {"type": "file", "id": fallback_id, "collection": ""}}],
            }
        )
    return {"type": "doc", "version": 1, "content": content}


def document_types(doc: Any) -> tuple[set[str], set[str]]:
    """(node types, mark types) used anywhere in an ADF document."""
    nodes: set[str] = set()
    marks: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            nodes.add(node.get("type"))
            for mark in node.get("marks", ()):
                marks.add(mark["type"])
            stack.extend(node.get("content", ()))
    return nodes, marks


# ---------------------------------------------------------------- HTML for renderedFields

_SIMPLE_TAGS = {
    "paragraph": "p",
    "blockquote": "blockquote",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "table": "table",
    "tableRow": "tr",
    "tableHeader": "th",
    "tableCell": "td",
    "taskList": "ul",
    "decisionList": "ul",
    "layoutSection": "div",
    "layoutColumn": "div",
    "caption": "figcaption",
}
_MARK_TAGS = {"strong": "b", "em": "em", "code": "code", "strike": "del", "underline": "u"}


def adf_to_html(doc: Any) -> str:
    """A faithful-enough HTML rendering, like Jira's renderedFields (not byte-identical to Jira)."""
    if not isinstance(doc, dict):
        return ""
    return "".join(_node_html(child) for child in doc.get("content", ()))


def _children(node: dict[str, Any]) -> str:
    return "".join(_node_html(child) for child in node.get("content", ()))


def _node_html(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind in _SIMPLE_TAGS:
        tag = _SIMPLE_TAGS[kind]
        return f"<{tag}>{_children(node)}</{tag}>"
    handler = _HTML_HANDLERS.get(kind)
    if handler is None:
        return _children(node)  # mediaSingle, mediaGroup, extensions, sync blocks: their content
    return handler(node, node.get("attrs") or {})


def _text_html(node: dict[str, Any], attrs: dict[str, Any]) -> str:
    out = html.escape(node.get("text", ""))
    for mark in node.get("marks", ()):
        tag = _MARK_TAGS.get(mark["type"])
        if tag:
            out = f"<{tag}>{out}</{tag}>"
        elif mark["type"] == "link":
            out = f'<a href="{html.escape(mark["attrs"].get("href", ""))}">{out}</a>'
        elif mark["type"] == "subsup":
            tag = "sub" if mark["attrs"].get("type") == "sub" else "sup"
            out = f"<{tag}>{out}</{tag}>"
    return out


def _heading_html(node: dict[str, Any], attrs: dict[str, Any]) -> str:
    level = int(attrs.get("level", 1))
    return f"<h{level}>{_children(node)}</h{level}>"


def _code_block_html(node: dict[str, Any], attrs: dict[str, Any]) -> str:
    body = "".join(html.escape(c.get("text", "")) for c in node.get("content", ()))
    return f'<pre><code class="language-{html.escape(attrs.get("language", ""))}">{body}</code></pre>'


def _task_item_html(node: dict[str, Any], attrs: dict[str, Any]) -> str:
    box = "☑" if attrs.get("state") == "DONE" else "☐"
    return f"<li>{box} {_children(node)}</li>"


def _card_html(node: dict[str, Any], attrs: dict[str, Any]) -> str:
    url = html.escape(attrs.get("url", ""))
    return f'<a href="{url}">{url}</a>'


def _date_html(node: dict[str, Any], attrs: dict[str, Any]) -> str:
    timestamp = html.escape(attrs.get("timestamp", ""))
    return f'<time datetime="{timestamp}">{timestamp}</time>'


_HTML_HANDLERS: dict[str, Any] = {
    "text": _text_html,
    "heading": _heading_html,
    "codeBlock": _code_block_html,
    "rule": lambda node, attrs: "<hr />",
    "hardBreak": lambda node, attrs: "<br />",
    "panel": lambda node, attrs: (
        f'<div class="panel panel-{html.escape(attrs.get("panelType", "info"))}">{_children(node)}</div>'
    ),
    "expand": lambda node, attrs: (
        f"<details><summary>{html.escape(attrs.get('title', ''))}</summary>{_children(node)}</details>"
    ),
    "taskItem": _task_item_html,
    "blockTaskItem": _task_item_html,
    "decisionItem": lambda node, attrs: f"<li>✔ {_children(node)}</li>",
    "mention": lambda node, attrs: (
        f'<a class="user-hover" rel="{html.escape(attrs.get("id", ""))}">{html.escape(attrs.get("text", ""))}</a>'
    ),
    "emoji": lambda node, attrs: html.escape(attrs.get("text") or attrs.get("shortName", "")),
    "status": lambda node, attrs: f'<span class="status">{html.escape(attrs.get("text", ""))}</span>',
    "date": _date_html,
    "inlineCard": _card_html,
    "blockCard": _card_html,
    "embedCard": _card_html,
    "media": lambda node, attrs: (
        f'<span class="image-wrap"><img alt="{html.escape(attrs.get("alt", ""))}" data-media-id="{html.escape(attrs.get("id", ""))}" /></span>'
    ),
    "placeholder": lambda node, attrs: "",
}
_HTML_HANDLERS["nestedExpand"] = _HTML_HANDLERS["expand"]
_HTML_HANDLERS["mediaInline"] = _HTML_HANDLERS["media"]
