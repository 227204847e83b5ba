"""deploy/dagster.yaml is a valid instance config and reads PostgreSQL from DAGSTER_PG_*, even
where no PostgreSQL runs (the tests that connect are in test_concurrency_postgres.py)."""

from pathlib import Path

import pytest
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

pytest.importorskip("dagster_postgres", reason="the `postgres` extra (dagster-postgres) is not installed")
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import pg_url_from_config

from jarkdown_pipeline.orchestration.names import JIRA_POOL

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
PG_ENVIRONMENT = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "6432",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "p@ss word",
    "DAGSTER_PG_DB": "dagster_prod",
}


@pytest.fixture
def pg_environment(monkeypatch):
    for name, value in PG_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def resolve_storage_config():
    config, _ = dagster_instance_config(str(DEPLOY_DIR))
    return process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])


def storage_url() -> str:
    resolved = resolve_storage_config()
    assert resolved.success, resolved.errors
    return pg_url_from_config(resolved.value)


def test_storage_comes_from_the_environment_with_the_psycopg2_driver(pg_environment):
    # psycopg2 named: SQLAlchemy 2.1 would take a bare postgresql:// for psycopg 3 (not installed).
    assert storage_url() == "postgresql+psycopg2://dagster:p%40ss%20word@db.internal:6432/dagster_prod"


def test_a_missing_variable_is_named(pg_environment, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    resolved = resolve_storage_config()
    assert not resolved.success
    assert any("DAGSTER_PG_HOST" in error.message for error in resolved.errors)


def test_pool_and_queue_settings(pg_environment):
    config, _ = dagster_instance_config(str(DEPLOY_DIR))
    pools = config["concurrency"]["pools"]
    assert pools["granularity"] == "op"  # enforced per step, across runs and processes
    assert 1 <= pools["default_limit"] <= 5
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert JIRA_POOL == "jira_api"  # the pool the file's comments and docs/DEPLOY.md describe
