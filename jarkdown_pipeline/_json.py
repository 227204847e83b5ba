"""JSON read and written with orjson where it gives exactly what the standard library would.

Nesting is bounded on every path, so hostile input gives a ValueError, never a RecursionError:
orjson refuses more than 1024 levels when reading (its own fixed limit), and the standard library,
which recurses on the Python stack, is only given up to ``MAX_JSON_DEPTH`` levels.
"""

import asyncio
import json
import re
from typing import Any

import msgspec
import orjson

# The standard library's reader and writer recurse once per level; this leaves the caller's stack
# ample room under Python's default recursion limit (1000). Jira's issues nest a few dozen levels.
MAX_JSON_DEPTH = 512
ORJSON_MAX_DEPTH = 1024

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def load_json(data: bytes | str) -> Any:
    """``json.loads``, ~2-3x faster (orjson), for what Jira sends.

    The standard library reads what orjson refuses (NaN, Infinity, a lone surrogate such as a cut
    emoji) or raises its usual ``json.JSONDecodeError`` (a ``ValueError``). One difference is
    left on purpose: orjson reads an integer beyond 64 bits as a float. Jira's numbers are Java
    longs and doubles, so its JSON has none, and a scan for them cost more than the parse.
    Nesting deeper than orjson's 1024 levels (or MAX_JSON_DEPTH for what only the standard library
    reads) raises ValueError.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error) or "recursion limit" in str(error).lower():
            raise ValueError(f"JSON nested deeper than {ORJSON_MAX_DEPTH} levels") from None
    _check_text_depth(data)
    return json.loads(data)


# A page's members and one member's entries as spans of its bytes (msgspec.Raw), found without
# building them: the spans are then parsed a few at a time.
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENTRIES = msgspec.json.Decoder(list[msgspec.Raw])
TURN_BYTES = 64 * 1024
"""How much of a page ``load_json_in_turns`` parses between two turns of the event loop."""


async def load_json_in_turns(data: bytes, entries_member: str, turn_bytes: int = TURN_BYTES) -> Any:
    """``load_json(data)`` for a page of many entries (Jira's bulk and search pages: ``issues``),
    the entries of ``entries_member`` parsed ``turn_bytes`` at a time with a turn of the event
    loop between: a 4 MB page parsed at once holds the loop, and every answer waiting on it, for
    tens of milliseconds.

    Each member and each entry is read by ``load_json``, so the values, the errors and the depth
    limits are those of ``load_json``; what is not an object with a list there, or does not split
    (malformed, nested too deep to scan), is read whole by ``load_json``, for its value or its error.
    """
    try:
        members = _MEMBERS.decode(data)
        entries = _ENTRIES.decode(members[entries_member])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, KeyError):  # KeyError: no such member
        return load_json(data)
    page: dict[str, Any] = {}
    for name, raw in members.items():
        page[name] = [] if name == entries_member else load_json(bytes(raw))
    parsed, since_turn = page[entries_member], 0
    for raw in entries:
        parsed.append(load_json(bytes(raw)))
        since_turn += len(raw)
        if since_turn >= turn_bytes:
            since_turn = 0
            await asyncio.sleep(0)
    return page


def _check_text_depth(data: bytes | str) -> None:
    """ValueError when JSON text nests deeper than MAX_JSON_DEPTH (strings skipped; malformed text
    is left for the parser to report)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", raw)):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def _check_value_depth(value: Any) -> None:
    """ValueError when a value nests lists and dicts deeper than MAX_JSON_DEPTH (an explicit stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, (list, tuple)) else ()
        for child in children:
            if isinstance(child, (dict, list, tuple)):
                if depth + 1 > MAX_JSON_DEPTH:
                    raise ValueError(f"value nested deeper than {MAX_JSON_DEPTH} levels cannot be written as JSON")
                stack.append((child, depth + 1))


def dump_json(value: Any) -> bytes:
    """Canonical JSON (sorted keys, compact, UTF-8) so equal data gives equal bytes.

    orjson writes it ~6x faster than the standard library (the same bytes but for how some floats
    are spelt: 0.00001 for 1e-05); what orjson does not take (an integer beyond 64 bits, a
    non-string key, more than 254 levels) the standard library writes, up to MAX_JSON_DEPTH levels
    (deeper raises ValueError). No indentation: ``python -m json.tool`` reads it.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError is one
        _check_value_depth(value)
        return (json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
