"""The state store in a SQLite file inside ``.jarkdown/`` (standard library, WAL, zero set-up).

Several processes may write at once: WAL lets readers run beside the one writer, every write
transaction starts with ``BEGIN IMMEDIATE`` (it takes the write lock up front, so two readers never
deadlock upgrading), and the busy timeout makes a writer wait for the lock instead of failing with
"database is locked". Keep the file on a local disk: SQLite's locks are not safe on network volumes.
"""

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jarkdown_pipeline.state_store._sql import SqlStateStore
from jarkdown_pipeline.state_store.interface import StateStoreDamaged, StateStoreError

BUSY_TIMEOUT_SECONDS = 60.0
# What SQLite says of a file that is not (or no longer) a database; "locked"/"busy" are not damage.
_DAMAGE_MESSAGES = ("file is not a database", "malformed", "disk image", "file is encrypted", "unsupported file format")


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether ``error`` says the file is damaged (as opposed to busy, locked or misused)."""
    message = str(error).lower()
    return any(text in message for text in _DAMAGE_MESSAGES)


class SqliteStateStore(SqlStateStore):
    """A StateStore in one SQLite file; raises StateStoreDamaged when the file is not a usable database."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout = busy_timeout
        # Autocommit mode (isolation_level=None): transactions are begun explicitly, as this module says.
        # check_same_thread off: a run's stages use the store from worker threads, and the lock below
        # keeps one transaction at a time on the shared connection (two would commit each other's work).
        self._connection_lock = threading.RLock()
        self._connection = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            with self._translated_errors():
                self._set_up()
        except BaseException:
            self._connection.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStateStore({str(self.path)!r})"

    def _set_up(self) -> None:
        self._connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        self._enable_wal()
        # The store is derived from the files: losing the last transactions to a power cut is
        # repaired by the next run; NORMAL never corrupts a WAL database and saves an fsync per commit.
        self._connection.execute("PRAGMA synchronous = NORMAL")
        with self._write() as cursor:
            self._migrate(cursor)

    def _enable_wal(self) -> None:
        # Switching a new file to WAL needs a moment with no other connection in a transaction;
        # processes opening the same new file at once may see "locked" here despite the busy timeout.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                mode = self._connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if str(mode).lower() != "wal":
            raise StateStoreError(f"{self.path}: SQLite would not use write-ahead logging (journal mode {mode!r})")

    @contextlib.contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as error:
            if is_damage(error):
                raise StateStoreDamaged(f"{self.path} is damaged ({error}); rebuild it from the files") from error
            raise StateStoreError(f"{self.path}: {error}") from error

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[Any]:
        with self._connection_lock, self._translated_errors():
            cursor = self._connection.cursor()
            cursor.execute(begin)
            try:
                yield cursor
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # a damaged file may not even roll back
                    self._connection.rollback()
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> contextlib.AbstractContextManager[Any]:
        return self._transaction("BEGIN")

    def check_integrity(self) -> None:
        """Read every page (``PRAGMA quick_check``, linear in the file's size); StateStoreDamaged if any is bad."""
        with self._read() as cursor:
            problems = [row[0] for row in cursor.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            shown = "; ".join(problems[:3])
            raise StateStoreDamaged(f"{self.path} is damaged ({shown}); rebuild it from the files")

    def close(self) -> None:
        self._connection.close()


def move_aside(path: Path) -> Path:
    """Rename a damaged store file (and its WAL and shared-memory files) out of the way; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    return aside
