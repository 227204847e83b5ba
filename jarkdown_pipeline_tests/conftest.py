"""Shared test plugins (each in its own module under plugins/) and the Hypothesis profiles."""

import os

from hypothesis import settings

pytest_plugins = [
    "jarkdown_pipeline_tests.plugins.aiohttp_mocks",
    "jarkdown_pipeline_tests.plugins.sample_jira",
    "jarkdown_pipeline_tests.plugins.postgres",
    "jarkdown_pipeline_tests.plugins.state_store",
    "jarkdown_pipeline_tests.plugins.knowledge_base",
    "jarkdown_pipeline_tests.plugins.local_jira",
]

# Locally every run explores new examples; CI replays a fixed set so a red CI is reproducible.
# A failure found locally becomes a plain example test (see unit/test_escape_regressions.py).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
