"""The client's changelogs against the sample Jira: every entry, few requests, Jira's totals kept."""

import math
import re

import pytest

from jarkdown_pipeline import changelogs
from jarkdown_pipeline.exceptions import PaginationError
from jarkdown_pipeline.jira_api_client import JiraApiClient, RetryPolicy
from jarkdown_pipeline.sample_jira import FaultConfig
from jarkdown_pipeline.sample_jira.config import DEMO_PERSONAL_ACCESS_TOKEN
from jarkdown_pipeline_tests.plugins.sample_jira import sample_jira_client

BULK_CHANGELOGS = "POST /rest/api/3/changelog/bulkfetch"
ISSUE_CHANGELOG = "GET /rest/api/3/issue/{key}/changelog"


def client_for(jira, **options) -> JiraApiClient:
    if jira.config.is_datacenter:
        return JiraApiClient(
            jira.base_url, personal_access_token=DEMO_PERSONAL_ACCESS_TOKEN, close_grace_period=0, flavour="auto"
        )
    return sample_jira_client(jira, **options)


def expected_ids(jira, key: str) -> list[str]:
    return [change.id for change in jira.dataset.changes_of(jira.dataset.find_issue(key))]


async def test_a_bulk_fetch_brings_every_changelog_entry_with_one_changelog_request_per_page(sample_jira):
    keys = [issue.key for issue in sample_jira.dataset.iter_issues()]
    async with client_for(sample_jira) as client:
        sample_jira.reset_stats()
        result = await client.bulk_fetch_issues(keys)
    routes = sample_jira.stats["api"]["by_route"]
    assert not result.errors and len(result.issues) == len(keys)
    truncated = 0
    for issue in result.issues:
        ids = [entry["id"] for entry in issue["changelog"]["histories"]]
        assert ids == expected_ids(sample_jira, issue["key"])
        assert issue["changelog"]["total"] == len(ids)
        truncated += len(ids) > sample_jira.config.inline_changelog_limit
    long_entries = sum(len(i["changelog"]["histories"]) for i in result.issues if len(i["changelog"]["histories"]) > 40)
    assert truncated >= 2  # the long issue and at least one more
    assert routes[BULK_CHANGELOGS] == math.ceil(long_entries / 1000) and ISSUE_CHANGELOG not in routes


async def test_one_issue_pages_its_changelog_by_100(sample_jira):
    long_issue = next(sample_jira.dataset.iter_issues())
    async with client_for(sample_jira) as client:
        sample_jira.reset_stats()
        issue = await client.fetch_issue(long_issue.key)
    entries = issue["changelog"]["histories"]
    assert [e["id"] for e in entries] == expected_ids(sample_jira, long_issue.key) and len(entries) >= 300
    assert sample_jira.stats["api"]["by_route"][ISSUE_CHANGELOG] == math.ceil(len(entries) / 100)


async def test_a_dropped_page_leaves_fewer_entries_than_jiras_total(sample_jira_factory):
    faults = FaultConfig(dropped_page_issue_keys=frozenset({"ALPHA-1"}))
    jira = sample_jira_factory(faults=faults, max_comments_per_issue=30, inline_comment_limit=5)
    async with client_for(jira) as client:
        (issue,) = (await client.bulk_fetch_issues(["ALPHA-1"])).issues
        single = await client.fetch_issue("ALPHA-1")
    for fetched in (issue, single):
        changelog = fetched["changelog"]
        assert changelog["total"] == len(expected_ids(jira, "ALPHA-1")) > len(changelog["histories"])
    comments = issue["fields"]["comment"]
    if comments["total"] > 5:  # the comments' second page is lost as well; the total stays Jira's
        assert len(comments["comments"]) == 5


async def test_data_center_needs_no_changelog_request(sample_jira_factory):
    jira = sample_jira_factory(flavour="datacenter")
    keys = [issue.key for issue in jira.dataset.iter_issues()][:30]
    async with client_for(jira) as client:
        jira.reset_stats()
        result = await client.bulk_fetch_issues(keys)
    assert all(len(i["changelog"]["histories"]) == i["changelog"]["total"] for i in result.issues)
    assert sum(len(i["changelog"]["histories"]) for i in result.issues) > 300
    assert not any("changelog" in route for route in jira.stats["api"]["by_route"])


# ------------------------------------------------------------------ against mocked answers

MOCK_API = "https://acme.atlassian.net/rest/api/3"


def mocked_client() -> JiraApiClient:
    async def no_sleep(seconds: float) -> None:
        return None

    policy = RetryPolicy(max_attempts=2, base_backoff=0.0, max_backoff=0.0)
    return JiraApiClient(
        "https://acme.atlassian.net",
        "bot@acme.example",
        "token",
        retry_policy=policy,
        sleep=no_sleep,
        close_grace_period=0,
        verify_credentials=False,
    )


def history(n: int) -> dict:
    return {"id": str(n), "created": f"2026-11-01T10:{n:02d}:00.000+0000", "items": []}


def truncated_issue() -> dict:
    changelog = {"startAt": 0, "maxResults": 2, "total": 5, "histories": [history(0), history(1)]}
    return {"id": "7", "key": "ABC-7", "fields": {"summary": "s"}, "changelog": changelog}


async def test_when_jira_refuses_the_changelog_bulkfetch_each_issue_is_paged(mock_aiohttp):
    mock_aiohttp.post(f"{MOCK_API}/issue/bulkfetch", payload={"issues": [truncated_issue()], "issueErrors": []})
    mock_aiohttp.post(f"{MOCK_API}/changelog/bulkfetch", status=404, payload={"errorMessages": ["No such resource"]})
    for start, values in ((0, [0, 1, 2]), (3, [3, 4])):
        mock_aiohttp.get(
            re.compile(rf"^{re.escape(MOCK_API)}/issue/ABC-7/changelog\?.*startAt={start}.*$"),
            payload={"startAt": start, "maxResults": 3, "total": 5, "values": [history(n) for n in values]},
        )
    async with mocked_client() as client:
        result = await client.bulk_fetch_issues(["ABC-7"])
    (issue,) = result.issues
    assert [e["id"] for e in issue["changelog"]["histories"]] == ["0", "1", "2", "3", "4"]
    assert issue["changelog"]["total"] == 5


async def test_a_repeated_bulk_token_stops_paging_instead_of_looping(mock_aiohttp):
    page = {"issueChangeLogs": [{"issueId": "7", "changeHistories": [history(2)]}], "nextPageToken": "same"}
    mock_aiohttp.post(f"{MOCK_API}/changelog/bulkfetch", payload=page, repeat=True)
    async with mocked_client() as client:
        with pytest.raises(PaginationError, match="repeated a token"):
            await changelogs.bulk_changelogs(client, ["7"])
