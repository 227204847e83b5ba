"""The stages against hostile and unlucky input, without Dagster: the sample Jira behind a proxy that
makes some answers hostile, real symbolic links out of the output folder, temp files left by a
killed run, and reconciliations that would empty the mirror."""

import os
import time
from datetime import date

import pytest

from jarkdown_pipeline._files import STALE_TEMP_FILE_SECONDS
from jarkdown_pipeline.exceptions import JiraApiError
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.knowledge_base import render_cache as knowledge_base_module  # the renderer is called there
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.sync import (
    ReconciliationRefused,
    RemovalGuard,
    mirror_window,
    reconcile,
    scope_jql_since,
)
from jarkdown_pipeline.window_search import window_jql
from jarkdown_pipeline_tests.plugins.hostile_jira import Hostility, hostile_jira
from jarkdown_pipeline_tests.plugins.knowledge_base import contents
from jarkdown_pipeline_tests.plugins.pipeline import (
    INVALID_KEY_ENTRY,
    START_DATE,
    client_for,
    delete_issues,
    issues_updated_on,
    sample_config,
    stored_scope,
)

DAY = date(2026, 11, 20)
WINDOW = window_jql(None, DAY, date(2026, 11, 21))
LONG_AGO = time.time() - STALE_TEMP_FILE_SECONDS - 60


async def mirror(jira, kb: KnowledgeBase, jql: str = WINDOW, **options):
    async with client_for(jira) as client:
        fields = await client.fetch_fields()
        return await mirror_window(
            client, kb, jql, field_definitions=fields, base_url=jira.base_url, max_concurrent_downloads=3, **options
        )


@pytest.mark.parametrize("render_process", [False, True])
async def test_hostile_answers_fail_their_own_issues_and_nothing_else(tmp_path, caplog, render_process):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        deep = keys[1]
        hostility = Hostility(
            deep_keys=frozenset({deep}), extra_search_entries=(INVALID_KEY_ENTRY, "not an issue"), junk_bulk_entry=17
        )
        with hostile_jira(jira, hostility) as proxy:
            kb = KnowledgeBase(tmp_path / "kb")
            result = await mirror(proxy, kb, render_process=render_process)
    failed = result.issues.failed
    assert failed["id 990001"] == "Jira sent an invalid issue key: '../X-1'"
    assert failed[f"<search result {len(keys) + 2}>"] == "Jira sent str instead of an issue object"
    assert "fetching them one by one" in caplog.text  # the page with a junk entry, not the window
    # The deep issue is its own failure (or, with a parser and renderer that bound depth, written).
    handled_deep = deep in failed or deep in result.markdown.written
    assert handled_deep and set(failed) <= {"id 990001", f"<search result {len(keys) + 2}>", deep}
    assert set(kb.markdown_issue_keys()) >= set(keys) - {deep}
    assert result.attachments.failed == {} and result.markdown.failed == {}
    assert not (tmp_path / "X-1").exists() and not (tmp_path / "kb" / ".." / "X-1").exists()


async def test_a_junk_entry_in_a_bulk_page_costs_single_fetches_not_issues(tmp_path, caplog):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        with hostile_jira(jira, Hostility(junk_bulk_entry=["not", "an", "issue"])) as proxy:
            kb = KnowledgeBase(tmp_path)
            result = await mirror(proxy, kb)
    assert "one by one" in caplog.text
    assert result.issues.failed == {} and result.markdown.failed == {} and result.attachments.failed == {}
    assert sorted(result.issues.fetched) == keys == sorted(kb.markdown_issue_keys())


def recurse(depth: int) -> int:
    return recurse(depth + 1) + 1


def run_out_of_memory() -> None:
    raise MemoryError("the renderer could not allocate")  # as a huge table would; raised, not provoked


@pytest.mark.parametrize(
    ("failing", "reason"), [(lambda: recurse(0), "RecursionError"), (run_out_of_memory, "MemoryError")]
)
async def test_an_exception_while_rendering_on_the_loop_is_that_issues_failure(tmp_path, monkeypatch, failing, reason):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        victim = keys[2]
        real_render = knowledge_base_module.render_issue_document

        def render_or_fail(issue, **options):
            return failing() if issue["key"] == victim else real_render(issue, **options)

        monkeypatch.setattr(knowledge_base_module, "render_issue_document", render_or_fail)
        kb = KnowledgeBase(tmp_path)
        result = await mirror(jira, kb, render_process=False)
    assert list(result.markdown.failed) == [victim] and result.markdown.failed[victim].startswith(reason)
    assert set(result.markdown.written) == set(keys) - {victim} == set(kb.markdown_issue_keys())
    assert result.issues.failed == {} and kb.raw_path(victim).is_file()


async def test_symlinked_issue_folders_are_refused_and_outside_files_untouched(tmp_path, outside):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        with_attachments = [key for key in keys if jira.dataset.issues[key].attachments]
        linked_attachments = with_attachments[0]
        linked_folder, linked_raw = [key for key in keys if key != linked_attachments][-2:]
        kb = KnowledgeBase(tmp_path / "kb")
        kb.issue_dir(linked_attachments).mkdir(parents=True)
        kb.attachments_dir(linked_attachments).symlink_to(outside, target_is_directory=True)
        kb.issue_dir(linked_folder).symlink_to(outside, target_is_directory=True)
        kb.raw_dir.mkdir(parents=True)
        kb.raw_path(linked_raw).symlink_to(outside / "precious.txt")
        before = contents(outside)
        result = await mirror(jira, kb)
    assert contents(outside) == before
    link_reason = "is a symbolic link (nothing is written through links)"
    assert result.attachments.failed[linked_attachments] == f"refused: {linked_attachments}/attachments {link_reason}"
    assert result.markdown.failed[linked_folder] == f"refused: {linked_folder} {link_reason}"
    assert result.issues.failed == {linked_raw: f"not stored: refused: .jarkdown/raw/{linked_raw}.json {link_reason}"}
    assert linked_raw not in result.markdown.failed and not kb.markdown_path(linked_raw).exists()
    assert set(result.markdown.written) == set(keys) - {linked_folder, linked_raw}


async def test_the_next_run_removes_stale_temp_files_but_not_fresh_ones(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        kb = KnowledgeBase(tmp_path)
        # Left beside the raw copies by a killed run of a version before .jarkdown/tmp/.
        earlier = kb.raw_dir / f".{keys[1]}.json.zyx987.tmp"
        earlier.parent.mkdir(parents=True)
        earlier.write_bytes(b"half written")
        os.utime(earlier, (LONG_AGO, LONG_AGO))
        await mirror(jira, kb)
        assert not earlier.exists()
        key = keys[0]
        stale = [
            kb.issue_dir(key) / f".{key}.md.abc123.tmp",
            kb.attachments_dir(key) / ".shot.png.def456.part",
            kb.temp_dir / f".{key}.json.ghi789.tmp",  # the raw copies', the manifests' and the index's
            kb.temp_dir / ".index.md.jkl012.tmp",
        ]
        fresh = kb.attachments_dir(key) / ".big.bin.mno345.part"  # a concurrent run's download
        for path in [*stale, fresh]:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"half written")
        for path in stale:
            os.utime(path, (LONG_AGO, LONG_AGO))
        result = await mirror(jira, kb)
    assert result.markdown.failed == {} and result.attachments.failed == {}
    assert [path for path in stale if path.exists()] == [] and fresh.exists()


async def test_an_unreadable_stored_copy_is_fetched_again_not_fatal(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        keys = sorted(issues_updated_on(jira, DAY))
        kb = KnowledgeBase(tmp_path)
        kb.raw_dir.mkdir(parents=True)
        kb.raw_path(keys[0]).write_bytes(b"[" * 100_000 + b"]" * 100_000)  # too deep for any reader
        kb.raw_path(keys[1]).write_bytes(b'{"key": "cut sh')
        result = await mirror(jira, kb)
    assert result.issues.failed == {} and result.markdown.failed == {}
    assert set(result.issues.fetched) == set(keys) and kb.read_raw_issue(keys[0])["key"] == keys[0]


# -- reconciliation that would empty the mirror -----------------------------------------------------


async def test_a_reconciliation_that_would_remove_too_much_moves_nothing(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        stored = await stored_scope(jira, kb)
        gone = delete_issues(jira, stored[:8])
        jql = scope_jql_since(None, date.fromisoformat(START_DATE))
        guard = RemovalGuard(max_share=0.1, always_allowed=5)
        async with client_for(jira) as client:
            with pytest.raises(ReconciliationRefused) as refused:
                await reconcile(client, kb, jql, guard=guard)
            assert kb.live_issue_keys() == set(stored) and not kb.removed_dir.exists()
            count = len(gone & set(stored))
            message = str(refused.value)
            first = ", ".join(
                sorted(gone & set(stored), key=lambda key: (key.split("-")[0], int(key.split("-")[1])))[:3]
            )
            assert f"would have moved {count} issues to _removed/ ({first}" in message
            assert f"allow this pass with allow_removals={count}" in message and "moved nothing" in message
            assert refused.value.would_remove and len(refused.value.would_remove) == count
            # The operator's go-ahead for exactly that count moves them.
            result = await reconcile(
                client, kb, jql, guard=RemovalGuard(max_share=0.1, always_allowed=5, allow_removals=count)
            )
    assert sorted(result.moved) == sorted(gone & set(stored)) and kb.live_issue_keys() == set(stored) - gone


async def test_an_empty_scan_of_a_non_empty_mirror_always_stops(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        stored = await stored_scope(jira, kb)
        delete_issues(jira, list(jira.dataset.issues))
        generous = RemovalGuard(max_share=1.0, always_allowed=10_000, allow_removals=10_000)
        async with client_for(jira) as client:
            with pytest.raises(ReconciliationRefused, match="returned no issue at all"):
                await reconcile(client, kb, scope_jql_since(None, date.fromisoformat(START_DATE)), guard=generous)
    assert kb.live_issue_keys() == set(stored) and not kb.removed_dir.exists()


async def test_a_malformed_scope_answer_moves_nothing(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        stored = await stored_scope(jira, kb)
        jira.delete_issue(stored[0])
        with hostile_jira(jira, Hostility(extra_search_entries=(["a list"],))) as proxy:
            async with client_for(proxy) as client:
                with pytest.raises(
                    JiraApiError, match="sent list instead of an issue object: reconciliation moved nothing"
                ):
                    await reconcile(client, kb, scope_jql_since(None, date.fromisoformat(START_DATE)))
    assert kb.live_issue_keys() == set(stored)
