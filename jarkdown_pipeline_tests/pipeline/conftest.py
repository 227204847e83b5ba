"""Pipeline tests run the real job through Dagster against the bundled sample Jira (helpers:
plugins/pipeline.py). The sample Jira runs in a background thread (its own event loop), so the tests
stay synchronous: Dagster runs each async step on its own loop, and ``execute_in_process`` must not
be called from inside a running loop."""

import pytest

from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline_tests.plugins.pipeline import sample_config


@pytest.fixture
def sample_jira():
    """This folder's sample Jira: ``sample_config()``'s small, fixed data set."""
    with run_sample_jira_in_thread(sample_config()) as jira:
        yield jira
