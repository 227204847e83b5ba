"""The state store's fixtures (jarkdown_pipeline_tests/plugins/state_store.py), for the tests in this folder."""

from jarkdown_pipeline_tests.plugins.state_store import kb_v1, store, store_spec  # noqa: F401 - fixtures
