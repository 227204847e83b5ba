"""jira2markdown's grammar, adjusted so wiki markup renders as the ADF renderer writes the same content
(issue 15): mentions by display name, ``!file!`` embeds linked to the local attachment, colour
macros as their text, emoticons as emoji, ``<ins>`` underline, ``\\`` breaks, ``---`` rules, tables
with the ADF renderer's spacing, ``{code}`` without a made-up language.

The grammar is built once; what differs per issue (its attachments and the people it names) is read
from ``CONTEXT`` while the caller holds the converter's lock."""

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jarkdown_pipeline.issue_keys import is_issue_key
from jarkdown_pipeline.markdown.escape import escape_text, image, link
from jarkdown_pipeline.markdown.links import IssueLinks
from jarkdown_pipeline.markdown.media import MediaIndex


@dataclass
class WikiContext:
    """What the elements below need from the issue being rendered."""

    media: MediaIndex = field(default_factory=MediaIndex)
    users: Mapping[str, str] = field(default_factory=dict)
    links: IssueLinks = field(default_factory=IssueLinks)


CONTEXT = WikiContext()
LOCK = threading.Lock()

# Jira's emoticons, as the emoji ADF stores for them.
EMOTICONS = {
    ":)": "🙂",
    ":(": "🙁",
    ":P": "😛",
    ":D": "😀",
    ";)": "😉",
    "(y)": "👍",
    "(n)": "👎",
    "(i)": "ℹ️",
    "(/)": "✅",
    "(x)": "❌",
    "(!)": "⚠️",
    "(+)": "➕",
    "(-)": "➖",
    "(?)": "❓",
    "(on)": "💡",
    "(off)": "💡",
    "(*)": "⭐",
    "(*r)": "⭐",
    "(*g)": "⭐",
    "(*b)": "⭐",
    "(*y)": "⭐",
    "(flag)": "🚩",
    "(flagoff)": "🏳️",
}
_EXTERNAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def mention_text(name: str) -> str:
    """``@Display Name`` when the issue names the user, else ``@name`` (as ADF writes a mention)."""
    user = name[len("accountid:") :] if name.lower().startswith("accountid:") else name
    return escape_text("@" + (CONTEXT.users.get(user) or CONTEXT.users.get(name) or user))


def embed_markdown(target: str, *, as_link: bool = False) -> str:
    """``!target!``: an external image, the local attachment (an image shown, another file linked),
    or the name marked as not available, as the ADF renderer writes media. ``as_link``: a link to
    the attachment (``[^name]``), never shown as an image."""
    target = target.strip()
    if _EXTERNAL.match(target):
        return link(escape_text(target), target) if as_link else image("", target)
    info = CONTEXT.media.resolve({"alt": target})
    if info is None:
        return escape_text(f"{target} (attachment not available)" if target else "(image not available)")
    markdown = link(escape_text(MediaIndex.label(info)), CONTEXT.media.href(info))
    if MediaIndex.is_image(info) and not as_link:
        CONTEXT.media.mark_shown(info)
        return "!" + markdown
    return markdown


def issue_link_target(target: str) -> tuple[str, str] | None:
    """(href, key) for a wiki link to an issue: ``KEY`` itself, or this Jira's ``/browse/KEY``. The
    issue's file when the knowledge base holds it; for a bare key, its Jira page otherwise."""
    target = target.strip()
    if is_issue_key(target):
        local = CONTEXT.links.local_href(target)
        if local is None and not CONTEXT.links.base_url:
            return None
        return local or CONTEXT.links.browse_url(target), target
    key = CONTEXT.links.key_of_url(target)
    if key is None:
        return None
    return CONTEXT.links.local_href(key) or target, key


def build_grammar(*, plain_runs: bool = True) -> Any:
    """The converter's grammar with the adjusted elements (imports jira2markdown on first use).
    ``plain_runs=False`` leaves out the prose shortcut (to test that it changes nothing)."""
    import jira2markdown
    from jira2markdown.elements import MarkupElements
    from pyparsing import Forward

    from jarkdown_pipeline.markdown import wiki_overrides as overrides

    jira2markdown.convert("")  # sets pyparsing's whitespace defaults as the library expects
    overrides.make_actions_index_safe()
    elements = MarkupElements()
    for old, new in overrides.REPLACEMENTS.items():
        elements.replace(old, new)
    elements.remove(overrides.Ruler)  # before the lists, which would take a line of dashes
    elements.insert(0, overrides.Ruler)
    elements.insert(0, overrides.Emoticon)
    for admonition in reversed(overrides.ADMONITIONS):
        elements.insert_after(overrides.Panel, admonition)
    if plain_runs:
        elements.append(overrides.PlainRun)
    inline_markup, markup = Forward(), Forward()
    inline_markup <<= elements.expr(inline_markup, markup, {}, [e for e in elements if e.is_inline_element])
    markup <<= elements.expr(inline_markup, markup, {}, elements)
    _speed_up_one_character_lookbehinds(markup)
    return markup


def _speed_up_one_character_lookbehinds(grammar: Any) -> None:
    """Give each ``PrecededBy(expr, retreat=1)`` a parse that does what pyparsing's does without
    building ``expr + StringEnd()`` on every call (it is tried at nearly every character of the text,
    and that construction was about a quarter of the converter's time)."""
    from pyparsing import ParseException, PrecededBy

    def parse_one_character_back(self: Any, instring: str, loc: int = 0, do_actions: bool = True) -> Any:
        if loc < 1:
            raise ParseException(instring, loc, self.errmsg, self)
        previous = instring[loc - 1 : loc]
        end, tokens = self.expr._parse(previous, 0)
        if end != len(previous):  # pyparsing's own test: the expression and then the slice's end
            raise ParseException(instring, loc, self.errmsg, self)
        return loc, tokens

    seen: set[int] = set()
    stack = [grammar]
    while stack:
        element = stack.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        if isinstance(element, PrecededBy) and not element.exact and element.retreat == 1:
            element.parseImpl = parse_one_character_back.__get__(element)
        stack.extend(element.recurse())
