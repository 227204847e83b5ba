"""The throttler and the streamed search against local servers: 429 bursts, page caps, streaming."""

import asyncio
from datetime import date, timedelta

import pytest
from aiohttp import web

from jarkdown_pipeline import sync
from jarkdown_pipeline.exceptions import BadRequestError
from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.app import TokenBucket
from jarkdown_pipeline.window_search import window_jql
from jarkdown_pipeline_tests.plugins.sample_jira import SAMPLE_JIRA_TEST_NOW, sample_jira_client

REQUESTS = 60
# Every issue of the small sample (updated in the 30 days before its "now").
WINDOW_JQL = window_jql(None, date(2026, 10, 1), SAMPLE_JIRA_TEST_NOW.date() + timedelta(days=2))


async def test_a_burst_past_the_rate_limit_gets_429s_once_then_the_client_keeps_the_pace(sample_jira_factory):
    # A bucket of 10 requests refilled at 20/s; 60 requests asked for at once, 5 connections.
    jira = sample_jira_factory(rate_limit_burst=10, rate_limit_per_second=20.0)
    async with sample_jira_client(jira) as client:
        jira.reset_stats()
        fields = await asyncio.gather(*(client.fetch_fields() for _ in range(REQUESTS)))
        stats = client.stats
    assert all(isinstance(answer, list) and answer for answer in fields)
    served = jira.stats["rate_limited_at"]
    # One burst: only requests already on their way when the first 429 came back were refused.
    assert 1 <= len(served) <= client.max_connections_per_host
    assert max(served) - min(served) < 0.5
    assert stats.rate_limited == len(served) and stats.retries == len(served)


async def test_without_a_stated_rate_the_pace_is_half_the_accepted_one():
    # Jira Cloud states no rate: Retry-After only. The client halves the rate the host accepted.
    bucket = TokenBucket(10, 20.0)
    served: list[int] = []

    async def fields(request: web.Request) -> web.Response:
        wait = bucket.take()
        if wait is not None:
            served.append(1)
            return web.json_response(
                {"errorMessages": ["Rate limit exceeded."]}, status=429, headers={"Retry-After": "1"}
            )
        return web.json_response([{"id": "summary"}])

    app = web.Application()
    app.router.add_get("/rest/api/3/field", fields)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        client = JiraApiClient(
            f"http://127.0.0.1:{port}", "a@b.c", "token", verify_credentials=False, close_grace_period=0
        )
        async with client:
            answers = await asyncio.gather(*(client.fetch_fields() for _ in range(REQUESTS)))
            (pace,) = client.throttler.paces.values()
    finally:
        await runner.cleanup()
    assert len(answers) == REQUESTS
    assert pace.interval > 0 and pace.rate_limited == len(served)
    # Each later burst is one or two requests (the pace lets few be on their way): without the shared
    # pause and pace, most of the 60 requests are refused at least once.
    assert len(served) < REQUESTS // 3


async def test_search_pages_follow_jiras_caps_few_fields_bigger_pages(sample_jira_factory):
    jira = sample_jira_factory(search_page_max_ids=7, search_page_max_fields=3)
    async with sample_jira_client(jira) as client:
        keys_only = [len(page) async for page in client.search_pages(WINDOW_JQL, fields=("key",), page_size=5000)]
        with_updated = [
            len(page) async for page in client.search_pages(WINDOW_JQL, fields=("updated",), page_size=5000)
        ]
    total = sum(keys_only)
    assert total == sum(with_updated) == len(jira.dataset.issues)
    assert keys_only[:-1] == [7] * (len(keys_only) - 1) and 1 <= keys_only[-1] <= 7
    assert with_updated[:-1] == [3] * (len(with_updated) - 1)


async def test_bulkfetch_refuses_more_than_its_cap(sample_jira_factory):
    jira = sample_jira_factory(bulkfetch_page_max=10)
    keys = sorted(jira.dataset.issues)[:11]
    async with sample_jira_client(jira) as client:
        with pytest.raises(BadRequestError, match="maximum of 10"):
            await client._bulk_fetch_round(keys, ("*all",), ())
        page = await client._bulk_fetch_round(keys[:10], ("*all",), ())
    assert len(page[0]) == 10


async def test_the_window_fetches_from_the_first_search_page_on(sample_jira_factory, tmp_path):
    # 5 issues a search page, 50 ms a request: the search takes a dozen pages, and the first bulk
    # fetch must not wait for its last one.
    jira = sample_jira_factory(search_page_max_ids=5, search_page_max_fields=5, latency_seconds=0.05)
    kb = KnowledgeBase(tmp_path / "kb")
    async with sample_jira_client(jira) as client:
        jira.reset_stats()
        result = await sync.mirror_window(client, kb, WINDOW_JQL, field_definitions=[], base_url=jira.base_url)
    api = jira.stats["api"]
    searches = api["by_route"]["POST /rest/api/3/search/jql"]
    assert searches >= 10
    assert (
        api["first_by_route"]["POST /rest/api/3/issue/bulkfetch"] < api["last_by_route"]["POST /rest/api/3/search/jql"]
    )
    assert jira.stats["first_download_at"] < api["last_by_route"]["POST /rest/api/3/search/jql"]
    assert sorted(result.issues.keys) == sorted(result.issues.fetched) == sorted(jira.dataset.issues)
    assert not result.issues.failed and not result.attachments.failed and not result.markdown.failed


async def test_a_second_run_searches_with_updated_and_fetches_nothing(sample_jira_factory, tmp_path):
    jira = sample_jira_factory(search_page_max_ids=50, search_page_max_fields=20)
    kb = KnowledgeBase(tmp_path / "kb")
    async with sample_jira_client(jira) as client:
        await sync.mirror_window(client, kb, WINDOW_JQL, field_definitions=[], base_url=jira.base_url)
        jira.reset_stats()
        again = await sync.mirror_window(client, kb, WINDOW_JQL, field_definitions=[], base_url=jira.base_url)
    assert sorted(again.issues.unchanged) == sorted(jira.dataset.issues) and again.issues.fetched == []
    routes = jira.stats["api"]["by_route"]
    assert "POST /rest/api/3/issue/bulkfetch" not in routes
    assert routes["POST /rest/api/3/search/jql"] == -(
        -len(jira.dataset.issues) // 20
    )  # pages of 20: `updated` asked for
