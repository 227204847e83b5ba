"""JSON both ways: load_json reads exactly what json.loads reads; dump_json writes canonical bytes."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarkdown_pipeline._json import dump_json, load_json


def json_values(integers: st.SearchStrategy[int]) -> st.SearchStrategy:
    """Any JSON value with these integers, any finite float, strings of any code point but surrogates."""
    text = st.text(st.characters(blacklist_categories=("Cs",)))
    return st.recursive(
        st.none() | st.booleans() | integers | st.floats(allow_nan=False, allow_infinity=False) | text,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
        max_leaves=20,
    )


JSON_VALUES = json_values(st.integers())  # integers of every size


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES)
def test_dump_json_is_canonical(value):
    data = dump_json(value)
    assert json.loads(data) == value and data.endswith(b"\n") and b"\n" not in data[:-1]
    assert dump_json(json.loads(data)) == data  # read back and written again: the same bytes
    if not _has_float(value):  # orjson spells some floats its own way (0.00001); the rest is the standard library's
        assert data == (json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode(
            "utf-8"
        )


def _has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(item) for item in value.values())
    return isinstance(value, list) and any(_has_float(item) for item in value)


def test_dump_json_takes_what_orjson_does_not():
    assert dump_json({"b": 2**70, "a": [1.5]}) == b'{"a":[1.5],"b":1180591620717411303424}\n'


def _same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 are equal in Python, not in JSON)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


# What Jira's JSON can hold: its numbers are Java longs and doubles.
JIRA_JSON_VALUES = json_values(st.integers(-(2**63), 2**63 - 1))


@settings(max_examples=400, deadline=None)
@given(value=JIRA_JSON_VALUES, ascii_only=st.booleans())
def test_load_json_reads_what_the_standard_library_reads(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _same(load_json(text.encode("utf-8")), json.loads(text))
    assert _same(load_json(text), json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        '{"summary": "cut emoji \\ud83d"}',  # a lone surrogate: orjson refuses it
        "[NaN, Infinity, -Infinity]",
        "9223372036854775807",  # a Java long's extremes: exact
        "-9223372036854775808",
        '{"a": 1, "a": 2}',
        "[1e400]",
    ],
)
def test_load_json_keeps_what_orjson_would_refuse_or_change(text):
    expected, got = json.loads(text), load_json(text.encode("utf-8"))
    assert repr(got) == repr(expected)


def test_load_json_raises_the_standard_error_on_bad_json():
    with pytest.raises(json.JSONDecodeError):
        load_json(b'{"a": ')
    with pytest.raises(ValueError):
        load_json(b'"\xff"')
