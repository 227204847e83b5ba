"""Unit tests of JiraApiClient against aioresponses (status mapping, retries, paging, bulk fetch)."""

import asyncio
import base64
import inspect
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from yarl import URL

from jarkdown_pipeline.exceptions import (
    AuthenticationError,
    ConfigurationError,
    IssueNotFoundError,
    JiraApiError,
    ServerError,
)
from jarkdown_pipeline.jira_api_client import BulkFetchResult, JiraApiClient, RetryPolicy

BASE = "https://acme.atlassian.net"
API = f"{BASE}/rest/api/3"
EMAIL = "bot@acme.example"
TOKEN = "s3cret-api-token-XYZ"
MYSELF = {"accountId": "abc", "displayName": "Bot", "timeZone": "Europe/Berlin"}
FAST = RetryPolicy(max_attempts=3, base_backoff=0.0, max_backoff=0.0)


class RecordedSleep:
    """Stands in for asyncio.sleep in the retry loop: records the waits, does not wait."""

    def __init__(self):
        self.waits = []

    async def __call__(self, seconds):
        self.waits.append(seconds)


@pytest.fixture
def sleeps():
    return RecordedSleep()


@pytest.fixture
def make_client(sleeps):
    def make(**kwargs):
        kwargs.setdefault("retry_policy", FAST)
        kwargs.setdefault("sleep", sleeps)
        kwargs.setdefault("close_grace_period", 0)  # the default (0.25 s) is checked once, below
        if "personal_access_token" not in kwargs:
            kwargs.setdefault("email", EMAIL)
            kwargs.setdefault("api_token", TOKEN)
        return JiraApiClient(kwargs.pop("base", BASE), **kwargs)

    return make


def requests_to(mocker, method, url_prefix):
    return [
        call
        for (m, url), calls in mocker.requests.items()
        if m == method and str(url).startswith(url_prefix)
        for call in calls
    ]


def query_of(url_regex_match):
    return dict(URL(url_regex_match).query)


# ------------------------------------------------------------------ construction


def test_fetch_issue_is_a_coroutine_function():
    assert inspect.iscoroutinefunction(JiraApiClient.fetch_issue)
    assert inspect.iscoroutinefunction(JiraApiClient.fetch_fields)
    assert inspect.iscoroutinefunction(JiraApiClient.download_attachment_stream)
    assert inspect.isasyncgenfunction(JiraApiClient.search_jql)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("acme.atlassian.net", "https://acme.atlassian.net"),
        ("https://acme.atlassian.net/", "https://acme.atlassian.net"),
        ("http://127.0.0.1:8089", "http://127.0.0.1:8089"),
        ("https://jira.corp.example/jira/", "https://jira.corp.example/jira"),
    ],
)
def test_base_url_or_domain(given, expected):
    client = JiraApiClient(given, EMAIL, TOKEN)
    assert str(client.base_url) == expected
    assert str(client.api_base) == expected + "/rest/api/3"


@pytest.mark.parametrize(
    "bad", ["", "   ", "ftp://acme.example", "https://user:pw@acme.example", "https://acme.example/?x=1"]
)
def test_bad_base_url_is_a_configuration_error(bad):
    with pytest.raises(ConfigurationError):
        JiraApiClient(bad, EMAIL, TOKEN)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"email": EMAIL}, "api_token is missing"),
        ({"api_token": TOKEN}, "email is missing"),
        ({}, "credentials are missing"),
        ({"email": EMAIL, "api_token": TOKEN, "personal_access_token": "pat"}, "not both"),
    ],
)
def test_credentials_must_be_complete(kwargs, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        JiraApiClient(BASE, **kwargs)
    assert TOKEN not in str(caught.value)


def test_repr_shows_no_secret():
    client = JiraApiClient(BASE, EMAIL, TOKEN)
    assert TOKEN not in repr(client) and base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode() not in repr(client)
    pat_client = JiraApiClient(BASE, personal_access_token="pat-value-123")
    assert "pat-value-123" not in repr(pat_client)
    assert "bearer" in repr(pat_client)


def test_methods_need_an_open_client():
    client = JiraApiClient(BASE, EMAIL, TOKEN)
    with pytest.raises(RuntimeError, match="not open"):
        asyncio.run(client.fetch_fields())


# ------------------------------------------------------------------ session lifecycle and credentials


async def test_one_session_with_connector_limit_accept_header_and_stream_friendly_timeouts(
    mock_aiohttp, make_client, monkeypatch
):
    mock_aiohttp.get(f"{API}/myself", payload=MYSELF)
    real_sleep = asyncio.sleep
    slept = []

    async def recording_sleep(seconds, *args, **kwargs):
        slept.append(seconds)
        return await real_sleep(0)

    client = make_client(close_grace_period=0.250)
    async with client:
        session = client.session
        assert isinstance(session, aiohttp.ClientSession)
        assert session.connector.limit_per_host == 5
        assert session.headers["Accept"] == "application/json"
        assert session.timeout.total is None
        assert session.timeout.sock_read and session.timeout.connect
        monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    assert session.closed and client.session is None
    assert 0.25 in slept


async def test_bad_credentials_raise_authentication_error_on_open(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/myself", status=401, payload={"errorMessages": ["Client must be authenticated"]})
    client = make_client()
    with pytest.raises(AuthenticationError) as caught:
        async with client:
            pytest.fail("must not get here")
    message = str(caught.value)
    assert "authentication failed" in message and BASE in message
    assert TOKEN not in message and TOKEN not in repr(caught.value)
    assert caught.value.status_code == 401
    assert client.session is None  # closed again, nothing leaks


async def test_myself_is_checked_once_and_cached(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/myself", payload=MYSELF)
    async with make_client() as client:
        assert (await client.myself())["timeZone"] == "Europe/Berlin"
        await client.myself()
    assert len(requests_to(mock_aiohttp, "GET", f"{API}/myself")) == 1


async def test_credential_check_can_be_skipped(mock_aiohttp, make_client):
    async with make_client(verify_credentials=False):
        pass
    assert not mock_aiohttp.requests


async def test_basic_auth_header_is_sent_to_jira(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/myself", payload=MYSELF)
    async with make_client():
        pass
    (call,) = requests_to(mock_aiohttp, "GET", f"{API}/myself")
    expected = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert call.kwargs["headers"]["Authorization"] == expected


async def test_personal_access_token_is_a_bearer_token(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/myself", payload=MYSELF)
    async with make_client(personal_access_token="pat-value-123"):
        pass
    (call,) = requests_to(mock_aiohttp, "GET", f"{API}/myself")
    assert call.kwargs["headers"]["Authorization"] == "Bearer pat-value-123"


# ------------------------------------------------------------------ status mapping


ISSUE_URL = re.compile(rf"^{re.escape(API)}/issue/ABC-1\?.*$")


async def test_fetch_issue_asks_for_all_fields_rendered_fields_and_the_changelog(mock_aiohttp, make_client):
    mock_aiohttp.get(ISSUE_URL, payload={"id": "1", "key": "ABC-1", "fields": {"summary": "Hi"}})
    async with make_client(verify_credentials=False) as client:
        issue = await client.fetch_issue("ABC-1")
    assert issue["fields"]["summary"] == "Hi"
    ((method, url),) = mock_aiohttp.requests.keys()
    assert dict(url.query) == {"fields": "*all", "expand": "renderedFields,changelog"}


async def test_401_on_a_call_is_authentication_error(mock_aiohttp, make_client):
    mock_aiohttp.get(ISSUE_URL, status=401, payload={"errorMessages": ["You are not authenticated"]})
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(AuthenticationError, match="You are not authenticated"):
            await client.fetch_issue("ABC-1")


async def test_404_is_issue_not_found_with_jiras_message(mock_aiohttp, make_client):
    body = {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
    mock_aiohttp.get(ISSUE_URL, status=404, payload=body)
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(IssueNotFoundError) as caught:
            await client.fetch_issue("ABC-1")
    assert caught.value.status_code == 404
    assert "ABC-1" in str(caught.value) and "Issue does not exist" in str(caught.value)
    assert caught.value.error_messages == body["errorMessages"]


async def test_500_is_jira_api_error_with_error_messages_and_errors(mock_aiohttp, make_client):
    body = {"errorMessages": ["Something broke"], "errors": {"customfield_10010": "bad value"}}
    mock_aiohttp.get(f"{API}/field", status=500, payload=body)
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError) as caught:
            await client.fetch_fields()
    error = caught.value
    assert type(error) is ServerError and error.status_code == 500
    assert error.error_messages == ["Something broke", "customfield_10010: bad value"]
    assert "HTTP 500" in str(error) and "Something broke" in str(error) and "customfield_10010" in str(error)
    assert len(mock_aiohttp.requests[("GET", URL(f"{API}/field"))]) == 1  # 500 is not retried


async def test_client_error_becomes_jira_api_error_after_retries(mock_aiohttp, make_client, sleeps):
    mock_aiohttp.get(f"{API}/field", exception=aiohttp.ClientConnectionError("connection reset"), repeat=True)
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError) as caught:
            await client.fetch_fields()
        assert client.stats.retries == 2
    assert caught.value.status_code is None
    assert "after 3 attempts" in str(caught.value) and "ClientConnectionError" in str(caught.value)
    assert len(sleeps.waits) == 2


async def test_html_instead_of_json_is_a_clear_error(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/field", body="<html>login</html>", content_type="text/html")
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError, match="not JSON"):
            await client.fetch_fields()


async def test_fetch_fields_returns_the_list(mock_aiohttp, make_client):
    fields = [{"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string"}}]
    mock_aiohttp.get(f"{API}/field", payload=fields)
    async with make_client(verify_credentials=False) as client:
        assert await client.fetch_fields() == fields


# ------------------------------------------------------------------ retries


async def test_429_honours_retry_after_seconds(mock_aiohttp, make_client, sleeps, caplog):
    mock_aiohttp.get(f"{API}/field", status=429, headers={"Retry-After": "7"})
    mock_aiohttp.get(f"{API}/field", payload=[])
    caplog.set_level(logging.WARNING, logger="jarkdown_pipeline")
    async with make_client(verify_credentials=False) as client:
        assert await client.fetch_fields() == []
        assert client.stats.retries == 1 and client.stats.requests == 2
    assert sleeps.waits == [7.0]
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "HTTP 429" in record.getMessage() and "/rest/api/3/field" in record.getMessage()
    assert TOKEN not in caplog.text


async def test_503_honours_retry_after_http_date(mock_aiohttp, make_client, sleeps):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    mock_aiohttp.get(f"{API}/field", status=503, headers={"Retry-After": when})
    mock_aiohttp.get(f"{API}/field", payload=[])
    async with make_client(verify_credentials=False) as client:
        await client.fetch_fields()
    (wait,) = sleeps.waits
    assert 25 <= wait <= 30


async def test_504_without_retry_after_backs_off_exponentially(mock_aiohttp, make_client, sleeps):
    for _ in range(3):
        mock_aiohttp.get(f"{API}/field", status=504)
    mock_aiohttp.get(f"{API}/field", payload=[])
    policy = RetryPolicy(max_attempts=4, base_backoff=1.0, max_backoff=60.0)
    async with make_client(verify_credentials=False, retry_policy=policy) as client:
        await client.fetch_fields()
    assert len(sleeps.waits) == 3
    for retry_number, wait in enumerate(sleeps.waits, start=1):
        assert 0.0 <= wait <= 2 ** (retry_number - 1)


async def test_retries_are_bounded_and_the_final_status_is_reported(mock_aiohttp, make_client):
    mock_aiohttp.get(
        f"{API}/field",
        status=429,
        headers={"Retry-After": "0"},
        payload={"errorMessages": ["Rate limit exceeded"]},
        repeat=True,
    )
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError) as caught:
            await client.fetch_fields()
    assert caught.value.status_code == 429
    assert "after 3 attempts" in str(caught.value) and "Rate limit exceeded" in str(caught.value)
    assert len(mock_aiohttp.requests[("GET", URL(f"{API}/field"))]) == 3


async def test_timeouts_are_retried(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/field", exception=TimeoutError())
    mock_aiohttp.get(f"{API}/field", payload=[{"id": "x"}])
    async with make_client(verify_credentials=False) as client:
        assert await client.fetch_fields() == [{"id": "x"}]
        assert client.stats.retries == 1


# ------------------------------------------------------------------ search pagination

SEARCH = f"{API}/search/jql"


async def test_search_jql_follows_next_page_token_to_the_last_page(mock_aiohttp, make_client):
    mock_aiohttp.post(
        SEARCH,
        payload={
            "issues": [{"id": "1", "key": "ABC-1"}, {"id": "2", "key": "ABC-2"}],
            "nextPageToken": "t1",
            "isLast": False,
        },
    )
    mock_aiohttp.post(SEARCH, payload={"issues": [{"id": "3", "key": "ABC-3"}], "nextPageToken": "t2", "isLast": False})
    mock_aiohttp.post(SEARCH, payload={"issues": [{"id": "4", "key": "ABC-4"}], "isLast": True})
    async with make_client(verify_credentials=False) as client:
        keys = [issue["key"] async for issue in client.search_jql("project = ABC", fields=["updated"], page_size=2)]
    assert keys == ["ABC-1", "ABC-2", "ABC-3", "ABC-4"]
    bodies = [call.kwargs["json"] for call in mock_aiohttp.requests[("POST", URL(SEARCH))]]
    assert [b.get("nextPageToken") for b in bodies] == [None, "t1", "t2"]
    assert all(b["jql"] == "project = ABC" and b["fields"] == ["updated"] and b["maxResults"] == 2 for b in bodies)


async def test_search_jql_stops_when_no_token_is_given(mock_aiohttp, make_client):
    mock_aiohttp.post(SEARCH, payload={"issues": [{"id": "1", "key": "ABC-1"}]})
    async with make_client(verify_credentials=False) as client:
        assert [i["key"] async for i in client.search_jql("project = ABC")] == ["ABC-1"]


async def test_search_jql_refuses_to_loop_on_a_repeated_token(mock_aiohttp, make_client):
    mock_aiohttp.post(
        SEARCH, payload={"issues": [{"id": "1", "key": "A-1"}], "nextPageToken": "same", "isLast": False}, repeat=True
    )
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError, match="repeated"):
            async for _ in client.search_jql("project = ABC"):
                pass


async def test_search_jql_error_carries_jql_messages(mock_aiohttp, make_client):
    mock_aiohttp.post(SEARCH, status=400, payload={"errorMessages": ["Field 'nope' does not exist"]})
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError, match="Field 'nope' does not exist") as caught:
            async for _ in client.search_jql("nope = 1"):
                pass
    assert caught.value.status_code == 400


# ------------------------------------------------------------------ completeness: comments and worklogs


def _comment(n):
    return {"id": str(n), "body": {"type": "doc", "version": 1, "content": []}, "renderedBody": f"<p>{n}</p>"}


def _worklog(n):
    return {"id": str(100 + n), "timeSpentSeconds": 60 * n}


COMMENTS_URL = re.compile(rf"^{re.escape(API)}/issue/ABC-1/comment\?.*$")
WORKLOGS_URL = re.compile(rf"^{re.escape(API)}/issue/ABC-1/worklog\?.*$")


def _truncated_issue():
    return {
        "id": "10001",
        "key": "ABC-1",
        "fields": {
            "summary": "Busy",
            "comment": {"comments": [_comment(1)], "maxResults": 1, "total": 5, "startAt": 0},
            "worklog": {"worklogs": [_worklog(1), _worklog(2)], "maxResults": 2, "total": 3, "startAt": 0},
        },
        "renderedFields": {"comment": {"comments": [{"id": "1", "body": "<p>1</p>"}], "total": 5}},
    }


def _mock_paging(mock_aiohttp):
    mock_aiohttp.get(
        COMMENTS_URL, payload={"comments": [_comment(1), _comment(2)], "startAt": 0, "maxResults": 2, "total": 5}
    )
    mock_aiohttp.get(
        COMMENTS_URL, payload={"comments": [_comment(3), _comment(4)], "startAt": 2, "maxResults": 2, "total": 5}
    )
    mock_aiohttp.get(COMMENTS_URL, payload={"comments": [_comment(5)], "startAt": 4, "maxResults": 2, "total": 5})
    mock_aiohttp.get(
        WORKLOGS_URL, payload={"worklogs": [_worklog(1), _worklog(2)], "startAt": 0, "maxResults": 2, "total": 3}
    )
    mock_aiohttp.get(WORKLOGS_URL, payload={"worklogs": [_worklog(3)], "startAt": 2, "maxResults": 2, "total": 3})


async def test_fetch_issue_pages_truncated_comments_and_worklogs(mock_aiohttp, make_client):
    mock_aiohttp.get(ISSUE_URL, payload=_truncated_issue())
    _mock_paging(mock_aiohttp)
    async with make_client(verify_credentials=False, page_size=2) as client:
        issue = await client.fetch_issue("ABC-1")
    comments = issue["fields"]["comment"]
    assert [c["id"] for c in comments["comments"]] == ["1", "2", "3", "4", "5"]
    assert comments["total"] == 5
    assert [w["id"] for w in issue["fields"]["worklog"]["worklogs"]] == ["101", "102", "103"]
    assert [c["body"] for c in issue["renderedFields"]["comment"]["comments"]] == [f"<p>{n}</p>" for n in range(1, 6)]
    comment_queries = [dict(url.query) for (m, url) in mock_aiohttp.requests if "/comment" in url.path]
    assert sorted(q["startAt"] for q in comment_queries) == ["0", "2", "4"]
    assert all(q["maxResults"] == "2" and q["expand"] == "renderedBody" for q in comment_queries)


async def test_complete_issue_is_not_paged(mock_aiohttp, make_client):
    issue = {
        "key": "ABC-1",
        "fields": {"comment": {"comments": [_comment(1)], "total": 1}, "worklog": {"worklogs": [], "total": 0}},
    }
    mock_aiohttp.get(ISSUE_URL, payload=issue)
    async with make_client(verify_credentials=False) as client:
        assert await client.fetch_issue("ABC-1") == issue
    assert len(mock_aiohttp.requests) == 1


# ------------------------------------------------------------------ bulk fetch

BULK = f"{API}/issue/bulkfetch"


async def test_bulk_fetch_chunks_by_100_reports_errors_and_completes_issues(mock_aiohttp, make_client):
    keys = [f"ABC-{n}" for n in range(1, 251)]
    missing = {"ABC-7", "ABC-200"}
    failed_once = set()

    def answer(url, **kwargs):
        from aioresponses import CallbackResult

        asked = kwargs["json"]["issueIdsOrKeys"]
        assert kwargs["json"]["fields"] == ["*all"] and kwargs["json"]["expand"] == ["renderedFields", "changelog"]
        issues, errors = [], []
        for key in reversed(asked):  # Jira does not promise the order asked for
            number = key.split("-")[-1]
            if key in missing:
                continue
            if number == "150" and number not in failed_once:
                failed_once.add(number)  # a retriable error: the client asks again, by id
                errors.append({"id": "150", "errorMessage": "Retry later"})
            elif number == "160":
                errors.append({"id": "160", "errorMessage": "Payload too large"})
            else:
                issues.append(
                    _truncated_issue() if key == "ABC-1" else {"id": number, "key": f"ABC-{number}", "fields": {}}
                )
        return CallbackResult(payload={"issues": issues, "issueErrors": errors})

    mock_aiohttp.post(BULK, callback=answer, repeat=True)
    _mock_paging(mock_aiohttp)
    async with make_client(verify_credentials=False, page_size=2) as client:
        result = await client.bulk_fetch_issues(keys + ["ABC-1"])  # duplicates asked once
    assert isinstance(result, BulkFetchResult)
    calls = mock_aiohttp.requests[("POST", URL(BULK))]
    # Three chunks, then one more request for the ids Jira reported errors for (retried once only).
    assert sorted(len(c.kwargs["json"]["issueIdsOrKeys"]) for c in calls) == [2, 50, 100, 100]
    (retry_call,) = [c for c in calls if len(c.kwargs["json"]["issueIdsOrKeys"]) == 2]
    assert sorted(retry_call.kwargs["json"]["issueIdsOrKeys"]) == ["150", "160"]
    returned = [issue["key"] for issue in result.issues]
    assert returned == [k for k in keys if k not in missing and k != "ABC-160"]
    # Jira names failing issues by id; keys it never returned are named by key.
    assert result.errors == {
        "160": "Payload too large",
        "ABC-160": "not returned by Jira (deleted, moved, or not visible to this user)",
        "ABC-7": "not returned by Jira (deleted, moved, or not visible to this user)",
        "ABC-200": "not returned by Jira (deleted, moved, or not visible to this user)",
    }
    assert len(result.issues[0]["fields"]["comment"]["comments"]) == 5


async def test_bulk_fetch_of_nothing_sends_nothing(mock_aiohttp, make_client):
    async with make_client(verify_credentials=False) as client:
        assert await client.bulk_fetch_issues([]) == BulkFetchResult(issues=[], errors={})
    assert not mock_aiohttp.requests


async def test_bulk_fetch_request_errors_raise(mock_aiohttp, make_client):
    mock_aiohttp.post(BULK, status=400, payload={"errorMessages": ["Too many issues"]})
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError, match="Too many issues"):
            await client.bulk_fetch_issues(["ABC-1"])


async def test_stats_count_requests(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/myself", payload=MYSELF)
    mock_aiohttp.get(f"{API}/field", payload=[])
    async with make_client() as client:
        await client.fetch_fields()
        assert client.stats.as_dict() == {
            "requests": 2,
            "retries": 0,
            "bytes_downloaded": 0,
            "peak_in_flight": 1,
            "rate_limited": 0,
        }
        assert json.dumps(client.stats.as_dict())


def test_default_close_grace_period_lets_ssl_shut_down():
    assert JiraApiClient(BASE, EMAIL, TOKEN).close_grace_period == 0.250


async def test_json_calls_also_drop_credentials_when_redirected_off_origin(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/field", status=302, headers={"Location": "https://elsewhere.example/field"})
    mock_aiohttp.get("https://elsewhere.example/field", payload=[])
    async with make_client(verify_credentials=False) as client:
        assert await client.fetch_fields() == []
    (to_jira,) = requests_to(mock_aiohttp, "GET", API)
    (elsewhere,) = requests_to(mock_aiohttp, "GET", "https://elsewhere.example")
    assert "Authorization" in to_jira.kwargs["headers"]
    assert "Authorization" not in elsewhere.kwargs["headers"]
    assert elsewhere.kwargs["allow_redirects"] is False


async def test_a_redirect_without_location_is_an_error_not_data(mock_aiohttp, make_client):
    mock_aiohttp.get(f"{API}/field", status=302)
    async with make_client(verify_credentials=False) as client:
        with pytest.raises(JiraApiError, match="HTTP 302") as caught:
            await client.fetch_fields()
    assert caught.value.status_code == 302


def test_content_url_accessor():
    assert JiraApiClient.get_attachment_content_url({"content": "https://x/1"}) == "https://x/1"
    assert JiraApiClient.get_attachment_content_url({}) == ""


async def test_a_bulk_stream_can_make_its_first_request_small_and_the_rest_full(monkeypatch):
    client = JiraApiClient("https://example.atlassian.net", "me@example.com", "token")
    asked: list[list[str]] = []

    async def page(keys, fields, expand, defer_completion=False):
        asked.append(keys)
        return BulkFetchResult(issues=[], errors={})

    monkeypatch.setattr(client, "_bulk_fetch_page", page)
    keys = [f"ABC-{n}" for n in range(1, 251)]
    chunks: asyncio.Queue = asyncio.Queue()
    for part in (keys[:5], keys[5:]):  # the first list is shorter than the cut: it goes as it is
        chunks.put_nowait(part)
    chunks.put_nowait(None)
    _ = [answer async for answer in client.bulk_fetch_stream(chunks, first_request_issues=10)]
    assert [len(keys_asked) for keys_asked in asked] == [5, 100, 100, 45]
    asked.clear()
    chunks.put_nowait(keys)
    chunks.put_nowait(None)
    _ = [answer async for answer in client.bulk_fetch_stream(chunks, first_request_issues=10)]
    assert [len(keys_asked) for keys_asked in asked] == [10, 100, 100, 40]
    assert [key for keys_asked in asked for key in keys_asked] == keys
