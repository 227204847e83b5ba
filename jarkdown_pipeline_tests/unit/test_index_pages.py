"""The split index: a small index.md, project pages under _index/, every issue two clicks away."""

import posixpath
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.markdown.index import (
    INDEX_DIR,
    INDEX_FILE,
    INDEX_PAGE_MAX_BYTES,
    INDEX_PAGE_MAX_ROWS,
    RECENT_ROWS,
    index_pages,
    render_index,
)
from jarkdown_pipeline_tests.plugins.rendered_html import render_html

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _row(key: str, summary: str = "A summary", updated: str = "2026-11-20T10:00:00.000Z") -> dict:
    return {
        "key": key,
        "summary": summary,
        "status": "In Progress",
        "type": "Bug",
        "assignee": "Ana Ng",
        "updated_at": updated,
    }


def _links(page_path: str, text: str) -> list[str]:
    """The link targets of a page, resolved against its folder (what a reader's click opens)."""
    folder = posixpath.dirname(page_path)
    return [posixpath.normpath(posixpath.join(folder, target)) for target in _LINK.findall(text)]


def test_every_issue_is_two_clicks_from_index_md():
    rows = [_row(f"BIG-{n}") for n in range(1, 1203)] + [_row(f"SMALL-{n}") for n in (1, 5, 9)]
    pages = index_pages(rows)
    reached = set()
    for first_click in _links(INDEX_FILE, pages[INDEX_FILE]):
        if first_click in pages:
            reached.update(_links(first_click, pages[first_click]))
        else:
            reached.add(first_click)
    assert {f"{row['key']}/{row['key']}.md" for row in rows} <= reached
    assert set(pages) == {
        INDEX_FILE,
        f"{INDEX_DIR}/SMALL.md",
        f"{INDEX_DIR}/BIG/1-500.md",
        f"{INDEX_DIR}/BIG/501-1000.md",
        f"{INDEX_DIR}/BIG/1001-1500.md",
    }
    assert all(INDEX_FILE in _links(path, text) for path, text in pages.items() if path != INDEX_FILE), "a way home"


def test_index_md_stays_small_and_lists_the_latest_updates():
    rows = [
        _row(f"P{n % 7}-{n}", updated=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z")
        for n in range(1, 5001)
    ]
    home = render_index(rows)
    assert home == index_pages(rows)[INDEX_FILE]
    assert len(home.encode()) < 64 * 1024
    assert "5,000 issues in 7 projects." in home
    recent = re.findall(r"^\| \[([A-Z0-9]+-\d+)\]", home, re.MULTILINE)
    latest = sorted(rows, key=lambda row: row["updated_at"], reverse=True)[:RECENT_ROWS]
    assert len(recent) == RECENT_ROWS
    assert {row["updated_at"] for row in rows if row["key"] in recent} == {row["updated_at"] for row in latest}


def test_a_new_issue_changes_only_its_own_page_and_the_home_page():
    rows = [_row(f"BIG-{n}") for n in range(1, 1501)] + [_row("OTHER-1")]
    before = index_pages(rows)
    after = index_pages([*rows, _row("BIG-777", updated="2026-11-30T10:00:00.000Z")])
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed == {INDEX_FILE, f"{INDEX_DIR}/BIG/501-1000.md"}


def test_the_same_rows_give_the_same_bytes_in_any_order():
    rows = [_row(f"ABC-{n}", updated=f"2026-11-{1 + n % 28:02d}T10:00:00.000Z") for n in range(1, 700)]
    assert index_pages(rows) == index_pages(list(reversed(rows)))


def test_no_page_passes_its_row_or_byte_bound_whatever_the_summaries_hold():
    hostile = "<&*|_`[x](y)\\ 漢字 " * 200  # escapes that grow the text, three-byte characters
    rows = [
        {
            "key": f"ABC-{n}",
            "summary": hostile,
            "status": hostile,
            "type": hostile,
            "assignee": hostile,
            "updated_at": None,
        }
        for n in range(1, INDEX_PAGE_MAX_ROWS + 1)
    ]
    pages = index_pages(rows)
    page = pages[f"{INDEX_DIR}/ABC.md"]
    assert len(page.encode("utf-8")) < INDEX_PAGE_MAX_BYTES
    assert page.count("\n| [ABC-") == INDEX_PAGE_MAX_ROWS
    assert render_html(page).count("<tr>") == INDEX_PAGE_MAX_ROWS + 1, "cut cells keep the table whole"
    assert "…" in page


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=3000), min_size=1, max_size=5))
def test_a_cut_cell_never_breaks_the_table(summaries):
    rows = [_row(f"ABC-{n}", summary=summary) for n, summary in enumerate(summaries, start=1)]
    page = index_pages(rows)[f"{INDEX_DIR}/ABC.md"]
    assert render_html(page).count("<tr>") == len(rows) + 1


def test_a_row_that_is_not_an_issue_is_refused():
    with pytest.raises(ValueError, match="not a Jira issue key"):
        index_pages([{"key": "../X-1"}])
    assert index_pages([]) == {INDEX_FILE: "# Jira issues\n\n0 issues in 0 projects.\n"}


def test_a_cut_keeps_the_longest_text_that_fits():
    from jarkdown_pipeline.markdown.index import _fit

    assert _fit(str, "a" * 1000, 100) == "a" * 97 + "…"  # the ellipsis is three bytes
    assert _fit(str, "short", 100) == "short"
    doubled = _fit(lambda text: text.replace("*", "\\*"), "*" * 1000, 100)
    assert doubled == "\\*" * 48 + "…" and len(doubled.encode("utf-8")) <= 100
