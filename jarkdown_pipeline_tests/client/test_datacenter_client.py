"""The client against Jira Data Center: detection, API v2 search and fetch, PAT, downloads, errors.

Against the sample Jira in Data Center mode (a real aiohttp server) and, for what it cannot be
made to do (a page that repeats, a proxy without serverInfo), small aiohttp servers of their own.
"""

import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from jarkdown_pipeline.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ForbiddenError,
    PaginationError,
    RateLimitedError,
    ServerError,
)
from jarkdown_pipeline.jira_api_client import JiraApiClient, RetryPolicy
from jarkdown_pipeline.sample_jira import SampleJira, SampleJiraConfig
from jarkdown_pipeline.sample_jira.config import DEMO_PERSONAL_ACCESS_TOKEN, FaultConfig
from jarkdown_pipeline_tests.plugins.sample_jira import small_sample_jira_config

FAST_RETRIES = RetryPolicy(max_attempts=3, base_backoff=0.01, max_backoff=0.05, max_retry_after=2.0)


def dc_config(**overrides: Any) -> SampleJiraConfig:
    return small_sample_jira_config(flavour="datacenter", inline_comment_limit=5, inline_worklog_limit=3, **overrides)


@pytest.fixture
async def dc_jira() -> AsyncIterator[SampleJira]:
    async with SampleJira(dc_config()) as jira:
        yield jira


def pat_client(jira: SampleJira, token: str = DEMO_PERSONAL_ACCESS_TOKEN, **kwargs: Any) -> JiraApiClient:
    kwargs.setdefault("flavour", "auto")
    return JiraApiClient(jira.base_url, personal_access_token=token, close_grace_period=0, **kwargs)


async def test_serverinfo_chooses_the_api_once_per_client(dc_jira):
    async with pat_client(dc_jira) as client:
        assert client.flavour == "datacenter"
        assert str(client.api_base).endswith("/rest/api/2")
        assert (await client.myself())["timeZone"] == dc_jira.config.time_zone
        assert {f["name"] for f in await client.fetch_fields()} >= {"Summary", "Customer Impact"}
    assert dc_jira.stats["api"]["by_route"]["GET /rest/api/2/serverInfo"] == 1
    async with SampleJira(small_sample_jira_config()) as cloud:
        async with JiraApiClient(
            cloud.base_url, cloud.email, cloud.api_token, flavour="auto", close_grace_period=0
        ) as client:
            assert client.flavour == "cloud" and str(client.api_base).endswith("/rest/api/3")
            assert len([ref async for ref in client.search_jql("project = ALPHA", page_size=7)]) > 7


async def test_a_wrong_pat_is_refused_at_open_with_authentication_failed(dc_jira):
    with pytest.raises(AuthenticationError, match="authentication failed.*personal access token") as caught:
        async with pat_client(dc_jira, token="not-the-pat"):
            pass
    assert caught.value.status_code == 401 and "not-the-pat" not in str(caught.value)
    # Explicitly Data Center: the 401 comes from /myself instead, same error.
    with pytest.raises(AuthenticationError, match="authentication failed"):
        async with pat_client(dc_jira, token="not-the-pat", flavour="datacenter"):
            pass


async def test_search_pages_with_start_at_and_yields_every_issue_once(dc_jira):
    expected = sorted(k for k in dc_jira.dataset.issues if k.startswith("ALPHA-"))
    async with pat_client(dc_jira) as client:
        keys = [ref["key"] async for ref in client.search_jql("project = ALPHA", fields=["updated"], page_size=7)]
    assert sorted(keys) == expected and len(keys) == len(set(keys))
    assert dc_jira.stats["api"]["by_route"]["POST /rest/api/2/search"] == -(-len(expected) // 7)


async def test_whole_issues_come_complete_and_a_vanished_one_is_named(dc_jira):
    keys = sorted(dc_jira.dataset.issues)[:12]
    async with pat_client(dc_jira) as client:
        result = await client.bulk_fetch_issues([*keys, "ALPHA-999"])
    assert [issue["key"] for issue in result.issues] == keys
    assert list(result.errors) == ["ALPHA-999"] and "404" in result.errors["ALPHA-999"]
    assert result.not_found == result.errors  # Jira's own 404: the caller need not ask again
    for issue in result.issues:
        sample = dc_jira.dataset.issues[issue["key"]]
        # Paged past the inline limits (5 comments, 3 worklogs here) to the end.
        assert [c["id"] for c in issue["fields"]["comment"]["comments"]] == [c.id for c in sample.comments]
        assert [w["id"] for w in issue["fields"]["worklog"]["worklogs"]] == [w.id for w in sample.worklogs]
        assert sample.description is None or isinstance(issue["fields"]["description"], str)  # wiki markup
    assert "POST /rest/api/3/issue/bulkfetch" not in dc_jira.stats["api"]["by_route"]


async def test_whole_issues_in_search_pages_when_every_key_exists(dc_jira):
    keys = sorted(dc_jira.dataset.issues)[:30]
    async with pat_client(dc_jira) as client:
        result = await client.bulk_fetch_issues(keys)
    assert sorted(issue["key"] for issue in result.issues) == keys and not result.errors
    routes = dc_jira.stats["api"]["by_route"]
    assert routes["POST /rest/api/2/search"] == 1 and "GET /rest/api/2/issue/{key}" not in routes


async def test_attachments_come_from_the_jira_host_with_the_pat(dc_jira, tmp_path):
    issue = next(i for i in dc_jira.dataset.iter_issues() if i.attachments)
    async with pat_client(dc_jira) as client:
        [fetched] = (await client.bulk_fetch_issues([issue.key])).issues
        for attachment in fetched["fields"]["attachment"]:
            assert attachment["content"].startswith(f"{dc_jira.base_url}/secure/attachment/{attachment['id']}/")
            path = tmp_path / attachment["id"]
            size = await client.download_to_file(attachment["content"], path, expected_size=attachment["size"])
            expected = b"".join(dc_jira.expected_attachment_bytes(attachment["id"]))
            assert (
                size == len(expected)
                and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(expected).digest()
            )
    stats = dc_jira.stats
    assert stats["media"]["requests"] == 0 and stats["anonymous_requests"] == 0


async def test_rate_limits_are_waited_out_on_data_center():
    config = dc_config(faults=FaultConfig(rate_limit_requests=frozenset({2, 3}), retry_after_seconds=0.2))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with SampleJira(config) as jira:
        async with pat_client(jira, retry_policy=FAST_RETRIES, sleep=sleep) as client:
            keys = [ref["key"] async for ref in client.search_jql("project = BETA", fields=["updated"])]
            assert keys and client.stats.retries == 2
    # Each retry waits the Retry-After; the host's throttler may wait out the rest of its shared pause too.
    assert [round(seconds, 3) for seconds in slept[:2]] == [0.2, 0.2] and all(s <= 0.2 + 1e-6 for s in slept)


# ---------------------------------------------------------------- hand-made servers


async def serve(routes: dict[tuple[str, str], Callable]) -> TestServer:
    app = web.Application()
    for (method, path), handler in routes.items():
        app.router.add_route(method, path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def json_handler(body: Any, status: int = 200) -> Callable:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    return handler


def dc_routes(**extra: Callable) -> dict[tuple[str, str], Callable]:
    routes = {
        ("GET", "/rest/api/2/serverInfo"): json_handler({"deploymentType": "DataCenter", "version": "9.12.0"}),
        ("GET", "/rest/api/2/myself"): json_handler({"name": "bot", "timeZone": "UTC"}),
    }
    routes.update({("POST", "/rest/api/2/search"): handler for handler in extra.values()})
    return routes


async def test_a_page_of_issues_already_seen_stops_paging():
    async def search(request: web.Request) -> web.Response:  # ignores startAt
        return web.json_response({"startAt": 0, "total": 5, "issues": [{"id": "1", "key": "A-1"}]})

    server = await serve(dc_routes(search=search))
    try:
        async with JiraApiClient(str(server.make_url("")), personal_access_token="t", flavour="auto") as client:
            with pytest.raises(PaginationError, match="repeated issues"):
                [ref async for ref in client.search_jql("project = A")]
    finally:
        await server.close()


async def test_the_page_cap_bounds_start_at_paging_and_an_empty_page_ends_it():
    async def endless(request: web.Request) -> web.Response:
        start = (await request.json())["startAt"]
        return web.json_response(
            {"startAt": start, "total": 10**9, "issues": [{"id": str(start), "key": f"A-{start + 1}"}]}
        )

    async def shrinking(request: web.Request) -> web.Response:
        start = (await request.json())["startAt"]
        issues = [{"id": "1", "key": "A-1"}] if start == 0 else []
        return web.json_response({"startAt": start, "total": 4, "issues": issues})

    for handler, expected in ((endless, None), (shrinking, ["A-1"])):
        server = await serve(dc_routes(search=handler))
        try:
            async with JiraApiClient(
                str(server.make_url("")), personal_access_token="t", flavour="auto", max_pages=3, close_grace_period=0
            ) as client:
                if expected is None:
                    with pytest.raises(PaginationError, match="page cap"):
                        [ref async for ref in client.search_jql("project = A")]
                else:
                    assert [ref["key"] async for ref in client.search_jql("project = A")] == expected
        finally:
            await server.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, ForbiddenError), (500, ServerError), (429, RateLimitedError), (401, AuthenticationError)],
)
async def test_v2_errors_map_to_the_same_typed_errors(status, error):
    server = await serve(dc_routes(search=json_handler({"errorMessages": ["no"]}, status=status)))
    try:
        async with JiraApiClient(
            str(server.make_url("")), personal_access_token="t", flavour="auto",
            retry_policy=RetryPolicy(max_attempts=1), close_grace_period=0,
        ) as client:  # fmt: skip
            with pytest.raises(error):
                [ref async for ref in client.search_jql("project = A")]
    finally:
        await server.close()


async def test_without_serverinfo_the_override_is_named_and_works():
    server = await serve({("GET", "/rest/api/2/myself"): json_handler({"name": "bot", "timeZone": "UTC"})})
    try:
        url = str(server.make_url(""))
        with pytest.raises(ConfigurationError, match="JARKDOWN_JIRA_FLAVOUR"):
            async with JiraApiClient(url, personal_access_token="t", flavour="auto", close_grace_period=0):
                pass
        async with JiraApiClient(url, personal_access_token="t", flavour="datacenter", close_grace_period=0) as client:
            assert (await client.myself())["name"] == "bot"
    finally:
        await server.close()


async def test_an_unknown_deployment_type_is_refused_with_the_override_named():
    server = await serve({("GET", "/rest/api/2/serverInfo"): json_handler({"deploymentType": "Mainframe"})})
    try:
        with pytest.raises(ConfigurationError, match="Mainframe.*JARKDOWN_JIRA_FLAVOUR"):
            async with JiraApiClient(
                str(server.make_url("")), personal_access_token="t", flavour="auto", close_grace_period=0
            ):
                pass
    finally:
        await server.close()


async def test_a_lazily_generated_data_center_serves_the_same_way():
    async with SampleJira(dc_config(generation="lazy", issue_count=2500)) as jira:
        assert jira.dataset.is_lazy
        async with pat_client(jira) as client:
            keys = [ref["key"] async for ref in client.search_jql("project = BETA", fields=["updated"], page_size=500)]
            result = await client.bulk_fetch_issues(keys[:120])
    assert len(keys) == len(set(keys)) > 500 and not result.errors
    for issue in result.issues:
        sample = jira.dataset.issues[issue["key"]]
        assert [c["id"] for c in issue["fields"]["comment"]["comments"]] == [c.id for c in sample.comments]
        assert sample.description is None or isinstance(issue["fields"]["description"], str)
