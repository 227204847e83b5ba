"""IssueKeySet: a set of issue keys as bitmaps, which must behave exactly as a set of strings."""

import json

from hypothesis import given
from hypothesis import strategies as st

from jarkdown_pipeline.issue_keys import is_issue_key, issue_sort_key
from jarkdown_pipeline.key_sets import IssueKeySet

PROJECTS = st.sampled_from(["ABC", "AB", "X_1", "A-B", "Z9"])
NUMBERS = st.one_of(st.integers(0, 300), st.integers(0, 10**12)).map(str) | st.sampled_from(["01", "007", "0"])
KEYS = st.one_of(st.builds(lambda p, n: f"{p}-{n}", PROJECTS, NUMBERS), st.sampled_from(["weird", "-5", "A-", "A-²"]))


@given(st.lists(st.tuples(st.booleans(), KEYS), max_size=200))
def test_it_behaves_as_a_set_of_strings(operations):
    expected: set[str] = set()
    keys = IssueKeySet()
    for adding, key in operations:
        if adding:
            expected.add(key)
            keys.add(key)
        else:
            expected.discard(key)
            keys.discard(key)
        assert (key in keys) == (key in expected)
    assert len(keys) == len(expected) and keys == expected and set(keys) == expected
    valid = [key for key in keys if is_issue_key(key)]
    assert valid == sorted((key for key in expected if is_issue_key(key)), key=issue_sort_key)
    again = IssueKeySet.from_data(json.loads(json.dumps(keys.as_data())))
    assert list(again) == list(keys) and len(again) == len(keys)
    assert keys.projects() == {key.rpartition("-")[0] for key in expected}


def test_a_windows_keys_are_a_bitmap_and_a_far_number_does_not_grow_it():
    keys = IssueKeySet(f"ABC-{number}" for number in range(1, 20_001))
    keys.add("ABC-99999999999")
    data = keys.as_data()
    assert data["other"] == ["ABC-99999999999"] and len(data["bitmaps"]["ABC"]) < 4000
    assert len(keys) == 20_001 and "ABC-99999999999" in keys and "ABC-20001" not in keys and 1 not in keys
    assert list(keys)[-2:] == ["ABC-20000", "ABC-99999999999"]


def test_set_operations_and_an_empty_set():
    keys = IssueKeySet(["ABC-1", "ABC-2"])
    assert keys | {"XYZ-1"} == {"ABC-1", "ABC-2", "XYZ-1"} and isinstance(keys | {"XYZ-1"}, IssueKeySet)
    assert {"ABC-1", "ABC-3"} - keys == {"ABC-3"} and keys - {"ABC-1"} == {"ABC-2"}
    assert not IssueKeySet() and list(IssueKeySet.from_data(IssueKeySet().as_data())) == []


def test_a_key_kept_aside_is_not_counted_again_once_its_bitmap_could_hold_it():
    # ABC-70000 is past what an empty bitmap may reach, so it is kept as a string; a hundred more
    # keys let the bitmap reach it, and adding it again must find it where it is, not set its bit.
    keys = IssueKeySet(["ABC-70000"])
    keys.update(f"ABC-{number}" for number in range(1, 101))
    keys.add("ABC-70000")
    assert len(keys) == 101 and keys.as_data()["other"] == ["ABC-70000"]
    keys.discard("ABC-70000")
    assert "ABC-70000" not in keys and len(keys) == 100
