"""Shared test plugins: each lives in its own module under plugins/."""

pytest_plugins = [
    "jarkdown_pipeline_tests.plugins.aiohttp_mocks",
    "jarkdown_pipeline_tests.plugins.sample_jira",
]
