"""History through the whole job: every changelog entry written, no history request for an unchanged
issue, the separate file, and the completeness check failing when Jira loses a page."""

from datetime import date
from zoneinfo import ZoneInfo

import dagster as dg

from jarkdown_pipeline.markdown.frontmatter import parse_frontmatter
from jarkdown_pipeline.sample_jira.data import Dataset
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline_tests.pipeline.conftest import FaultConfig, build_pipeline, check_results, sample_config

DAY = date(2026, 11, 20)
BULK_CHANGELOGS = "POST /rest/api/3/changelog/bulkfetch"


def window_keys(config) -> list[str]:
    data = Dataset(config, "http://127.0.0.1:1")
    zone = ZoneInfo(config.time_zone)
    return sorted(key for key, issue in data.issues.items() if issue.updated.astimezone(zone).date() == DAY)


def long_history_config(**changes):
    """The sample, with its issue of hundreds of changes in the test's window."""
    return sample_config(long_history_issue=window_keys(sample_config())[0], **changes)


def check_metadata(result: dg.ExecuteInProcessResult, name: str) -> dict:
    for event in result.all_events:
        data = event.event_specific_data
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and data.check_name == name:
            return {key: value.value for key, value in data.metadata.items()}
    raise AssertionError(f"no evaluation of {name}")


def test_every_change_is_written_and_an_unchanged_issue_costs_no_history_request(tmp_path):
    config = long_history_config()
    with run_sample_jira_in_thread(config) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        result = pipeline.run()
        assert result.success
        kb = pipeline.kb
        keys = kb.markdown_issue_keys()
        assert config.long_history_issue in keys
        for key in keys:
            changes = jira.dataset.changes_of(jira.dataset.issues[key])
            assert [e["id"] for e in kb.read_raw_issue(key)["changelog"]["histories"]] == [c.id for c in changes]
            text = kb.markdown_path(key).read_text("utf-8")
            front = parse_frontmatter(text)
            assert front["history_total"] == front["history_written"] == len(changes)
            assert text.count("\n- 20") >= len(changes)  # one line per entry (plus worklog-free dates)
        assert all(check_results(result).values()) and check_results(result)["every_section_complete"]
        assert jira.stats["api"]["by_route"][BULK_CHANGELOGS] >= 1

        jira.reset_stats()
        assert pipeline.run().success
        assert BULK_CHANGELOGS not in jira.stats["api"]["by_route"]  # the same `updated`: not fetched at all


def test_a_lost_page_fails_the_completeness_check_naming_issue_and_section(tmp_path):
    key = window_keys(sample_config())[0]
    config = long_history_config(faults=FaultConfig(dropped_page_issue_keys=frozenset({key})))
    with run_sample_jira_in_thread(config) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        result = pipeline.run()
    checks = check_results(result)
    assert checks["every_section_complete"] is False
    assert all(passed for name, passed in checks.items() if name != "every_section_complete")
    listed = check_metadata(result, "every_section_complete")["incomplete_sections"]
    assert f"{key}: history 40 of " in listed
    text = pipeline.kb.markdown_path(key).read_text("utf-8")
    assert "could not be fetched" in text


def test_the_history_in_its_own_file_keeps_links_resolving(tmp_path):
    config = long_history_config()
    with run_sample_jira_in_thread(config) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb", JARKDOWN_HISTORY="separate")
        result = pipeline.run()
    assert result.success and all(check_results(result).values())
    kb = pipeline.kb
    key = config.long_history_issue
    history = (kb.issue_dir(key) / f"{key}.history.md").read_text("utf-8")
    assert history.startswith(f"# History of [{key}]({key}.md)") and history.count("\n- 20") >= 300
    assert f"]({key}.history.md)" in kb.markdown_path(key).read_text("utf-8")
