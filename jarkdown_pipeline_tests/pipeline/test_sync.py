"""The stages without Dagster, against the sample Jira: failure isolation and reconciliation."""

import asyncio
import os
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from jarkdown_pipeline import attachment_prefetch, sync
from jarkdown_pipeline.exceptions import JiraApiError
from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.config import FaultConfig
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.state_store import rebuild_from_files
from jarkdown_pipeline.sync import IssuesStageResult, mirror_window, reconcile, scope_jql_since
from jarkdown_pipeline.window_search import window_jql
from jarkdown_pipeline_tests.plugins.pipeline import (
    FAST_RETRIES,
    client_for,
    issues_updated_on,
    sample_config,
    stored_a_minute_ago,
)

DAY = date(2026, 11, 20)


async def mirror_day(client: JiraApiClient, kb: KnowledgeBase, base_url: str) -> IssuesStageResult:
    """The window of DAY through the production path; what its search and fetches did."""
    window = await mirror_window(
        client, kb, window_jql(None, DAY, DAY + timedelta(days=1)), field_definitions=[], base_url=base_url
    )
    return window.issues


@pytest.fixture
def day_keys():
    with run_sample_jira_in_thread(sample_config()) as probe:
        return sorted(issues_updated_on(probe, DAY))


async def test_a_failed_bulk_request_falls_back_to_single_fetches(tmp_path, day_keys, caplog, monkeypatch):
    # Requests: 1 /myself, 2 search, 3.. the bulk fetch: down for all its attempts. (No search for the
    # first issues' attachments beside the window's: it would race the bulk fetch for these numbers.)
    monkeypatch.setattr(attachment_prefetch, "PREFETCH_ISSUES", 0)
    faults = FaultConfig(
        unavailable_bursts=((3, FAST_RETRIES.max_attempts),), vanished_issue_keys=frozenset({day_keys[0]})
    )
    with run_sample_jira_in_thread(sample_config(faults=faults)) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            result = await mirror_day(client, kb, jira.base_url)
    assert "fetching them one by one" in caplog.text
    assert result.failed == {}
    assert list(result.vanished) == [day_keys[0]] and "404" in result.vanished[day_keys[0]]
    assert sorted(result.fetched) == sorted(result.keys) == day_keys[1:]
    assert kb.raw_issue_keys() == set(day_keys[1:])


async def test_the_windows_lists_hold_one_copy_of_each_key(tmp_path, day_keys):
    # A key kept from a bulk page would keep the allocator's blocks of that page in use: over a
    # backfill the process grows by what each page leaves behind.
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            window = await mirror_window(
                client, kb, window_jql(None, DAY, DAY + timedelta(days=1)), field_definitions=[], base_url=jira.base_url
            )
    copies = {id(key) for key in window.issues.keys}
    assert sorted(window.issues.keys) == day_keys and len(copies) == len(day_keys)
    for held in (window.issues.fetched, window.issues.new, window.markdown.written):
        assert sorted(held) == day_keys and {id(key) for key in held} == copies


async def test_persistent_errors_are_reported_per_issue_not_raised(tmp_path, day_keys, monkeypatch):
    # Everything after the search answers 503: every issue fails, the stage itself does not raise.
    monkeypatch.setattr(attachment_prefetch, "PREFETCH_ISSUES", 0)  # its search would race the window's
    faults = FaultConfig(unavailable_bursts=((3, 10_000),))
    with run_sample_jira_in_thread(sample_config(faults=faults)) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            result = await mirror_day(client, kb, jira.base_url)
    assert sorted(result.failed) == day_keys and all("503" in reason for reason in result.failed.values())
    assert result.fetched == [] and kb.raw_issue_keys() == set()


async def test_reconcile_moves_what_left_the_scope_and_rerenders_linkers(tmp_path, day_keys):
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            await mirror_day(client, kb, jira.base_url)
            for key in day_keys:
                kb.write_markdown(key, f"---\nkey: {key}\n---\n")
            kb.write_markdown(day_keys[1], f"---\nkey: {day_keys[1]}\n---\n[x](../{day_keys[0]}/{day_keys[0]}.md)\n")
            rebuild_from_files(kb.store, kb.root)  # files written by hand: the store learns their links from them
            deleted = set(jira.delete_issue(day_keys[0]))
            stored_a_minute_ago(kb)
            rerendered = []

            def rerender(key):
                rerendered.append(key)
                kb.write_markdown(key, f"---\nkey: {key}\n---\n")
                return True

            result = await reconcile(client, kb, scope_jql_since(None, date(2026, 11, 1)), rerender=rerender)
    assert set(result.moved) == deleted & set(day_keys)
    assert rerendered == [day_keys[1]] and result.rerendered == [day_keys[1]]
    assert kb.broken_links([kb.markdown_path(k) for k in kb.markdown_issue_keys()]) == []
    assert (kb.removed_dir / day_keys[0] / f"{day_keys[0]}.md").is_file()


async def test_reconcile_keeps_what_was_stored_during_its_search(tmp_path, day_keys, monkeypatch):
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            await mirror_day(client, kb, jira.base_url)
            stored_a_minute_ago(kb)
            jira.delete_issue(day_keys[0])
            search = sync.scope_keys

            async def search_while_another_run_stores(client, jql):
                in_scope = await search(client, jql)
                os.utime(kb.raw_path(day_keys[0]))  # another run stores the issue now, after the search passed it
                return in_scope

            with monkeypatch.context() as patch:
                patch.setattr(sync, "scope_keys", search_while_another_run_stores)
                result = await reconcile(client, kb, scope_jql_since(None, date(2026, 11, 1)))
            assert result.moved == [] and day_keys[0] in result.kept_recent  # stored during the search: kept
            stored_a_minute_ago(kb)
            result = await reconcile(client, kb, scope_jql_since(None, date(2026, 11, 1)))
    assert day_keys[0] in result.moved


async def test_streamed_window_links_locally_except_to_an_issue_that_never_arrived(tmp_path):
    # Rendered while the window streams in, every issue assumes the window's keys will arrive; one
    # that vanishes after the search must end up linked to Jira, not to a file that does not exist.
    with run_sample_jira_in_thread(sample_config()) as probe:
        in_window = set(probe.dataset.issues)
        pairs = sorted(
            (key, link.other_key)
            for key, issue in probe.dataset.issues.items()
            for link in issue.links
            if link.other_key in in_window
        )
    source, vanished = pairs[0]
    kept_source, kept_target = next((a, b) for a, b in pairs if vanished not in (a, b))
    faults = FaultConfig(vanished_issue_keys=frozenset({vanished}))
    with run_sample_jira_in_thread(sample_config(faults=faults)) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            fields = await client.fetch_fields()

            async def mirror():
                return await mirror_window(
                    client,
                    kb,
                    window_jql(None, date(2026, 11, 1), date(2026, 11, 22)),
                    field_definitions=fields,
                    base_url=jira.base_url,
                    max_concurrent_downloads=3,
                )

            result = await mirror()
            assert list(result.issues.vanished) == [vanished] and result.issues.failed == {}
            assert result.attachments.failed == {} and result.markdown.failed == {}
            assert set(result.markdown.written) == in_window - {vanished} == set(kb.markdown_issue_keys())
            text = kb.markdown_path(source).read_text(encoding="utf-8")
            assert f"/browse/{vanished})" in text and f"../{vanished}/{vanished}.md" not in text
            assert f"(../{kept_target}/{kept_target}.md)" in kb.markdown_path(kept_source).read_text(encoding="utf-8")
            assert kb.broken_links([kb.markdown_path(key) for key in kb.markdown_issue_keys()]) == []
            for key in in_window - {vanished}:
                manifest = kb.read_attachment_manifest(key)
                assert len(manifest) == len(jira.dataset.issues[key].attachments), key
            # Again, the issue still gone: the files that link to it are not rewritten (not even
            # to the same bytes), as they would be if its key were taken as arriving once more.
            before = {key: kb.markdown_path(key).stat().st_mtime_ns for key in kb.markdown_issue_keys()}
            again = await mirror()
            assert list(again.issues.vanished) == [vanished]
            assert again.markdown.written == [] and again.markdown.relinked == []
            assert {key: kb.markdown_path(key).stat().st_mtime_ns for key in kb.markdown_issue_keys()} == before
            # It comes back: the unchanged issue that links to it now links to its file.
            jira.call(lambda: setattr(jira.server.faults, "faults", FaultConfig()))
            back = await mirror()
            assert back.issues.new == [vanished] and source not in back.issues.fetched
            assert f"(../{vanished}/{vanished}.md)" in kb.markdown_path(source).read_text(encoding="utf-8")


async def test_streamed_window_relinks_an_issue_a_concurrent_run_stored_after_it_started(tmp_path, monkeypatch):
    # Run A streams a day; its source issue links to an issue of a later day. Run B stores that
    # issue and finishes its whole Markdown stage (relink scan included) after A listed the stored
    # keys but before A rendered the source: B's scan finds no file to fix, so A's final pass must.
    with run_sample_jira_in_thread(sample_config()) as jira:
        zone = ZoneInfo(jira.config.time_zone)
        issues = jira.dataset.issues

        def day_of(key):
            return issues[key].updated.astimezone(zone).date()

        source, target = sorted(
            (key, link.other_key)
            for key, issue in issues.items()
            for link in issue.links
            if link.other_key in issues and day_of(link.other_key) > day_of(key)
        )[0]
        kb_a, kb_b = KnowledgeBase(tmp_path), KnowledgeBase(tmp_path)  # two runs, one folder
        async with client_for(jira) as client:
            fields = await client.fetch_fields()

            def run_b_whole_stage() -> None:  # run B mirrors the target's day with a client of its own
                async def run_b() -> None:
                    async with client_for(jira) as client_b:
                        jql = window_jql(None, day_of(target), day_of(target) + timedelta(days=1))
                        await mirror_window(client_b, kb_b, jql, field_definitions=fields, base_url=jira.base_url)

                asyncio.run(run_b())

            download_for_a = sync.download_issue_attachments

            async def attachments_then_run_b(handler, kb, key, *rest, **options):
                if key == source:
                    await asyncio.to_thread(run_b_whole_stage)
                return await download_for_a(handler, kb, key, *rest, **options)

            monkeypatch.setattr(sync, "download_issue_attachments", attachments_then_run_b)
            day = day_of(source)
            result = await mirror_window(
                client,
                kb_a,
                window_jql(None, day, day + timedelta(days=1)),
                field_definitions=fields,
                base_url=jira.base_url,
                max_concurrent_downloads=2,
            )
    assert source in result.markdown.written and target not in result.issues.keys
    assert kb_a.markdown_path(target).is_file()
    text = kb_a.markdown_path(source).read_text(encoding="utf-8")
    assert f"(../{target}/{target}.md)" in text, f"{source} still links to {target} in Jira"


def markdown_files(kb: KnowledgeBase) -> dict[str, bytes]:
    return {key: kb.markdown_path(key).read_bytes() for key in kb.markdown_issue_keys()}


async def mirror_days(jira, kb: KnowledgeBase, **options):
    async with client_for(jira) as client:
        fields = await client.fetch_fields()
        return await mirror_window(
            client,
            kb,
            window_jql(None, date(2026, 11, 1), date(2026, 11, 22)),
            field_definitions=fields,
            base_url=jira.base_url,
            max_concurrent_downloads=3,
            **options,
        )


async def test_a_render_process_writes_what_the_event_loop_would(tmp_path, monkeypatch):
    started = []
    original_spawn = sync.RenderWorker.spawn.__func__

    async def recording_spawn(cls, *args, **kwargs):
        worker = await original_spawn(cls, *args, **kwargs)
        started.append(worker.pid)
        return worker

    monkeypatch.setattr(sync.RenderWorker, "spawn", classmethod(recording_spawn))
    with run_sample_jira_in_thread(sample_config()) as jira:
        in_loop, in_child = KnowledgeBase(tmp_path / "loop"), KnowledgeBase(tmp_path / "child")
        loop_result = await mirror_days(jira, in_loop, render_process=False)
        assert started == []
        child_result = await mirror_days(jira, in_child, render_process=True)
    assert len(started) == 1 and started[0] != os.getpid()
    assert child_result.markdown.failed == {} and sorted(child_result.markdown.written) == sorted(
        loop_result.markdown.written
    )
    assert len(child_result.markdown.written) == len(jira.dataset.issues) > 20
    assert markdown_files(in_child) == markdown_files(in_loop)


async def test_issues_left_by_a_render_process_that_died_are_rendered_on_the_loop(tmp_path, monkeypatch, caplog):
    original_render = sync.RenderWorker.render
    rendered_in_child = []

    async def render_then_die(self, key, **how):
        outcome = await original_render(self, key, **how)
        rendered_in_child.append(key)
        if len(rendered_in_child) == 5:
            os.kill(self.pid, 9)
        return outcome

    monkeypatch.setattr(sync.RenderWorker, "render", render_then_die)
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        result = await mirror_days(jira, kb, render_process=True)
    assert 5 <= len(rendered_in_child) < len(jira.dataset.issues)
    assert result.markdown.failed == {}
    assert set(result.markdown.written) == set(jira.dataset.issues) == set(kb.markdown_issue_keys())
    assert "Rendering on the event loop from" in caplog.text


async def test_a_file_the_render_process_wrote_before_its_answer_was_lost_counts_as_written(tmp_path, monkeypatch):
    # The race seen once in CI: the child wrote a file, then died before its answer was read. The
    # loop renders that issue again, finds it unchanged, and must still report it as written.
    original_render = sync.RenderWorker.render
    lost = []

    async def render_then_lose_the_answer(self, key, **how):
        outcome = await original_render(self, key, **how)
        if not lost:
            lost.append(key)
            os.kill(self.pid, 9)
            raise sync.RenderWorkerGone("answer lost")
        return outcome

    monkeypatch.setattr(sync.RenderWorker, "render", render_then_lose_the_answer)
    with run_sample_jira_in_thread(sample_config()) as jira:
        kb = KnowledgeBase(tmp_path)
        result = await mirror_days(jira, kb, render_process=True)
    assert lost and lost[0] in result.markdown.written and lost[0] not in result.markdown.unchanged
    assert set(result.markdown.written) == set(jira.dataset.issues) and result.markdown.failed == {}


async def test_a_window_fetches_through_one_bulk_stream_that_waits_for_its_backlog(tmp_path, monkeypatch):
    # Three search pages of 100 keys: one bulk stream over all of them (one bulk request at a time),
    # and no more issues handed on to downloads and rendering than the backlog's limit and a bulk page.
    monkeypatch.setattr(sync, "WINDOW_BACKLOG_ISSUES", 30)
    backlog_peak = [0]
    add = sync.Backlog.add

    def counted_add(backlog):
        add(backlog)
        backlog_peak[0] = max(backlog_peak[0], backlog.count)

    monkeypatch.setattr(sync.Backlog, "add", counted_add)
    config = sample_config(
        issue_count=250,
        max_attachments_per_issue=1,
        attachment_max_bytes=512,
        max_comments_per_issue=2,
        max_worklogs_per_issue=2,
        search_page_max_ids=100,
    )
    with run_sample_jira_in_thread(config) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            in_flight, peak = [0], [0]
            bulk_fetch_page = client._bulk_fetch_page

            async def counted_bulk_fetch_page(*arguments):
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
                try:
                    return await bulk_fetch_page(*arguments)
                finally:
                    in_flight[0] -= 1

            monkeypatch.setattr(client, "_bulk_fetch_page", counted_bulk_fetch_page)
            fields = await client.fetch_fields()
            result = await mirror_window(
                client,
                kb,
                window_jql(None, date(2026, 11, 1), date(2026, 11, 22)),
                field_definitions=fields,
                base_url=jira.base_url,
                max_concurrent_downloads=3,
            )
        # Three pages, and the search for the first issues' attachments (an empty knowledge base).
        assert jira.stats["api"]["by_route"]["POST /rest/api/3/search/jql"] == 3 + 1
    assert len(result.issues.keys) == 250 and set(result.markdown.written) == set(result.issues.keys)
    assert not (result.issues.failed or result.attachments.failed or result.markdown.failed)
    assert peak[0] == 1, "bulk requests of the window overlapped"
    assert 30 <= backlog_peak[0] < 30 + 100, backlog_peak[0]


async def test_a_new_issues_downloads_start_before_its_page_is_stored_when_it_did_not_move(tmp_path, monkeypatch):
    # Into a knowledge base that holds issues, a new key might be a moved issue; only one whose id the
    # store holds under another key waits for its page's store. Storing an issue here waits until its
    # download has started: were every new issue made to wait, this window would stall and fail.

    config = sample_config(issue_count=80, days=10, max_attachments_per_issue=1, attachment_max_bytes=512)
    download_started: dict[str, threading.Event] = {}
    waited_in_vain: list[str] = []
    downloads = sync.download_issue_attachments

    async def noted_download(handler, kb, key, result, fetched=None, **options):
        download_started.setdefault(key, threading.Event()).set()
        return await downloads(handler, kb, key, result, fetched, **options)

    with run_sample_jira_in_thread(config) as jira:
        kb = KnowledgeBase(tmp_path)
        zone = ZoneInfo(jira.config.time_zone)
        last_day = max(issue.updated.astimezone(zone).date() for issue in jira.dataset.issues.values())
        await mirror_window_of(jira, kb, last_day - timedelta(days=30), last_day)
        assert kb.raw_issue_keys(), "the first window stored nothing"
        later = sorted(issues_updated_on(jira, last_day))
        with_attachments = {key for key in later if jira.dataset.issues[key].attachments}
        assert with_attachments, "the sample day has no issue with an attachment"
        write_raw_issue = kb.write_raw_issue

        def write_after_its_download(issue):
            key = issue["key"]
            if key in with_attachments and not download_started.setdefault(key, threading.Event()).wait(5):
                waited_in_vain.append(key)
            return write_raw_issue(issue)

        monkeypatch.setattr(sync, "download_issue_attachments", noted_download)
        monkeypatch.setattr(kb, "write_raw_issue", write_after_its_download)
        result = await mirror_window_of(jira, kb, last_day, last_day + timedelta(days=1))
    assert set(later) <= set(result.issues.new) and not result.issues.moved
    assert waited_in_vain == []
    assert not (result.issues.failed or result.attachments.failed or result.markdown.failed)


async def mirror_window_of(jira, kb: KnowledgeBase, start: date, end: date):
    async with client_for(jira) as client:
        return await window_with(client, jira, kb, start, end)


async def window_with(client: JiraApiClient, jira, kb: KnowledgeBase, start: date, end: date):
    """The window ``start`` .. ``end`` through ``client`` (a test may have wrapped its methods)."""
    return await mirror_window(
        client, kb, window_jql(None, start, end), field_definitions=await client.fetch_fields(), base_url=jira.base_url
    )


async def test_a_pages_downloads_start_before_its_changelogs_and_comments_are_paged(tmp_path, monkeypatch):
    # Paging an issue's long changelog, comments and worklogs is needed to store and render it, not
    # to download its attachments: here the paging waits until a download of its page has started.
    config = sample_config(issue_count=40, max_attachments_per_issue=1, attachment_max_bytes=512)
    download_started = asyncio.Event()
    downloads = sync.download_issue_attachments
    waited_in_vain = []

    async def noted_download(*arguments, **options):
        download_started.set()
        return await downloads(*arguments, **options)

    with run_sample_jira_in_thread(config) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            complete_issues = client.complete_issues

            async def after_a_download(issues):
                try:
                    await asyncio.wait_for(download_started.wait(), 10)
                except TimeoutError:
                    waited_in_vain.append(len(issues))
                await complete_issues(issues)

            monkeypatch.setattr(sync, "download_issue_attachments", noted_download)
            monkeypatch.setattr(client, "complete_issues", after_a_download)
            result = await window_with(client, jira, kb, date(2026, 11, 1), date(2026, 11, 22))
    assert waited_in_vain == []
    assert len(result.issues.keys) == 40 and set(result.markdown.written) == set(result.issues.keys)
    assert not (result.issues.failed or result.attachments.failed or result.markdown.failed)


async def test_a_page_whose_completion_fails_completes_its_issues_one_by_one(tmp_path, monkeypatch):
    config = sample_config(issue_count=30, max_attachments_per_issue=1, attachment_max_bytes=512)
    with run_sample_jira_in_thread(config) as jira:
        kb = KnowledgeBase(tmp_path)
        async with client_for(jira) as client:
            complete_alone = client.complete_issue_alone
            failing: list[str] = []

            async def refused(issues):
                raise JiraApiError("HTTP 500 from the changelog bulk fetch", status_code=500)

            async def one_refused(issue):
                if not failing:
                    failing.append(issue["key"])
                    raise JiraApiError(f"HTTP 500 paging the comments of {issue['key']}", status_code=500)
                await complete_alone(issue)

            monkeypatch.setattr(client, "complete_issues", refused)
            monkeypatch.setattr(client, "complete_issue_alone", one_refused)
            result = await window_with(client, jira, kb, date(2026, 11, 1), date(2026, 11, 22))
    assert list(result.issues.failed) == failing and "paging the comments" in result.issues.failed[failing[0]]
    others = set(result.issues.keys) - set(failing)
    assert len(others) == 29 and set(result.markdown.written) == others
    assert not kb.raw_path(failing[0]).exists() and not kb.markdown_path(failing[0]).exists()
    for key in others:  # completed on their own: every comment and history entry Jira has
        assert f"comments_total: {len(jira.dataset.issues[key].comments)}" in kb.markdown_path(key).read_text()


async def test_a_window_switches_threads_promptly_while_it_runs_and_restores_the_interval(tmp_path, monkeypatch):
    # The window's threads (storing pages, writing files) must not keep its event loop waiting for the
    # interpreter lock for Python's default 5 ms: the window shortens the switch interval, then restores it.
    import sys

    config = sample_config(issue_count=5, max_attachments_per_issue=1, attachment_max_bytes=512)
    seen_during: list[float] = []
    downloads = sync.download_issue_attachments

    async def noted_download(*arguments, **options):
        seen_during.append(sys.getswitchinterval())
        return await downloads(*arguments, **options)

    before = sys.getswitchinterval()
    monkeypatch.setattr(sync, "download_issue_attachments", noted_download)
    with run_sample_jira_in_thread(config) as jira:
        async with client_for(jira) as client:
            result = await window_with(client, jira, KnowledgeBase(tmp_path), date(2026, 11, 1), date(2026, 11, 22))
    assert len(result.issues.keys) == 5 and seen_during
    assert set(seen_during) == {min(sync.WINDOW_SWITCH_INTERVAL, before)}
    assert sys.getswitchinterval() == before


def test_prompt_thread_switches_never_lengthens_the_interval():
    import sys

    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.0005)
        with sync.prompt_thread_switches(0.002):
            assert sys.getswitchinterval() == pytest.approx(0.0005)
        with sync.prompt_thread_switches(0.0001):
            assert sys.getswitchinterval() == pytest.approx(0.0001)
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(before)


def search_requests(jira) -> int:
    return jira.stats["api"]["by_route"].get("POST /rest/api/3/search/jql", 0)


async def test_the_render_process_starts_while_the_search_still_pages(tmp_path, monkeypatch):
    spawned_after_searches = []
    original_spawn = sync.RenderWorker.spawn.__func__

    async def recording_spawn(cls):
        spawned_after_searches.append(search_requests(jira))
        return await original_spawn(cls)

    monkeypatch.setattr(sync.RenderWorker, "spawn", classmethod(recording_spawn))
    monkeypatch.setattr(sync, "RENDER_PROCESS_MIN_ISSUES", 10)
    with run_sample_jira_in_thread(sample_config(search_page_max_ids=10)) as jira:
        result = await mirror_days(jira, KnowledgeBase(tmp_path / "kb"))
        searches = search_requests(jira)
    assert len(result.issues.keys) > 30 and result.markdown.failed == {}
    assert searches >= 4 and len(spawned_after_searches) == 1 and spawned_after_searches[0] < searches


# 0: the child started before Jira refused the search; 0.5: still starting then (waited for, not
# cancelled: a cancelled spawn left the child to the garbage collector).
@pytest.mark.parametrize("start_seconds", [0, 0.5])
async def test_a_render_process_spawned_for_a_window_that_fails_is_stopped(tmp_path, monkeypatch, start_seconds):
    spawned = []
    original_spawn = sync.RenderWorker.spawn.__func__

    async def recording_spawn(cls):
        worker = await original_spawn(cls)
        spawned.append(worker.pid)
        await asyncio.sleep(start_seconds)
        return worker

    monkeypatch.setattr(sync.RenderWorker, "spawn", classmethod(recording_spawn))
    with run_sample_jira_in_thread(sample_config()) as jira:
        async with client_for(jira) as client:
            fields = await client.fetch_fields()
            with pytest.raises(JiraApiError):
                await mirror_window(
                    client,
                    KnowledgeBase(tmp_path / "kb"),
                    "project = ALPHA AND (",  # Jira refuses it with the first search page
                    field_definitions=fields,
                    base_url=jira.base_url,
                    render_process=True,
                )
    assert len(spawned) == 1
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left behind
        os.kill(spawned[0], 0)
