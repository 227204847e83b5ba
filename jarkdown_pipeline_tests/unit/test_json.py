"""JSON both ways: load_json reads exactly what json.loads reads; dump_json writes canonical bytes."""

import asyncio
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarkdown_pipeline._json import dump_json, load_json, load_json_in_turns


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


def _in_turns(data: bytes, turn_bytes: int = 1):
    return asyncio.run(load_json_in_turns(data, "issues", turn_bytes))


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(JIRA_JSON_VALUES, max_size=6),
    others=st.dictionaries(st.sampled_from(["expand", "issueErrors", "total"]), JIRA_JSON_VALUES, max_size=3),
    ascii_only=st.booleans(),
)
def test_load_json_in_turns_reads_a_page_as_load_json_does(entries, others, ascii_only):
    data = json.dumps({**others, "issues": entries}, ensure_ascii=ascii_only, indent=1).encode("utf-8")
    got = _in_turns(data)
    assert _same(got, load_json(data))
    assert list(got) == list(load_json(data))  # the members in their order


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2]",  # not an object: read whole
        '{"issues": {"a": 1}}',  # no list there
        '{"total": 3}',  # no such member
        '{"issues": [NaN, {"a": Infinity}]}',  # what only the standard library reads: the whole page
        '{"issues": [{"summary": "cut emoji \\ud83d"}, 9223372036854775807]}',  # per entry, as load_json
        '{"issues": [1], "issues": [2, 3]}',  # the last one, as json.loads
        '{"issues": [[1], {"k": "v"}], "issues": 5}',
        '{"issues": [1e400]}',
    ],
)
def test_load_json_in_turns_reads_what_load_json_reads(text):
    assert repr(_in_turns(text.encode("utf-8"))) == repr(load_json(text.encode("utf-8")))


@pytest.mark.parametrize(
    "data",
    [b'{"issues": [{"a": 1}, ', b'{"issues": [{"a": "\xff"}]}', b'{"issues": [' + b"[" * 5000 + b"]" * 5000 + b"]}"],
    ids=["cut short", "not UTF-8", "nested too deep"],
)
def test_load_json_in_turns_raises_what_load_json_raises(data):
    with pytest.raises(ValueError) as expected:
        load_json(data)
    with pytest.raises(type(expected.value)):
        _in_turns(data)


def test_load_json_in_turns_lets_the_loop_run_between_entries():
    entry = {"key": "A-1", "fields": {"description": "x" * 1000}}
    data = json.dumps({"issues": [entry] * 40}).encode()

    async def main() -> tuple[int, Any]:
        turns = 0

        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.ensure_future(count_turns())
        await asyncio.sleep(0)
        started = turns
        page = await load_json_in_turns(data, "issues", turn_bytes=4096)
        counter.cancel()
        return turns - started, page

    turns, page = asyncio.run(main())
    assert page == {"issues": [entry] * 40}
    assert turns >= 40 * 1000 // 4096  # one turn at least every 4 KiB of entries
