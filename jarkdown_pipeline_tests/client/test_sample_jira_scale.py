"""The sample Jira at 100,000 issues: generated lazily, small in memory, and searched correctly."""

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import psutil
import pytest

from jarkdown_pipeline.sample_jira import SampleJira, SampleJiraConfig, app
from jarkdown_pipeline.sample_jira.adf import document_types
from jarkdown_pipeline.sample_jira.config import DEMO_API_TOKEN, DEMO_EMAIL, EAGER_ISSUE_LIMIT
from jarkdown_pipeline.sample_jira.lazy import CACHED_ISSUES, LazyDataset, make_dataset
from jarkdown_pipeline.sample_jira.shapes import ALL_FIELD_IDS, Renderer
from jarkdown_pipeline_tests.plugins.sample_jira import SAMPLE_JIRA_TEST_NOW, basic_auth_headers

SITE = "http://127.0.0.1:8089"
LARGE = 100_000


def large_config(**overrides) -> SampleJiraConfig:
    return SampleJiraConfig(seed=11, issue_count=LARGE, now=SAMPLE_JIRA_TEST_NOW, **overrides)


def window(jira: SampleJira, days_ago: int) -> tuple[str, str]:
    """A day of the user's zone, as JQL literals."""
    zone = jira.config.zone
    day = (jira.dataset.now - timedelta(days=days_ago)).astimezone(zone).date()
    return f"{day:%Y-%m-%d} 00:00", f"{day + timedelta(days=1):%Y-%m-%d} 00:00"


async def search_all(
    session: aiohttp.ClientSession, jira: SampleJira, jql: str, fields: list[str], page: int
) -> list[dict]:
    found, token = [], None
    while True:
        body = {"jql": jql, "fields": fields, "maxResults": page, **({"nextPageToken": token} if token else {})}
        async with session.post(f"{jira.base_url}/rest/api/3/search/jql", json=body) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        found += answer["issues"]
        token = answer.get("nextPageToken")
        if answer["isLast"]:
            assert token is None
            return found


@pytest.fixture
async def large_jira():
    async with SampleJira(large_config()) as jira:
        headers = basic_auth_headers(jira.email, jira.api_token)
        async with aiohttp.ClientSession(headers=headers) as session:
            yield jira, session


def test_the_size_chooses_the_generation():
    assert not make_dataset(SampleJiraConfig(issue_count=20, now=SAMPLE_JIRA_TEST_NOW), SITE).is_lazy
    assert not SampleJiraConfig(issue_count=EAGER_ISSUE_LIMIT).uses_lazy_generation
    assert SampleJiraConfig(issue_count=EAGER_ISSUE_LIMIT + 1).uses_lazy_generation
    assert make_dataset(SampleJiraConfig(issue_count=10, generation="lazy", now=SAMPLE_JIRA_TEST_NOW), SITE).is_lazy
    assert not SampleJiraConfig(issue_count=LARGE, generation="eager").uses_lazy_generation
    with pytest.raises(ValueError, match="generation"):
        SampleJiraConfig(generation="sometimes")


async def test_start_up_and_a_search_page_generate_few_of_100000_issues(large_jira):
    jira, session = large_jira
    assert jira.info()["issue_count"] == LARGE and jira.info()["generation"] == "lazy"
    assert jira.dataset.issues_generated == 0
    start, end = window(jira, 3)
    body = {
        "jql": f'updated >= "{start}" AND updated < "{end}"',
        "fields": ["*all"],
        "expand": "renderedFields",
        "maxResults": 100,
    }
    async with session.post(f"{jira.base_url}/rest/api/3/search/jql", json=body) as response:
        page = await response.json()
    assert len(page["issues"]) == 100 and page["isLast"] is False
    assert all(
        issue["fields"]["description"] is None or issue["fields"]["description"]["type"] == "doc"
        for issue in page["issues"]
    )
    # The page's issues, and nothing else: links, parents and sub-tasks are shown from the skeleton.
    assert jira.dataset.issues_generated == 100


async def test_paging_a_scan_of_100000_issues_returns_every_issue_once(large_jira):
    jira, session = large_jira
    issues = await search_all(session, jira, "project in (ALPHA, BETA, OPS)", ["id", "key"], 5000)
    keys = Counter(issue["key"] for issue in issues)
    assert len(keys) == LARGE and set(keys.values()) == {1}
    assert set(keys) == set(jira.dataset.issues)
    assert jira.dataset.issues_generated == 0


async def test_window_searches_match_the_data_exactly(large_jira):
    jira, session = large_jira
    ds = jira.dataset
    zone = jira.config.zone
    minute = {key: f"{ds.find_issue_ref(key).updated.astimezone(zone):%Y-%m-%d %H:%M}" for key in ds.issues}
    for days_ago in (0, 12, 29):
        start, end = window(jira, days_ago)
        jql = f'project in (ALPHA, BETA) AND updated >= "{start}" AND updated < "{end}" ORDER BY updated ASC'
        issues = await search_all(session, jira, jql, ["updated"], 100)
        keys = [issue["key"] for issue in issues]
        assert len(keys) == len(set(keys)) > 1000
        # Literals are whole minutes, so comparing the minute an issue was updated in is exact.
        assert set(keys) == {key for key, at in minute.items() if not key.startswith("OPS-") and start <= at < end}
        times = [datetime.strptime(issue["fields"]["updated"], "%Y-%m-%dT%H:%M:%S.%f%z") for issue in issues]
        assert times == sorted(times)
    assert ds.issues_generated == 0


async def test_key_and_id_look_ups_edits_and_deletions(large_jira):
    jira, session = large_jira
    ds = jira.dataset
    wanted = ["ALPHA-1", "BETA-7000", "OPS-123", str(10001 + LARGE - 1)]
    body = {"jql": f"key in ({', '.join(wanted)})", "fields": ["summary"], "maxResults": 10}
    async with session.post(f"{jira.base_url}/rest/api/3/search/jql", json=body) as response:
        found = (await response.json())["issues"]
    assert {issue["key"] for issue in found} == {
        "ALPHA-1",
        "BETA-7000",
        "OPS-123",
        ds.issues_by_id[10001 + LARGE - 1].key,
    }
    async with session.get(f"{jira.base_url}/rest/api/3/issue/BETA-7000") as response:
        assert (await response.json())["fields"]["summary"] == ds.issues["BETA-7000"].summary

    touched = jira.touch_issue("OPS-123", updated=ds.now)
    start, end = window(jira, 0)
    recent = await search_all(session, jira, f'updated >= "{start}" AND updated < "{end}"', ["updated"], 1000)
    assert sum(issue["key"] == "OPS-123" for issue in recent) == 1
    async with session.get(f"{jira.base_url}/rest/api/3/issue/OPS-123?fields=summary") as response:
        assert (await response.json())["fields"]["summary"] == touched["summary"]

    gone = set(jira.delete_issue("BETA-7000"))
    assert "BETA-7000" in gone and "BETA-7000" not in ds.issues and len(ds.issues) == LARGE - len(gone)
    async with session.get(f"{jira.base_url}/rest/api/3/issue/BETA-7000") as response:
        assert response.status == 404
    scan = await search_all(session, jira, "project = BETA", ["id", "key"], 5000)
    assert not gone & {issue["key"] for issue in scan}


def test_lazy_data_are_deterministic_and_consistent():
    config = SampleJiraConfig(seed=5, issue_count=1200, generation="lazy", now=SAMPLE_JIRA_TEST_NOW)
    first, again, fresh = LazyDataset(config, SITE), LazyDataset(config, SITE), LazyDataset(config, SITE)
    other = LazyDataset(config.replace(seed=6), SITE)

    def render(ds: LazyDataset, key: str) -> str:
        return json.dumps(
            Renderer(ds, SITE, config.zone, anonymous=False).issue(ds.issues[key], ALL_FIELD_IDS, ["renderedFields"])
        )

    sample = [first.key_of(i) for i in range(0, 1200, 37)]
    assert [render(first, k) for k in sample] == [render(again, k) for k in sample]
    assert [render(first, k) for k in ("ALPHA-1", "ALPHA-2", "BETA-3")] != [
        render(other, k) for k in ("ALPHA-1", "ALPHA-2", "BETA-3")
    ]
    renderer = Renderer(first, SITE, config.zone, anonymous=False)
    nodes: set[str] = set()
    for issue in first.iter_issues():
        assert first.now - timedelta(days=config.days) <= issue.updated <= first.now and issue.created <= issue.updated
        reference = fresh.find_issue_ref(issue.key)  # not generated: drawn from the skeleton and the first draws
        assert (reference.summary, reference.status_index, reference.priority_index, reference.issue_type) == (
            issue.summary,
            issue.status_index,
            issue.priority_index,
            issue.issue_type,
        )
        for link in issue.links:
            assert any(
                back.id == link.id and back.outward != link.outward for back in first.issues[link.other_key].links
            )
        if issue.parent_key:
            assert first.issues[issue.parent_key].project is issue.project
        for child in first.subtasks_of(issue):
            assert child.parent_key == issue.key and child.issue_type == "Sub-task"
        for attachment in issue.attachments:
            assert first.attachments[attachment.id] is attachment
        nodes |= document_types(issue.description)[0] if issue.description else set()
        renderer.issue(issue, ALL_FIELD_IDS, ["renderedFields"])
    assert fresh.issues_generated == 0
    assert {"table", "mediaSingle", "inlineCard", "codeBlock"} <= nodes
    assert any(issue.links for issue in first.iter_issues()) and any(issue.parent_key for issue in first.iter_issues())


async def test_prerender_of_a_lazy_data_set_stops_at_its_limit(monkeypatch):
    monkeypatch.setattr(app, "PRERENDERED_LAZY_ISSUES", 30)
    async with SampleJira(
        SampleJiraConfig(issue_count=200, generation="lazy", prerender=True, now=SAMPLE_JIRA_TEST_NOW)
    ) as jira:
        assert jira.dataset.issues_generated == 30
        assert len(jira._fragments) == 30


async def test_the_cli_serves_100000_issues_in_little_memory(tmp_path):
    """The server as the bench runs it (its own process): ready in seconds, and small after a half-day backfill."""
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jarkdown_pipeline.sample_jira",
            "--port",
            "0",
            "--media-port",
            "0",
            "--issues",
            str(LARGE),
            "--now",
            SAMPLE_JIRA_TEST_NOW.isoformat(),
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # generous: it takes seconds
        while not ready.exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the sample Jira did not become ready"
            await asyncio.sleep(0.05)
        info = json.loads(ready.read_text())
        assert info["issue_count"] == LARGE and info["generation"] == "lazy"
        day = (SAMPLE_JIRA_TEST_NOW - timedelta(days=2)).astimezone(ZoneInfo(info["time_zone"])).date()
        jql = f'updated >= "{day:%Y-%m-%d} 00:00" AND updated < "{day:%Y-%m-%d} 12:00"'
        fetched = 0
        async with aiohttp.ClientSession(headers=basic_auth_headers(DEMO_EMAIL, DEMO_API_TOKEN)) as session:
            token = None
            while True:
                body = {
                    "jql": jql,
                    "fields": ["*all"],
                    "maxResults": 100,
                    **({"nextPageToken": token} if token else {}),
                }
                async with session.post(f"{info['base_url']}/rest/api/3/search/jql", json=body) as response:
                    answer = await response.json()
                fetched += len(answer["issues"])
                token = answer.get("nextPageToken")
                if answer["isLast"]:
                    break
        assert fetched > CACHED_ISSUES  # more issues than the server keeps generated: its cache is bounded
        rss = psutil.Process(process.pid).memory_info().rss
        assert rss < 768 * 1024 * 1024, f"the sample Jira uses {rss / 2**20:.0f} MiB"
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"{LARGE} issues in ALPHA, BETA, OPS (generated lazily)" in stdout
