"""Fixtures for the state store: the same tests against SQLite and the real PostgreSQL.

- `store_spec` (function, parametrised "sqlite" / "postgres"): a ``StoreSpec`` naming a new, empty store:
  a SQLite file in the test's folder, or a schema of its own in the session's throwaway PostgreSQL
  database (``postgres_database``: skipped without a server, failed under CI). ``spec.open()`` opens a
  connection to it; the spec is picklable, so other processes open the same store.
- `store` (function): ``store_spec.open()``, closed after the test.
- `kb_v1` (function): a copy of fixtures/kb_v1 (a knowledge base the sidecar-file version wrote) with
  its issue files' mtimes as their render records say, i.e. as that version left them.
"""

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jarkdown_pipeline._json import load_json
from jarkdown_pipeline.state_store import PostgresStateStore, SqliteStateStore, StateStore

KB_V1 = Path(__file__).resolve().parents[1] / "fixtures" / "kb_v1"


@dataclass(frozen=True)
class StoreSpec:
    backend: str
    """"sqlite" or "postgres"."""
    location: str
    """The SQLite file, or the PostgreSQL DSN."""
    schema: str = ""

    def open(self) -> StateStore:
        if self.backend == "sqlite":
            return SqliteStateStore(self.location)
        return PostgresStateStore(self.location, schema=self.schema)

    @property
    def dsn(self) -> str | None:
        """What ``open_state_store(root, dsn=...)`` takes for this store (None: the SQLite default)."""
        return self.location if self.backend == "postgres" else None


def postgres_dsn(database) -> str:
    server = database.server
    parts = {"host": server.host, "port": server.port, "user": server.user, "dbname": database.name}
    if server.password:
        parts["password"] = server.password
    return " ".join(f"{name}={value}" for name, value in parts.items())


def new_store_spec(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreSpec:
    if backend == "sqlite":
        return StoreSpec("sqlite", str(tmp_path / "state.sqlite3"))
    database = request.getfixturevalue("postgres_database")
    return StoreSpec("postgres", postgres_dsn(database), schema=f"state_{secrets.token_hex(4)}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return new_store_spec(request.param, tmp_path, request)


@pytest.fixture
def store(store_spec: StoreSpec) -> Iterator[StateStore]:
    opened = store_spec.open()
    try:
        yield opened
    finally:
        opened.close()


def restore_recorded_mtimes(root: Path) -> None:
    """Give each issue file the mtime its render record holds (git does not keep mtimes)."""
    for state_dir in (root / ".jarkdown", root / "_removed" / ".jarkdown"):
        for record_path in sorted((state_dir / "rendered").glob("*.json")):
            record = load_json(record_path.read_bytes())
            markdown = state_dir.parent / record_path.stem / f"{record_path.stem}.md"
            if markdown.is_file() and markdown.stat().st_size == record["markdown_size"]:
                os.utime(markdown, ns=(record["markdown_mtime_ns"], record["markdown_mtime_ns"]))


@pytest.fixture
def kb_v1(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(KB_V1, root)
    restore_recorded_mtimes(root)
    return root
