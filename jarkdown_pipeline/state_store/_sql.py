"""The SQL both backends share: schema, migrations and every query (written with ``?`` placeholders).

Revisions: every write transaction first bumps the one ``revision`` counter row. That row's lock is
held until the commit, so writers are serialized and revisions commit in order: a reader that saw
revision N has seen every row written at N or before (what an incremental index relies on).
"""

import abc
import contextlib
import secrets
from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from jarkdown_pipeline._json import dump_json, load_json
from jarkdown_pipeline.issue_keys import check_issue_key, issue_sort_key
from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.state_store.interface import (
    ISSUE_STATES,
    LINK_KINDS,
    RECORD_FIELDS,
    Changes,
    IndexChange,
    IssueRecord,
    IssueStateName,
    LinkKind,
    RenderedFile,
    StateStore,
    StateStoreError,
    WindowSearchRecord,
)

SCHEMA_VERSION = 4
BATCH_SIZE = 500  # keys per IN (...) list and rows per batch: under every backend's parameter limit

# Each migration: the statements that take the schema from the previous version to this one.
# ``{t}`` is the table-name prefix (a PostgreSQL schema, nothing for SQLite).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE {t}counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO {t}counters (name, value) VALUES ('revision', 0), ('rebuilt_revision', -1)",
        """CREATE TABLE {t}issues (
            issue_key TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            issue_id TEXT,
            updated TEXT,
            updated_utc TEXT,
            state TEXT NOT NULL CHECK (state IN ('live', 'removed', 'moved')),
            moved_to TEXT,
            render_inputs TEXT,
            markdown_size BIGINT,
            markdown_mtime_ns BIGINT,
            index_row TEXT,
            link_targets TEXT NOT NULL,
            attachments TEXT NOT NULL,
            revision BIGINT NOT NULL
        )""",
        "CREATE INDEX issues_revision ON {t}issues (revision)",
        "CREATE INDEX issues_state_updated ON {t}issues (state, updated_utc)",
        "CREATE INDEX issues_state_project ON {t}issues (state, project)",
        """CREATE TABLE {t}links (
            source_key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('local', 'jira')),
            target_key TEXT NOT NULL,
            PRIMARY KEY (source_key, kind, target_key)
        )""",
        "CREATE INDEX links_target ON {t}links (target_key, kind)",
    ),
    # Moves are found by the issue's id (the key changes, the id stays).
    2: ("CREATE INDEX issues_issue_id ON {t}issues (issue_id)",),
    # An issue's parent (Children sections from the children's side), and when a parent's children
    # last changed. The parents are in the files only: the store is rebuilt from them on next open.
    3: (
        "ALTER TABLE {t}issues ADD COLUMN parent_key TEXT",
        "ALTER TABLE {t}issues ADD COLUMN children_revision BIGINT",
        "CREATE INDEX issues_parent ON {t}issues (parent_key)",
        "CREATE INDEX issues_children_revision ON {t}issues (children_revision)",
        "UPDATE {t}counters SET value = -1 WHERE name = 'rebuilt_revision'",
    ),
    # What the last complete search of each day's window saw: the next run searches only what changed.
    4: (
        """CREATE TABLE {t}window_searches (
            scope TEXT NOT NULL,
            day TEXT NOT NULL,
            watermark TEXT,
            context_digest TEXT NOT NULL,
            full_search_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (scope, day)
        )""",
    ),
}

# IssueRecord field -> the issues columns it is stored in (links live in their own table).
_FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "issue_id": ("issue_id",),
    "updated": ("updated", "updated_utc"),
    "state": ("state", "moved_to"),
    "moved_to": ("state", "moved_to"),  # one without the other could contradict itself
    "render_inputs": ("render_inputs",),
    "markdown_size": ("markdown_size",),
    "markdown_mtime_ns": ("markdown_mtime_ns",),
    "index_row": ("index_row",),
    "link_targets": ("link_targets",),
    "attachments": ("attachments",),
    "local_links": (),
    "jira_links": (),
    "parent_key": ("parent_key",),
}
_RECORD_COLUMNS = tuple(dict.fromkeys(column for columns in _FIELD_COLUMNS.values() for column in columns))
_COLUMNS = ("issue_key", "project", *_RECORD_COLUMNS, "revision")
_SELECT_COLUMNS = ", ".join(_COLUMNS[:-1])


def utc_sort_key(updated: str | None) -> str | None:
    """Jira's ``updated`` (any offset) as a UTC string that sorts as time does; None if not a timestamp."""
    from jarkdown_pipeline import knowledge_base  # at call time: knowledge_base may import this package

    moment = knowledge_base.parse_jira_timestamp(updated)
    return None if moment is None else _utc_text(moment)


def _utc_text(moment: datetime) -> str:
    """An aware datetime as fixed-width UTC text: ordered as text the way the instants are."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_text(value: Any) -> str | None:
    return None if value is None else dump_json(value).decode("utf-8")


def _json_value(text: str | None) -> Any:
    return None if text is None else load_json(text)


def _row_values(record: IssueRecord, revision: int) -> tuple[Any, ...]:
    return (
        record.key,
        record.project,
        record.issue_id,
        record.updated,
        utc_sort_key(record.updated),
        record.state,
        record.moved_to,
        record.render_inputs,
        record.markdown_size,
        record.markdown_mtime_ns,
        _json_text(dict(record.index_row) if record.index_row is not None else None),
        _json_text(list(record.link_targets)),
        _json_text([dict(entry) for entry in record.attachments]),
        record.parent_key,
        revision,
    )


# What a parent's Children section shows of a child (besides its key): from the child's index row.
CHILD_FACTS = ("summary", "status", "type")
# Record fields whose change can change a parent's Children section.
_CHILD_FIELDS = frozenset({"state", "moved_to", "parent_key", "index_row"})


def _child_facts(state: str, parent: str | None, index_row: Any) -> tuple[Any, ...] | None:
    """What a parent's Children section shows of an issue: None unless it is a live child."""
    if state != "live" or parent is None:
        return None
    row = index_row if isinstance(index_row, dict) else {}
    return (parent, *(row.get(name) for name in CHILD_FACTS))


def _chunks(items: Iterable[Any], size: int = BATCH_SIZE) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def _sorted_keys(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=issue_sort_key)


class SqlStateStore(StateStore):
    """The StateStore over a DB-API connection; a backend gives the transactions and the dialect."""

    table_prefix = ""

    # -- what a backend provides ---------------------------------------------------------------
    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractContextManager[Any]:
        """A write transaction (serialized with every other writer); yields a cursor."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractContextManager[Any]:
        """A read-only transaction on one snapshot; yields a cursor."""

    def _sql(self, statement: str) -> str:
        """The statement in the backend's dialect (placeholders, table prefix)."""
        return statement.replace("{t}", self.table_prefix)

    def _execute_many(self, cursor: Any, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        cursor.executemany(self._sql(statement), rows)

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self, cursor: Any) -> None:
        """Bring the schema to SCHEMA_VERSION inside the caller's write transaction."""
        cursor.execute(self._sql("CREATE TABLE IF NOT EXISTS {t}schema_version (version INTEGER NOT NULL)"))
        cursor.execute(self._sql("SELECT version FROM {t}schema_version"))
        row = cursor.fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise StateStoreError(
                f"the state store's schema is version {version}, newer than this code's {SCHEMA_VERSION}: "
                "upgrade jarkdown-pipeline, or delete the store to rebuild it from the files"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                cursor.execute(self._sql(statement))
        if row is None:
            cursor.execute(self._sql("INSERT INTO {t}schema_version (version) VALUES (?)"), (SCHEMA_VERSION,))
        elif version != SCHEMA_VERSION:
            cursor.execute(self._sql("UPDATE {t}schema_version SET version = ?"), (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        with self._read() as cursor:
            cursor.execute(self._sql("SELECT version FROM {t}schema_version"))
            return int(cursor.fetchone()[0])

    # -- counters -------------------------------------------------------------------------------
    def _next_revision(self, cursor: Any) -> int:
        # Taking the counter row's lock first serializes writers (see the module docstring).
        cursor.execute(self._sql("UPDATE {t}counters SET value = value + 1 WHERE name = 'revision'"))
        return self._counter(cursor, "revision")

    def _counter(self, cursor: Any, name: str) -> int:
        cursor.execute(self._sql("SELECT value FROM {t}counters WHERE name = ?"), (name,))
        return int(cursor.fetchone()[0])

    def current_revision(self) -> int:
        with self._read() as cursor:
            return self._counter(cursor, "revision")

    def is_built(self) -> bool:
        with self._read() as cursor:
            return self._counter(cursor, "rebuilt_revision") >= 0

    # -- writes ---------------------------------------------------------------------------------
    def upsert_issues(self, records: Iterable[IssueRecord], *, fields: Collection[str] | None = None) -> int:
        chosen = RECORD_FIELDS if fields is None else tuple(fields)
        unknown = sorted(set(chosen) - set(RECORD_FIELDS))
        if unknown:
            raise ValueError(f"upsert_issues: unknown fields {unknown}; known: {', '.join(RECORD_FIELDS)}")
        records = list(records)
        if not records:
            return self.current_revision()
        updated_columns = [c for c in _COLUMNS[2:-1] if any(c in _FIELD_COLUMNS[name] for name in chosen)]
        set_clause = ", ".join(f"{column} = excluded.{column}" for column in [*updated_columns, "revision"])
        statement = (
            f"INSERT INTO {{t}}issues ({', '.join(_COLUMNS)}) VALUES ({_placeholders(len(_COLUMNS))}) "
            f"ON CONFLICT (issue_key) DO UPDATE SET {set_clause}"
        )
        with self._write() as cursor:
            revision = self._next_revision(cursor)
            for chunk in _chunks(records):
                before = self._child_states(cursor, chunk) if _CHILD_FIELDS.intersection(chosen) else None
                self._execute_many(cursor, statement, [_row_values(record, revision) for record in chunk])
                if before is not None:
                    self._mark_parents(cursor, before, self._child_states(cursor, chunk), revision)
                for kind in LINK_KINDS:
                    if f"{kind}_links" in chosen:
                        self._replace_links(cursor, chunk, kind)
            return revision

    def _child_states(self, cursor: Any, records: Sequence[IssueRecord]) -> dict[str, tuple[Any, ...] | None]:
        """Of each of ``records``' keys the store has: what its parent's Children section shows of it."""
        marks = _placeholders(len(records))
        statement = f"SELECT issue_key, state, parent_key, index_row FROM {{t}}issues WHERE issue_key IN ({marks})"
        cursor.execute(self._sql(statement), [record.key for record in records])
        return {key: _child_facts(state, parent, _json_value(row)) for key, state, parent, row in cursor.fetchall()}

    def _mark_parents(
        self,
        cursor: Any,
        before: dict[str, tuple[Any, ...] | None],
        after: dict[str, tuple[Any, ...] | None],
        revision: int,
    ) -> None:
        """Note ``revision`` on the parents whose children these writes changed (the old parent and the new)."""
        parents = set()
        for key, now in after.items():
            was = before.get(key)
            if was != now:
                parents.update(facts[0] for facts in (was, now) if facts is not None)
        for chunk in _chunks(sorted(parents)):
            statement = f"UPDATE {{t}}issues SET children_revision = ? WHERE issue_key IN ({_placeholders(len(chunk))})"
            cursor.execute(self._sql(statement), [revision, *chunk])

    def _replace_links(self, cursor: Any, records: Sequence[IssueRecord], kind: str, *, had_links: bool = True) -> None:
        if had_links:
            sources = [(record.key, kind) for record in records]
            self._execute_many(cursor, "DELETE FROM {t}links WHERE source_key = ? AND kind = ?", sources)
        rows = [(record.key, kind, target) for record in records for target in sorted(getattr(record, f"{kind}_links"))]
        if rows:
            insert = "INSERT INTO {t}links (source_key, kind, target_key) VALUES (?, ?, ?)"
            self._execute_many(cursor, insert, rows)

    def replace_all(self, records: Iterable[IssueRecord]) -> int:
        statement = f"INSERT INTO {{t}}issues ({', '.join(_COLUMNS)}) VALUES ({_placeholders(len(_COLUMNS))})"
        with self._write() as cursor:
            revision = self._next_revision(cursor)
            cursor.execute(self._sql("DELETE FROM {t}links"))
            cursor.execute(self._sql("DELETE FROM {t}issues"))
            cursor.execute(self._sql("DELETE FROM {t}window_searches"))  # what they saw may be lost
            for chunk in _chunks(records):  # streamed: a rebuild of a million issues holds one chunk
                self._execute_many(cursor, statement, [_row_values(record, revision) for record in chunk])
                for kind in LINK_KINDS:
                    self._replace_links(cursor, chunk, kind, had_links=False)  # all deleted above
            cursor.execute(self._sql("UPDATE {t}counters SET value = ? WHERE name = 'rebuilt_revision'"), (revision,))
            epoch = secrets.randbits(62) or 1
            cursor.execute(self._sql("DELETE FROM {t}counters WHERE name = 'epoch'"))
            cursor.execute(self._sql("INSERT INTO {t}counters (name, value) VALUES ('epoch', ?)"), (epoch,))
            return revision

    def claim_owner(self, owner: int) -> int:
        with self._write() as cursor:
            # Two processes claiming a new store at once: the first insert wins, both read it back.
            insert = "INSERT INTO {t}counters (name, value) VALUES ('owner', ?) ON CONFLICT (name) DO NOTHING"
            cursor.execute(self._sql(insert), (owner,))
            return self._counter(cursor, "owner")

    # -- reads ----------------------------------------------------------------------------------
    def get_issues(self, keys: Iterable[str]) -> dict[str, IssueRecord]:
        wanted = sorted({check_issue_key(key) for key in keys})
        rows: dict[str, tuple[Any, ...]] = {}
        links: dict[tuple[str, str], set[str]] = {}
        with self._read() as cursor:
            for chunk in _chunks(wanted):
                marks = _placeholders(len(chunk))
                statement = f"SELECT {_SELECT_COLUMNS} FROM {{t}}issues WHERE issue_key IN ({marks})"
                cursor.execute(self._sql(statement), chunk)
                rows.update((row[0], row) for row in cursor.fetchall())
                statement = f"SELECT source_key, kind, target_key FROM {{t}}links WHERE source_key IN ({marks})"
                cursor.execute(self._sql(statement), chunk)
                for source, kind, target in cursor.fetchall():
                    links.setdefault((source, kind), set()).add(target)
        return {key: _record_of(row, links) for key, row in rows.items()}

    def rendered_files(self, keys: Iterable[str]) -> dict[str, RenderedFile]:
        wanted = sorted({check_issue_key(key) for key in keys})
        found: dict[str, RenderedFile] = {}
        with self._read() as cursor:
            for chunk in _chunks(wanted):
                statement = (
                    "SELECT issue_key, markdown_size, markdown_mtime_ns, render_inputs, index_row, link_targets "
                    f"FROM {{t}}issues WHERE issue_key IN ({_placeholders(len(chunk))})"
                )
                cursor.execute(self._sql(statement), chunk)
                for key, size, mtime, inputs, index_row, link_targets in cursor.fetchall():
                    found[key] = RenderedFile(
                        markdown_size=None if size is None else int(size),
                        markdown_mtime_ns=None if mtime is None else int(mtime),
                        render_inputs=inputs,
                        index_row=_json_value(index_row),
                        link_targets=tuple(load_json(link_targets)),
                    )
        return found

    def issue_keys(self, *, state: IssueStateName = "live", project: str | None = None) -> list[str]:
        if state not in ISSUE_STATES:
            raise ValueError(f"state must be one of {ISSUE_STATES}, not {state!r}")
        statement, parameters = "SELECT issue_key FROM {t}issues WHERE state = ?", [state]
        if project is not None:
            statement, parameters = statement + " AND project = ?", [state, project]
        with self._read() as cursor:
            cursor.execute(self._sql(statement), parameters)
            return _sorted_keys(row[0] for row in cursor.fetchall())

    def live_keys_of_ids(self, issue_ids: Iterable[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._read() as cursor:
            for chunk in _chunks(sorted({str(issue_id) for issue_id in issue_ids})):
                marks = _placeholders(len(chunk))
                statement = (
                    f"SELECT issue_id, issue_key FROM {{t}}issues WHERE state = 'live' AND issue_id IN ({marks})"
                )
                cursor.execute(self._sql(statement), chunk)
                for issue_id, key in sorted(cursor.fetchall(), key=lambda row: issue_sort_key(row[1])):
                    found.setdefault(issue_id, key)
        return found

    def live_keys_among(self, keys: Iterable[str]) -> set[str]:
        found: set[str] = set()
        with self._read() as cursor:
            for chunk in _chunks(IssueKeySet(check_issue_key(key) for key in keys)):
                marks = _placeholders(len(chunk))
                statement = f"SELECT issue_key FROM {{t}}issues WHERE state = 'live' AND issue_key IN ({marks})"
                cursor.execute(self._sql(statement), chunk)
                found.update(row[0] for row in cursor.fetchall())
        return found

    def keys_updated_since(self, moment: datetime) -> list[str]:
        if moment.tzinfo is None:
            raise ValueError(f"keys_updated_since needs an aware datetime (with a time zone), not {moment!r}")
        statement = "SELECT issue_key FROM {t}issues WHERE state = 'live' AND updated_utc >= ?"
        with self._read() as cursor:
            cursor.execute(self._sql(statement), (_utc_text(moment),))
            return _sorted_keys(row[0] for row in cursor.fetchall())

    def changes_since(self, revision: int, *, project: str | None = None) -> Changes:
        with self._read() as cursor:
            now = self._counter(cursor, "revision")
            full = revision <= 0 or revision < self._counter(cursor, "rebuilt_revision") or revision > now
            cursor.execute(self._sql("SELECT value FROM {t}counters WHERE name = 'epoch'"))
            epoch_row = cursor.fetchone()
            statement = "SELECT issue_key, state, index_row FROM {t}issues WHERE revision > ?"
            parameters: list[Any] = [0 if full else revision]
            if project is not None:
                statement, parameters = statement + " AND project = ?", [*parameters, project]
            cursor.execute(self._sql(statement), parameters)
            rows = [IndexChange(key, state, _json_value(row)) for key, state, row in cursor.fetchall()]
        rows.sort(key=lambda change: issue_sort_key(change.key))
        return Changes(revision=now, full=full, rows=rows, epoch=0 if epoch_row is None else int(epoch_row[0]))

    def keys_changed_since(self, revision: int, *, excluding: Container[str] = ()) -> set[str]:
        with self._read() as cursor:
            cursor.execute(self._sql("SELECT issue_key FROM {t}issues WHERE revision > ?"), (max(revision, 0),))
            return {row[0] for row in cursor if row[0] not in excluding}

    def files_linking_to(self, keys: Iterable[str], *, kind: LinkKind = "local") -> list[str]:
        if kind not in LINK_KINDS:
            raise ValueError(f"kind must be one of {LINK_KINDS}, not {kind!r}")
        found: set[str] = set()
        with self._read() as cursor:
            for chunk in _chunks(IssueKeySet(check_issue_key(key) for key in keys)):
                cursor.execute(
                    self._sql(
                        # CROSS JOIN: SQLite then starts from the links' target index. With a plain JOIN
                        # its planner walked every live issue for each chunk (seconds per chunk at 100k).
                        "SELECT DISTINCT l.source_key FROM {t}links l CROSS JOIN {t}issues i "
                        "WHERE i.issue_key = l.source_key AND l.kind = ? AND i.state = 'live' "
                        f"AND l.target_key IN ({_placeholders(len(chunk))})"
                    ),
                    [kind, *chunk],
                )
                found.update(row[0] for row in cursor.fetchall())
        return _sorted_keys(found)

    def children_of(self, keys: Iterable[str]) -> dict[str, list[tuple[str, Mapping[str, Any] | None]]]:
        found: dict[str, list[tuple[str, Mapping[str, Any] | None]]] = {}
        with self._read() as cursor:
            for chunk in _chunks(sorted({check_issue_key(key) for key in keys})):
                # The state is tested here, not in SQL: the planner then has only the parent index to use.
                statement = (
                    "SELECT parent_key, issue_key, index_row, state FROM {t}issues "
                    f"WHERE parent_key IN ({_placeholders(len(chunk))})"
                )
                cursor.execute(self._sql(statement), chunk)
                for parent, key, row, state in cursor.fetchall():
                    if state == "live":
                        found.setdefault(parent, []).append((key, _json_value(row)))
        return {
            parent: sorted(children, key=lambda child: issue_sort_key(child[0])) for parent, children in found.items()
        }

    def parents_with_children_changed_since(self, revision: int) -> list[str]:
        statement = "SELECT issue_key, state FROM {t}issues WHERE children_revision > ?"  # by its index alone
        with self._read() as cursor:
            cursor.execute(self._sql(statement), (max(revision, 0),))
            return _sorted_keys(key for key, state in cursor.fetchall() if state == "live")

    def window_searches(self, scope: str, days: Iterable[str]) -> dict[str, WindowSearchRecord]:
        found: dict[str, WindowSearchRecord] = {}
        with self._read() as cursor:
            for chunk in _chunks(sorted(set(days))):
                select = (
                    "SELECT day, watermark, context_digest, full_search_at FROM {t}window_searches "
                    f"WHERE scope = ? AND day IN ({_placeholders(len(chunk))})"
                )
                cursor.execute(self._sql(select), (scope, *chunk))
                found.update((row[0], _window_search_of(row)) for row in cursor.fetchall())
        return found

    def record_window_searches(self, scope: str, records: Iterable[WindowSearchRecord]) -> None:
        upsert = (
            "INSERT INTO {t}window_searches (scope, day, watermark, context_digest, full_search_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, day) DO UPDATE SET watermark = excluded.watermark, "
            "context_digest = excluded.context_digest, full_search_at = excluded.full_search_at"
        )
        rows = [
            (scope, r.day, None if r.watermark is None else _utc_text(r.watermark), r.context_digest, r.full_search_at)
            for r in records
        ]
        with self._write() as cursor:
            for chunk in _chunks(rows):
                self._execute_many(cursor, upsert, chunk)

    def project_counts(self) -> dict[str, int]:
        with self._read() as cursor:
            cursor.execute(self._sql("SELECT project, COUNT(*) FROM {t}issues WHERE state = 'live' GROUP BY project"))
            return {project: int(count) for project, count in sorted(cursor.fetchall())}


def _window_search_of(row: Sequence[Any]) -> WindowSearchRecord:
    day, watermark, context_digest, full_search_at = row
    moment = None if watermark is None else datetime.strptime(watermark, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return WindowSearchRecord(day, moment, context_digest, float(full_search_at))


def _record_of(row: Sequence[Any], links: dict[tuple[str, str], set[str]]) -> IssueRecord:
    (
        key,
        _project,
        issue_id,
        updated,
        _updated_utc,
        state,
        moved_to,
        render_inputs,
        size,
        mtime,
        index_row,
        link_targets,
        attachments,
        parent_key,
    ) = row
    return IssueRecord(
        key=key,
        issue_id=issue_id,
        updated=updated,
        state=state,
        moved_to=moved_to,
        render_inputs=render_inputs,
        markdown_size=None if size is None else int(size),
        markdown_mtime_ns=None if mtime is None else int(mtime),
        index_row=_json_value(index_row),
        link_targets=tuple(load_json(link_targets)),
        attachments=tuple(load_json(attachments)),
        local_links=frozenset(links.get((key, "local"), ())),
        jira_links=frozenset(links.get((key, "jira"), ())),
        parent_key=parent_key,
    )
