"""What differs between the backends: layering, connection errors, SQLite's file and pragmas."""

import subprocess
import sys

import pytest

from jarkdown_pipeline.state_store import PostgresStateStore, SqliteStateStore, StateStoreError


def test_the_state_store_does_not_import_dagster():
    code = "import sys, jarkdown_pipeline.state_store; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unreachable_postgres_is_a_clear_error_without_the_password():
    with pytest.raises(StateStoreError, match="cannot connect to the PostgreSQL state store") as caught:
        PostgresStateStore("host=127.0.0.1 port=1 user=jarkdown password=s3cret-value dbname=nothing")
    assert "s3cret-value" not in str(caught.value) and "s3cret-value" not in repr(caught.value.__cause__)


def test_a_schema_name_that_is_not_plain_is_refused():
    with pytest.raises(ValueError, match="not a usable PostgreSQL schema name"):
        PostgresStateStore("host=127.0.0.1", schema='x"; DROP TABLE y; --')


def test_sqlite_uses_write_ahead_logging_and_a_busy_timeout(tmp_path):
    with SqliteStateStore(tmp_path / ".jarkdown" / "state.sqlite3") as store:
        assert store._connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._connection.execute("PRAGMA busy_timeout").fetchone()[0] == 60_000
    assert (tmp_path / ".jarkdown" / "state.sqlite3").is_file()
