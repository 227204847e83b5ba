"""Keep the index up to date at the cost of what changed, from the state store's revisions.

``.jarkdown/index_state.json`` says what the index on disk was built from: the store revision, each
project's pages (path, label, issue count) and the ``RECENT_ROWS`` most recent rows. The next update
asks the store what changed since (``changes_since``) and re-renders only the pages of the changed
keys (a project's whole set of pages when it crosses the single-page threshold) and ``index.md``,
from the store's rows; the bytes are those ``index_pages`` gives for all the rows. The full rebuild
(every file, as before) runs when there is no usable state, the store was rebuilt, the index code
changed, or an issue left the "Recently updated" list in a way the saved rows cannot fill.
No Dagster import.
"""

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline._json import dump_json, load_json
from jarkdown_pipeline.markdown import index as index_layout  # its limits read at call time
from jarkdown_pipeline.markdown.index import (
    INDEX_FILE,
    IndexPage,
    PageSummary,
    block_of,
    block_page,
    checked_rows,
    page_summaries,
    projects_of,
    recent_rows,
    render_home,
    render_project_page,
    single_page,
)
from jarkdown_pipeline.state_store.interface import Changes

if TYPE_CHECKING:
    from jarkdown_pipeline.knowledge_base import FrontmatterProblem, KnowledgeBase

INDEX_STATE_FILE = "index_state.json"
INDEX_STATE_VERSION = 1
TITLE = "Jira issues"
_BATCH = 500


@dataclass
class IndexUpdate:
    """What one index update did. Unpacks as ``(listed, problems, written)``; ``len(listed)`` is the
    number of issues the index lists."""

    issues: int
    problems: list["FrontmatterProblem"] = field(default_factory=list)
    written: bool = False
    full: bool = True
    """Every issue file was read (no usable state), rather than only the changed pages re-rendered."""
    rendered: list[str] = field(default_factory=list)
    """The index files rendered (written only where their bytes changed), relative to the root."""

    def _as_tuple(self) -> tuple[Any, list["FrontmatterProblem"], bool]:
        return (_Listed(self.issues), self.problems, self.written)

    def __iter__(self):
        return iter(self._as_tuple())

    def __getitem__(self, index: int) -> Any:
        return self._as_tuple()[index]


@dataclass(frozen=True)
class _Listed:
    count: int

    def __len__(self) -> int:
        return self.count


@dataclass
class IndexState:
    revision: int
    epoch: int
    """The store's epoch the revision belongs to (``Changes.epoch``)."""
    projects: dict[str, list[PageSummary]]
    recent: list[dict[str, Any]]

    @property
    def issues(self) -> int:
        return sum(page.count for pages in self.projects.values() for page in pages)


def index_fingerprint() -> str:
    """Changes whenever the code that renders the index (or an issue) may have changed."""
    from jarkdown_pipeline.knowledge_base import renderer_fingerprint  # at call time: it imports this module

    return hashlib.blake2b(
        renderer_fingerprint() + f"{INDEX_STATE_VERSION};{TITLE}".encode(), digest_size=16
    ).hexdigest()


def update_index(kb: "KnowledgeBase") -> IndexUpdate:
    """Bring the index up to date (the caller holds the knowledge base's lock)."""
    state = read_state(kb)
    if state is not None and kb.index_path.is_file():
        changes = kb.store.changes_since(state.revision)
        if not changes.full and changes.epoch == state.epoch:  # another epoch: the store was rebuilt since
            update = _incremental(kb, state, changes)
            if update is not None:
                return update
    return rebuild_fully(kb)


def rebuild_fully(kb: "KnowledgeBase") -> IndexUpdate:
    """Every issue file (stat-checked against the store, parsed when edited since): the whole index."""
    # Before the rows: a change made meanwhile is taken again next time.
    now = kb.store.changes_since(kb.store.current_revision())
    rows, problems = kb.index_rows()
    rows = checked_rows(rows)
    pages = projects_of(rows)
    projects = {project: page_summaries(project_pages) for project, project_pages in pages.items()}
    recent = recent_rows(rows)
    # The bytes of index_pages(rows), each page rendered as it is written: a backfill's index is
    # tens of MB of text, which need not be held at once.
    files = RenderedPages(render_home(projects, recent, title=TITLE), pages)
    written = kb.write_index(files)
    save_state(kb, IndexState(now.revision, now.epoch, projects, [dict(row) for row in recent]))
    return IndexUpdate(len(rows), problems, written, full=True, rendered=sorted(files))


class RenderedPages(Mapping[str, str]):
    """``{path: text}`` of every index file (``index_pages``), a project page rendered when asked for."""

    def __init__(self, home: str, projects: Mapping[str, Sequence[IndexPage]]) -> None:
        self._home = home
        self._pages = {page.path: page for pages in projects.values() for page in pages}

    def __getitem__(self, path: str) -> str:
        if path == INDEX_FILE:
            return self._home
        return render_project_page(self._pages[path], title=TITLE)

    def __iter__(self) -> Iterator[str]:
        yield INDEX_FILE
        yield from self._pages

    def __len__(self) -> int:
        return 1 + len(self._pages)


def _incremental(kb: "KnowledgeBase", state: IndexState, changes: Changes) -> IndexUpdate | None:
    changed = {change.key: change.index_row if change.state == "live" else None for change in changes.rows}
    recent = _recent_after(state.recent, changed)
    if recent is None:
        return None
    by_project: dict[str, list[str]] = defaultdict(list)
    for key in changed:
        by_project[key.rpartition("-")[0]].append(key)
    files: dict[str, str] = {}
    gone: set[str] = set()
    projects = dict(state.projects)
    for project, keys in sorted(by_project.items()):
        old = projects.get(project, [])
        pages, whole = _project_update(kb, project, keys, old)
        new = _merged(old, pages, whole=whole)
        gone |= {page.path for page in old} - {page.path for page in new}
        files.update((page.path, render_project_page(page, title=TITLE)) for page in pages if page.rows)
        if new:
            projects[project] = new
        else:
            projects.pop(project, None)
    files[INDEX_FILE] = render_home(projects, recent, title=TITLE)
    written = kb.write_index(files, delete=sorted(gone))
    save_state(kb, IndexState(changes.revision, changes.epoch, projects, recent))
    return IndexUpdate(
        sum(p.count for pages in projects.values() for p in pages), [], written, full=False, rendered=sorted(files)
    )


def _recent_after(
    recent: list[dict[str, Any]], changed: Mapping[str, Mapping[str, Any] | None]
) -> list[dict[str, Any]] | None:
    """The "Recently updated" rows after the changes; None when the saved rows cannot tell (a full
    list lost a row, or one got older: the next one down is not known)."""
    if len(recent) >= index_layout.RECENT_ROWS:
        for row in recent:
            if row["key"] in changed:
                new = changed[row["key"]]
                if new is None or not isinstance(new.get("updated_at"), str) or new["updated_at"] < row["updated_at"]:
                    return None
    kept = [row for row in recent if row["key"] not in changed]
    arrived = [dict(row) for row in changed.values() if row is not None]
    return [dict(row) for row in recent_rows(checked_rows([*kept, *arrived]))]


def _is_single(pages: Sequence[PageSummary]) -> bool:
    return not pages or (len(pages) == 1 and pages[0].path.count("/") == 1)


def _project_update(
    kb: "KnowledgeBase", project: str, keys: Iterable[str], old: Sequence[PageSummary]
) -> tuple[list[IndexPage], bool]:
    """The project's pages to render again, and whether they are all of its pages: all of them (a
    single-page project, or one that crosses the threshold), or the blocks of ``keys`` (a page of
    no rows: the block is empty now). A big project's key list is not read: a touched block's rows
    are asked for by the keys its numbers make, so the cost follows the blocks touched."""
    keys = list(keys)
    if _is_single(old):
        return _whole_project(kb, project, kb.store.issue_keys(project=project)), True
    touched = {block_of(key) for key in keys}
    pages = [block_page(project, block, _rows_of(kb, _block_keys(project, block, keys))) for block in sorted(touched)]
    untouched = sum(page.count for page in old if page.path not in {p.path for p in pages})
    if untouched + sum(len(page.rows) for page in pages) <= index_layout.INDEX_PAGE_MAX_ROWS:
        # small enough for one page again
        return _whole_project(kb, project, kb.store.issue_keys(project=project)), True
    return pages, False


def _block_keys(project: str, block: int, changed: Iterable[str]) -> list[str]:
    """Every key a block of ``project`` can hold as Jira writes keys (no leading zeros), and the
    changed keys in it as they are written."""
    first = block * index_layout.INDEX_PAGE_MAX_ROWS + 1
    numbered = [f"{project}-{number}" for number in range(first, first + index_layout.INDEX_PAGE_MAX_ROWS)]
    return sorted({*numbered, *(key for key in changed if block_of(key) == block)})


def _whole_project(kb: "KnowledgeBase", project: str, keys: Sequence[str]) -> list[IndexPage]:
    rows = _rows_of(kb, keys)
    if not rows:
        return []
    return projects_of(rows)[project] if len(rows) > index_layout.INDEX_PAGE_MAX_ROWS else [single_page(project, rows)]


def _merged(old: Sequence[PageSummary], pages: Sequence[IndexPage], *, whole: bool) -> list[PageSummary]:
    """The project's page summaries after re-rendering ``pages``, in page order; empty pages dropped."""
    fresh = [summary for summary in page_summaries(pages) if summary.count]
    if whole:
        return fresh
    replaced = {page.path for page in pages}
    kept = [summary for summary in old if summary.path not in replaced]
    return sorted([*kept, *fresh], key=lambda summary: _first_number(summary.path))


def _first_number(path: str) -> int:
    return int(Path(path).stem.partition("-")[0])


def _rows_of(kb: "KnowledgeBase", keys: Sequence[str]) -> list[dict[str, Any]]:
    """The index rows the store holds for ``keys`` (live issues with a row), sorted by key."""
    rows = []
    for start in range(0, len(keys), _BATCH):
        records = kb.store.get_issues(keys[start : start + _BATCH])
        rows += [
            dict(record.index_row)
            for record in records.values()
            if record.state == "live" and isinstance(record.index_row, Mapping)
        ]
    return checked_rows(rows)


def index_pages_listing(kb: "KnowledgeBase", keys: Iterable[str]) -> list[str]:
    """The index pages (relative paths, sorted) that list ``keys``: each project's single page or the
    block page of each key, whichever exists."""
    exists: dict[str, bool] = {}  # a run's keys share a few pages: one stat each
    pages = set()
    for key in keys:
        project = key.rpartition("-")[0]
        for page in (single_page(project, ()).path, block_page(project, block_of(key), ()).path):
            if page not in exists:
                exists[page] = (kb.root / page).is_file()
            if exists[page]:
                pages.add(page)
    return sorted(pages)


def state_path(kb: "KnowledgeBase") -> Path:
    return kb.state_dir / INDEX_STATE_FILE


def read_state(kb: "KnowledgeBase") -> IndexState | None:
    """The saved state, or None when there is none, it is unreadable, or from other index code."""
    try:
        data = load_json(state_path(kb).read_bytes())
        if data.get("fingerprint") != index_fingerprint():
            return None
        projects = {
            project: [PageSummary(path, label, int(count)) for path, label, count in pages]
            for project, pages in data["projects"].items()
        }
        return IndexState(int(data["revision"]), int(data["epoch"]), projects, [dict(row) for row in data["recent"]])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def save_state(kb: "KnowledgeBase", state: IndexState) -> None:
    from jarkdown_pipeline.knowledge_base import write_bytes_if_changed

    path = kb.checked(state_path(kb))
    document = {
        "fingerprint": index_fingerprint(),
        "revision": state.revision,
        "epoch": state.epoch,
        "projects": {
            project: [[page.path, page.label, page.count] for page in pages]
            for project, pages in sorted(state.projects.items())
        },
        "recent": state.recent,
    }
    try:
        data = dump_json(document)
    except (TypeError, ValueError):  # a hand-edited file's row holds a YAML value JSON has not: rebuild next time
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    write_bytes_if_changed(path, data)  # an update that changed nothing leaves the file as it was
