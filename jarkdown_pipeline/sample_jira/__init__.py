"""A bundled fake Jira Cloud (REST v3 subset + media host) for the demo, tests and benchmarks.

    python -m jarkdown_pipeline.sample_jira --port 8089 --media-port 8090

Python: `SampleJira` (async start/stop) or `run_sample_jira_in_thread(config)` from sync code.
It never imports Dagster.
"""

from jarkdown_pipeline.sample_jira.app import SampleJira
from jarkdown_pipeline.sample_jira.config import DEMO_API_TOKEN, DEMO_EMAIL, FaultConfig, SampleJiraConfig
from jarkdown_pipeline.sample_jira.data import HOSTILE_NAMES, HUGE_ATTACHMENT_NAME, Dataset
from jarkdown_pipeline.sample_jira.jql import JqlError, bind_jql, parse_jql
from jarkdown_pipeline.sample_jira.runner import SampleJiraThread, run_sample_jira_in_thread

__all__ = [
    "DEMO_API_TOKEN",
    "DEMO_EMAIL",
    "HOSTILE_NAMES",
    "HUGE_ATTACHMENT_NAME",
    "Dataset",
    "FaultConfig",
    "JqlError",
    "SampleJira",
    "SampleJiraConfig",
    "SampleJiraThread",
    "bind_jql",
    "parse_jql",
    "run_sample_jira_in_thread",
]
