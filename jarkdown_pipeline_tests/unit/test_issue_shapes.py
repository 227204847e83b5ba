"""What the stages accept from Jira as an issue, and the per-issue error for everything else: the shape
checks (pure), and a property test feeding random and malformed issue JSON through the whole render
path of the knowledge base (it raises nothing but IssueError)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.exceptions import IssueError
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.render_worker import render_issue_outcome
from jarkdown_pipeline.sync import check_fetched_issue, searched_issue_key, well_formed_entries

OPTIONS = {
    "field_definitions": [],
    "base_url": "https://example.atlassian.net",
    "include_custom_fields": None,
    "exclude_custom_fields": [],
}


@pytest.mark.parametrize(
    ("ref", "name", "reason"),
    [
        ({"id": "10001", "key": "../X-1"}, "id 10001", "Jira sent an invalid issue key: '../X-1'"),
        ({"id": 10002, "key": "ABC-2\n"}, "id 10002", "Jira sent an invalid issue key: 'ABC-2\\n'"),
        ({"id": "../1", "key": None}, "<search result 7>", "Jira sent an invalid issue key: None"),
        ("ABC-1", "<search result 7>", "Jira sent str instead of an issue object"),
        ({"key": "A" * 500}, "<search result 7>", "Jira sent an invalid issue key: '" + "A" * 76 + "..."),
    ],
)
def test_a_search_result_without_a_usable_key_is_named_by_id_or_position(ref, name, reason):
    with pytest.raises(IssueError) as caught:
        searched_issue_key(ref, 7)
    assert (caught.value.key, caught.value.reason) == (name, reason)


def test_a_search_result_with_a_key_gives_it():
    assert searched_issue_key({"id": "1", "key": "ABC-1", "fields": []}, 1) == "ABC-1"


@pytest.mark.parametrize(
    ("issue", "name", "reason"),
    [
        (None, "ABC-1", "Jira sent NoneType instead of an issue object"),
        ({"key": "../X-1", "fields": {}}, "ABC-1", "Jira sent an invalid issue key: '../X-1'"),
        ({"key": "ABC-1", "fields": ["summary"]}, "ABC-1", "its fields are list, not an object"),
        ({"key": "ABC-1"}, "ABC-1", "its fields are NoneType, not an object"),
        ({"key": "ABC-1", "fields": {"attachment": {"id": 1}}}, "ABC-1", "its attachment list is dict, not a list"),
    ],
)
def test_a_fetched_issue_of_the_wrong_shape_is_that_issues_error(issue, name, reason):
    with pytest.raises(IssueError) as caught:
        check_fetched_issue(issue, "ABC-1")
    assert (caught.value.key, caught.value.reason) == (name, reason)


def test_a_bulk_page_keeps_its_well_formed_wanted_entries_and_counts_the_rest():
    page = [
        {"key": "ABC-1", "fields": {}},
        42,
        {"key": "ABC-2", "fields": "x"},
        {"key": "ABC-9", "fields": {}},
        {"key": "ABC-3", "fields": {"attachment": None}},
    ]
    good, malformed = well_formed_entries(page, {"ABC-1", "ABC-2", "ABC-3"})
    assert [issue["key"] for issue in good] == ["ABC-1", "ABC-3"] and malformed == 2


# -- random and malformed issue JSON through the render path ---------------------------------------

NODE_TYPES = [
    "doc",
    "paragraph",
    "text",
    "blockquote",
    "table",
    "tableRow",
    "tableCell",
    "tableHeader",
    "bulletList",
    "orderedList",
    "listItem",
    "mention",
    "inlineCard",
    "media",
    "mediaSingle",
    "codeBlock",
    "heading",
    "panel",
    "expand",
    "hardBreak",
    "emoji",
    "status",
    "date",
    "rule",
    "taskList",
    "taskItem",
    "nestedExpand",
]
ADF_KEYS = [
    "type",
    "content",
    "text",
    "attrs",
    "marks",
    "version",
    "colspan",
    "rowspan",
    "url",
    "href",
    "id",
    "level",
    "language",
]
FIELD_NAMES = [
    "summary",
    "description",
    "environment",
    "comment",
    "attachment",
    "issuelinks",
    "subtasks",
    "status",
    "assignee",
    "updated",
    "created",
    "labels",
    "customfield_10010",
    "worklog",
    "parent",
    "priority",
    "components",
    "timetracking",
]

leaves = st.none() | st.booleans() | st.integers(-1000, 1000) | st.sampled_from(NODE_TYPES) | st.text(max_size=12)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(ADF_KEYS) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=40,
)
fields = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8) | json_values
issues = st.fixed_dictionaries({"key": st.just("ABC-1"), "id": st.just("10001"), "fields": fields}) | json_values


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(issue=issues)
def test_any_issue_json_renders_or_fails_with_the_per_issue_error(tmp_path, issue):
    kb = KnowledgeBase(tmp_path)
    kb.raw_dir.mkdir(parents=True, exist_ok=True)
    kb.raw_path("ABC-1").write_text(json.dumps(issue))
    try:
        written = kb.render_issue_file("ABC-1", known_issue_keys={"ABC-1", "ABC-2"}, **OPTIONS)
    except IssueError as error:
        assert error.key == "ABC-1" and error.reason
    else:
        assert isinstance(written, bool)
    outcome = render_issue_outcome(kb, "ABC-1", frozenset({"ABC-1"}), OPTIONS)  # never raises
    assert outcome.key == "ABC-1" and (outcome.error is None) == (outcome.written is not None)
