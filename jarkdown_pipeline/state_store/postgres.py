"""The state store in PostgreSQL (psycopg2, from the ``postgres`` extra), for deployments that have one.

Its tables live in their own schema (default ``jarkdown_state``), so they can share the Dagster
deployment's database without meeting Dagster's tables. Writes run at READ COMMITTED and are
serialized by the revision counter's row lock (see ``_sql``); reads run on one REPEATABLE READ snapshot.
"""

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from jarkdown_pipeline.state_store._sql import BATCH_SIZE, SqlStateStore
from jarkdown_pipeline.state_store.interface import StateStoreError

DEFAULT_SCHEMA = "jarkdown_state"
CONNECT_TIMEOUT_SECONDS = 10
_SCHEMA_NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# pg_advisory_xact_lock key of the schema migration: two processes creating the schema at once queue.
_MIGRATION_LOCK = 0x6A61726B  # "jark"


def _psycopg2() -> Any:
    try:
        import psycopg2
        import psycopg2.extras
    except ImportError as error:
        raise StateStoreError(
            "a PostgreSQL state store needs psycopg2: install the postgres extra "
            "(pip install 'jarkdown-pipeline[postgres]')"
        ) from error
    return psycopg2


class PostgresStateStore(SqlStateStore):
    """A StateStore in PostgreSQL schema ``schema`` of the database ``dsn`` names (a libpq connection string or URL)."""

    def __init__(self, dsn: str, *, schema: str = DEFAULT_SCHEMA) -> None:
        if not _SCHEMA_NAME_RE.fullmatch(schema):
            raise ValueError(f"not a usable PostgreSQL schema name: {schema!r} (lower-case letters, digits, _)")
        self.schema = schema
        self.table_prefix = f'"{schema}".'
        self._psycopg2 = _psycopg2()
        # Worker threads share the connection: one transaction at a time, or they would commit each other's work.
        self._connection_lock = threading.RLock()
        try:
            self._connection = self._psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except self._psycopg2.Error as error:
            # libpq's message names host and database, never the password.
            raise StateStoreError(f"cannot connect to the PostgreSQL state store: {str(error).strip()}") from None
        try:
            with self._write() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                self._migrate(cursor)
        except BaseException:
            self._connection.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStateStore(schema={self.schema!r})"

    def _sql(self, statement: str) -> str:
        return super()._sql(statement).replace("?", "%s")

    def _execute_many(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        # executemany would be one round trip per row; execute_batch sends them in pages.
        self._psycopg2.extras.execute_batch(cursor, self._sql(statement), rows, page_size=BATCH_SIZE)

    @contextlib.contextmanager
    def _transaction(self, first_statement: str | None) -> Iterator[Any]:
        try:
            with self._connection_lock, self._connection, self._connection.cursor() as cursor:  # commits or rolls back
                if first_statement is not None:
                    cursor.execute(first_statement)
                yield cursor
        except self._psycopg2.Error as error:
            raise StateStoreError(f"PostgreSQL state store: {str(error).strip()}") from error

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        return self._transaction(None)  # the connection's default: READ COMMITTED

    def _read(self) -> contextlib.AbstractContextManager[Any]:
        return self._transaction("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def close(self) -> None:
        self._connection.close()
