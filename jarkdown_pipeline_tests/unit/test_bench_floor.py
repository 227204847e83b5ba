"""The throughput benchmark's floor (`make bench`): a pure formula over what the sample Jira served; its step report."""

import pytest

from jarkdown_pipeline.tools.bench import (
    RunResult,
    extra_pages,
    first_download_seconds,
    floor_seconds,
    further_search_pages,
    goal_ratio,
    history_requests,
    hosts_in_use,
    per_thousand_issues,
    phase_lines,
    ratio_cell,
    ratio_row,
    ratio_text,
    rounds_median_ratio,
    run_floor_seconds,
    run_phases,
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


def a_run(**changes) -> RunResult:
    fields = dict(
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
    return RunResult(**{**fields, **changes})


def test_a_runs_floor_counts_the_pages_it_was_served():
    run = a_run()
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


def test_a_run_splits_at_its_first_search_and_the_last_answer_of_either_host():
    server = {
        "api": {"first_by_route": {"POST /rest/api/3/search/jql": 102.0}, "last_answer_at": 112.9},
        "media": {"last_answer_at": 112.95},
    }
    phases = run_phases(a_run(server=server, started_at=100.0, ended_at=113.6))
    assert phases == pytest.approx({"to_first_search": 2.0, "network": 10.95, "after_last_answer": 0.65})


def test_a_near_empty_day_ends_its_network_phase_at_the_search_answer():
    server = {"api": {"first_by_route": {"POST /rest/api/3/search/jql": 102.0}, "last_answer_at": 102.05}, "media": {}}
    assert run_phases(a_run(server=server, started_at=100.0, ended_at=102.5))["network"] == pytest.approx(0.05)


def test_no_phases_without_a_search_or_a_start():
    assert run_phases(a_run(started_at=100.0, ended_at=101.0)) is None
    server = {"api": {"first_by_route": {"POST /rest/api/3/search/jql": 102.0}, "last_answer_at": 103.0}, "media": {}}
    assert run_phases(a_run(server=server)) is None  # started_at unknown


def test_the_phases_line_gives_the_network_phase_against_the_floor():
    line = phase_lines(
        {
            "floor_seconds": 10.0,
            "phases": {"to_first_search": 2.0, "network": 10.75, "after_last_answer": 0.65},
            "empty_day_phases": {"to_first_search": 1.9, "network": 0.05, "after_last_answer": 0.4},
        }
    )
    assert "to the window's first search 2.00 / 1.90 s" in line
    assert "10.75 / 0.05 s (difference / floor: 1.07)" in line
    assert line.endswith("after the last answer 0.65 / 0.40 s")
    assert phase_lines({"floor_seconds": 10.0, "phases": None, "empty_day_phases": None}) == ""


def test_a_ratio_within_half_a_hundredth_of_the_goal_shows_three_decimals():
    assert ratio_text(1.102) == "1.102"  # two decimals would read 1.10 beside "MISSED"
    assert ratio_text(1.0981) == "1.098"
    assert ratio_text(1.13) == "1.13"
    assert ratio_text(1.06) == "1.06"


def test_the_goal_is_judged_by_the_higher_of_the_median_runs_ratio_and_the_rounds_median():
    # The median runs' ratio pairs the median near-empty day with the median full run, perhaps of
    # different rounds: a slow near-empty day makes it look better than any round was.
    flattering = {"ratio_to_floor": 1.05, "rounds": [{"ratio_to_floor": r} for r in (1.04, 1.11, 1.14, 1.12, 1.02)]}
    assert rounds_median_ratio(flattering) == 1.11 and goal_ratio(flattering) == 1.11
    assert ratio_cell(flattering) == "1.05 (rounds' median 1.11)"
    steady = {"ratio_to_floor": 1.12, "rounds": [{"ratio_to_floor": r} for r in (1.08, 1.09, 1.12)]}
    assert goal_ratio(steady) == 1.12 and ratio_cell(steady) == "1.12 (rounds' median 1.09)"
    assert goal_ratio({"ratio_to_floor": 1.07}) == 1.07 and ratio_cell({"ratio_to_floor": 1.07}) == "1.07"
    alike = {"ratio_to_floor": 1.081, "rounds": [{"ratio_to_floor": 1.079}]}
    assert ratio_cell(alike) == "1.08"


def test_the_tables_verdict_follows_the_goal_ratio():
    rounds = [{"ratio_to_floor": r} for r in (1.04, 1.11, 1.14, 1.12, 1.02)]
    label, value, verdict = ratio_row(
        "Throughput: (difference) / floor of 10.2 s", {"ratio_to_floor": 1.05, "rounds": rounds}
    )
    assert value == "1.05 (rounds' median 1.11)" and verdict == "<= 1.1 MISSED"
    assert ratio_row("x", {"ratio_to_floor": 1.09, "rounds": [{"ratio_to_floor": 1.08}]})[2] == "<= 1.1 met"


def test_the_first_download_is_the_first_request_answered_with_bytes_from_either_host():
    server = {
        "api": {"first_by_route": {"POST /rest/api/3/search/jql": 102.0}},
        "media": {},
        "first_download_at": 102.2,
    }
    assert first_download_seconds(a_run(server=server)) == pytest.approx(0.2)
    assert first_download_seconds(a_run(server={**server, "first_download_at": None})) is None


def test_connections_in_use_are_shown_for_each_host_asked():
    figures = {
        "api_mean_in_flight": 4.62,
        "api_span_seconds": 11.31,
        "media_mean_in_flight": 0.0,
        "media_span_seconds": 0.0,
    }
    assert hosts_in_use(figures) == "4.62 of 5 over 11.3 s / -"


def test_search_pages_count_beyond_the_near_empty_days_own():
    # Both runs make the search that starts the first downloads: only the window's further pages count.
    empty_day = {"POST /rest/api/3/search/jql": 2, "POST /rest/api/3/issue/bulkfetch": 1}
    assert further_search_pages({"POST /rest/api/3/search/jql": 11}, empty_day) == 9
    assert further_search_pages({"POST /rest/api/3/search/jql": 2}, empty_day) == 0
    assert further_search_pages({"POST /rest/api/3/search/jql": 1}, empty_day) == 0


def test_a_runs_floor_subtracts_the_near_empty_days_searches():
    empty = a_run(label="empty_day", server={"api": {"by_route": {"POST /rest/api/3/search/jql": 2}}, "media": {}})
    assert run_floor_seconds(a_run(), empty) == pytest.approx(floor_seconds(1000, 1000, 18))
