"""JiraApiClient against real loopback servers: credentials, redirects, cookies, retries, timeouts."""

import asyncio
import gc

import pytest

from jarkdown_pipeline.exceptions import AuthenticationError, JiraApiError
from jarkdown_pipeline.jira_api_client import JiraApiClient, RetryPolicy
from jarkdown_pipeline_tests.plugins.local_jira import (
    API_TOKEN,
    GOOD_AUTHORIZATION,
    pattern_bytes,
)


async def test_open_checks_credentials_against_myself(local_jira, make_local_client):
    async with make_local_client() as client:
        assert (await client.myself())["timeZone"] == "Europe/Berlin"
    assert [r.path for r in local_jira.jira_requests] == ["/rest/api/3/myself"]


async def test_requests_leave_no_reference_cycles_for_the_garbage_collector(local_jira, make_local_client):
    # A window makes thousands of requests: cyclic garbage per request makes the collector run on
    # the event loop mid-window. Retried or not, a request's objects go by reference counting.
    local_jira.add_file("10001", content=b"hello", rate_limit_first=1)
    async with make_local_client() as client:
        await client.myself()  # the session's own first-use objects
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(5):
                await client.myself()
            async with await client.download_attachment_stream(local_jira.content_url("10001")) as response:
                assert await response.read() == b"hello"
            found = gc.collect()
            retry_objects = [o for o in gc.garbage if type(o).__module__.startswith(("tenacity", "jarkdown_pipeline"))]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert client.stats.retries == 1
    assert retry_objects == [] and found < 20, found


async def test_wrong_token_is_authentication_error_not_an_empty_project(local_jira, make_local_client):
    client = make_local_client(api_token="wrong-token")
    with pytest.raises(AuthenticationError) as caught:
        async with client:
            pass
    assert local_jira.base_url in str(caught.value)
    assert "wrong-token" not in str(caught.value)
    assert client.session is None


async def test_303_to_media_host_carries_no_credentials_and_no_cookies(local_jira, make_local_client):
    content = pattern_bytes(50_000)
    local_jira.add_file("10001", content=content)
    async with make_local_client() as client:
        response = await client.download_attachment_stream(local_jira.content_url("10001"))
        async with response:
            assert response.status == 200
            body = await response.read()
        # A second call: Jira has now set cookies twice; none may travel to the media host.
        async with await client.download_attachment_stream(local_jira.content_url("10001")) as again:
            assert await again.read() == content
    assert body == content
    jira_downloads = [r for r in local_jira.jira_requests if "/attachment/content/" in r.path]
    assert len(jira_downloads) == 2
    assert all(r.headers.get("Authorization") == GOOD_AUTHORIZATION for r in jira_downloads)
    assert len(local_jira.media_requests) == 2
    for seen in local_jira.media_requests:
        assert "Authorization" not in seen.headers
        assert "Cookie" not in seen.headers
        assert API_TOKEN not in str(seen.headers)
    # The token in the redirect URL reaches the media host exactly as Jira encoded it.
    assert local_jira.media_requests[0].query == "token=media-token-10001&name=a%2Fb"


async def test_jira_cookies_are_not_sent_back_to_jira_either(local_jira, make_local_client):
    local_jira.add_file("10001", content=b"x")
    async with make_local_client() as client:
        async with await client.download_attachment_stream(local_jira.content_url("10001")) as response:
            await response.read()
    assert all("Cookie" not in r.headers for r in local_jira.jira_requests)


async def test_download_stream_retries_a_rate_limited_media_host(local_jira, make_local_client):
    local_jira.add_file("10001", content=b"hello", rate_limit_first=2)
    async with make_local_client() as client:
        async with await client.download_attachment_stream(local_jira.content_url("10001")) as response:
            assert await response.read() == b"hello"
        assert client.stats.retries == 2
    assert len(local_jira.media_requests) == 3


async def test_missing_attachment_is_a_404_error(local_jira, make_local_client):
    async with make_local_client() as client:
        with pytest.raises(JiraApiError) as caught:
            await client.download_attachment_stream(local_jira.content_url("99999"))
    assert caught.value.status_code == 404 and "Attachment 99999 not found" in str(caught.value)


async def test_redirect_loops_are_bounded(local_jira, make_local_client):
    async with make_local_client(max_redirects=3) as client:
        with pytest.raises(JiraApiError, match="too many redirects"):
            await client.download_attachment_stream(f"{local_jira.base_url}/rest/api/3/redirect-loop")
    assert len([r for r in local_jira.jira_requests if r.path.endswith("redirect-loop")]) == 4


async def test_a_stalled_response_times_out_and_is_retried(local_jira, make_local_client):
    local_jira.add_file("10001", content=b"late but fine", stall_first=1, stall_seconds=1.0)
    async with make_local_client(read_timeout=0.2) as client:
        async with await client.download_attachment_stream(local_jira.content_url("10001")) as response:
            assert await response.read() == b"late but fine"
        assert client.stats.retries == 1


async def test_unreachable_jira_is_a_jira_api_error(unused_tcp_port):
    client = JiraApiClient(
        f"http://127.0.0.1:{unused_tcp_port}",
        "a@b.example",
        "tok",
        retry_policy=RetryPolicy(max_attempts=2, base_backoff=0, max_backoff=0),
        close_grace_period=0,
    )
    with pytest.raises(JiraApiError) as caught:
        async with client:
            pass
    assert caught.value.status_code is None
    assert "after 2 attempts" in str(caught.value) and "tok" not in str(caught.value)
    assert client.stats.retries == 1


async def test_connector_bounds_connections_per_host(local_jira, make_local_client, tmp_path):
    for n in range(8):
        local_jira.add_file(str(n), content=pattern_bytes(10_000, seed=n), delay=0.05)
    async with make_local_client(max_connections_per_host=3) as client:
        sizes = await asyncio.gather(
            *(client.download_to_file(local_jira.content_url(str(n)), tmp_path / f"{n}.bin") for n in range(8))
        )
        assert client.stats.peak_in_flight == 8  # all eight calls were issued at once ...
    assert sizes == [10_000] * 8
    assert local_jira.media_peak_in_flight <= 3  # ... but the connector let three through at a time
    for n in range(8):
        assert (tmp_path / f"{n}.bin").read_bytes() == pattern_bytes(10_000, seed=n)


async def test_session_is_closed_and_nothing_is_left_unclosed(local_jira, make_local_client):
    local_jira.add_file("10001", content=b"abc")
    client = make_local_client()
    async with client:
        session = client.session
        response = await client.download_attachment_stream(local_jira.content_url("10001"))
        response.release()
    assert session.closed
