"""JSON read and written with orjson where it gives exactly what the standard library would."""

import json
from typing import Any

import orjson


def load_json(data: bytes | str) -> Any:
    """``json.loads``, ~2-3x faster (orjson), for what Jira sends.

    The standard library reads what orjson refuses (NaN, Infinity, a lone surrogate such as a cut
    emoji) or raises its usual ``json.JSONDecodeError`` (a ``ValueError``). One difference is
    left on purpose: orjson reads an integer beyond 64 bits as a float. Jira's numbers are Java
    longs and doubles, so its JSON has none, and a scan for them cost more than the parse.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dump_json(value: Any) -> bytes:
    """Canonical JSON (sorted keys, compact, UTF-8) so equal data gives equal bytes.

    orjson writes it ~6x faster than the standard library (the same bytes but for how some floats
    are spelt: 0.00001 for 1e-05); what orjson does not take (an integer beyond 64 bits, a
    non-string key) the standard library writes. No indentation: ``python -m json.tool`` reads it.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError is one
        return (json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
