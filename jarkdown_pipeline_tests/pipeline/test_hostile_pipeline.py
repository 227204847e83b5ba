"""Hostile input through Dagster: a window whose Jira answers hold hostile issues, and reconciliations
that would empty the mirror (stopped, with what they would have done and how to allow it)."""

import asyncio
import base64
from datetime import date

import dagster as dg

from jarkdown_pipeline.orchestration.assets import build_assets
from jarkdown_pipeline.orchestration.partitions import daily_partitions_from_settings
from jarkdown_pipeline.orchestration.resources import KnowledgeBaseResource, MirrorScope
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline_tests.plugins.hostile_jira import Hostility, hostile_jira
from jarkdown_pipeline_tests.plugins.pipeline import (
    INVALID_KEY_ENTRY,
    build_pipeline,
    delete_issues,
    failure_messages,
    issues_updated_on,
    materialization_metadata,
    sample_config,
    stored_scope,
)

DAY = date(2026, 11, 20)


def step_failure_metadata(result: dg.ExecuteInProcessResult, step: str) -> dict:
    [event] = [event for event in result.all_events if event.is_step_failure and event.step_key == step]
    return {name: value.value for name, value in event.step_failure_data.user_failure_data.metadata.items()}


def test_a_window_with_hostile_issues_writes_the_others_lists_the_bad_ones_and_fails(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        deep = keys[0]
        hostility = Hostility(
            deep_keys=frozenset({deep}), extra_search_entries=(INVALID_KEY_ENTRY, 12345), junk_bulk_entry="not an issue"
        )
        with hostile_jira(jira, hostility) as proxy:
            pipeline = build_pipeline(proxy, tmp_path / "kb")
            instance = dg.DagsterInstance.ephemeral()
            result = pipeline.run(instance=instance)
    assert not result.success
    kb = pipeline.kb
    assert set(kb.markdown_issue_keys()) == set(keys) - {deep}  # every other issue, complete
    junk = f"<search result {len(keys) + 2}>"
    failures = step_failure_metadata(result, "jira_window")["failures"]
    assert "- **id 990001**: fetch: Jira sent an invalid issue key: '../X-1'" in failures
    assert f"- **{junk}**: fetch: Jira sent int instead of an issue object" in failures
    assert f"- **{deep}**: fetch: " in failures
    assert step_failure_metadata(result, "jira_window")["failed"] == 3
    assert f"3 of {len(keys)} issues failed" in failure_messages(result)
    issues = materialization_metadata(result, "jira_issues")
    assert issues["failed"] == 3 and "../X-1" in issues["failures"]
    # The step's log names each one, with its reason.
    logged = "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))
    assert (
        f"Could not fetch {deep}: " in logged and "Could not fetch id 990001: Jira sent an invalid issue key" in logged
    )
    assert not (tmp_path / "X-1").exists()


def test_an_error_body_echoing_the_authorization_header_is_scrubbed_everywhere_dagster_keeps_it(tmp_path):
    """Secrets stay secret: the junk bulk entry makes the window fetch its issues one by one, and
    one issue's GET answers with the request's Authorization header in its error body. That issue
    fails with a reason; neither the header nor the token is in the event log (metadata, logs,
    failures) or the knowledge base."""
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        echoing = keys[-1]
        hostility = Hostility(junk_bulk_entry="not an issue", echo_keys=frozenset({echoing}))
        with hostile_jira(jira, hostility) as proxy:
            pipeline = build_pipeline(proxy, tmp_path / "kb")
            instance = dg.DagsterInstance.ephemeral()
            result = pipeline.run(instance=instance)
            email, token = proxy.email, proxy.api_token
    assert not result.success
    failures = step_failure_metadata(result, "jira_window")["failures"]
    assert f"- **{echoing}**: fetch: " in failures and "Authorization" in failures
    credentials = base64.b64encode(f"{email}:{token}".encode()).decode()
    stored = _event_log_text(instance, result.run_id)
    assert stored and echoing in stored
    for secret in (token, credentials):
        assert secret not in stored
        assert not any(
            secret in path.read_text(errors="replace") for path in (tmp_path / "kb").rglob("*") if path.is_file()
        )


def _event_log_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Everything Dagster stored for the run: each event, serialised as it sits in the event log."""
    return "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(run_id))


def materialize_reconciliation(pipeline, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    settings = pipeline.settings
    return dg.materialize(
        build_assets(daily_partitions_from_settings(settings)),
        selection=["jira_reconciliation"],
        resources={
            "jira": pipeline.defs.resources["jira"],  # the job's own
            "knowledge_base": KnowledgeBaseResource.from_settings(settings),
            "mirror": MirrorScope.from_settings(settings),
        },
        run_config=run_config,
        raise_on_error=False,
    )


def reconciliation_config(**config) -> dict:
    return {"ops": {"jira_reconciliation": {"config": config}}}


def test_reconciliation_stops_before_removing_too_much_and_says_how_to_allow_it(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        kb = pipeline.kb
        stored = asyncio.run(stored_scope(jira, kb))
        gone = delete_issues(jira, stored[:8]) & set(stored)
        strict = {"max_removed_share": 0.1, "always_allowed_removals": 5}
        result = materialize_reconciliation(pipeline, reconciliation_config(**strict))
        assert not result.success and kb.live_issue_keys() == set(stored)
        message = failure_messages(result)
        assert f"would have moved {len(gone)} issues to _removed/" in message
        command = (
            "dagster asset materialize -m jarkdown_pipeline --select jira_reconciliation --config-json "
            f"""'{{"ops": {{"jira_reconciliation": {{"config": {{"allow_removals": {len(gone)}}}}}}}}}'"""
        )
        assert command in message
        metadata = step_failure_metadata(result, "jira_reconciliation")
        assert metadata["would_remove"] == len(gone) and metadata["stored"] == len(stored)
        assert all(f"- {key}" in metadata["would_have_moved"] for key in gone)

        result = materialize_reconciliation(pipeline, reconciliation_config(**strict, allow_removals=len(gone)))
        assert result.success, failure_messages(result)
        assert kb.live_issue_keys() == set(stored) - gone
        assert materialization_metadata(result, "jira_reconciliation")["moved_to_removed"] == len(gone)


def test_reconciliation_never_acts_on_an_empty_answer(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        kb = pipeline.kb
        stored = asyncio.run(stored_scope(jira, kb))
        delete_issues(jira, list(jira.dataset.issues))
        result = materialize_reconciliation(pipeline)  # the defaults: 45 issues are under the 50 always allowed
        assert not result.success
        assert "returned no issue at all" in failure_messages(result)
        assert kb.live_issue_keys() == set(stored) and not kb.removed_dir.exists()
