"""Fault injection, run-time mutations, latency and in-flight accounting of the sample Jira."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from jarkdown_pipeline.jira_api_client import WHOLE_ISSUE_EXPAND
from jarkdown_pipeline.sample_jira import FaultConfig
from jarkdown_pipeline.sample_jira import app as sample_jira_app
from jarkdown_pipeline.tools.connection_budget import connection_budget
from jarkdown_pipeline_tests.plugins.sample_jira import sample_jira_auth_headers

API = "/rest/api/3"


def session_for(jira) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=jira.base_url, headers=sample_jira_auth_headers(jira))


async def statuses(http: aiohttp.ClientSession, count: int) -> list[tuple[int, str | None]]:
    out = []
    for _ in range(count):
        async with http.get(f"{API}/myself") as response:
            out.append((response.status, response.headers.get("Retry-After")))
            await response.read()
    return out


async def test_429_on_chosen_requests_with_retry_after(sample_jira_factory):
    jira = sample_jira_factory(faults=FaultConfig(rate_limit_requests=frozenset({2, 4}), retry_after_seconds=3))
    async with session_for(jira) as http:
        seen = await statuses(http, 5)
        async with http.get(f"{API}/field") as response:
            assert response.status == 200
    assert seen == [(200, None), (429, "3"), (200, None), (429, "3"), (200, None)]
    stats = jira.stats
    assert stats["rate_limited"] == 2
    assert stats["api"]["by_status"] == {"200": 4, "429": 2}


async def test_429_body_is_jiras_error_body_and_fractional_retry_after_is_kept(sample_jira_factory):
    jira = sample_jira_factory(faults=FaultConfig(rate_limit_requests=frozenset({1}), retry_after_seconds=0.05))
    async with session_for(jira) as http, http.get(f"{API}/search/jql", params={"jql": "project = ALPHA"}) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "0.05"
        assert (await response.json())["errorMessages"] == ["Rate limit exceeded."]


async def test_a_429_rate_is_seeded_and_repeatable(sample_jira_factory):
    faults = FaultConfig(rate_limit_rate=0.3)
    runs = []
    for _ in range(2):
        jira = sample_jira_factory(faults=faults)
        async with session_for(jira) as http:
            runs.append([status for status, _ in await statuses(http, 40)])
    assert runs[0] == runs[1]
    assert 3 <= runs[0].count(429) <= 25


async def test_503_bursts(sample_jira_factory):
    jira = sample_jira_factory(faults=FaultConfig(unavailable_bursts=((2, 3), (8, 1))))
    async with session_for(jira) as http:
        seen = [status for status, _ in await statuses(http, 9)]
    assert seen == [200, 503, 503, 503, 200, 200, 200, 503, 200]
    assert jira.stats["unavailable"] == 4


async def test_control_endpoints_are_not_counted_and_never_fail(sample_jira_factory):
    jira = sample_jira_factory(faults=FaultConfig(unavailable_bursts=((1, 100),)), latency_seconds=0.2)
    async with aiohttp.ClientSession(base_url=jira.base_url) as http:
        async with http.get("/_sample/stats") as response:
            assert response.status == 200
            body = await response.json()
    assert body["api"]["requests"] == 0


async def test_a_download_is_cut_on_the_first_attempt_only(sample_jira_factory):
    probe = sample_jira_factory()
    attachment = max((a for a in probe.dataset.attachments.values() if a.kind == "binary"), key=lambda a: a.size)
    jira = sample_jira_factory(
        faults=FaultConfig(cut_download_attachment_ids=frozenset({attachment.id}), cut_after_fraction=0.5)
    )
    expected = b"".join(jira.expected_attachment_bytes(attachment.id))
    url = f"{API}/attachment/content/{attachment.id}"
    async with session_for(jira) as http:
        received = bytearray()
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.get(url) as response:
                assert response.status == 200 and response.content_length == attachment.size
                async for chunk in response.content.iter_chunked(4096):
                    received += chunk
        assert 0 < len(received) < attachment.size
        assert bytes(received) == expected[: len(received)]  # the bytes before the cut are right
        async with http.get(url) as response:
            assert await response.read() == expected
    assert jira.stats["cut_downloads"] == 1


async def test_a_cut_rate_picks_attachments_deterministically(sample_jira_factory):
    jira = sample_jira_factory(faults=FaultConfig(cut_download_rate=0.5, cut_download_attempts=2))
    ids = sorted(jira.dataset.attachments)[:12]
    cut = []
    async with session_for(jira) as http:
        for attachment_id in ids:
            for _attempt in range(3):
                try:
                    async with http.get(f"{API}/attachment/content/{attachment_id}") as response:
                        await response.read()
                    break
                except aiohttp.ClientPayloadError:
                    cut.append(attachment_id)
    chosen = sorted(set(cut))
    assert chosen and len(chosen) < len(ids)
    assert all(cut.count(i) == 2 for i in chosen)  # cut twice, then whole
    server = jira.server
    assert chosen == [i for i in ids if server.faults.download_attempts[i] == 3]


async def test_an_issue_that_vanishes_between_search_and_fetch(sample_jira_factory):
    probe = sample_jira_factory()
    victim = probe.dataset.sorted_issues()[3].key
    project = victim.split("-")[0]
    jira = sample_jira_factory(faults=FaultConfig(vanished_issue_keys=frozenset({victim})))
    async with session_for(jira) as http:
        async with http.get(
            f"{API}/search/jql", params={"jql": f"project = {project}", "fields": "key", "maxResults": "500"}
        ) as response:
            assert victim in [i["key"] for i in (await response.json())["issues"]]
        async with http.post(f"{API}/issue/bulkfetch", json={"issueIdsOrKeys": [victim, f"{project}-1"]}) as response:
            body = await response.json()
            assert victim not in [i["key"] for i in body["issues"]] and body["issueErrors"] == []
        for path in (f"{API}/issue/{victim}", f"{API}/issue/{victim}/comment", f"{API}/issue/{victim}/worklog"):
            async with http.get(path) as response:
                assert response.status == 404


async def test_bulkfetch_issue_errors_once(sample_jira_factory):
    probe = sample_jira_factory()
    issue = probe.dataset.sorted_issues()[0]
    jira = sample_jira_factory(faults=FaultConfig(bulkfetch_error_keys=frozenset({issue.key})))
    async with session_for(jira) as http:
        async with http.post(f"{API}/issue/bulkfetch", json={"issueIdsOrKeys": [issue.key]}) as response:
            body = await response.json()
        assert body["issues"] == []
        assert body["issueErrors"] == [{"id": str(issue.id), "errorMessage": body["issueErrors"][0]["errorMessage"]}]
        async with http.post(f"{API}/issue/bulkfetch", json={"issueIdsOrKeys": [issue.key]}) as response:
            body = await response.json()
        assert [i["key"] for i in body["issues"]] == [issue.key] and body["issueErrors"] == []


async def test_touch_and_delete_over_http_change_what_search_sees(sample_jira):
    target = sample_jira.dataset.sorted_issues()[0]
    old_summary = target.summary
    async with session_for(sample_jira) as http:
        async with http.post("/_sample/touch", json={"key": target.key, "comment": "new comment"}) as response:
            assert response.status == 200
            touched = await response.json()
        assert touched["summary"] != old_summary
        zone = sample_jira.config.zone
        since = (sample_jira.dataset.now - timedelta(minutes=1)).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        async with http.get(
            f"{API}/search/jql",
            params={"jql": f'project = {target.project.key} AND updated >= "{since}"', "fields": "key,summary"},
        ) as response:
            found = {i["key"]: i["fields"]["summary"] for i in (await response.json())["issues"]}
        assert found[target.key] == touched["summary"]
        async with http.get(
            f"{API}/issue/{target.key}/comment", params={"orderBy": "-created", "maxResults": 1}
        ) as response:
            newest = (await response.json())["comments"][0]
        assert newest["body"]["content"][0]["content"][0]["text"] == "new comment"

        async with http.post("/_sample/delete", json={"key": target.key}) as response:
            assert response.status == 200
            assert target.key in (await response.json())["deleted"]
        async with http.get(f"{API}/issue/{target.key}") as response:
            assert response.status == 404
        async with http.get(f"{API}/search/jql", params={"jql": f"key = {target.key}"}) as response:
            assert response.status == 400  # Jira: "An issue with key ... does not exist"
        async with http.post("/_sample/touch", json={"key": target.key}) as response:
            assert response.status == 404
        async with http.post("/_sample/touch", json={"nope": 1}) as response:
            assert response.status == 400


def test_touch_with_an_explicit_time_and_delete_cascade_from_sync_code(sample_jira):
    parent = next(i for i in sample_jira.dataset.sorted_issues() if sample_jira.dataset.subtasks_of(i))
    children = [c.key for c in sample_jira.dataset.subtasks_of(parent)]
    when = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    result = sample_jira.touch_issue(parent.key, updated=when)
    assert result["updated"] == "2026-11-20T12:00:00.000+0100"
    assert sorted(sample_jira.delete_issue(parent.key)) == sorted([parent.key, *children])


async def test_latency_and_peak_requests_in_flight(sample_jira_factory):
    jira = sample_jira_factory(latency_seconds=0.2)
    async with session_for(jira) as http:

        async def one() -> None:
            async with http.get(f"{API}/myself") as response:
                await response.read()

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(4)))
        elapsed = time.monotonic() - started
    assert elapsed >= 0.2  # a lower bound only: latency was applied
    stats = jira.stats
    assert stats["api"]["peak_in_flight"] == 4 and stats["api"]["in_flight"] == 0
    # Four requests of >= 0.2 s, all at once: the host was busy ~4 deep over a span of >= 0.2 s.
    assert 0.2 <= stats["api"]["span_seconds"] <= elapsed + 0.01 and 3.0 <= stats["api"]["mean_in_flight"] <= 4.0
    jira.reset_stats()
    assert jira.stats["api"]["requests"] == 0


async def test_prerendered_issues_are_served_and_refreshed_after_a_change(sample_jira_factory):
    jira = sample_jira_factory(prerender=True, issue_count=12)
    assert len(jira.server._fragments) == 12
    key = jira.dataset.sorted_issues()[0].key
    async with session_for(jira) as http:
        # As the pipeline asks: a prerendered issue that the pipeline's request misses is no help to a benchmark.
        body = {"issueIdsOrKeys": [key], "fields": ["*all"], "expand": list(WHOLE_ISSUE_EXPAND)}
        async with http.post(f"{API}/issue/bulkfetch", json=body) as response:
            before = (await response.json())["issues"][0]
        assert len(jira.server._fragments) == 12  # served from the cache
        touched = jira.touch_issue(key)
        async with http.post(f"{API}/issue/bulkfetch", json=body) as response:
            after = (await response.json())["issues"][0]
        async with http.get(f"{API}/issue/{key}", params={"expand": ",".join(WHOLE_ISSUE_EXPAND)}) as response:
            single = await response.json()
    assert before["fields"]["summary"] != after["fields"]["summary"] == touched["summary"]
    assert after["fields"]["updated"] == touched["updated"] and single == after


async def test_the_trace_numbers_connections_and_records_each_answer(sample_jira_factory):
    jira = sample_jira_factory(latency_seconds=0.05)
    connector = aiohttp.TCPConnector(limit_per_host=2)
    async with aiohttp.ClientSession(
        base_url=jira.base_url, headers=sample_jira_auth_headers(jira), connector=connector
    ) as http:

        async def one() -> None:
            async with http.get(f"{API}/myself") as response:
                await response.read()

        await asyncio.gather(*(one() for _ in range(6)))  # two connections, three requests each
        async with http.get("/_sample/stats", params={"trace": "1"}) as response:
            traced = await response.json()
        async with http.get("/_sample/stats") as response:
            plain = await response.json()
    trace = traced["api"]["trace"]
    assert len(trace) == 6 and traced["api"]["connections"] == 2
    for number in (0, 1):
        requests = sorted((came, answered) for connection, came, answered in trace if connection == number)
        assert len(requests) == 3
        assert all(answered - came >= 0.05 for came, answered in requests)  # the latency, on the server's clock
        assert all(following[0] >= previous[1] for previous, following in zip(requests, requests[1:]))
    assert "trace" not in plain["api"] and plain["api"]["connections"] == 2  # the counts alone by default
    budget = connection_budget(
        trace, min(came for _, came, _ in trace), max(answered for *_, answered in trace), connections=2, latency=0.05
    )
    assert budget["requests"] == 6 and budget["connections_used"] == 2 and budget["beyond_latency_seconds"] >= 0
    jira.reset_stats()
    assert jira.stats_with_trace()["api"]["trace"] == []


async def test_the_trace_stops_at_its_bound(sample_jira_factory, monkeypatch):
    monkeypatch.setattr(sample_jira_app, "TRACE_MAX_REQUESTS", 3)
    jira = sample_jira_factory()
    async with session_for(jira) as http:
        await statuses(http, 5)
    stats = jira.stats_with_trace()
    assert stats["api"]["requests"] == 5 and len(stats["api"]["trace"]) == 3  # counted, not all recorded
