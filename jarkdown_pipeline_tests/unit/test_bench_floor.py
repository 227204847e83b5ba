"""The throughput benchmark's floor (`make bench`): a pure formula over what the sample Jira served; its step report."""

import pytest

from jarkdown_pipeline.tools.bench import (
    RunResult,
    extra_pages,
    floor_seconds,
    further_search_pages,
    history_requests,
    per_thousand_issues,
    run_floor_seconds,
    step_lines,
)

BY_ROUTE = {
    "GET /rest/api/3/myself": 1,
    "GET /rest/api/3/field": 1,
    "POST /rest/api/3/search/jql": 2,
    "POST /rest/api/3/issue/bulkfetch": 10,
    "POST /rest/api/3/changelog/bulkfetch": 12,
    "GET /rest/api/3/issue/{key}/changelog": 3,
    "GET /rest/api/3/issue/{key}/comment": 2,
    "GET /rest/api/2/issue/{key}/worklog": 1,
    "GET /rest/api/3/attachment/content/{id}": 1000,
}


def test_the_floor_without_further_pages_is_attachments_and_bulk_pages():
    # 1,000 attachments and 10 bulk pages, 5 at a time, 50 ms each.
    assert floor_seconds(1000, 1000) == pytest.approx(10.1)


def test_each_further_page_adds_one_request_to_the_floor():
    assert floor_seconds(1000, 1000, 18) - floor_seconds(1000, 1000) == pytest.approx(18 * 0.05 / 5)


def test_further_pages_are_changelog_comment_and_worklog_routes_only():
    assert extra_pages(BY_ROUTE) == 12 + 3 + 2 + 1
    assert history_requests(BY_ROUTE) == 12 + 3
    assert extra_pages({"POST /rest/api/3/issue/bulkfetch": 10}) == 0


def test_history_requests_per_thousand_issues():
    assert per_thousand_issues(15, 1000) == 15.0
    assert per_thousand_issues(15, 500) == 30.0
    assert per_thousand_issues(15, 0) == 0.0


def test_a_runs_floor_counts_the_pages_it_was_served():
    run = RunResult(
        label="full",
        exit_code=0,
        wall_seconds=20.0,
        peak_tree_rss_bytes=0,
        peak_tree_pss_bytes=0,
        peak_processes=1,
        server={"api": {"by_route": BY_ROUTE}, "media": {}},
        log_path="run.log",
        summary={"issues": 1000, "attachments": 1000},
    )
    # 18 changelog, comment and worklog pages, and the second of its two search pages.
    assert run_floor_seconds(run) == pytest.approx(floor_seconds(1000, 1000, 18 + 1))


def test_search_pages_count_beyond_the_one_a_near_empty_day_asks_for():
    assert further_search_pages({"POST /rest/api/3/search/jql": 10}) == 9
    assert further_search_pages({"POST /rest/api/3/search/jql": 1}) == 0
    assert further_search_pages({"GET /rest/api/3/myself": 1}) == 0


def test_each_steps_cost_beyond_the_near_empty_day_is_printed():
    lines = step_lines(
        {
            "step_seconds": {"jira_window": 11.6, "jira_index": 0.1, "jira_markdown_checks": 0.21},
            "empty_day_step_seconds": {"jira_window": 0.16, "jira_index": 0.04},
        }
    ).splitlines()
    assert lines[0].endswith("jira_window 11.6, jira_index 0.1, jira_markdown_checks 0.21")
    assert lines[1].endswith("jira_window +11.44, jira_index +0.06")  # a step the empty day lacks: left out
