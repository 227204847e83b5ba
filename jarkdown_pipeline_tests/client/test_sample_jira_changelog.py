"""The sample Jira's changelogs: inline and truncated, paged, bulk-fetched, Data Center's, generated lazily."""

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from jarkdown_pipeline.sample_jira import FaultConfig, SampleJira, changelog
from jarkdown_pipeline.sample_jira.config import DEMO_PERSONAL_ACCESS_TOKEN
from jarkdown_pipeline.sample_jira.datacenter import username
from jarkdown_pipeline.sample_jira.lazy import make_dataset
from jarkdown_pipeline_tests.plugins.openapi import assert_matches_spec
from jarkdown_pipeline_tests.plugins.sample_jira import basic_auth_headers, small_sample_jira_config

API = "/rest/api/3"


def without_nulls(value):
    """The spec types ``from``/``to`` as strings, yet its own examples (and Jira) send null for "none"."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


async def _json(session: aiohttp.ClientSession, method: str, path: str, **kwargs) -> tuple[int, dict]:
    async with session.request(method, path, **kwargs) as response:
        return response.status, await response.json()


@pytest.fixture
async def cloud(request) -> AsyncIterator[tuple[aiohttp.ClientSession, SampleJira]]:
    overrides = getattr(request, "param", {})
    async with SampleJira(small_sample_jira_config(**overrides)) as jira:
        headers = basic_auth_headers(jira.email, jira.api_token)
        async with aiohttp.ClientSession(base_url=jira.base_url, headers=headers) as session:
            yield session, jira


async def paged_changelog(session: aiohttp.ClientSession, key: str, page: int = 100) -> list[dict]:
    values: list[dict] = []
    while True:
        status, body = await _json(
            session, "GET", f"{API}/issue/{key}/changelog?startAt={len(values)}&maxResults={page}"
        )
        assert status == 200
        assert_matches_spec("PageBeanChangelog", without_nulls(body))
        values += body["values"]
        if body["isLast"] or not body["values"]:
            return values


async def bulk_changelogs(session: aiohttp.ClientSession, keys: list[str], page: int) -> tuple[dict[str, list], int]:
    by_issue: dict[str, list] = {}
    body: dict = {"issueIdsOrKeys": keys, "maxResults": page}
    requests = 0
    while True:
        status, answer = await _json(session, "POST", f"{API}/changelog/bulkfetch", json=body)
        requests += 1
        assert status == 200, answer
        assert_matches_spec("BulkChangelogResponseBean", without_nulls(answer))
        for entry in answer["issueChangeLogs"]:
            by_issue.setdefault(entry["issueId"], []).extend(entry["changeHistories"])
        if not answer.get("nextPageToken"):
            return by_issue, requests
        body["nextPageToken"] = answer["nextPageToken"]


async def test_inline_changelog_is_truncated_and_paging_gives_every_entry_oldest_first(cloud):
    session, jira = cloud
    long_issue = next(jira.dataset.iter_issues())
    status, issue = await _json(session, "GET", f"{API}/issue/{long_issue.key}?expand=changelog&fields=summary")
    inline = issue["changelog"]
    assert_matches_spec("PageOfChangelogs", without_nulls(inline))
    assert inline["total"] >= 300 and len(inline["histories"]) == inline["maxResults"] == 40
    paged = await paged_changelog(session, long_issue.key)
    assert len(paged) == inline["total"] and len({entry["id"] for entry in paged}) == len(paged)
    assert paged[:40] == inline["histories"]
    assert [e["created"] for e in paged] == sorted(e["created"] for e in paged)


async def test_bulkfetch_pages_over_many_issues_agree_with_the_per_issue_changelogs(cloud):
    session, jira = cloud
    issues = list(jira.dataset.iter_issues())[:30]
    by_issue, requests = await bulk_changelogs(session, [i.key for i in issues], page=100)
    total = sum(len(v) for v in by_issue.values())
    assert requests == -(-total // 100) and total > 300
    for issue in issues[:8]:
        assert by_issue.get(str(issue.id), []) == await paged_changelog(session, issue.key, page=37)


@pytest.mark.parametrize("cloud", [{"prerender": True}], indirect=True)
async def test_bulkfetch_pages_are_joined_from_kept_entries_as_json_dumps_writes_them_and_follow_an_edit(cloud):
    session, jira = cloud
    keys = [issue.key for issue in list(jira.dataset.iter_issues())[:12]]
    body: dict = {"issueIdsOrKeys": keys, "maxResults": 50}
    async with session.post(f"{API}/changelog/bulkfetch", json=body) as response:
        text = await response.text()
    answer = json.loads(text)
    assert answer["nextPageToken"] and text == json.dumps(answer)  # the text the dict would have given
    before, _ = await bulk_changelogs(session, keys, page=1000)
    async with SampleJira(small_sample_jira_config()) as fresh:  # nothing kept: every entry serialised anew
        headers = basic_auth_headers(fresh.email, fresh.api_token)
        async with aiohttp.ClientSession(base_url=fresh.base_url, headers=headers) as other:
            fresh_answer = json.dumps((await bulk_changelogs(other, keys, page=1000))[0])
    assert fresh_answer.replace(fresh.base_url, jira.base_url) == json.dumps(before)
    jira.touch_issue(keys[3])
    after, _ = await bulk_changelogs(session, keys, page=1000)
    edited = str(jira.dataset.find_issue(keys[3]).id)
    assert after[edited][:-1] == before[edited] and after[edited][-1]["items"][0]["toString"].endswith("(edit 1)")
    assert {k: v for k, v in after.items() if k != edited} == {k: v for k, v in before.items() if k != edited}


@pytest.mark.parametrize("cloud", [{"prerender": True, "issue_count": 400}], indirect=True)
async def test_a_prerendered_jira_answers_bulk_changelog_pages_without_generating_a_changelog_again(cloud, monkeypatch):
    # More issues than the changelog cache once held (256): each bulk page then generated its
    # issues' changelogs anew, on the server's one event loop, holding every other answer.
    session, jira = cloud
    generated = []
    original = changelog._Walk.changes
    monkeypatch.setattr(changelog._Walk, "changes", lambda walk: generated.append(walk) or original(walk))
    paged = [i.key for i in jira.dataset.iter_issues() if len(jira.dataset.changes_of(i)) > 40]
    assert len(paged) >= 20 and not generated
    by_issue, _ = await bulk_changelogs(session, paged, page=1000)
    assert sum(map(len, by_issue.values())) > 1000 and not generated


def test_the_changelog_cache_keeps_the_recently_used_changelogs_up_to_its_entry_budget(monkeypatch):
    dataset = make_dataset(small_sample_jira_config(), "http://jira.example")
    issues = [i for i in dataset.iter_issues() if len(dataset.changes_of(i)) >= 5][:3]
    counts = [len(dataset.changes_of(i)) for i in issues]
    generated = []
    original = changelog._Walk.changes
    monkeypatch.setattr(changelog._Walk, "changes", lambda walk: generated.append(walk.issue.key) or original(walk))
    monkeypatch.setattr(changelog, "_CACHED_ENTRIES", counts[0] + counts[1] + min(counts) - 1)
    source = changelog.ChangelogSource(dataset)
    first, second, third = issues
    for issue in (first, second, first, third, first, second):
        source.changes(issue)
    # The third evicts the least recently used (the second, not the first); the first is never generated again.
    assert generated == [first.key, second.key, third.key, second.key]
    assert source.changes(first) == dataset.changes_of(first)


async def test_histories_end_at_the_issues_current_status_and_custom_fields_carry_their_id(cloud):
    session, jira = cloud
    kinds: set[str] = set()
    long_values = 0
    for issue in list(jira.dataset.iter_issues())[:40]:
        status, body = await _json(session, "GET", f"{API}/issue/{issue.key}?expand=changelog&fields=status")
        statuses = [
            i for e in await paged_changelog(session, issue.key) for i in e["items"] if i["fieldId"] == "status"
        ]
        if statuses:
            assert statuses[-1]["toString"] == body["fields"]["status"]["name"]
            assert [s["fromString"] for s in statuses[1:]] == [s["toString"] for s in statuses[:-1]]
        for entry in body["changelog"]["histories"]:
            for item in entry["items"]:
                kinds.add(item["fieldtype"] + ":" + item["fieldId"])
                long_values += len(item["toString"] or "") > 1000
    assert {"jira:status", "jira:assignee", "jira:timeoriginalestimate", "custom:customfield_10016"} <= kinds
    assert "jira:description" in kinds and long_values > 0


async def test_same_seed_same_changelogs_and_an_edit_adds_an_entry(cloud):
    session, jira = cloud
    key = list(jira.dataset.iter_issues())[5].key
    before = await paged_changelog(session, key)
    async with SampleJira(small_sample_jira_config()) as twin:
        assert [twin.dataset.changes_of(twin.dataset.find_issue(key))] == [
            jira.dataset.changes_of(jira.dataset.find_issue(key))
        ]
    jira.touch_issue(key)
    after = await paged_changelog(session, key)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert after[-1]["items"][0]["field"] == "summary" and after[-1]["items"][0]["toString"].endswith("(edit 1)")


@pytest.mark.parametrize(
    "cloud", [{"faults": FaultConfig(dropped_page_issue_keys=frozenset({"ALPHA-1"}))}], indirect=True
)
async def test_the_dropped_page_fault_loses_entries_past_the_inline_ones(cloud):
    session, jira = cloud
    status, issue = await _json(session, "GET", f"{API}/issue/ALPHA-1?expand=changelog&fields=summary")
    assert issue["changelog"]["total"] > 100
    assert len(await paged_changelog(session, "ALPHA-1")) == 100  # the page at startAt 100 comes back empty
    by_issue, _ = await bulk_changelogs(session, ["ALPHA-1"], page=1000)
    assert len(by_issue["10001"]) == 40


async def test_bulkfetch_refuses_what_jira_refuses(cloud):
    session, _ = cloud
    for body in (
        {},
        {"issueIdsOrKeys": []},
        {"issueIdsOrKeys": ["ALPHA-1"], "maxResults": 0},
        {"issueIdsOrKeys": ["X-1"] * 1001},
        {"issueIdsOrKeys": ["ALPHA-1"], "nextPageToken": "forged.x"},
    ):
        status, answer = await _json(session, "POST", f"{API}/changelog/bulkfetch", json=body)
        assert status == 400 and answer["errorMessages"], body


async def test_data_center_inlines_the_whole_changelog_with_user_names():
    async with SampleJira(small_sample_jira_config(flavour="datacenter")) as jira:
        headers = {"Authorization": f"Bearer {DEMO_PERSONAL_ACCESS_TOKEN}"}
        async with aiohttp.ClientSession(base_url=jira.base_url, headers=headers) as session:
            status, issue = await _json(session, "GET", "/rest/api/2/issue/ALPHA-1?expand=changelog&fields=summary")
            status_missing, _ = await _json(
                session, "POST", f"{API}/changelog/bulkfetch", json={"issueIdsOrKeys": ["1"]}
            )
    changelog = issue["changelog"]
    assert len(changelog["histories"]) == changelog["total"] >= 300 and status_missing == 404
    names = {username(u) for u in jira.dataset.users}
    assignees = [i for e in changelog["histories"] for i in e["items"] if i["field"] == "assignee" and i["to"]]
    assert assignees and all(i["to"] in names for i in assignees)


async def test_a_lazy_data_set_generates_only_the_issues_asked_for():
    config = small_sample_jira_config(issue_count=20_000, generation="lazy")
    async with SampleJira(config) as jira:
        headers = basic_auth_headers(jira.email, jira.api_token)
        async with aiohttp.ClientSession(base_url=jira.base_url, headers=headers) as session:
            before = jira.dataset.issues_generated
            keys = ["ALPHA-5000", "BETA-300", "ALPHA-1"]
            by_issue, _ = await bulk_changelogs(session, keys, page=1000)
            assert len(by_issue) >= 1 and jira.dataset.issues_generated - before <= len(keys)
