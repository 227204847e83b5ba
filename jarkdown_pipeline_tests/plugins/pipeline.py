"""Helpers of the pipeline tests: the real job through Dagster against the bundled sample Jira.

The sample Jira runs in a background thread (its own event loop), so the tests stay synchronous:
Dagster runs each async step on its own loop, and ``execute_in_process`` must not be called from
inside a running loop.
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import dagster as dg

from jarkdown_pipeline.definitions import build_definitions
from jarkdown_pipeline.jira_api_client import JiraApiClient, RetryPolicy
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.orchestration.assets import whole_window_run_config
from jarkdown_pipeline.orchestration.resources import JiraResource
from jarkdown_pipeline.sample_jira.config import SampleJiraConfig
from jarkdown_pipeline.sample_jira.runner import SampleJiraThread
from jarkdown_pipeline.settings import Settings, load_settings
from jarkdown_pipeline.sync import mirror_window, scope_jql_since

# The data set is generated around a fixed instant, so windows and counts are reproducible.
SAMPLE_NOW = datetime(2026, 11, 21, 9, 0, tzinfo=ZoneInfo("UTC"))
PARTITION = "2026-11-20"
START_DATE = "2026-11-01"


def sample_config(**changes) -> SampleJiraConfig:
    base = SampleJiraConfig(
        seed=7,
        issue_count=45,
        days=6,
        now=SAMPLE_NOW,
        max_attachments_per_issue=2,
        attachment_max_bytes=32 * 1024,
        max_comments_per_issue=25,
        max_worklogs_per_issue=25,
    )
    return base.replace(**changes)


def pipeline_environment(jira: SampleJiraThread, output_dir: Path, **changes: str | None) -> dict[str, str]:
    environment = {
        "JIRA_BASE_URL": jira.base_url,
        "JIRA_EMAIL": jira.email,
        "JIRA_API_TOKEN": jira.api_token,
        "JARKDOWN_OUTPUT_DIR": str(output_dir),
        "JARKDOWN_START_DATE": START_DATE,
        "JARKDOWN_TIMEZONE": jira.config.time_zone,
    }
    environment.update(changes)
    return {name: value for name, value in environment.items() if value is not None}


@dataclass
class Pipeline:
    """The job built from settings as a user's environment would give them."""

    settings: Settings
    defs: dg.Definitions

    @property
    def kb(self) -> KnowledgeBase:
        return KnowledgeBase(self.settings.output_dir)

    def run(
        self, partition_key: str = PARTITION, instance: dg.DagsterInstance | None = None, *, whole_window: bool = False
    ) -> dg.ExecuteInProcessResult:
        """One run of the partition; ``whole_window``: search the whole day even after a complete run."""
        job = self.defs.resolve_job_def("jira_markdown_job")
        run_config = whole_window_run_config() if whole_window else None
        return job.execute_in_process(
            partition_key=partition_key, instance=instance, raise_on_error=False, run_config=run_config
        )

    def reconcile(self, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_job_def("jira_reconciliation_job")
        return job.execute_in_process(instance=instance, raise_on_error=False)


def build_pipeline(jira: SampleJiraThread, output_dir: Path, **changes: str | None) -> Pipeline:
    environment = pipeline_environment(jira, output_dir, **changes)
    settings = load_settings(environment)
    # Same resource as production, with values instead of EnvVars (the test's env is not the user's).
    resource = JiraResource(
        base_url=settings.jira_base_url, email=environment["JIRA_EMAIL"], api_token=environment["JIRA_API_TOKEN"]
    )
    return Pipeline(settings=settings, defs=build_definitions(settings, jira=resource))


def partition_of(jira, key: str) -> str:
    """The daily partition whose window holds ``key`` (days in the Jira user's time zone)."""
    return jira.dataset.issues[key].updated.astimezone(ZoneInfo(jira.config.time_zone)).date().isoformat()


def edit_time_on(jira: SampleJiraThread, day: date) -> datetime:
    """A moment of ``day`` after every update of that day: when an edit made then is stamped (Jira's
    ``updated`` of an edit is its clock's now, later than any earlier update), still on ``day``."""
    zone = ZoneInfo(jira.config.time_zone)
    updates = [issue.updated for issue in jira.dataset.issues.values() if issue.updated.astimezone(zone).date() == day]
    moment = (max(updates) + timedelta(seconds=1)).astimezone(zone)
    assert moment.date() == day, f"no moment of {day} is later than its last update"
    return moment


def issues_updated_on(jira: SampleJiraThread, day: date) -> set[str]:
    """What the window of ``day`` must hold: issues updated that day in the Jira user's time zone."""
    zone = ZoneInfo(jira.config.time_zone)
    return {key for key, issue in jira.dataset.issues.items() if issue.updated.astimezone(zone).date() == day}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file, to prove a re-run rewrote nothing; the SQLite state store's files
    left out (a database: its pages and log are SQLite's to checkpoint whenever a connection closes)."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.startswith("state.sqlite3") and Path(folder).name == ".jarkdown":
                continue
            path = Path(folder, name)
            stat = path.stat()
            found[str(path.relative_to(root))] = (stat.st_ino, stat.st_mtime_ns)
    return found


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }


FAST_RETRIES = RetryPolicy(max_attempts=3, base_backoff=0.001, max_backoff=0.01)


def client_for(jira) -> JiraApiClient:
    return JiraApiClient(jira.base_url, jira.email, jira.api_token, retry_policy=FAST_RETRIES)


def stored_a_minute_ago(kb: KnowledgeBase) -> None:
    """Date every file back: reconciliation keeps what was stored while its search ran."""
    moment = time.time() - 60
    for path in kb.root.rglob("*"):
        if path.is_file():
            os.utime(path, (moment, moment))


INVALID_KEY_ENTRY = {"id": "990001", "key": "../X-1", "fields": {"updated": "2026-11-20T10:00:00.000+0100"}}


async def stored_scope(jira, kb: KnowledgeBase) -> list[str]:
    async with client_for(jira) as client:
        jql = scope_jql_since(None, date.fromisoformat(START_DATE))
        result = await mirror_window(client, kb, jql, field_definitions=[], base_url=jira.base_url)
    stored_a_minute_ago(kb)
    return result.issues.keys


def delete_issues(jira, keys) -> set[str]:
    """Delete ``keys`` from the sample Jira (sub-tasks go with their parent); the keys deleted."""
    gone: set[str] = set()
    for key in keys:
        if key not in gone:
            gone |= set(jira.delete_issue(key))
    return gone


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(
        str(event.step_failure_data.error.to_string()) for event in result.all_events if event.is_step_failure
    )


def run_demo(arguments: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    # The caller's Jira settings must not leak into the test: only what the demo needs.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(cwd)), **environment}
    return subprocess.run(
        [sys.executable, "-m", "jarkdown_pipeline.tools.demo", *arguments],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


def is_listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((parts.hostname, parts.port)) == 0
