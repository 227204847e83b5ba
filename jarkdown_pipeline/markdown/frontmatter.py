"""YAML frontmatter: safe, exact round trips, byte-identical for the same data."""

import functools
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from jarkdown_pipeline.markdown.escape import clean_text


class _FrontmatterDumper(yaml.SafeDumper):
    """The safe dumper, with the string styles of ``_represent_str``."""


# libyaml's emitter (PyYAML's C binding) writes a window's frontmatter several times faster than the pure-Python
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
    value = scalar_as_written(value)
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


_DUMP_OPTIONS = {"sort_keys": False, "allow_unicode": True, "default_flow_style": False}


def _libyaml_text(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_FastFrontmatterDumper, width=_NO_LINE_FOLDING, **_DUMP_OPTIONS)


def _needs_python_emitter(body: str) -> bool:
    return "\\U" in body or body.startswith("? ") or "\n? " in body  # (or a harmless "\\U" in the text)


def _ends_open(body: str) -> bool:
    # A text that ends in a keep-chomped block scalar ("|+": trailing blank lines) is closed by
    # "...", the document's end: an entry alone gets it, the same entry inside the mapping does not.
    return body.endswith("\n...\n")


def _dump_yaml(data: dict[str, Any]) -> str:
    """PyYAML's text of ``data``: libyaml's, or the pure-Python emitter's where they differ (see above)."""
    body = _libyaml_text(data)
    if _needs_python_emitter(body):
        body = yaml.dump(data, Dumper=_FrontmatterDumper, width=sys.maxsize, **_DUMP_OPTIONS)
    return body


def dump_frontmatter(data: Mapping[str, Any]) -> str:
    """``---`` + YAML + ``---``, keys in the given order, unicode kept, no line folding.

    The text is always the pure-Python emitter's. Most entries of an issue's frontmatter are a key
    and a simple scalar or a list of them, written here as PyYAML writes them (``_simple_entry``,
    tested against PyYAML); any other entry is libyaml's text of it alone, which is its part of the
    whole mapping's (a block mapping's entries do not depend on each other, but for anchors of a
    list or mapping shared by two entries: then PyYAML writes the whole mapping). Where one entry
    needs the pure-Python emitter, or ends the document (``_ends_open``), the whole mapping is written
    as ``_dump_yaml`` decides.
    """
    data = dict(data)
    containers = [id(value) for value in data.values() if isinstance(value, (list, dict))]
    if not data or len(containers) != len(set(containers)):  # "{}"; anchors
        return f"---\n{_dump_yaml(data)}---\n"
    parts = []
    for key, value in data.items():
        entry = _simple_entry(key, value)
        if entry is None:
            entry = _libyaml_text({key: value})
            if _needs_python_emitter(entry) or _ends_open(entry):
                return f"---\n{_dump_yaml(data)}---\n"
        parts.append(entry)
    return f"---\n{''.join(parts)}---\n"


_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()  # the safe dumper's: which plain scalars would read back as another type


def _is_printable_letter(char: str) -> bool:
    # Beyond ASCII, the letters and digits both emitters write as they are (allow_unicode): none
    # beyond U+FFFF (libyaml escapes those), no byte order mark.
    return char.isalnum() and ("\xa0" <= char <= "\ud7ff" or "\ue000" <= char <= "\ufffd") and char != "\ufeff"


@functools.lru_cache(maxsize=8192)  # statuses, people, labels and dates repeat across a window's issues
def _simple_scalar(text: str) -> str | None:
    """``text`` as PyYAML writes a string scalar: plain, or single-quoted when plain would read back
    as another type ("10001", "2026-11-12T16:55:36.239Z", "null"); None when it is not one of the
    simple strings this decides for (anything with YAML indicators, quotes, line breaks, outer spaces...)."""
    if not text or text[-1] == " " or not (text[0].isascii() and (text[0].isalnum() or text[0] in "_(")):
        return None
    for char in text:
        if not (char.isascii() and (char.isalnum() or char in _SIMPLE_PUNCTUATION)) and not _is_printable_letter(char):
            return None
    plain = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    return text if plain else f"'{text}'"


# Characters a plain scalar may hold anywhere in a block mapping (after its first character).
_SIMPLE_PUNCTUATION = frozenset(" _./()+=-,")


def _simple_value(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _simple_scalar(value)
    return None


def _simple_entry(key: Any, value: Any) -> str | None:
    """The text of one entry of the top-level mapping, as PyYAML writes it, when key and value are
    simple (a scalar, an empty list or mapping, a list of scalars); None otherwise."""
    if not isinstance(key, str) or _simple_scalar(key) != key:
        return None
    if isinstance(value, (list, dict)) and not value:
        return f"{key}: {'[]' if isinstance(value, list) else '{}'}\n"
    if isinstance(value, list):
        items = [_simple_value(item) for item in value]
        if any(item is None for item in items):
            return None
        return f"{key}:\n" + "".join(f"- {item}\n" for item in items)
    text = _simple_value(value)
    return None if text is None else f"{key}: {text}\n"


class FrontmatterError(ValueError):
    """A Markdown file has no frontmatter, or it is not a YAML mapping."""


# libyaml's safe loader when PyYAML was built with it (several times faster on the index and the checks),
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
