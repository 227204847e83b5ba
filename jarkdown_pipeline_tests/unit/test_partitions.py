"""Partition windows, their JQL, and what the schedules ask for."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from jarkdown_pipeline.definitions import build_definitions
from jarkdown_pipeline.orchestration.partitions import build_daily_partitions
from jarkdown_pipeline.settings import load_settings
from jarkdown_pipeline.sync import scope_jql_since
from jarkdown_pipeline.window_search import window_jql


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        {
            "JIRA_BASE_URL": "http://127.0.0.1:1",
            "JIRA_EMAIL": "me@example.com",
            "JIRA_API_TOKEN": "token",
            "JARKDOWN_START_DATE": "2026-11-01",
            "JARKDOWN_TIMEZONE": "Europe/Berlin",
            "JARKDOWN_OUTPUT_DIR": str(tmp_path / "kb"),
        }
    )


def test_window_jql_is_and_ed_with_the_scope():
    assert window_jql("project in (ABC, XYZ)", date(2026, 11, 20), date(2026, 11, 21)) == (
        '(project in (ABC, XYZ)) AND updated >= "2026-11-20 00:00" AND updated < "2026-11-21 00:00"'
    )
    assert window_jql(None, date(2026, 12, 31), date(2027, 1, 1)) == (
        'updated >= "2026-12-31 00:00" AND updated < "2027-01-01 00:00"'
    )
    # Scope OR-clauses stay inside their parentheses: the window bounds every branch.
    assert window_jql("project = A OR project = B", date(2026, 1, 1), date(2026, 1, 2)).startswith(
        "(project = A OR project = B) AND "
    )
    assert scope_jql_since("project = A", date(2026, 1, 1)) == '(project = A) AND updated >= "2026-01-01 00:00"'


def test_daily_partitions_include_today():
    partitions = build_daily_partitions(date(2026, 11, 1), "UTC")
    keys = partitions.get_partition_keys(current_time=datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("UTC")))
    assert keys[0] == "2026-11-01" and keys[-1] == "2026-11-20" and len(keys) == 20


def schedule_request(defs, name, when):
    repository = defs.get_repository_def()
    schedule = repository.get_schedule_def(name)
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository) as context:
        return schedule.evaluate_tick(context)


def test_daily_schedule_asks_for_yesterday(settings):
    defs = build_definitions(settings)
    berlin = ZoneInfo("Europe/Berlin")
    result = schedule_request(defs, "jira_daily_schedule", datetime(2026, 11, 21, 0, 30, tzinfo=berlin))
    [request] = result.run_requests
    assert request.partition_key == "2026-11-20"
    assert request.run_key == "daily-2026-11-20"
    # Yesterday searched whole, not only its changes since the last hourly run.
    assert request.run_config == {"ops": {"jira_window": {"config": {"whole_window": True}}}}
    # 23:30 UTC on the 20th is already the 21st in Berlin: the zone of the schedule decides.
    result = schedule_request(defs, "jira_daily_schedule", datetime(2026, 11, 21, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert [r.partition_key for r in result.run_requests] == ["2026-11-21"]


def test_hourly_schedule_asks_for_today(settings):
    defs = build_definitions(settings)
    result = schedule_request(
        defs, "jira_hourly_schedule", datetime(2026, 11, 20, 14, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    )
    [request] = result.run_requests
    assert (request.partition_key, request.run_key) == ("2026-11-20", "hourly-2026-11-20T14")
    assert request.run_config == {}  # what changed since the last complete run of the day


def test_schedules_skip_days_before_the_start(settings):
    defs = build_definitions(settings)
    result = schedule_request(
        defs, "jira_daily_schedule", datetime(2026, 11, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    )
    assert not result.run_requests and "before JARKDOWN_START_DATE" in result.skip_message


def test_schedule_crons_and_timezone(settings):
    repo = build_definitions(settings).get_repository_def()
    daily = repo.get_schedule_def("jira_daily_schedule")
    hourly = repo.get_schedule_def("jira_hourly_schedule")
    assert (daily.cron_schedule, hourly.cron_schedule) == ("30 0 * * *", "15 * * * *")
    assert daily.execution_timezone == hourly.execution_timezone == "Europe/Berlin"
    assert daily.job_name == hourly.job_name == "jira_markdown_job"
