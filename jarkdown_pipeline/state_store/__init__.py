"""The knowledge base's state store: what runs need to know about each issue, in a database.

SQLite in ``.jarkdown/state.sqlite3`` by default, PostgreSQL when given a DSN (the deployment's
database, own schema), both behind ``StateStore``. The Markdown files and attachments stay the
product: the store is derived from them (``rebuild_from_files``), rebuilt when missing, never built
or damaged, and filled from today's sidecar files on the first run. No Dagster import.

How it is wired (plan for knowledge_base.py and sync.py; ``kb.store`` opened once per process by
``open_state_store(kb.root, dsn=settings.state_dsn)``, outside ``kb.lock()`` or with ``lock=nullcontext``):
- ``search_window_pages``: one ``get_issues(window keys)`` for every ``updated``, not ``stored_updated`` per key.
- ``fetch_issues.store_page`` (under the lock): after ``write_raw_issue``, one ``upsert_issues(page,
  fields={"issue_id", "updated", "state"})`` per bulk page (state "live" also restores); a fetch that finds the
  issue under a new key: the old key gets ``state="moved", moved_to=new``.
- ``write_attachment_manifest``: ``upsert_issues([...], fields={"attachments"})``.
- ``render_issue_file``: ``_current_render_record`` becomes ``get_issues([key])`` (render_inputs, size, mtime);
  after writing, ``upsert_issues`` with render_inputs, markdown_size, markdown_mtime_ns, index_row,
  link_targets and ``outgoing_issue_links(key, text)`` as local_links/jira_links (``rendered/KEY.json`` can go).
- ``raw_issue_keys`` / ``live_issue_keys`` (known keys, reconciliation): ``issue_keys()``.
- ``files_linking_to`` / ``files_linking_to_jira``: ``files_linking_to(keys, kind="local"|"jira")``
  (the caller drops ``skip``); the keys an issue mentions that are known: ``live_keys_among``.
- ``move_to_removed`` / ``restore_from_removed``: ``upsert_issues(..., fields={"state"})`` removed / live.
- ``index_rows`` / ``rebuild_index``: ``changes_since(last index revision)`` (``full``: all rows) and
  ``project_counts()`` for the split index; ``verify_issue_files``: ``rendered_files(keys)``.
- The checks of a run: the keys it wrote, plus ``files_linking_to`` of them; ``keys_updated_since`` for windows.
- A window's search (``window_search``): ``window_searches`` / ``record_window_searches`` per day.
- Reconciliation (daily): ``check_integrity()`` of a SQLite store; ``rebuild_from_files`` if it fails.
"""

import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jarkdown_pipeline._files import check_no_symlink, write_atomically
from jarkdown_pipeline.state_store.interface import (
    ISSUE_STATES,
    LINK_KINDS,
    RECORD_FIELDS,
    Changes,
    IndexChange,
    IssueRecord,
    RenderedFile,
    StateStore,
    StateStoreDamaged,
    StateStoreError,
    StateStoreOfAnotherKnowledgeBase,
    WindowSearchRecord,
)
from jarkdown_pipeline.state_store.postgres import DEFAULT_SCHEMA, PostgresStateStore
from jarkdown_pipeline.state_store.rebuild import RebuildResult, outgoing_issue_links, rebuild_from_files
from jarkdown_pipeline.state_store.sqlite import SqliteStateStore, move_aside

STATE_FILE = "state.sqlite3"
"""The SQLite store's file name, inside the knowledge base's ``.jarkdown/``."""

logger = logging.getLogger(__name__)
LockFactory = Callable[[], contextlib.AbstractContextManager[Any]]

__all__ = [
    "DEFAULT_SCHEMA",
    "ISSUE_STATES",
    "LINK_KINDS",
    "RECORD_FIELDS",
    "STATE_FILE",
    "Changes",
    "IndexChange",
    "IssueRecord",
    "PostgresStateStore",
    "RebuildResult",
    "RenderedFile",
    "SqliteStateStore",
    "StateStore",
    "StateStoreDamaged",
    "StateStoreError",
    "StateStoreOfAnotherKnowledgeBase",
    "WindowSearchRecord",
    "knowledge_base_id",
    "open_state_store",
    "outgoing_issue_links",
    "rebuild_from_files",
    "sqlite_path",
]


def sqlite_path(root: str | os.PathLike[str]) -> Path:
    """Where the SQLite store of the knowledge base at ``root`` lives."""
    from jarkdown_pipeline import knowledge_base

    return Path(root).resolve() / knowledge_base.STATE_DIR / STATE_FILE


def open_state_store(
    root: str | os.PathLike[str],
    dsn: str | None = None,
    *,
    schema: str = DEFAULT_SCHEMA,
    lock: "LockFactory | None" = None,
    full_check: bool = False,
) -> StateStore:
    """The state store of the knowledge base at ``root``, ready: PostgreSQL when ``dsn`` is given, else SQLite.

    A SQLite file that is not a usable database (``full_check``: any damaged page, a linear read) is
    moved aside; a store never built (new, or moved aside) is rebuilt from the files. Both happen
    under ``lock`` (default: the knowledge base's lock; pass ``contextlib.nullcontext`` if you hold it).
    """
    if lock is None:
        from jarkdown_pipeline import knowledge_base

        lock = knowledge_base.KnowledgeBase(root).lock
    store = PostgresStateStore(dsn, schema=schema) if dsn else _open_sqlite(sqlite_path(root), lock, full_check)
    try:
        _check_owner(store, root, lock)
        if not store.is_built():
            with lock():
                if not store.is_built():  # another process may have built it while this one waited
                    rebuild_from_files(store, root)
    except BaseException:
        store.close()
        raise
    return store


KNOWLEDGE_BASE_ID_FILE = "knowledge_base_id"
"""In ``.jarkdown/``: the knowledge base's id, which its state store records as its owner."""


def knowledge_base_id(root: str | os.PathLike[str], lock: LockFactory) -> int:
    """The id of the knowledge base at ``root``, made (random, written once) on first use."""
    path = sqlite_path(root).with_name(KNOWLEDGE_BASE_ID_FILE)
    text = _read_text_or_none(path)
    if text is None:
        with lock():
            text = _read_text_or_none(path)
            if text is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                text = str(secrets.randbits(62) or 1)
                write_atomically(check_no_symlink(Path(root).resolve(), path), (text + "\n").encode(), durable=True)
    try:
        return int(text.strip())
    except ValueError:
        raise StateStoreError(
            f"{path} is damaged ({text[:40]!r} is not a number): delete it, and the state store will be "
            "rebuilt for this knowledge base"
        ) from None


def _read_text_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def _check_owner(store: StateStore, root: str | os.PathLike[str], lock: LockFactory) -> None:
    """Refuse a store that another knowledge base owns; a store without an owner becomes this one's."""
    own = knowledge_base_id(root, lock)
    owner = store.claim_owner(own)
    if owner != own:
        raise StateStoreOfAnotherKnowledgeBase(
            f"the state store ({store!r}) holds another knowledge base's state (owner {owner}; the one at "
            f"{Path(root).resolve()} is {own}): give each knowledge base its own database (JARKDOWN_STATE_DSN), "
            "or drop this store's schema to have it rebuilt from this knowledge base's files"
        )


def _open_sqlite(path: Path, lock: "LockFactory", full_check: bool) -> SqliteStateStore:
    try:
        return _checked_sqlite(path, full_check)
    except StateStoreDamaged as first_error:
        with lock():
            try:  # another process may have replaced the file while this one waited for the lock
                return _checked_sqlite(path, full_check)
            except StateStoreDamaged:
                aside = move_aside(path)
                logger.warning("%s; moved it aside to %s, rebuilding it from the files", first_error, aside.name)
            return SqliteStateStore(path)


def _checked_sqlite(path: Path, full_check: bool) -> SqliteStateStore:
    store = SqliteStateStore(path)
    if full_check:
        try:
            store.check_integrity()
        except BaseException:
            store.close()
            raise
    return store
