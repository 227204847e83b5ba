"""Link targets of Markdown files: found fast (a superset), parsed exactly when one may be broken."""

import functools
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from jarkdown_pipeline.issue_keys import ISSUE_KEY_PATTERN

# Jira issue keys: a project key (letter, then letters, digits, underscores) and a number. Checked
# before a key becomes a path, so a hostile key can never escape the output folder.
_INDEX_LINK_RE = re.compile(r"\]\((?:\.\./)*(" + ISSUE_KEY_PATTERN + r")/\1\.md\)")


_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


_HTML_URL_ATTR_RE = re.compile(r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


@dataclass(frozen=True)
class BrokenLink:
    file: str
    """The Markdown file, relative to the knowledge base root."""
    target: str
    """The link as written."""
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.target} ({self.reason})"


@functools.cache
def _markdown_parser() -> MarkdownIt:
    # CommonMark plus GFM tables: what GitHub renders. Links inside code are not links.
    return MarkdownIt("commonmark").enable("table")


def markdown_link_targets(text: str) -> list[str]:
    """Every link and image target of a Markdown document, as written (percent-encoding kept).

    Parsed, not grepped, so code blocks and escaped brackets are not mistaken for links. Also the
    ``href``/``src`` of inline HTML (``<a>``, ``<img>``), which GitHub renders.
    """
    targets: list[str] = []
    for token in _markdown_parser().parse(text):
        children = token.children or []
        if token.type in ("html_block",):
            targets.extend(a or b for a, b in _HTML_URL_ATTR_RE.findall(token.content))
        for child in children:
            if child.type == "link_open":
                targets.append(str(child.attrGet("href") or ""))
            elif child.type == "image":
                targets.append(str(child.attrGet("src") or ""))
            elif child.type == "html_inline":
                targets.extend(a or b for a, b in _HTML_URL_ATTR_RE.findall(child.content))
    return targets


# Every place a Markdown or HTML link target can start: after "](" (inline links and images), after
# "]:" (reference definitions), and in href/src attributes. Over-matches on purpose (see broken_links).
# Two patterns: one anchored on "]" scans fast; the attribute one only runs on text that has one.
_CANDIDATE_MARKDOWN_TARGET_RE = re.compile(r"""\](?:\(\s*<([^>\n]*)>|\(\s*([^\s)]*)|:\s*<?([^\s>]*))""")


_CANDIDATE_HTML_TARGET_RE = re.compile(r"""\b(?:href|src)\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE)


_HTML_LINK_ATTRIBUTE_RE = re.compile(r"href|src", re.IGNORECASE)


def candidate_link_targets(text: str) -> list[str]:
    """Strings that may be link targets: a superset of what a CommonMark parser finds."""
    targets = [
        next(group for group in match.groups() if group is not None)
        for match in _CANDIDATE_MARKDOWN_TARGET_RE.finditer(text)
    ]
    if _HTML_LINK_ATTRIBUTE_RE.search(text):
        targets += _CANDIDATE_HTML_TARGET_RE.findall(text)
    return targets


def is_relative_link(target: str) -> bool:
    return bool(target) and not (target.startswith(("#", "/", "?")) or _URL_SCHEME_RE.match(target))
