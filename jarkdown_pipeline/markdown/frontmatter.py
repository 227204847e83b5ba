"""YAML frontmatter: safe, exact round trips, byte-identical for the same data."""

from collections.abc import Mapping
from typing import Any

import yaml


class _FrontmatterDumper(yaml.SafeDumper):
    """SafeDumper that indents block sequences under their key (``labels:\\n  - a``)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (rich-text custom fields) reads best as a literal block; PyYAML falls back
    # to a quoted style by itself when a literal block could not hold the string exactly. Unicode
    # line separators are folded by PyYAML in block and single-quoted scalars: double-quote
    # (escape) those.
    if any(char in value for char in "\r\x85\u2028\u2029"):
        style: str | None = '"'
    elif "\n" in value:
        style = "|"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_FrontmatterDumper.add_representer(str, _represent_str)


def dump_frontmatter(data: Mapping[str, Any]) -> str:
    """``---`` + YAML + ``---``, keys in the given order, unicode kept, no line folding."""
    body = yaml.dump(
        dict(data),
        Dumper=_FrontmatterDumper,
        sort_keys=False,
        allow_unicode=True,
        width=float("inf"),
        default_flow_style=False,
    )
    return f"---\n{body}---\n"


def parse_frontmatter(text: str) -> dict[str, Any]:
    """The frontmatter mapping at the top of a Markdown file.

    Raises ValueError naming the problem when the text has no frontmatter or it is not a mapping.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if not (text.startswith("---\n") or text.startswith("---\r\n")):
        raise ValueError("no YAML frontmatter: the text does not start with a '---' line")
    lines = text.splitlines(keepends=True)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") == "---":
            block = "".join(lines[1:index])
            break
    else:
        raise ValueError("unterminated YAML frontmatter: no closing '---' line")
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as error:
        raise ValueError(f"invalid YAML frontmatter: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"YAML frontmatter is a {type(data).__name__}, not a mapping")
    return data
