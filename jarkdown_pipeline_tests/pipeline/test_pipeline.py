"""The whole job, in process, against the sample Jira: what a user's run writes, and how it fails."""

from datetime import date
from zoneinfo import ZoneInfo

import dagster as dg

from jarkdown_pipeline.orchestration.resources import JiraResource
from jarkdown_pipeline.sample_jira.config import FaultConfig
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline_tests.plugins.pipeline import (
    build_pipeline,
    check_results,
    edit_time_on,
    failure_messages,
    issues_updated_on,
    materialization_metadata,
    sample_config,
    snapshot,
)

ALL_CHECKS = {
    "every_issue_has_its_file": True,
    "relative_links_resolve": True,
    "frontmatter_parses_and_key_matches": True,
    "every_section_complete": True,
    "index_is_complete": True,
}


def without_run_records(files: dict) -> dict:
    return {path: stat for path, stat in files.items() if not path.startswith(".jarkdown/runs/")}


def test_definitions(tmp_path, sample_jira):
    pipeline = build_pipeline(sample_jira, tmp_path / "kb")
    repository = pipeline.defs.get_repository_def()
    assets = {key.to_user_string(): asset for key, asset in repository.assets_defs_by_key.items()}
    assert set(assets) == {
        "jira_fields",
        "jira_issues",
        "jira_attachments",
        "jira_markdown",
        "jira_reconciliation",
        "jira_index",
    }
    for name, asset in assets.items():
        assert asset.group_names_by_key[dg.AssetKey(name)] == "jira"
        assert asset.backfill_policy == dg.BackfillPolicy.single_run(), name
        assert (asset.partitions_def is not None) == (name in {"jira_issues", "jira_attachments", "jira_markdown"}), (
            name
        )
    # Issues, attachments and Markdown are one streaming step (one op, in the jira_api pool).
    steps = {name: asset.node_def.name for name, asset in assets.items()}
    assert steps["jira_issues"] == steps["jira_attachments"] == steps["jira_markdown"] == "jira_window"
    assert len(set(steps.values())) == 4
    pools = {name: asset.node_def.pool for name, asset in assets.items()}
    assert pools == {
        "jira_fields": "jira_api",
        "jira_issues": "jira_api",
        "jira_attachments": "jira_api",
        "jira_reconciliation": "jira_api",
        "jira_markdown": "jira_api",
        "jira_index": None,
    }
    assert {key.name for key in repository.asset_checks_defs_by_key} == set(ALL_CHECKS)
    assert {s.name for s in repository.schedule_defs} == {
        "jira_daily_schedule",
        "jira_hourly_schedule",
        "jira_reconciliation_schedule",
    }
    window_job = pipeline.defs.resolve_job_def("jira_markdown_job")
    assert window_job.partitions_def is not None
    # Reconciliation scans every key in scope: its own job and daily schedule, not a step of every window run.
    assert "jira_reconciliation" not in {key.to_user_string() for key in window_job.asset_layer.selected_asset_keys}
    reconciliation_job = pipeline.defs.resolve_job_def("jira_reconciliation_job")
    assert {key.to_user_string() for key in reconciliation_job.asset_layer.selected_asset_keys} == {
        "jira_reconciliation",
        "jira_index",
    }
    assert repository.get_schedule_def("jira_reconciliation_schedule").job_name == "jira_reconciliation_job"


def test_partition_run_then_rerun_then_edit_and_delete(tmp_path, sample_jira):
    pipeline = build_pipeline(sample_jira, tmp_path / "kb")
    kb = pipeline.kb
    expected = issues_updated_on(sample_jira, date(2026, 11, 20))
    assert len(expected) >= 4, "the sample data set should put several issues in the test's day"

    result = pipeline.run()
    assert result.success, failure_messages(result)
    assert set(kb.markdown_issue_keys()) == expected  # every issue of the window, nothing outside it
    for key in expected:
        sample = sample_jira.dataset.issues[key]
        raw = kb.read_raw_issue(key)
        assert len(raw["fields"]["comment"]["comments"]) == len(sample.comments)
        assert len(raw["fields"]["worklog"]["worklogs"]) == len(sample.worklogs)
        manifest = {entry["attachment_id"]: entry for entry in kb.read_attachment_manifest(key)}
        assert set(manifest) == {str(a.id) for a in sample.attachments}
        for attachment in sample.attachments:
            path = kb.issue_dir(key) / manifest[str(attachment.id)]["path"]
            assert path.resolve().is_relative_to(kb.issue_dir(key))
            assert path.read_bytes() == b"".join(sample_jira.expected_attachment_bytes(attachment.id))
        text = kb.markdown_path(key).read_text(encoding="utf-8")
        assert text.startswith("---\n") and f"key: {key}" in text
    index = kb.index_path.read_text(encoding="utf-8")
    assert all(f"{key}/{key}.md" in index for key in expected)
    assert check_results(result) == ALL_CHECKS
    markdown = materialization_metadata(result, "jira_markdown")
    assert (markdown["written"], markdown["unchanged"], markdown["failed"]) == (len(expected), 0, 0)
    attachments = materialization_metadata(result, "jira_attachments")
    assert attachments["downloaded"] == sum(len(sample_jira.dataset.issues[k].attachments) for k in expected)
    assert attachments["attachment_bytes_downloaded"] > 0
    issues = materialization_metadata(result, "jira_issues")
    assert issues["fetched"] == len(expected) and issues["requests"] >= 3

    # Nothing changed in Jira: nothing fetched, downloaded or rewritten.
    before = without_run_records(snapshot(kb.root))
    result = pipeline.run()
    assert result.success, failure_messages(result)
    assert without_run_records(snapshot(kb.root)) == before
    assert materialization_metadata(result, "jira_issues")["fetched"] == 0
    assert materialization_metadata(result, "jira_attachments")["attachment_bytes_downloaded"] == 0
    assert materialization_metadata(result, "jira_markdown")["written"] == 0
    assert check_results(result) == ALL_CHECKS

    # One issue edited (still that day), one deleted: exactly those change.
    edited, deleted = sorted(expected)[:2]
    sample_jira.touch_issue(
        edited,
        updated=edit_time_on(sample_jira, date(2026, 11, 20)),
        comment="Edited in the test",
    )
    gone = set(sample_jira.delete_issue(deleted))
    result = pipeline.run()
    assert result.success, failure_messages(result)
    after = without_run_records(snapshot(kb.root))
    changed = {path for path in after if after[path] != before.get(path)}
    assert f"{edited}/{edited}.md" in changed
    assert "Edited in the test" in kb.markdown_path(edited).read_text(encoding="utf-8")
    assert all(kb.issue_dir(key).exists() for key in gone & expected), "the window run does not reconcile"
    assert check_results(result) == ALL_CHECKS

    result = pipeline.reconcile()
    assert result.success, failure_messages(result)
    for key in gone & expected:
        assert not kb.issue_dir(key).exists()
        assert (kb.removed_dir / key / f"{key}.md").is_file()
        assert f"{key}/{key}.md" not in kb.index_path.read_text(encoding="utf-8")
    assert materialization_metadata(result, "jira_reconciliation")["moved_to_removed"] == len(gone & expected)
    assert check_results(result) == {"index_is_complete": True}


def test_wrong_token_fails_at_once_and_writes_nothing(tmp_path, sample_jira):
    pipeline = build_pipeline(sample_jira, tmp_path / "kb", JIRA_API_TOKEN="not-the-token")
    result = pipeline.run()
    assert not result.success
    assert "authentication failed" in failure_messages(result).lower()
    assert "not-the-token" not in failure_messages(result)
    assert not (tmp_path / "kb").exists()


def test_bad_scope_jql_fails_with_jiras_message(tmp_path, sample_jira):
    pipeline = build_pipeline(sample_jira, tmp_path / "kb", JARKDOWN_JQL="projec = ALPHA")
    result = pipeline.run()
    assert not result.success
    messages = failure_messages(result)
    assert "Jira rejected the search JQL" in messages and "'projec'" in messages
    assert not (tmp_path / "kb" / "ALPHA-1").exists()


def test_failing_issues_never_stop_the_others(tmp_path):
    day = date(2026, 11, 20)
    with run_sample_jira_in_thread(sample_config()) as probe:
        keys = sorted(issues_updated_on(probe, day))
        vanished = keys[0]
        with_attachment = next(k for k in keys[1:] if probe.dataset.issues[k].attachments)
        bad_attachment = probe.dataset.issues[with_attachment].attachments[0].id
    faults = FaultConfig(
        vanished_issue_keys=frozenset({vanished}),
        cut_download_attachment_ids=frozenset({bad_attachment}),
        cut_download_attempts=1000,  # every attempt is cut: the download can never succeed
    )
    with run_sample_jira_in_thread(sample_config(faults=faults)) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        result = pipeline.run()
        assert not result.success
        messages = failure_messages(result)
        assert with_attachment in messages and "1 of" in messages
        kb = pipeline.kb
        # Everyone else is complete; the vanished issue is skipped, not an error.
        assert set(kb.markdown_issue_keys()) == set(keys) - {vanished}
        assert not kb.issue_dir(vanished).exists()
        assert materialization_metadata(result, "jira_issues")["skipped_vanished"] == 1
        # The fault clears (Jira recovers): a re-run completes exactly what was missing.
        jira.call(lambda: setattr(jira.server.faults, "faults", FaultConfig(vanished_issue_keys=frozenset({vanished}))))
        result = pipeline.run()
        assert result.success, failure_messages(result)
        assert materialization_metadata(result, "jira_attachments")["downloaded"] == 1
        assert check_results(result) == ALL_CHECKS


def test_secrets_come_from_env_vars_and_never_show(tmp_path, sample_jira):
    pipeline = build_pipeline(sample_jira, tmp_path / "kb")
    production = JiraResource.from_settings(pipeline.settings)
    # The UI and the run's config show the variables' names, not their values.
    assert isinstance(production.api_token, dg.EnvVar) and production.api_token.env_var_name == "JIRA_API_TOKEN"
    assert isinstance(production.email, dg.EnvVar) and production.base_url == sample_jira.base_url
    resolved = JiraResource(base_url=sample_jira.base_url, email=sample_jira.email, api_token=sample_jira.api_token)
    assert sample_jira.api_token not in repr(resolved) and sample_jira.api_token not in str(resolved)


def test_links_become_local_when_the_linked_issue_arrives(tmp_path, sample_jira):
    zone = ZoneInfo(sample_jira.config.time_zone)
    issues = sample_jira.dataset.issues

    def day_of(key):
        return issues[key].updated.astimezone(zone).date()

    pairs = [
        (key, link.other_key)
        for key, issue in issues.items()
        for link in issue.links
        if link.other_key in issues and day_of(link.other_key) > day_of(key) >= date(2026, 11, 16)
    ]
    assert pairs, "the sample data set should link issues across days"
    source, target = sorted(pairs)[0]
    pipeline = build_pipeline(sample_jira, tmp_path / "kb")

    result = pipeline.run(day_of(source).isoformat())
    assert result.success, failure_messages(result)
    text = pipeline.kb.markdown_path(source).read_text(encoding="utf-8")
    assert f"/browse/{target})" in text and f"../{target}/{target}.md" not in text

    result = pipeline.run(day_of(target).isoformat())
    assert result.success, failure_messages(result)
    text = pipeline.kb.markdown_path(source).read_text(encoding="utf-8")
    assert f"(../{target}/{target}.md)" in text
    assert materialization_metadata(result, "jira_markdown")["relinked_elsewhere"] >= 1
    assert check_results(result) == ALL_CHECKS
