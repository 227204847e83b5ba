"""The sample Jira in Data Center mode: API v2 only, wiki markup, Bearer PATs checked with 401, attachments on the Jira host."""

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from jarkdown_pipeline.sample_jira import SampleJira
from jarkdown_pipeline.sample_jira.adf import paragraph, text
from jarkdown_pipeline.sample_jira.config import DEMO_PERSONAL_ACCESS_TOKEN
from jarkdown_pipeline.sample_jira.shapes import ALL_FIELD_IDS
from jarkdown_pipeline.sample_jira.wiki_markup import WikiContext, adf_to_wiki
from jarkdown_pipeline_tests.plugins.sample_jira import small_sample_jira_config

PAT = {"Authorization": f"Bearer {DEMO_PERSONAL_ACCESS_TOKEN}"}


@pytest.fixture
async def session_and_jira() -> AsyncIterator[tuple[aiohttp.ClientSession, SampleJira]]:
    async with SampleJira(small_sample_jira_config(flavour="datacenter")) as jira:
        async with aiohttp.ClientSession() as session:
            yield session, jira


async def status_of(session: aiohttp.ClientSession, method: str, url: str, **kwargs) -> int:
    async with session.request(method, url, allow_redirects=False, **kwargs) as response:
        await response.read()
        return response.status


async def test_only_api_v2_answers_and_there_is_no_bulk_fetch(session_and_jira):
    session, jira = session_and_jira
    base = jira.base_url
    assert await status_of(session, "GET", f"{base}/rest/api/2/issue/ALPHA-1", headers=PAT) == 200
    assert await status_of(session, "GET", f"{base}/rest/api/3/issue/ALPHA-1", headers=PAT) == 404
    assert await status_of(session, "POST", f"{base}/rest/api/3/search/jql", headers=PAT, json={"jql": ""}) == 404
    assert await status_of(session, "POST", f"{base}/rest/api/2/issue/bulkfetch", headers=PAT, json={}) == 404
    async with session.get(f"{base}/rest/api/2/serverInfo") as response:
        assert (await response.json())["deploymentType"] == "DataCenter"


async def test_a_wrong_pat_is_401_everywhere_and_no_credentials_is_anonymous(session_and_jira):
    session, jira = session_and_jira
    wrong = {"Authorization": "Bearer nope"}
    for path in ("/rest/api/2/serverInfo", "/rest/api/2/myself", "/rest/api/2/issue/ALPHA-1"):
        assert await status_of(session, "GET", jira.base_url + path, headers=wrong) == 401, path
    assert await status_of(session, "GET", f"{jira.base_url}/rest/api/2/issue/ALPHA-1") == 404
    assert await status_of(session, "GET", f"{jira.base_url}/rest/api/2/myself") == 401


async def test_search_total_and_start_at(session_and_jira):
    session, jira = session_and_jira
    body = {"jql": "project = ALPHA ORDER BY key", "fields": ["updated"], "maxResults": 4, "startAt": 4}
    async with session.post(f"{jira.base_url}/rest/api/2/search", json=body, headers=PAT) as response:
        page = await response.json()
    alpha = sorted((k for k in jira.dataset.issues if k.startswith("ALPHA-")), key=lambda k: int(k.split("-")[1]))
    assert page["total"] == len(alpha) and page["startAt"] == 4 and page["maxResults"] == 4
    assert [issue["key"] for issue in page["issues"]] == alpha[4:8]


async def test_same_issues_as_cloud_mode_with_wiki_bodies_and_attachments_on_the_jira_host(session_and_jira):
    session, jira = session_and_jira
    async with SampleJira(small_sample_jira_config()) as cloud:
        cloud_renderer = cloud._renderer(anonymous=False)
        dc_renderer = jira._renderer(anonymous=False)
        for issue in jira.dataset.iter_issues():
            twin = cloud.dataset.issues[issue.key]
            dc = dc_renderer.issue(issue, ALL_FIELD_IDS)["fields"]
            cl = cloud_renderer.issue(twin, ALL_FIELD_IDS)["fields"]
            assert set(dc) == set(cl) and dc["summary"] == cl["summary"] and dc["updated"] == cl["updated"]
            assert [c["id"] for c in dc["comment"]["comments"]] == [c["id"] for c in cl["comment"]["comments"]]
            # One document behind both (the site's URL aside), as ADF on Cloud and as wiki markup here.
            same = json.dumps(issue.description).replace(jira.base_url, "") == json.dumps(twin.description).replace(
                cloud.base_url, ""
            )
            assert same and dc["description"] == adf_to_wiki(issue.description, dc_renderer._wiki_context(issue))
            assert [a["size"] for a in dc["attachment"]] == [a["size"] for a in cl["attachment"]]
    issue = next(i for i in jira.dataset.iter_issues() if i.attachments)
    attachment = dc_renderer.attachment(issue.attachments[0])
    async with session.get(attachment["content"], headers=PAT, allow_redirects=False) as response:
        assert response.status == 200
        assert await response.read() == b"".join(jira.expected_attachment_bytes(issue.attachments[0].id))
    assert jira.stats["media"]["requests"] == 0


def test_wiki_markup_of_the_sample_documents():
    doc = {
        "type": "doc",
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [text("Title")]},
            paragraph(
                text("bold", {"type": "strong"}),
                text(" * star "),
                text("x", {"type": "code"}),
                {"type": "mention", "attrs": {"id": "acc-1", "text": "@Ann"}},
                text(" see ", {"type": "link", "attrs": {"href": "https://example.com"}}),
            ),
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            paragraph(text("one")),
                            {
                                "type": "orderedList",
                                "content": [{"type": "listItem", "content": [paragraph(text("inner"))]}],
                            },
                        ],
                    }
                ],
            },
            {"type": "codeBlock", "attrs": {"language": "python"}, "content": [text("x = 1\n")]},
            {"type": "codeBlock", "content": [text("raw")]},
            {
                "type": "table",
                "content": [
                    {"type": "tableRow", "content": [{"type": "tableHeader", "content": [paragraph(text("a | b"))]}]},
                    {"type": "tableRow", "content": [{"type": "tableCell", "content": [paragraph(text("1"))]}]},
                ],
            },
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "m1", "type": "file"}}]},
            {"type": "mediaGroup", "content": [{"type": "media", "attrs": {"id": "m2", "type": "file"}}]},
        ],
    }
    context = WikiContext(usernames={"acc-1": "ann"}, media={"m1": ("shot.png", True), "m2": ("spec.pdf", False)})
    assert adf_to_wiki(doc, context) == "\n\n".join(
        [
            "h2. Title",
            "*bold* \\* star {{x}}[~ann][ see |https://example.com]",
            "* one\n*# inner",
            "{code:python}\nx = 1\n{code}",
            "{noformat}\nraw\n{noformat}",
            "||a \\| b||\n|1|",
            "!shot.png!",
            "[^spec.pdf]",
        ]
    )
    assert adf_to_wiki(None) is None
