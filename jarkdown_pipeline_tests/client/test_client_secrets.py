"""Secrets stay secret (issue 13): an echoing server, the one scrub, and no remote plain http.

The server below echoes the request's Authorization header into its error bodies, in the ways
servers and proxies do (JSON, plain text, a JSON-escaped slash, percent-encoded). Whatever the
client raises, logs or keeps must show none of the token, the PAT or the Basic credentials.
"""

import base64
import json
import logging
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from jarkdown_pipeline._secrets import REDACTED, Secrets
from jarkdown_pipeline.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    JiraApiError,
    ServerError,
    describe_error,
)
from jarkdown_pipeline.jira_api_client import JiraApiClient, RetryPolicy

EMAIL = "bot@acme.example"
# Chosen so the Basic credentials' base64 holds a "/" (and so a JSON-escaped spelling differs).
TOKEN = "ATATT3x/FfGF0-secret?token>>"
PAT = "pat-MDk0NzYwOTY4NjQ2OsecretPAT"
BASIC = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
FAST = RetryPolicy(max_attempts=2, base_backoff=0.0, max_backoff=0.0)


def echo_app() -> web.Application:
    async def myself(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        return web.json_response(
            {"errorMessages": [f"Rejected Authorization: {auth}"], "headers": {"Authorization": auth}}, status=401
        )

    async def field(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        return web.Response(status=400, text=f"Bad request. Headers were: Authorization={auth}\nauthorization: {auth}")

    async def issue(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        escaped = json.dumps({"message": f"overloaded; you sent {auth}"}).replace("/", "\\/")
        return web.Response(status=503, text=escaped, content_type="application/json")

    async def search(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        secret = auth.split(" ", 1)[-1]
        return web.Response(status=500, text=f"token={quote(secret, safe='')} raw={secret}")

    async def bulkfetch(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        message = f"Issue could not be loaded for request with Authorization: {auth}"
        return web.json_response({"issues": [], "issueErrors": [{"id": "10001", "errorMessage": message}]})

    app = web.Application()
    app.router.add_get("/rest/api/3/myself", myself)
    app.router.add_post("/rest/api/3/issue/bulkfetch", bulkfetch)
    app.router.add_get("/rest/api/3/field", field)
    app.router.add_get("/rest/api/3/issue/{key}", issue)
    app.router.add_post("/rest/api/3/search/jql", search)
    return app


@pytest.fixture
async def echo_server():
    server = TestServer(echo_app(), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def texts_of(error: BaseException) -> list[str]:
    texts = [str(error), repr(error), describe_error(error)]
    if isinstance(error, JiraApiError):
        texts += [json.dumps(error.response, default=str), repr(error.error_messages), str(error.url)]
    return texts


def assert_no_secret(texts: list[str]) -> None:
    secrets = [TOKEN, PAT, BASIC, BASIC.replace("/", "\\/"), quote(TOKEN, safe=""), quote(BASIC, safe="")]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked in {text!r}"


@pytest.mark.parametrize("credentials", [{"email": EMAIL, "api_token": TOKEN}, {"personal_access_token": PAT}])
async def test_echoed_authorization_appears_in_no_error_log_or_repr(echo_server, credentials, caplog):
    caplog.set_level(logging.DEBUG)
    errors = []
    client = JiraApiClient(echo_server, retry_policy=FAST, close_grace_period=0, **credentials)
    with pytest.raises(AuthenticationError) as caught:
        async with client:
            pass
    errors.append(caught.value)
    client = JiraApiClient(
        echo_server, retry_policy=FAST, close_grace_period=0, verify_credentials=False, **credentials
    )
    async with client:
        with pytest.raises(BadRequestError) as caught:
            await client.fetch_fields()
        errors.append(caught.value)
        with pytest.raises(ServerError) as caught:
            await client.fetch_issue("A-1")
        errors.append(caught.value)
        with pytest.raises(ServerError) as caught:
            async for _ in client.search_jql("project = A"):
                pass
        errors.append(caught.value)
        assert_no_secret([repr(client), repr(vars(client).get("_secrets"))])
    for error in errors:
        assert_no_secret(texts_of(error))
        assert REDACTED in str(error.response) or REDACTED in str(error)  # the body was kept, scrubbed
    assert_no_secret([caplog.text] + [repr(record.args) for record in caplog.records])
    assert "Retrying GET" in caplog.text  # the 503 was retried, and logged


async def test_issue_errors_kept_in_a_bulk_result_are_scrubbed(echo_server):
    async with JiraApiClient(
        echo_server, EMAIL, TOKEN, retry_policy=FAST, close_grace_period=0, verify_credentials=False
    ) as client:
        result = await client.bulk_fetch_issues(["10001"])
    assert "Issue could not be loaded" in result.errors["10001"]
    assert_no_secret([repr(result)])


def test_scrub_removes_every_spelling_and_any_echoed_authorization():
    secrets = Secrets([TOKEN, BASIC, f"Basic {BASIC}"])
    text = (
        f"a {TOKEN} b {BASIC.replace('/', chr(92) + '/')} c {quote(TOKEN, safe='')} "
        '"Authorization": "Bearer someone-elses-token" Authorization=Basic Zm9vOmJhcg=='
    )
    scrubbed = secrets.scrub(text)
    for leaked in (TOKEN, "someone-elses-token", "Zm9vOmJhcg=="):
        assert leaked not in scrubbed
    assert scrubbed.count(REDACTED) == 5
    assert secrets.scrub_value({"errors": {"x": [f"t {TOKEN}"]}}) == {"errors": {"x": [f"t {REDACTED}"]}}


# ------------------------------------------------------------------ no remote plain http


@pytest.mark.parametrize("url", ["http://jira.acme.example", "http://10.0.0.7:8080", "http://[2001:db8::1]"])
def test_plain_http_to_a_remote_host_is_refused(url):
    with pytest.raises(ConfigurationError) as caught:
        JiraApiClient(url, EMAIL, TOKEN)
    message = str(caught.value)
    assert "clear text" in message and "JARKDOWN_ALLOW_INSECURE_HTTP" in message
    assert TOKEN not in message


def test_plain_http_to_a_remote_host_is_allowed_when_asked():
    assert str(JiraApiClient("http://jira.acme.example", EMAIL, TOKEN, allow_insecure_http=True).base_url) == (
        "http://jira.acme.example"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.3.4.5",
        "http://localhost:2990/jira",
        "http://[::1]:8080",
        "https://jira.acme.example",
    ],
)
def test_loopback_http_and_https_stay_allowed(url):
    JiraApiClient(url, EMAIL, TOKEN)
