"""JiraApiClient against loopback servers that misbehave on purpose (issue 13: bounded requests, paging, malformed answers).

Each test builds a tiny aiohttp.web app with just the misbehaving route, so what the server does is
visible in the test. No test asserts a duration: the bounds are made small, and the test proves the
client stops (and how), which it would never do without them.
"""

import asyncio
import json
import logging
import ssl
import subprocess
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from jarkdown_pipeline.exceptions import (
    MalformedResponseError,
    PaginationError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TransportError,
)
from jarkdown_pipeline.jira_api_client import DEFAULT_MAX_RESPONSE_BYTES, JiraApiClient, RetryPolicy

EMAIL = "bot@acme.example"
TOKEN = "hostile-test-token-0123456789"
FAST = RetryPolicy(max_attempts=3, base_backoff=0.0, max_backoff=0.0)
API = "/rest/api/3"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordedSleep:
    """Stands in for asyncio.sleep in the retry loop: records the waits, does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def serve():
    """``await serve({(method, path): handler})`` -> the running server's base URL; closed after the test."""
    servers: list[TestServer] = []

    async def start(routes: dict[tuple[str, str], Handler], **start_kwargs) -> str:
        app = web.Application()
        for (method, path), handler in routes.items():
            app.router.add_route(method, path, handler)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(**start_kwargs)
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


def client_for(base_url: str, **kwargs) -> JiraApiClient:
    kwargs.setdefault("retry_policy", FAST)
    kwargs.setdefault("close_grace_period", 0)
    kwargs.setdefault("verify_credentials", False)
    return JiraApiClient(base_url, EMAIL, TOKEN, **kwargs)


async def collect(client: JiraApiClient, jql: str = "project = A") -> list[dict]:
    return [issue async for issue in client.search_jql(jql)]


# ------------------------------------------------------------------ 1. a total deadline per request


async def test_a_trickling_api_answer_is_cut_at_the_request_deadline(serve):
    requests = []

    async def trickle(request: web.Request) -> web.StreamResponse:
        requests.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"[")
        while True:  # a byte now and then: never idle long enough for a socket-read timeout
            await asyncio.sleep(0.05)
            await response.write(b" ")

    base = await serve({("GET", f"{API}/field"): trickle})
    async with client_for(base, request_deadline=0.5) as client:
        with pytest.raises(RequestTimeoutError, match=r"request deadline \(0.5 s\)") as caught:
            await client.fetch_fields()
    assert "not retried" in str(caught.value)
    assert requests == [f"{API}/field"]  # a hostile trickle is not given the deadline again


def test_request_deadline_must_be_positive():
    from jarkdown_pipeline.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="request_deadline"):
        JiraApiClient("https://acme.atlassian.net", EMAIL, TOKEN, request_deadline=0)


# ------------------------------------------------------------------ 2. a cap on decompressed API bodies


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """~0.3 MB of gzip that inflates to 300 MB (a JSON array of spaces)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(b"[")]
    block = b" " * (1024 * 1024)
    parts.extend(compressor.compress(block) for _ in range(300))
    parts.append(compressor.compress(b"]") + compressor.flush())
    return b"".join(parts)


async def test_a_gzip_bomb_stops_at_the_body_cap_without_inflating_it(serve, gzip_bomb):
    assert len(gzip_bomb) < 400_000

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(body=gzip_bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})

    base = await serve({("GET", f"{API}/field"): bomb})
    # Measured from here, whether or not tracing was on already (PYTHONTRACEMALLOC, to trace a leak).
    already_tracing = tracemalloc.is_tracing()
    if not already_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    try:
        async with client_for(base) as client:
            with pytest.raises(ResponseTooLargeError, match="max_response_bytes") as caught:
                await client.fetch_fields()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not already_tracing:
            tracemalloc.stop()
    assert caught.value.limit == DEFAULT_MAX_RESPONSE_BYTES
    assert str(DEFAULT_MAX_RESPONSE_BYTES) in str(caught.value)
    # The cap (64 MiB) plus working room; inflating it all would be 300 MB.
    assert peak - before < 2 * DEFAULT_MAX_RESPONSE_BYTES


async def test_a_body_announced_larger_than_the_cap_is_refused_before_reading(serve):
    async def big(request: web.Request) -> web.Response:
        return web.json_response([{"id": "f", "name": "x" * 5000}])

    base = await serve({("GET", f"{API}/field"): big})
    async with client_for(base, max_response_bytes=1000) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await client.fetch_fields()
    assert caught.value.limit == 1000


async def test_a_body_under_the_cap_is_read_whole(serve):
    fields = [{"id": f"customfield_{i}", "name": f"Field {i}"} for i in range(2000)]

    async def compressed(request: web.Request) -> web.Response:
        response = web.json_response(fields)
        response.enable_compression()
        return response

    base = await serve({("GET", f"{API}/field"): compressed})
    async with client_for(base) as client:
        assert await client.fetch_fields() == fields


# ------------------------------------------------------------------ 4. paging stops


def search_route(pages: Callable[[int, dict], dict], log: list[dict]) -> dict[tuple[str, str], Handler]:
    async def search(request: web.Request) -> web.Response:
        body = await request.json()
        log.append(body)
        return web.json_response(pages(len(log), body))

    return {("POST", f"{API}/search/jql"): search}


async def test_search_stops_on_a_page_of_issues_already_seen(serve):
    log: list[dict] = []
    same = [{"id": "1", "key": "A-1"}, {"id": "2", "key": "A-2"}]
    base = await serve(search_route(lambda n, body: {"issues": same, "nextPageToken": f"t{n}", "isLast": False}, log))
    async with client_for(base) as client:
        yielded = []
        with pytest.raises(PaginationError, match="page 2 brought no new issue"):
            async for issue in client.search_jql("project = A"):
                yielded.append(issue["key"])
    assert yielded == ["A-1", "A-2"]
    assert len(log) == 2


async def test_search_stops_at_the_page_cap_when_every_page_is_new(serve):
    log: list[dict] = []
    base = await serve(
        search_route(lambda n, body: {"issues": [{"id": str(n), "key": f"A-{n}"}], "nextPageToken": f"t{n}"}, log)
    )
    async with client_for(base, max_pages=5) as client:
        with pytest.raises(PaginationError, match=r"page cap \(5 pages\)"):
            await collect(client)
    assert len(log) == 5


async def test_search_hands_on_a_non_object_entry_with_a_warning(serve, caplog):
    # Not an issue, but not to be lost silently either: the window reports it (named by its position).
    log: list[dict] = []
    base = await serve(
        search_route(lambda n, body: {"issues": [{"id": "1", "key": "A-1"}, "A-2", None], "isLast": True}, log)
    )
    async with client_for(base) as client:
        with caplog.at_level(logging.WARNING, logger="jarkdown_pipeline.jira_api_client"):
            assert await collect(client) == [{"id": "1", "key": "A-1"}, "A-2", None]
    assert (
        "Entry 1 of search page 1 is a str" in caplog.text and "Entry 2 of search page 1 is a NoneType" in caplog.text
    )


@pytest.mark.parametrize("page", [["not", "an", "object"], {"issues": {"id": "1"}}])
async def test_a_search_page_of_the_wrong_shape_is_malformed(serve, page):
    base = await serve(search_route(lambda n, body: page, []))
    async with client_for(base) as client:
        with pytest.raises(MalformedResponseError, match="malformed search page 1"):
            await collect(client)


def comment_route(page: Callable[[int, int], dict], log: list[int]) -> dict[tuple[str, str], Handler]:
    async def comments(request: web.Request) -> web.Response:
        start_at = int(request.query["startAt"])
        log.append(start_at)
        return web.json_response(page(len(log), start_at))

    return {("GET", f"{API}/issue/A-1/comment"): comments}


def truncated_issue(total: int) -> dict:
    return {"id": "10", "key": "A-1", "fields": {"comment": {"comments": [], "total": total, "startAt": 0}}}


async def test_startat_paging_that_ignores_startat_stops_with_a_clear_error(serve):
    log: list[int] = []
    same = [{"id": "1"}, {"id": "2"}]
    base = await serve(comment_route(lambda n, start: {"comments": same, "total": 1000, "startAt": 0}, log))
    async with client_for(base) as client:
        with pytest.raises(PaginationError, match="comments of A-1: the page at startAt 2 repeated items already seen"):
            await client.complete_issue(truncated_issue(1000))
    assert log == [0, 2]


async def test_startat_paging_towards_an_unreachable_total_stops_at_the_page_cap(serve):
    log: list[int] = []
    base = await serve(comment_route(lambda n, start: {"comments": [{"id": str(start)}], "total": 10**9}, log))
    async with client_for(base, max_pages=4) as client:
        with pytest.raises(PaginationError, match=r"page cap \(4 pages\)"):
            await client.complete_issue(truncated_issue(10**9))
    assert log == [0, 1, 2, 3]


async def test_an_empty_page_before_total_ends_paging_cleanly(serve):
    """Comments deleted while paging shrink the list: what was fetched is kept, nothing loops."""
    log: list[int] = []

    def page(n: int, start: int) -> dict:
        return {"comments": [{"id": "1"}, {"id": "2"}] if start == 0 else [], "total": 3}

    base = await serve(comment_route(page, log))
    async with client_for(base) as client:
        issue = await client.complete_issue(truncated_issue(3))
    assert [c["id"] for c in issue["fields"]["comment"]["comments"]] == ["1", "2"]
    assert log == [0, 2]


# ------------------------------------------------------------------ 8. malformed answers


def bulk_route(answer: object) -> dict[tuple[str, str], Handler]:
    async def bulk(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(answer), content_type="application/json")

    return {("POST", f"{API}/issue/bulkfetch"): bulk}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"issues": [{"id": "1", "key": "A-1", "fields": {}}, "A-2"]}, "entry 1 of 'issues' is not an object"),
        ({"issues": {"A-1": {}}}, "'issues' is a dict, not a list"),
        ({"issues": [], "issueErrors": [7]}, "entry 0 of 'issueErrors' is not an object"),
        ([{"id": "1"}], "a list, not an object"),
    ],
)
async def test_a_malformed_bulk_fetch_page_is_a_malformed_response_error(serve, answer, problem):
    base = await serve(bulk_route(answer))
    async with client_for(base) as client:
        with pytest.raises(MalformedResponseError) as caught:
            await client.bulk_fetch_issues(["A-1", "A-2"])
    assert problem in str(caught.value) and "A-1 .. A-2" in str(caught.value)


async def test_a_non_json_2xx_answer_is_malformed(serve):
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    base = await serve({("GET", f"{API}/field"): html, ("GET", f"{API}/issue/A-1"): html})
    async with client_for(base) as client:
        with pytest.raises(MalformedResponseError, match="text/html, not JSON"):
            await client.fetch_fields()
        with pytest.raises(MalformedResponseError, match="text/html, not JSON"):
            await client.fetch_issue("A-1")


async def test_an_issue_that_is_not_an_object_is_malformed(serve):
    async def listed(request: web.Request) -> web.Response:
        return web.json_response(["A-1"])

    base = await serve({("GET", f"{API}/issue/A-1"): listed})
    async with client_for(base) as client:
        with pytest.raises(MalformedResponseError, match="list for issue A-1"):
            await client.fetch_issue("A-1")


# ------------------------------------------------------------------ 5. Retry-After floor; TLS failures not retried


@pytest.mark.parametrize("retry_after", ["0", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "-5"])
async def test_retry_after_zero_past_or_garbage_still_waits_the_minimum(serve, retry_after):
    calls = []

    async def limited(request: web.Request) -> web.Response:
        calls.append(request.path)
        if len(calls) == 1:
            return web.json_response({"errorMessages": ["slow down"]}, status=429, headers={"Retry-After": retry_after})
        return web.json_response([])

    base = await serve({("GET", f"{API}/field"): limited})
    sleeps = RecordedSleep()
    policy = RetryPolicy(base_backoff=0.5)
    async with client_for(base, retry_policy=policy, sleep=sleeps) as client:
        assert await client.fetch_fields() == []
    assert len(calls) == 2
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 0.5


@pytest.fixture(scope="module")
def self_signed_tls(tmp_path_factory) -> ssl.SSLContext:
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_a_certificate_that_does_not_verify_is_not_retried(serve, self_signed_tls):
    async def fields(request: web.Request) -> web.Response:
        return web.json_response([])

    base = await serve({("GET", f"{API}/field"): fields}, ssl=self_signed_tls)
    assert base.startswith("https://")
    sleeps = RecordedSleep()
    async with client_for(base, sleep=sleeps) as client:
        with pytest.raises(TransportError, match="TLS verification failed, not retried") as caught:
            await client.fetch_fields()
        assert client.stats.retries == 0 and client.stats.requests == 1
    assert sleeps.waits == []
    assert "after 3 attempts" not in str(caught.value)
