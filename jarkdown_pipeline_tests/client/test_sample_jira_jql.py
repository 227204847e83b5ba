"""The sample Jira's JQL parser and evaluator (pure: no server)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.sample_jira.jql import BoolOp, Clause, IssueFacts, JqlError, Not, SortItem, bind_jql, parse_jql

BERLIN = ZoneInfo("Europe/Berlin")
PROJECTS = {"ALPHA": "ALPHA", "BETA": "BETA", "10000": "ALPHA", "ALPHA PROJECT": "ALPHA"}
EXISTING_KEYS = {"ALPHA-1", "ALPHA-2", "BETA-7"}


def project_exists(value: str) -> str | None:
    return PROJECTS.get(value.upper())


def bind(jql: str):
    return bind_jql(jql, BERLIN, project_exists, lambda key: key.upper() in EXISTING_KEYS)


def facts(key: str, updated: str, created: str = "2026-01-01T00:00:00+00:00", issue_id: int = 1) -> IssueFacts:
    return IssueFacts(
        issue_id, key, key.split("-")[0], datetime.fromisoformat(updated), datetime.fromisoformat(created)
    )


def test_parses_the_clauses_the_pipeline_emits():
    query = parse_jql(
        'project in (ALPHA, "BETA") AND updated >= "2026-11-19 00:00" AND updated < "2026-11-20 00:00" ORDER BY updated ASC, key'
    )
    assert query.where == BoolOp(
        "and",
        (
            Clause("project", "project", "in", ("ALPHA", "BETA")),
            Clause("updated", "updated", ">=", ("2026-11-19 00:00",)),
            Clause("updated", "updated", "<", ("2026-11-20 00:00",)),
        ),
    )
    assert query.order_by == (SortItem("updated", False), SortItem("key", False))


def test_keywords_and_fields_are_case_insensitive_and_precedence_is_jiras():
    query = parse_jql("Project = ALPHA or PROJECT = BETA and NOT key = BETA-7 order by Updated desc")
    assert query.where == BoolOp(
        "or",
        (
            Clause("project", "Project", "=", ("ALPHA",)),
            BoolOp("and", (Clause("project", "PROJECT", "=", ("BETA",)), Not(Clause("key", "key", "=", ("BETA-7",))))),
        ),
    )
    assert query.order_by == (SortItem("updated", True),)


def test_parentheses_group():
    query = parse_jql("(project = ALPHA OR project = BETA) AND key not in (ALPHA-1, 'ALPHA-2')")
    assert isinstance(query.where, BoolOp) and query.where.operator == "and"
    assert query.where.parts[1] == Clause("key", "key", "not in", ("ALPHA-1", "ALPHA-2"))


def test_date_literals_are_in_the_users_zone_at_minute_precision():
    window = bind('updated >= "2026-11-20 00:00" AND updated < "2026-11-21"')
    # Midnight in Berlin is 23:00 UTC the day before (CET, +01:00).
    assert window.matches(facts("ALPHA-1", "2026-11-19T23:00:00+00:00"))
    assert not window.matches(facts("ALPHA-1", "2026-11-19T22:59:59.999+00:00"))
    assert window.matches(facts("ALPHA-1", "2026-11-20T22:59:59+00:00"))
    assert not window.matches(facts("ALPHA-1", "2026-11-20T23:00:00+00:00"))
    summer = bind('updated > "2026/07/01 12:30"')  # CEST, +02:00; slashes work too
    assert summer.matches(facts("ALPHA-1", "2026-07-01T10:30:01+00:00"))
    assert not summer.matches(facts("ALPHA-1", "2026-07-01T10:30:00+00:00"))
    inclusive = bind('updated <= "2026-07-01 12:30" and created = "2026-01-01 01:00"')
    assert inclusive.matches(facts("ALPHA-1", "2026-07-01T10:30:00+00:00", created="2026-01-01T00:00:00+00:00"))


def test_project_and_key_clauses_evaluate():
    query = bind("project in (alpha, 10000, 'Alpha Project') AND key != ALPHA-2")
    assert query.matches(facts("ALPHA-1", "2026-01-01T00:00:00+00:00"))
    assert not query.matches(facts("ALPHA-2", "2026-01-01T00:00:00+00:00"))
    assert not query.matches(facts("BETA-7", "2026-01-01T00:00:00+00:00"))
    by_id = bind("issuekey in (ALPHA-1, 5)")
    assert by_id.matches(facts("BETA-9", "2026-01-01T00:00:00+00:00", issue_id=5))
    assert by_id.matches(facts("ALPHA-1", "2026-01-01T00:00:00+00:00"))


def test_sorting_follows_order_by_with_natural_key_order():
    issues = [
        facts("ALPHA-10", "2026-01-02T00:00:00+00:00", issue_id=3),
        facts("ALPHA-9", "2026-01-01T00:00:00+00:00", issue_id=2),
        facts("BETA-1", "2026-01-02T00:00:00+00:00", issue_id=1),
    ]
    assert [f.key for f in bind("project = ALPHA ORDER BY key").sort(issues)] == ["ALPHA-9", "ALPHA-10", "BETA-1"]
    assert [f.key for f in bind("project = ALPHA ORDER BY updated ASC, key DESC").sort(issues)] == [
        "ALPHA-9",
        "BETA-1",
        "ALPHA-10",
    ]
    assert [f.key for f in bind("project = ALPHA").sort(issues)] == ["ALPHA-10", "ALPHA-9", "BETA-1"]  # newest id first


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = ALPHA AND", "Error in the JQL Query: Expecting a field name but got EOF. (line 1, character 20)"),
        (
            "project = ALPHA status = Done",
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 17)",
        ),
        ("project ALPHA", "Error in the JQL Query: Expecting operator but got 'ALPHA'. (line 1, character 9)"),
        ("project in ALPHA", "Expecting '('"),
        ("project in (ALPHA BETA)", "Expecting ')' or ','"),
        ("(project = ALPHA", "Expecting ')'"),
        ('project = "ALPHA', "Missing closing quote"),
        ("project ~ ALPHA", "The operator '~' is not supported by the 'project' field."),
        ("updated in (2026-01-01)", "The operator 'IN' is not supported by the 'updated' field."),
        ("key is EMPTY", "The operator 'IS' is not supported"),
        ("assignee = currentUser()", "does not support the field 'assignee'"),
        ("updated >= startOfDay()", "does not support JQL functions"),
        ("updated >= -1d", "relative date '-1d'"),
        ('updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid"),
        ('updated >= "2026-02-30 10:00"', "Date value '2026-02-30 10:00' for field 'updated' is invalid"),
        ("cf[10020] = 5", "Field 'cf[10020]' does not exist"),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("key = ALPHA-99", "An issue with key 'ALPHA-99' does not exist for field 'key'."),
        ("key = alpha", "The issue key 'alpha' for field 'key' is invalid."),
        ("project = ALPHA ORDER BY priority", "Not able to sort using field 'priority'."),
        ("project = ALPHA ORDER updated", "Expecting 'by'"),
        ("project = ALPHA && key = ALPHA-1", "use AND / OR"),
        ("ORDER BY key", "Unbounded JQL queries are not allowed here."),
        ("   ", "Unbounded JQL queries are not allowed here."),
    ],
)
def test_errors_say_what_is_wrong(jql, message):
    with pytest.raises(JqlError) as caught:
        bind(jql)
    assert message in str(caught.value)


def test_key_existence_is_not_checked_when_not_asked():
    query = bind_jql("key in (ALPHA-99)", BERLIN, project_exists, None)
    assert not query.matches(facts("ALPHA-1", "2026-01-01T00:00:00+00:00"))


_JQL_PIECES = [
    "(",
    ")",
    '"',
    "'",
    ",",
    "=",
    "!=",
    "<",
    ">=",
    "~",
    "-",
    "project",
    "key",
    "updated",
    "AND",
    "OR",
    "NOT",
    "in",
    "ORDER",
    "BY",
    "ASC",
    "ALPHA",
    "ALPHA-1",
    "2026-11-20",
    "10:00",
    "x",
    "now()",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_JQL_PIECES), max_size=14).map(" ".join))
def test_any_input_either_parses_or_raises_a_jql_error(jql):
    try:
        bind(jql)
    except JqlError as exc:
        assert str(exc)
