"""A partition run again searches what changed since its last complete run (window_search), through Dagster."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from jarkdown_pipeline.sample_jira.config import FaultConfig
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.window_search import CHANGES_MARGIN
from jarkdown_pipeline_tests.plugins.pipeline import (
    PARTITION,
    build_pipeline,
    edit_time_on,
    issues_updated_on,
    materialization_metadata,
    sample_config,
)


def set_faults(jira, faults: FaultConfig) -> None:
    jira.call(lambda: setattr(jira.server.faults, "faults", faults))


def search_of(result) -> tuple[str, int]:
    issues = materialization_metadata(result, "jira_issues")
    return issues["search"], issues["fetched"]


def test_a_refresh_searches_what_changed_since_the_last_complete_run(tmp_path):
    day = date.fromisoformat(PARTITION)
    with run_sample_jira_in_thread(sample_config(max_attachments_per_issue=1)) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        keys = sorted(issues_updated_on(jira, day))
        broken = next(key for key in keys if jira.dataset.issues[key].attachments)
        cut = jira.dataset.issues[broken].attachments[0].id
        set_faults(jira, FaultConfig(cut_download_attachment_ids=frozenset({cut}), cut_download_attempts=10_000))

        # A run with a failure is not a complete run: the next one searches the whole window again.
        result = pipeline.run()
        assert not result.success and search_of(result)[0] == "the whole window: no complete run of it is on record"
        set_faults(jira, FaultConfig())
        result = pipeline.run()
        assert result.success and search_of(result)[0] == "the whole window: no complete run of it is on record"

        # One issue edited now; another edited earlier than the margin before the latest update, as if
        # Jira's index had shown that edit only after the complete run's search.
        others = sorted((key for key in keys if key != broken), key=lambda key: jira.dataset.issues[key].updated)
        late, edited = others[0], others[-1]
        edit_time = edit_time_on(jira, day)
        late_time = jira.dataset.issues[late].updated + timedelta(minutes=1)
        assert late_time < edit_time - 2 * CHANGES_MARGIN
        jira.touch_issue(edited, updated=edit_time, comment="Edited after the complete run")
        jira.touch_issue(late, updated=late_time)
        jira.reset_stats()
        result = pipeline.run()
        assert result.success
        search, fetched = search_of(result)
        assert search.startswith("changes since ") and f"less {CHANGES_MARGIN.seconds // 60} minutes" in search
        assert fetched == 1 and jira.stats["api"]["by_route"]["POST /rest/api/3/search/jql"] == 1
        assert "Edited after the complete run" in pipeline.kb.markdown_path(edited).read_text(encoding="utf-8")
        assert "(edit 1)" not in pipeline.kb.markdown_path(late).read_text(encoding="utf-8")

        # Searched whole on demand (or after FULL_SEARCH_EVERY), the late edit arrives too.
        result = pipeline.run(whole_window=True)
        assert result.success and search_of(result) == ("the whole window: asked for (whole_window)", 1)
        assert "(edit 1)" in pipeline.kb.markdown_path(late).read_text(encoding="utf-8")


def test_the_daily_schedule_searches_yesterday_whole_and_the_hourly_one_its_changes(tmp_path):
    day = date.fromisoformat(PARTITION)
    with run_sample_jira_in_thread(sample_config()) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        assert pipeline.run().success
        repository = pipeline.defs.get_repository_def()
        job = pipeline.defs.resolve_job_def("jira_markdown_job")
        zone = ZoneInfo(jira.config.time_zone)
        for name, when, expected in (
            ("jira_hourly_schedule", datetime.combine(day, time(23, 15), zone), "changes since "),
            ("jira_daily_schedule", datetime.combine(day + timedelta(days=1), time(0, 30), zone), "the whole window: "),
        ):
            schedule = repository.get_schedule_def(name)
            with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository) as context:
                [request] = schedule.evaluate_tick(context).run_requests
            assert request.partition_key == PARTITION
            result = job.execute_in_process(
                partition_key=request.partition_key, run_config=request.run_config, raise_on_error=False
            )
            assert result.success and search_of(result)[0].startswith(expected), (name, search_of(result))
