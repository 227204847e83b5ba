"""What a run needs to know about each issue, and the one interface both backends implement."""

import abc
import dataclasses
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jarkdown_pipeline.exceptions import JarkdownError
from jarkdown_pipeline.issue_keys import check_issue_key

IssueStateName = Literal["live", "removed", "moved"]
ISSUE_STATES: tuple[str, ...] = ("live", "removed", "moved")
LinkKind = Literal["local", "jira"]
LINK_KINDS: tuple[str, ...] = ("local", "jira")


class StateStoreError(JarkdownError):
    """The state store cannot be used: unreachable, a schema newer than this code, bad input."""


class StateStoreOfAnotherKnowledgeBase(StateStoreError):
    """The store holds another knowledge base's state (two knowledge bases on one PostgreSQL schema):
    using it would list, link and remove the other's issues as this one's."""


class StateStoreDamaged(StateStoreError):
    """The store's file is not a usable database (corrupt, truncated, not SQLite): rebuild it from the files."""


@dataclass(frozen=True)
class IssueRecord:
    """One issue as the knowledge base holds it (every field but ``key`` may be unknown: None / empty)."""

    key: str
    issue_id: str | None = None
    """Jira's numeric id, as a string (stays the same when the issue moves to another key)."""
    updated: str | None = None
    """``fields.updated`` of the stored raw JSON, as Jira wrote it (with its offset)."""
    state: IssueStateName = "live"
    moved_to: str | None = None
    """The issue's new key when ``state`` is "moved"."""
    render_inputs: str | None = None
    """The digest of what ``KEY/KEY.md`` was rendered from (``render_issue_file``'s ``inputs``)."""
    markdown_size: int | None = None
    markdown_mtime_ns: int | None = None
    """Size and mtime of ``KEY/KEY.md`` as written: while the file still has them, the rest is trusted."""
    index_row: Mapping[str, Any] | None = None
    """The file's INDEX_ROW_FIELDS (markdown/index.py)."""
    link_targets: tuple[str, ...] = ()
    """The relative link targets written in the file (resolved by the checks without reading it)."""
    attachments: tuple[Mapping[str, Any], ...] = ()
    """The attachment manifest's entries (attachment_id, filename, original_filename, mime_type, size, path)."""
    local_links: frozenset[str] = frozenset()
    """Keys whose files this issue's file links to (``../KEY/KEY.md``)."""
    jira_links: frozenset[str] = frozenset()
    """Keys this issue's file links to in Jira (``.../browse/KEY``), its own key left out."""
    parent_key: str | None = None
    """The issue its file names as its parent (frontmatter ``parent``, else ``epic``): that issue's
    Children section lists this one (``children_of``)."""

    def __post_init__(self) -> None:
        check_issue_key(self.key)
        if self.state not in ISSUE_STATES:
            raise ValueError(f"{self.key}: state must be one of {ISSUE_STATES}, not {self.state!r}")
        if (self.state == "moved") != (self.moved_to is not None):
            raise ValueError(
                f"{self.key}: moved_to is given exactly when the state is 'moved' ({self.state!r}, {self.moved_to!r})"
            )
        for key in (*self.local_links, *self.jira_links, *((self.moved_to,) if self.moved_to else ())):
            check_issue_key(key)
        if self.parent_key is not None and check_issue_key(self.parent_key) == self.key:
            raise ValueError(f"{self.key}: an issue is not its own parent")

    @property
    def project(self) -> str:
        return self.key.rpartition("-")[0]


@dataclass(frozen=True, slots=True)
class RenderedFile:
    """What the store recorded of an issue file as it was rendered (``StateStore.rendered_files``):
    while the file keeps this size and mtime, its render inputs, index row and link targets hold."""

    markdown_size: int | None
    markdown_mtime_ns: int | None
    render_inputs: str | None
    index_row: Mapping[str, Any] | None
    link_targets: tuple[str, ...]


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(IssueRecord) if f.name != "key")
"""What ``upsert_issues(fields=...)`` may name."""


@dataclass(frozen=True)
class IndexChange:
    """One issue whose index row or state changed: the index drops it unless ``state`` is "live"."""

    key: str
    state: IssueStateName
    index_row: Mapping[str, Any] | None


@dataclass(frozen=True)
class WindowSearchRecord:
    """What the last complete search of one day's window saw (the day in the Jira user's zone)."""

    day: str
    """The day, ``YYYY-MM-DD``."""
    watermark: datetime | None
    """The latest ``updated`` any complete search of the day saw (None: it saw no issue)."""
    context_digest: str
    """What the day's files were rendered with (``RenderOptions.context_digest``)."""
    full_search_at: float
    """When (``time.time()``) the day was last searched whole."""


@dataclass(frozen=True)
class Changes:
    """What changed after a revision, for an incremental index."""

    revision: int
    """The store's revision these changes bring a reader up to (pass it next time)."""
    full: bool
    """True when the store was rebuilt after the revision asked about: rebuild everything from ``rows``."""
    rows: list[IndexChange] = field(default_factory=list)
    epoch: int = 0
    """Changes at every rebuild of the store (0 for a store never rebuilt by this code): revisions of
    different epochs cannot be compared (a store deleted and rebuilt counts from 1 again)."""


class StateStore(abc.ABC):
    """The knowledge base's per-issue state. Every write is one transaction; revisions commit in order.

    Safe to use from several processes at once (each opens its own store); one thread at a time uses one store.
    """

    @abc.abstractmethod
    def upsert_issues(self, records: Iterable[IssueRecord], *, fields: Collection[str] | None = None) -> int:
        """Insert or update many issues in one transaction (of existing rows only ``fields``); the new revision."""

    @abc.abstractmethod
    def get_issues(self, keys: Iterable[str]) -> dict[str, IssueRecord]:
        """The records of ``keys`` that the store has, by key."""

    @abc.abstractmethod
    def rendered_files(self, keys: Iterable[str]) -> dict[str, RenderedFile]:
        """Of the records of ``keys`` that the store has, what their files were rendered with, by key:
        the index and the checks read it for every file of a run (not the whole record: no links'
        table, no attachments)."""

    @abc.abstractmethod
    def issue_keys(self, *, state: IssueStateName = "live", project: str | None = None) -> list[str]:
        """Keys in ``state`` (of ``project`` if given), in issue order (ABC-2 before ABC-10)."""

    @abc.abstractmethod
    def live_keys_among(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` the knowledge base holds live (e.g. the known keys an issue mentions)."""

    @abc.abstractmethod
    def live_keys_of_ids(self, issue_ids: Iterable[str]) -> dict[str, str]:
        """The live key of each of ``issue_ids`` the store holds (id -> key): a moved issue's key before the move."""

    @abc.abstractmethod
    def keys_updated_since(self, moment: datetime) -> list[str]:
        """Live keys whose ``updated`` is at or after ``moment`` (an aware datetime), in issue order."""

    @abc.abstractmethod
    def changes_since(self, revision: int, *, project: str | None = None) -> Changes:
        """Index rows and states changed after ``revision`` (0: all; of ``project`` if given), and the revision now."""

    @abc.abstractmethod
    def keys_changed_since(self, revision: int, *, excluding: Container[str] = ()) -> set[str]:
        """Keys of every issue written after ``revision`` (any state) but ``excluding``: a window's issues
        stored by other runs meanwhile (the window's own are dropped row by row, never listed)."""

    @abc.abstractmethod
    def current_revision(self) -> int:
        """The revision of the last committed write (0 for a new store)."""

    @abc.abstractmethod
    def claim_owner(self, owner: int) -> int:
        """Record ``owner`` (a knowledge base's id) as the store's, unless it has one already; the
        store's owner after the call (another value: the store is another knowledge base's)."""

    @abc.abstractmethod
    def files_linking_to(self, keys: Iterable[str], *, kind: LinkKind = "local") -> list[str]:
        """Live issues whose files link to any of ``keys`` (locally or in Jira), in issue order: one indexed query."""

    @abc.abstractmethod
    def children_of(self, keys: Iterable[str]) -> dict[str, list[tuple[str, Mapping[str, Any] | None]]]:
        """The live issues whose ``parent_key`` is one of ``keys``: {parent: [(child key, its index row)]},
        children in issue order; parents without children left out. One indexed query."""

    @abc.abstractmethod
    def parents_with_children_changed_since(self, revision: int) -> list[str]:
        """Live issues whose children changed after ``revision`` (one added, removed, moved, its summary,
        status or type changed): their Children sections are to be rendered again. In issue order."""

    @abc.abstractmethod
    def project_counts(self) -> dict[str, int]:
        """The number of live issues per project."""

    @abc.abstractmethod
    def window_searches(self, scope: str, days: Iterable[str]) -> dict[str, WindowSearchRecord]:
        """The records of ``days`` (``YYYY-MM-DD``) searched under ``scope`` (a scope's digest), by day."""

    @abc.abstractmethod
    def record_window_searches(self, scope: str, records: Iterable[WindowSearchRecord]) -> None:
        """Insert or replace the records of their days under ``scope``, in one transaction."""

    @abc.abstractmethod
    def replace_all(self, records: Iterable[IssueRecord]) -> int:
        """Make the store hold exactly ``records`` (a rebuild), in one transaction; returns the new revision."""

    @abc.abstractmethod
    def is_built(self) -> bool:
        """False for a store that was never filled by ``replace_all`` (new, or its data lost): rebuild it."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (the store can no longer be used)."""

    def __enter__(self) -> "StateStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
