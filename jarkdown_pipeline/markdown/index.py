"""The knowledge base's index: a small ``index.md`` and per-project pages under ``_index/``.

``index.md`` holds the projects (with their counts and links to their pages) and the most recently
updated issues. A project of up to ``INDEX_PAGE_MAX_ROWS`` issues has one page, ``_index/ABC.md``;
a bigger one has a page per block of ``INDEX_PAGE_MAX_ROWS`` issue numbers,
``_index/ABC/1-500.md``, each linked from ``index.md`` itself, so every issue is two clicks from
``index.md``. Table cells are cut to a byte budget, so a page stays under ``INDEX_PAGE_MAX_BYTES``
whatever the summaries hold. A new issue changes only its own page (and ``index.md``'s counts).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jarkdown_pipeline.issue_keys import issue_sort_key
from jarkdown_pipeline.markdown.escape import escape_table_cell, escape_text, link
from jarkdown_pipeline.markdown.fields import data_to_text, display_datetime
from jarkdown_pipeline.markdown.issue import issue_markdown_path
from jarkdown_pipeline.markdown.links_gfm import defuse_gfm_autolinks

INDEX_ROW_FIELDS = ("key", "summary", "status", "type", "assignee", "updated_at")
"""The frontmatter fields the index reads from each issue file."""

INDEX_FILE = "index.md"
INDEX_DIR = "_index"
INDEX_PAGE_MAX_ROWS = 500
INDEX_PAGE_MAX_BYTES = 500 * 1024
RECENT_ROWS = 50
# Byte budgets per cell, with room for the key's link: a row stays under 1 KiB, a page of
# INDEX_PAGE_MAX_ROWS rows under INDEX_PAGE_MAX_BYTES.
_SUMMARY_BYTES = 400
_OTHER_CELL_BYTES = 100
_KEY_CELL_BYTES = 200
_TABLE_HEAD = ["| Key | Summary | Status | Type | Assignee | Updated |", "| --- | --- | --- | --- | --- | --- |"]


def _project_of(key: str) -> str:
    return key.rpartition("-")[0]


def _number_of(key: str) -> int:
    return int(key.rpartition("-")[2])


def _fit(escape, text: str, max_bytes: int) -> str:
    """``escape(text)``, or the longest cut of the text (with an ellipsis) found by bisection whose
    escaped form fits the budget: a few escapes per cell, whatever the text holds."""
    escaped = escape(text)
    if len(escaped.encode("utf-8")) <= max_bytes:
        return escaped

    def cut(length: int) -> str:
        return escape(text[:length].rstrip() + "…")

    # Escaping never shortens text, so no cut longer than the budget in characters can fit.
    low, high = 0, min(len(text) - 1, max_bytes)
    while low < high:
        middle = (low + high + 1) // 2
        if len(cut(middle).encode("utf-8")) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    escaped = cut(low)
    while len(escaped.encode("utf-8")) > max_bytes and low > 0:  # escaping is not quite monotonic
        low -= 1
        escaped = cut(low)
    return escaped


def _cell(value: Any, max_bytes: int = _OTHER_CELL_BYTES) -> str:
    return _fit(
        lambda text: defuse_gfm_autolinks(escape_table_cell(escape_text(text, in_table=True))),
        data_to_text(value),
        max_bytes,
    )


def checked_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows sorted by key; ValueError for a row that is not an issue's."""
    rows = list(rows)
    for row in rows:
        issue_markdown_path(str(row.get("key")))  # a clear error for a row that is not an issue
    return sorted(rows, key=lambda row: issue_sort_key(str(row["key"])))


def _row_line(row: Mapping[str, Any], depth: int) -> str:
    key = str(row["key"])
    # A checked key is letters, digits, `_` and `-`: its path needs no escaping (link() would
    # examine every character of every row).
    key_cell = f"[{escape_text(key)}]({'../' * depth}{issue_markdown_path(key)})"
    if len(key_cell) > _KEY_CELL_BYTES:  # keys are short; this only guards the page's bound
        key_cell = _cell(key, _KEY_CELL_BYTES)
    cells = [
        key_cell,
        _cell(row.get("summary"), _SUMMARY_BYTES),
        _cell(row.get("status")),
        _cell(row.get("type")),
        _cell(row.get("assignee")),
        escape_table_cell(display_datetime(row.get("updated_at")) or ""),
    ]
    return "| " + " | ".join(cells) + " |"


def _table(rows: Iterable[Mapping[str, Any]], depth: int) -> list[str]:
    lines = [_row_line(row, depth) for row in rows]
    return [*_TABLE_HEAD, *lines] if lines else []


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class IndexPage:
    """One page of a project's issues: ``path`` relative to the knowledge base's root."""

    project: str
    path: str
    label: str
    rows: tuple[Mapping[str, Any], ...]

    @property
    def depth(self) -> int:
        return self.path.count("/")


def block_of(key: str) -> int:
    """Which block of ``INDEX_PAGE_MAX_ROWS`` issue numbers the issue is in (a big project's page)."""
    return (_number_of(key) - 1) // INDEX_PAGE_MAX_ROWS


def single_page(project: str, rows: Sequence[Mapping[str, Any]]) -> IndexPage:
    """The one page of a project of up to ``INDEX_PAGE_MAX_ROWS`` issues (rows sorted by key)."""
    return IndexPage(project, f"{INDEX_DIR}/{project}.md", _count(len(rows), "issue"), tuple(rows))


def block_page(project: str, block: int, rows: Sequence[Mapping[str, Any]]) -> IndexPage:
    """The page of one block of a big project's issue numbers (rows sorted by key)."""
    first, last = block * INDEX_PAGE_MAX_ROWS + 1, (block + 1) * INDEX_PAGE_MAX_ROWS
    return IndexPage(project, f"{INDEX_DIR}/{project}/{first}-{last}.md", f"{first}–{last}", tuple(rows))


def project_pages(project: str, rows: list[Mapping[str, Any]]) -> list[IndexPage]:
    """A project's pages: one for a small project, one per block of issue numbers otherwise."""
    if len(rows) <= INDEX_PAGE_MAX_ROWS:
        return [single_page(project, rows)]
    blocks: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        blocks[block_of(str(row["key"]))].append(row)
    return [block_page(project, block, blocks[block]) for block in sorted(blocks)]


def render_project_page(page: IndexPage, *, title: str) -> str:
    """One page of the index: a link home, then the table of its issues by key (no project-wide
    figure, so a new issue changes only its own page)."""
    heading = page.project if page.path.endswith(f"/{page.project}.md") else f"{page.project} {page.label}"
    lines = [
        f"# {escape_text(heading)}",
        "",
        f"{_count(len(page.rows), 'issue')}. " + link(escape_text(f"All of {title}"), "../" * page.depth + INDEX_FILE),
    ]
    table = _table(page.rows, page.depth)
    return "\n".join([*lines, "", *table] if table else lines) + "\n"


@dataclass(frozen=True)
class PageSummary:
    """What ``index.md`` says of one page: where it is, its label and how many issues it lists."""

    path: str
    label: str
    count: int


def page_summaries(pages: Iterable[IndexPage]) -> list[PageSummary]:
    return [PageSummary(page.path, page.label, len(page.rows)) for page in pages]


def _project_line(project: str, pages: Sequence[PageSummary]) -> str:
    links = " · ".join(link(escape_text(page.label), page.path) for page in pages)
    count = sum(page.count for page in pages)
    return f"| {escape_text(project)} | {count:,} | {escape_table_cell(links)} |"


def recent_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ``RECENT_ROWS`` most recently updated rows (those with an ``updated_at``), latest first
    (UTC timestamps sort as text); the key breaks ties."""
    dated = [row for row in rows if isinstance(row.get("updated_at"), str)]
    dated.sort(key=lambda row: issue_sort_key(str(row["key"])))
    dated.sort(key=lambda row: row["updated_at"], reverse=True)
    return dated[:RECENT_ROWS]


def render_home(
    projects: Mapping[str, Sequence[PageSummary]], recent: Sequence[Mapping[str, Any]], *, title: str
) -> str:
    """``index.md``: counts, one row per project (in name order) linking to each of its pages, the
    latest updates (``recent_rows``). Needs only each page's count, not its rows."""
    total = sum(page.count for pages in projects.values() for page in pages)
    lines = [f"# {escape_text(title)}", "", f"{_count(total, 'issue')} in {_count(len(projects), 'project')}."]
    if projects:
        lines += ["", "## Projects", "", "| Project | Issues | Pages |", "| --- | --- | --- |"]
        lines += [_project_line(project, projects[project]) for project in sorted(projects)]
    if recent:
        lines += ["", "## Recently updated", "", *_table(recent, 0)]
    return "\n".join(lines) + "\n"


def projects_of(rows: list[Mapping[str, Any]]) -> dict[str, list[IndexPage]]:
    """Every project's pages, by project name, of rows sorted by key (``checked_rows``)."""
    by_project: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_project[_project_of(str(row["key"]))].append(row)
    return {project: project_pages(project, by_project[project]) for project in sorted(by_project)}


def index_pages(rows: Iterable[Mapping[str, Any]], *, title: str = "Jira issues") -> dict[str, str]:
    """Every file of the index, ``{path relative to the root: text}``; the same rows give the same
    bytes. Raises ValueError on a row without a valid key."""
    rows = checked_rows(rows)
    projects = projects_of(rows)
    summaries = {project: page_summaries(pages) for project, pages in projects.items()}
    files = {INDEX_FILE: render_home(summaries, recent_rows(rows), title=title)}
    for pages in projects.values():
        for page in pages:
            files[page.path] = render_project_page(page, title=title)
    return files


def render_index(rows: Iterable[Mapping[str, Any]], *, title: str = "Jira issues") -> str:
    """``index.md`` alone (``index_pages`` gives every file of the index)."""
    rows = checked_rows(rows)
    summaries = {project: page_summaries(pages) for project, pages in projects_of(rows).items()}
    return render_home(summaries, recent_rows(rows), title=title)
