"""A window on an empty knowledge base downloads its first issues' attachments from the search."""

import asyncio
import time
from datetime import date, timedelta

from jarkdown_pipeline import sync
from jarkdown_pipeline.attachment_prefetch import PREFETCH_ISSUES, first_attachment_lists
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.sync import count_as_downloaded, mirror_window
from jarkdown_pipeline.window_search import window_jql
from jarkdown_pipeline_tests.plugins.pipeline import client_for, issues_updated_on, sample_config

SEARCH = "POST /rest/api/3/search/jql"
CONTENT = "GET /rest/api/3/attachment/content/{id}"
BULK = "POST /rest/api/3/issue/bulkfetch"
LATENCY = 0.05


def attachments_of(jira, keys) -> int:
    return sum(len(jira.dataset.issues[key].attachments) for key in keys)


async def window(jira, kb: KnowledgeBase, first: date, end: date, client=None):
    async def run(client):
        fields = await client.fetch_fields()
        return await mirror_window(
            client, kb, window_jql(None, first, end), field_definitions=fields, base_url=jira.base_url
        )

    if client is not None:
        return await run(client)
    async with client_for(jira) as own:
        return await run(own)


def last_day(jira) -> date:
    return max(issue.updated.date() for issue in jira.dataset.issues.values())


async def test_the_first_downloads_start_before_the_first_bulk_page_and_nothing_is_asked_twice(tmp_path):
    config = sample_config(issue_count=60, days=3, latency_seconds=LATENCY)
    with run_sample_jira_in_thread(config) as jira:
        first, end = last_day(jira) - timedelta(days=5), last_day(jira) + timedelta(days=1)
        keys = set().union(*(issues_updated_on(jira, first + timedelta(days=n)) for n in range((end - first).days)))
        jira.reset_stats()
        result = await window(jira, KnowledgeBase(tmp_path), first, end)
        stats = jira.stats["api"]
    expected = attachments_of(jira, keys)
    assert expected > PREFETCH_ISSUES, "the sample's window needs more attachments than the prefetch takes"
    # One search for the first issues' attachments beside the window's own; every file asked for once.
    assert stats["by_route"][SEARCH] == 2 and stats["by_route"][CONTENT] == expected
    assert result.attachments.downloaded == expected and result.attachments.present == 0
    assert result.attachments.bytes_downloaded == sum(
        attachment.size for key in keys for attachment in jira.dataset.issues[key].attachments
    )
    assert not (result.issues.failed or result.attachments.failed or result.markdown.failed)
    # The first download came before the first bulk page could have been answered.
    assert stats["first_by_route"][CONTENT] < stats["first_by_route"][BULK] + LATENCY
    for key in keys:
        assert len(KnowledgeBase(tmp_path).read_attachment_manifest(key) or []) == len(
            jira.dataset.issues[key].attachments
        )


async def test_a_knowledge_base_that_holds_issues_searches_once(tmp_path):
    config = sample_config(issue_count=30, days=3)
    with run_sample_jira_in_thread(config) as jira:
        kb = KnowledgeBase(tmp_path)
        day = last_day(jira)
        await window(jira, kb, day - timedelta(days=1), day)
        jira.reset_stats()
        result = await window(jira, kb, day, day + timedelta(days=1))
        stats = jira.stats["api"]
    assert stats["by_route"][SEARCH] == 1  # something stored may have moved: the bulk pages come first
    assert not (result.issues.failed or result.attachments.failed)


async def test_an_issue_gone_before_its_bulk_page_leaves_no_attachments_behind(tmp_path, monkeypatch, caplog):
    config = sample_config(issue_count=40, days=3)
    with run_sample_jira_in_thread(config) as jira:
        kb = KnowledgeBase(tmp_path)
        first, end = last_day(jira) - timedelta(days=5), last_day(jira) + timedelta(days=1)
        async with client_for(jira) as client:
            gone = next(iter(await first_attachment_lists(client, window_jql(None, first, end))))
            bulk_round = client._bulk_fetch_round

            async def delete_once_downloaded(keys, *rest):
                # Its files are in (the prefetch's), then Jira deletes it: its bulk page will not have it.
                if gone in keys:
                    deadline = time.monotonic() + 10
                    while not any(kb.attachments_dir(gone).glob("*")) and time.monotonic() < deadline:
                        await asyncio.sleep(0.01)
                    assert any(kb.attachments_dir(gone).glob("*")), "the prefetch downloaded nothing"
                    await asyncio.to_thread(jira.delete_issue, gone)
                return await bulk_round(keys, *rest)

            monkeypatch.setattr(client, "_bulk_fetch_round", delete_once_downloaded)
            with caplog.at_level("INFO", logger=sync.__name__):
                result = await window(jira, kb, first, end, client)
    assert gone in result.issues.vanished
    assert not kb.issue_dir(gone).exists()
    assert f"{gone} did not arrive: removed the attachments downloaded for it from the search" in caplog.text
    assert not (result.attachments.failed or result.markdown.failed)


def test_files_found_in_place_count_as_downloaded_only_when_the_prefetch_downloaded_them():
    infos = [
        {"attachment_id": "1", "filename": "a.txt", "status": "skipped", "bytes_downloaded": 0},
        {"attachment_id": "2", "filename": "b.txt", "status": "skipped", "bytes_downloaded": 0},
        {"attachment_id": "3", "filename": "c.txt", "status": "downloaded", "bytes_downloaded": 7},
        {"attachment_id": "4", "filename": "d-4.txt", "status": "skipped", "bytes_downloaded": 0},
    ]
    prefetched = [
        {"attachment_id": "1", "filename": "a.txt", "status": "downloaded", "bytes_downloaded": 5},
        {"attachment_id": "2", "filename": "b.txt", "status": "skipped", "bytes_downloaded": 0},  # was there before
        {"attachment_id": "4", "filename": "d.txt", "status": "downloaded", "bytes_downloaded": 9},  # renamed since
    ]
    count_as_downloaded(infos, prefetched)
    assert [(info["status"], info["bytes_downloaded"]) for info in infos] == [
        ("downloaded", 5),
        ("skipped", 0),
        ("downloaded", 7),
        ("skipped", 0),
    ]
