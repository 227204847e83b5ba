"""Fixtures for tests against a real PostgreSQL: a throwaway database per test session.

The server comes from the usual libpq variables, defaulting to this project's CI machine:
``PGHOST`` (127.0.0.1), ``PGPORT`` (5432), ``PGUSER`` (postgres), ``PGPASSWORD`` (none) and
``PGDATABASE`` (postgres, only used to create and drop the throwaway database).

When the server cannot be reached, the tests that need it are skipped with the reason, except
under CI (``CI`` set to anything but empty/0/false), where they fail: CI must never pass by
silently skipping the PostgreSQL tests.

- `postgres_database` (session): a fresh, empty database, dropped (with its connections) at the end.
- `own_postgres_database` (function): the same, for one test alone.
- `postgres_dagster_home` (function): a DAGSTER_HOME holding the deployment's own
  ``deploy/dagster.yaml`` with the ``DAGSTER_PG_*`` variables pointing at that database, deployed as
  docs/DEPLOY.md says (``jira_api`` pool limit set); its ``environment`` is what a ``dagster``
  process needs, ``instance()`` opens the instance in-process.
"""

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
CONNECT_TIMEOUT_SECONDS = 5


def running_in_ci(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    maintenance_db: str

    @classmethod
    def from_environment(cls) -> "PostgresServer":
        return cls(
            host=os.environ.get("PGHOST", "127.0.0.1"),
            port=int(os.environ.get("PGPORT", "5432")),
            user=os.environ.get("PGUSER", "postgres"),
            password=os.environ.get("PGPASSWORD", ""),
            maintenance_db=os.environ.get("PGDATABASE", "postgres"),
        )

    def connect(self, dbname: str | None = None):
        import psycopg2  # installed with dagster-postgres (the `postgres` extra)

        connection = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.maintenance_db,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        return connection

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.maintenance_db}"


@dataclass(frozen=True)
class PostgresDatabase:
    server: PostgresServer
    name: str

    def connect(self):
        return self.server.connect(self.name)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with contextlib.closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def dagster_environment(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.server.host,
            "DAGSTER_PG_PORT": str(self.server.port),
            "DAGSTER_PG_USER": self.server.user,
            "DAGSTER_PG_PASSWORD": self.server.password,
            "DAGSTER_PG_DB": self.name,
        }


def _unreachable(server: PostgresServer, error: BaseException) -> None:
    message = f"PostgreSQL is not reachable at {server} ({type(error).__name__}: {str(error).strip()})"
    if running_in_ci():
        pytest.fail(f"{message}; CI is set, so the PostgreSQL tests must run: start PostgreSQL first", pytrace=False)
    pytest.skip(f"{message}; set PGHOST/PGPORT/PGUSER/PGPASSWORD to run the PostgreSQL tests")


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    server = PostgresServer.from_environment()
    try:
        import psycopg2
    except ImportError as error:  # the `postgres` extra is not installed
        _unreachable(server, error)
    try:
        server.connect().close()
    except psycopg2.Error as error:
        _unreachable(server, error)
    return server


@contextlib.contextmanager
def throwaway_database(server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A new, empty database, dropped (with its connections) on leaving."""
    # Unique, so parallel sessions (CI and a developer, two xdist workers) never share.
    name = f"jarkdown_test_{os.getpid()}_{secrets.token_hex(4)}"
    with contextlib.closing(server.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresDatabase(server, name)
    finally:
        with contextlib.closing(server.connect()) as connection, connection.cursor() as cursor:
            # FORCE (PostgreSQL 13+) ends connections a crashed run process may have left open.
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    with throwaway_database(postgres_server) as database:
        yield database


@pytest.fixture
def own_postgres_database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A database for this test alone (e.g. one a Dagster daemon runs against: it must see no other test's runs)."""
    with throwaway_database(postgres_server) as database:
        yield database


@dataclass(frozen=True)
class DagsterPostgresHome:
    path: Path
    database: PostgresDatabase

    @property
    def environment(self) -> dict[str, str]:
        """What a ``dagster`` process needs to use this instance."""
        return {"DAGSTER_HOME": str(self.path), **self.database.dagster_environment()}

    @property
    def dagster_yaml(self) -> Path:
        return self.path / "dagster.yaml"

    @contextlib.contextmanager
    def instance(self) -> Iterator["object"]:
        """The DagsterInstance of this home, opened in this process (variables set while open)."""
        import dagster as dg

        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.environment.items():
                patch.setenv(name, value)
            with dg.DagsterInstance.from_config(str(self.path)) as instance:
                yield instance


def set_pool_limits_as_deployed(home: DagsterPostgresHome) -> None:
    """The deployment step docs/DEPLOY.md prescribes: `dagster instance concurrency set jira_api N`.

    An explicit limit, because dagster-postgres 0.29.27 fails runs that race to create a pool's
    default limit (dagster-io/dagster#33552). N is the file's ``default_limit``.
    """
    import yaml

    from jarkdown_pipeline.orchestration.names import JIRA_POOL

    limit = int(yaml.safe_load(home.dagster_yaml.read_text())["concurrency"]["pools"]["default_limit"])
    with home.instance() as instance:
        instance.event_log_storage.set_concurrency_slots(JIRA_POOL, limit)


@pytest.fixture
def postgres_dagster_home(tmp_path: Path, postgres_database: PostgresDatabase) -> DagsterPostgresHome:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_DAGSTER_YAML, home / "dagster.yaml")
    deployed = DagsterPostgresHome(home, postgres_database)
    set_pool_limits_as_deployed(deployed)
    return deployed
