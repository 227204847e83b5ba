"""The real ``dagster`` CLI on a fresh DAGSTER_HOME: the multiprocess executor, a single-run
backfill over a range, and the schedules as ``dagster schedule list`` shows them."""

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline_tests.plugins.pipeline import PARTITION, issues_updated_on, pipeline_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
# The documented command: the job runs its steps in one process.
ONE_PARTITION_OF_THE_JOB = [
    *("job", "execute", "-m", "jarkdown_pipeline", "-j", "jira_markdown_job"),
    *("--tags", json.dumps({"dagster/partition": PARTITION})),
]

WHOLE_WINDOW = "ops: {jira_window: {config: {whole_window: true}}}\n"  # the README's run config


def run_dagster(args: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    # Only what the pipeline needs from the user's environment: the test must not depend on the caller's.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "PYTHONPATH") if name in os.environ}
    env.update(environment)
    return subprocess.run([DAGSTER, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=240)


def test_cli_job_in_process_then_range_backfill_multiprocess(tmp_path, sample_jira):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    output_dir = tmp_path / "kb"
    environment = {**pipeline_environment(sample_jira, output_dir), "DAGSTER_HOME": str(dagster_home)}

    done = run_dagster(ONE_PARTITION_OF_THE_JOB, environment, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Executing steps in process" in output
    kb = KnowledgeBase(output_dir)
    assert set(kb.markdown_issue_keys()) == issues_updated_on(sample_jira, date(2026, 11, 20))
    assert sample_jira.api_token not in output

    # Again: only what changed since that run is searched; as the README says, the run config can
    # ask for the whole day (here after a file was deleted by hand, which it restores).
    done = run_dagster(ONE_PARTITION_OF_THE_JOB, environment, tmp_path)
    assert done.returncode == 0 and "Searching changes since " in done.stdout + done.stderr
    lost = sorted(kb.markdown_issue_keys())[0]
    kb.markdown_path(lost).unlink()
    (tmp_path / "whole_window.yaml").write_text(WHOLE_WINDOW, encoding="utf-8")
    done = run_dagster([*ONE_PARTITION_OF_THE_JOB, "-c", "whole_window.yaml"], environment, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Searching the whole window: asked for (whole_window)" in output, output[-4000:]
    assert kb.markdown_path(lost).is_file()

    # Three days as one run and one window, each step in its own process (Dagster's default
    # executor for ad-hoc materializations): the field definitions pass between processes on disk.
    # Two steps only (fields, then the window's issues, attachments and Markdown as one step): a
    # process per step costs seconds.
    done = run_dagster(
        [
            "asset",
            "materialize",
            "-m",
            "jarkdown_pipeline",
            "--select",
            "jira_fields,jira_issues,jira_attachments,jira_markdown",
            "--partition-range",
            "2026-11-18...2026-11-20",
        ],
        environment,
        tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "multiprocess executor" in output
    three_days = set().union(
        *(issues_updated_on(sample_jira, date(2026, 11, 18) + timedelta(days=n)) for n in range(3))
    )
    assert kb.raw_issue_keys() == three_days == set(kb.markdown_issue_keys())
    for key in three_days:
        manifest = kb.read_attachment_manifest(key)
        assert len(manifest) == len(sample_jira.dataset.issues[key].attachments)
        assert all((kb.issue_dir(key) / entry["path"]).is_file() for entry in manifest)
    assert sample_jira.api_token not in output

    # Reconciliation is its own job: an issue deleted in Jira leaves the mirror only when it runs.
    [deleted] = sorted(three_days)[:1]
    sample_jira.delete_issue(deleted)
    done = run_dagster(
        ["job", "execute", "-m", "jarkdown_pipeline", "-j", "jira_reconciliation_job"], environment, tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert deleted not in kb.markdown_issue_keys() and (kb.removed_dir / deleted / f"{deleted}.md").is_file()
    assert kb.issues_listed_in(kb.index_files()) == set(kb.markdown_issue_keys())
    assert sample_jira.api_token not in output
    # The run ends with one line saying what it did, as the window's run does.
    assert re.search(
        r"Summary: \d+ issues in scope: 1 moved to _removed/, 0 kept .*, 0 failed; \d+ requests, 0 retried",
        output,
    ), output[-3000:]


def test_cli_lists_and_starts_the_schedules_as_the_readme_says(tmp_path, sample_jira):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    environment = {**pipeline_environment(sample_jira, tmp_path / "kb"), "DAGSTER_HOME": str(dagster_home)}
    workspace = str(REPO_ROOT / "workspace.yaml")
    # The README's deployment steps, on this instance (SQLite here; PostgreSQL in deploy/).
    for args in (["instance", "migrate"], ["instance", "concurrency", "set", "jira_api", "2"]):
        done = run_dagster(args, environment, REPO_ROOT)
        assert done.returncode == 0, (args, done.stdout[-3000:] + done.stderr[-3000:])
    done = run_dagster(["schedule", "start", "--start-all", "-w", workspace], environment, REPO_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    done = run_dagster(["schedule", "list", "-w", workspace], environment, REPO_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listed = dict(re.findall(r"^Schedule: (\w+) \[(\w+)\]", done.stdout, re.MULTILINE))
    assert listed == {
        "jira_daily_schedule": "RUNNING",
        "jira_hourly_schedule": "RUNNING",
        "jira_reconciliation_schedule": "RUNNING",
    }, done.stdout


def test_cli_names_a_missing_setting(tmp_path, sample_jira):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    environment = pipeline_environment(sample_jira, tmp_path / "kb", JARKDOWN_START_DATE=None)
    done = run_dagster(ONE_PARTITION_OF_THE_JOB, {**environment, "DAGSTER_HOME": str(dagster_home)}, tmp_path)
    assert done.returncode != 0
    assert "JARKDOWN_START_DATE is not set" in done.stdout + done.stderr
    assert not (tmp_path / "kb").exists()
