"""The Jira layer must stay importable without Dagster."""

import subprocess
import sys

import pytest

JIRA_LAYER_MODULES = [
    "jarkdown_pipeline.exceptions",
    "jarkdown_pipeline.jira_api_client",
    "jarkdown_pipeline.attachment_handler",
    "jarkdown_pipeline.markdown",
    "jarkdown_pipeline.sample_jira",
    "jarkdown_pipeline.state_store",
    "jarkdown_pipeline.progress",
    "jarkdown_pipeline.issue_keys",
    "jarkdown_pipeline.index_update",
]


@pytest.mark.parametrize("module", JIRA_LAYER_MODULES)
def test_jira_layer_does_not_import_dagster(module):
    code = f"import sys, {module}; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"{module} pulls in dagster"
