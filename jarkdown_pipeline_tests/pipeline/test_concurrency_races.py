"""Races between runs that share one knowledge base, replayed deterministically in one process.

Each test interleaves two "runs" at the exact point where the real ones can interleave when
several partitions run at once (separate processes, one output folder): run A has read the state
of the knowledge base, run B does its whole stage, then A writes what it decided from the old
state. B runs in a thread; A waits for it at most ``OTHER_RUN_WAIT_SECONDS``, so a fix that makes B
wait for A (a lock) passes without hanging.

Each was a bug found under concurrency (issue 6), first committed as a strict xfail, and fixed in
81cab59 (cross-process lock on the knowledge base for raw writes, the Markdown stage, the index
rebuild and reconciliation; a newer stored copy of an issue wins; reconciliation keeps what was
stored during its search):

- an older copy of an issue replaced a newer one (a run that fetched before an edit, writing last);
- a link to an issue a concurrent run stored stayed a Jira link (known keys read before it arrived,
  its run's relink scan found no file yet): replayed through ``mirror_window`` with two runs in
  pipeline/test_sync.py (test_streamed_window_relinks_an_issue_a_concurrent_run_stored_after_it_started);
- a slower run's index.md, built from fewer files, overwrote a newer one;
- reconciliation moved to _removed/ an issue a concurrent run stored during its search.
"""

import threading
from collections.abc import Callable

import dagster as dg
import pytest

from jarkdown_pipeline import index_update
from jarkdown_pipeline.knowledge_base import KnowledgeBase, KnownKeys, RenderOptions
from jarkdown_pipeline.markdown import render_index
from jarkdown_pipeline.orchestration.assets import jira_index
from jarkdown_pipeline.orchestration.resources import KnowledgeBaseResource
from jarkdown_pipeline.render_worker import render_locked
from jarkdown_pipeline.sync import reconcile

BASE_URL = "https://example.atlassian.net"
OPTIONS = RenderOptions.of(base_url=BASE_URL)
OTHER_RUN_WAIT_SECONDS = 1.0


def raw_issue(key: str, updated: str, summary: str) -> dict:
    fields = {"summary": summary, "updated": updated, "created": "2026-11-01T09:00:00.000+0100", "issuelinks": []}
    return {"id": key.rsplit("-", 1)[1], "key": key, "fields": fields}


def run_other_run_now(stage: Callable[[], object]) -> threading.Thread:
    """Start the other run's stage and give it until OTHER_RUN_WAIT_SECONDS to finish."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            stage()
        except BaseException as error:  # surfaced by the test after join
            errors.append(error)

    thread = threading.Thread(target=target, name="other-run", daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    thread.join(OTHER_RUN_WAIT_SECONDS)
    return thread


def finish(thread: threading.Thread) -> None:
    thread.join(30)
    assert not thread.is_alive(), "the other run never finished"
    assert thread.errors == []  # type: ignore[attr-defined]


def test_an_older_copy_of_an_issue_never_replaces_a_newer_one(tmp_path):
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(raw_issue("ABC-1", "2026-11-20T10:30:00.000+0100", "after the edit"))  # run B, fetched later
    kb.write_raw_issue(raw_issue("ABC-1", "2026-11-18T09:00:00.000+0100", "before the edit"))  # run A, slower
    assert kb.read_raw_issue("ABC-1")["fields"]["summary"] == "after the edit"


def test_index_rebuilds_of_overlapping_runs_leave_the_index_of_all_files(tmp_path):
    resource = KnowledgeBaseResource(output_dir=str(tmp_path))
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(raw_issue("ABC-1", "2026-11-18T09:00:00.000+0100", "day 18"))
    assert render_locked(kb, "ABC-1", KnownKeys(kb, ["ABC-1"]), OPTIONS).written
    jira_index(dg.build_asset_context(), knowledge_base=resource)  # the index so far (and a warm asset)

    def run_b_markdown_and_index() -> None:
        other_kb = KnowledgeBase(tmp_path)
        other_kb.write_raw_issue(raw_issue("ABC-2", "2026-11-20T09:00:00.000+0100", "day 20"))
        assert render_locked(other_kb, "ABC-2", KnownKeys(other_kb, ["ABC-2"]), OPTIONS).written
        jira_index(dg.build_asset_context(), knowledge_base=resource)

    read_state = index_update.read_state
    run_a_thread = threading.current_thread()
    other: list[threading.Thread] = []

    def state_then_the_other_run(kb: KnowledgeBase):
        state = read_state(kb)
        if threading.current_thread() is run_a_thread and not other:
            # Run A has read what the index was built from; B adds an issue and updates the index now.
            other.append(run_other_run_now(run_b_markdown_and_index))
        return state

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index_update, "read_state", state_then_the_other_run)
        jira_index(dg.build_asset_context(), knowledge_base=resource)
        finish(other[0])

    rows, problems = kb.index_rows()
    assert [row["key"] for row in rows] == ["ABC-1", "ABC-2"] and problems == []
    assert kb.index_path.read_text(encoding="utf-8") == render_index(rows), "index.md misses ABC-2"


class SearchWhileAnotherRunStoresAnIssue:
    """A Jira client whose reconciliation search returns the keys in scope at the moment it runs;
    right after, another run (which found the newly created ABC-7 by its own search) stores it."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    async def search_jql(self, jql, *, fields=None, page_size=None):
        yield {"id": "1", "key": "ABC-1"}
        # ABC-7 is created in Jira now, after this search has passed it; the other run stores it.
        self.kb.write_raw_issue(raw_issue("ABC-7", "2026-11-20T11:00:00.000+0100", "created during the search"))


async def test_reconciliation_keeps_an_issue_a_concurrent_run_stored_during_its_search(tmp_path):
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(raw_issue("ABC-1", "2026-11-18T09:00:00.000+0100", "in scope all along"))
    result = await reconcile(SearchWhileAnotherRunStoresAnIssue(KnowledgeBase(tmp_path)), kb, "updated >= x")
    assert result.moved == []
    assert kb.raw_issue_keys() == {"ABC-1", "ABC-7"}
