"""The one issue-key pattern: a whole key and nothing else."""

import pytest

from jarkdown_pipeline.issue_keys import check_issue_key, is_issue_key, issue_sort_key


@pytest.mark.parametrize("key", ["ABC-1", "a_b2-10", "X-0"])
def test_keys_that_are_keys(key):
    assert is_issue_key(key)
    assert check_issue_key(key) == key


@pytest.mark.parametrize("value", ["ABC-2\n", "../X-1", "ABC-1/x", " ABC-1", "ABC-", "1A-2", "", None, 12, "ABC-1\x00"])
def test_values_that_are_not(value):
    assert not is_issue_key(value)
    with pytest.raises(ValueError, match="not a Jira issue key"):
        check_issue_key(value)


def test_sort_order_is_numeric_within_a_project():
    keys = ["B-1", "A-10", "A-2", "A-1"]
    assert sorted(keys, key=issue_sort_key) == ["A-1", "A-2", "A-10", "B-1"]
    assert issue_sort_key("oddity") == ("oddity", -1, "oddity")
