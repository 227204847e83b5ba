"""Fixtures that run the bundled sample Jira on free loopback ports, in a background thread.

The thread runner works from sync tests (Dagster's materialize()) and async tests alike.

- `sample_jira`: a small data set (60 issues, fixed `now`, no latency), fresh for each test.
- `sample_jira_factory(config=None, **overrides)`: start one with other settings (faults, sizes...).
- `sample_jira_config`: the small default config, to derive others from.
- `sample_jira_client(jira, **options)`: a JiraApiClient for it (its demo credentials, no close grace).
- `expected_bytes(jira, attachment)`: the exact bytes it serves for an attachment of its data set.
"""

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline.sample_jira import SampleJiraConfig, SampleJiraThread
from jarkdown_pipeline_tests.reference import REFERENCE_DIR  # noqa: F401 - re-exported for the API tests

# A fixed "now" keeps data and partitions identical from run to run.
SAMPLE_JIRA_TEST_NOW = datetime(2026, 11, 20, 11, 30, tzinfo=UTC)


def basic_auth_headers(email: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()}


def sample_jira_auth_headers(jira: SampleJiraThread) -> dict[str, str]:
    """Headers that authenticate against the given sample Jira."""
    return basic_auth_headers(jira.email, jira.api_token)


def expected_bytes(jira: SampleJiraThread, attachment: Any) -> bytes:
    """The exact bytes the sample Jira serves for ``attachment`` (one of its data set's), whole."""
    return b"".join(jira.expected_attachment_bytes(attachment.id))


def sample_jira_client(jira: SampleJiraThread, **options: Any) -> JiraApiClient:
    """A client of the given (Cloud-mode) sample Jira, with its demo credentials; plain http on loopback
    has no TLS shutdown to wait for."""
    return JiraApiClient(jira.base_url, jira.email, jira.api_token, close_grace_period=0, **options)


def small_sample_jira_config(**overrides: Any) -> SampleJiraConfig:
    base = SampleJiraConfig(
        seed=7,
        issue_count=60,
        projects=("ALPHA", "BETA"),
        days=30,
        now=SAMPLE_JIRA_TEST_NOW,
        attachment_max_bytes=64 * 1024,
        max_comments_per_issue=30,
        max_worklogs_per_issue=25,
    )
    return base.replace(**overrides) if overrides else base


@pytest.fixture
def sample_jira_config() -> SampleJiraConfig:
    return small_sample_jira_config()


@pytest.fixture
def sample_jira_factory(sample_jira_config: SampleJiraConfig) -> Iterator[Callable[..., SampleJiraThread]]:
    started: list[SampleJiraThread] = []

    def make(config: SampleJiraConfig | None = None, **overrides: Any) -> SampleJiraThread:
        chosen = config or sample_jira_config
        if overrides:
            chosen = chosen.replace(**overrides)
        runner = SampleJiraThread(chosen).start()
        started.append(runner)
        return runner

    yield make
    for runner in started:
        runner.stop()


@pytest.fixture
def sample_jira(sample_jira_factory: Callable[..., SampleJiraThread]) -> SampleJiraThread:
    return sample_jira_factory()
