"""YAML frontmatter: safe, exact round trips, byte-identical for the same data."""

import sys
from collections.abc import Mapping
from typing import Any

import yaml

from jarkdown_pipeline.markdown.escape import clean_text


class _FrontmatterDumper(yaml.SafeDumper):
    """The safe dumper, with the string styles of ``_represent_str``."""


# libyaml's emitter (PyYAML's C binding) writes a window's frontmatter ~5x faster than the pure-Python
# one, and the same text (block sequences flush with their key: ``labels:\n- a``), except that it
# escapes characters beyond U+FFFF (emoji: "\U0001F680"), which the pure-Python emitter keeps, and
# writes keys with control characters in the explicit "? key" form differently.
_LIBYAML_DUMPER = getattr(yaml, "CSafeDumper", None)


class _FastFrontmatterDumper(_LIBYAML_DUMPER or yaml.SafeDumper):  # type: ignore[misc]
    """libyaml's safe dumper where PyYAML has it, with the same string styles."""


# libyaml wants an int (-1: no limit); the Python emitter takes a negative width as its default (80).
_NO_LINE_FOLDING = -1 if _LIBYAML_DUMPER is not None else sys.maxsize


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (rich-text custom fields) reads best as a literal block; PyYAML falls back
    # to a quoted style by itself when a literal block could not hold the string exactly. Unicode
    # line separators are folded by PyYAML in block and single-quoted scalars: double-quote
    # (escape) those. A lone surrogate (possible in JSON) cannot be written as UTF-8: U+FFFD.
    value = clean_text(value)
    if any(char in value for char in "\r\x85\u2028\u2029"):
        style: str | None = '"'
    elif "\n" in value:
        style = "|"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_FrontmatterDumper.add_representer(str, _represent_str)
_FastFrontmatterDumper.add_representer(str, _represent_str)


def scalar_as_written(value: Any) -> Any:
    """A scalar of ``dump_frontmatter``'s data as ``parse_frontmatter`` reads it back from the file
    (the dumper writes strings cleaned: ``_represent_str``), without writing and parsing YAML."""
    return clean_text(value) if isinstance(value, str) else value


def dump_frontmatter(data: Mapping[str, Any]) -> str:
    """``---`` + YAML + ``---``, keys in the given order, unicode kept, no line folding.

    The text is always the pure-Python emitter's; libyaml writes it when it can (see above).
    """
    options = {"sort_keys": False, "allow_unicode": True, "default_flow_style": False}
    body = yaml.dump(dict(data), Dumper=_FastFrontmatterDumper, width=_NO_LINE_FOLDING, **options)
    if "\\U" in body or body.startswith("? ") or "\n? " in body:  # (or a harmless "\\U" in the text)
        body = yaml.dump(dict(data), Dumper=_FrontmatterDumper, width=sys.maxsize, **options)
    return f"---\n{body}---\n"


class FrontmatterError(ValueError):
    """A Markdown file has no frontmatter, or it is not a YAML mapping."""


# libyaml's safe loader when PyYAML was built with it (about 7x faster on the index and the checks),
# the pure-Python one otherwise; both construct only plain data.
_YAML_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_frontmatter(text: str) -> dict[str, Any]:
    """The YAML mapping between a first line ``---`` and the next line ``---`` of a Markdown file.

    Strict on purpose: the one parser reads back what ``dump_frontmatter`` writes (LF line ends, no
    byte order mark, never an empty mapping), so a file that differs (a BOM, CRLF from a checkout
    that converts line ends, an emptied block) is reported by the checks as not as written, not
    read as if it were. Raises FrontmatterError (a ValueError) naming the problem.
    """
    if text.startswith("\ufeff"):
        raise FrontmatterError("the file starts with a byte order mark (the knowledge base writes none)")
    if not text.startswith("---\n"):
        reason = "CRLF line ends" if text.startswith("---\r\n") else "the file does not start with a '---' line"
        raise FrontmatterError(f"no frontmatter: {reason}")
    end = text.find("\n---\n", 3)
    if end == -1:
        if not text.endswith("\n---"):
            raise FrontmatterError("frontmatter is not closed by a '---' line")
        end = len(text) - 4
    try:
        data = yaml.load(text[4 : end + 1], Loader=_YAML_SAFE_LOADER)
    except yaml.YAMLError as error:
        raise FrontmatterError(f"frontmatter is not valid YAML: {error}") from None
    if data is None:
        raise FrontmatterError("frontmatter is empty")
    if not isinstance(data, dict):
        raise FrontmatterError(f"frontmatter is not a mapping but {type(data).__name__}")
    return data
