"""The sample Jira's REST API: shapes, search and paging, bulk fetch, truncation, auth."""

from datetime import datetime, timedelta

import aiohttp
import pytest

from jarkdown_pipeline.sample_jira.data import (
    CONTRIBUTORS_FIELD,
    IMPACT_FIELD,
    PLATFORMS_FIELD,
    RELEASE_NOTES_FIELD,
    REVIEWER_FIELD,
    SPRINT_FIELD,
    STORY_POINTS_FIELD,
    TARGET_DATE_FIELD,
)  # fmt: skip
from jarkdown_pipeline.sample_jira.shapes import ALL_FIELD_IDS
from jarkdown_pipeline_tests.plugins.openapi import assert_matches_spec
from jarkdown_pipeline_tests.plugins.sample_jira import basic_auth_headers, sample_jira_auth_headers

API = "/rest/api/3"


@pytest.fixture
async def http(sample_jira):
    async with aiohttp.ClientSession(
        base_url=sample_jira.base_url, headers=sample_jira_auth_headers(sample_jira)
    ) as session:
        yield session


async def get_json(session: aiohttp.ClientSession, path: str, **kwargs) -> tuple[int, object]:
    async with session.get(path, **kwargs) as response:
        return response.status, await response.json()


async def post_json(session: aiohttp.ClientSession, path: str, body: object) -> tuple[int, object]:
    async with session.post(path, json=body) as response:
        return response.status, await response.json()


def berlin_day_window(jira, day: str) -> list[str]:
    """Keys updated during that day in the user's zone, computed independently of the server."""
    zone = jira.config.zone
    start = datetime.fromisoformat(day).replace(tzinfo=zone)
    end = start + timedelta(days=1)
    return sorted(i.key for i in jira.dataset.issues.values() if start <= i.updated < end)


# ---------------------------------------------------------------- shapes


async def test_myself_has_the_users_time_zone_and_the_spec_shape(http, sample_jira):
    status, me = await get_json(http, f"{API}/myself")
    assert status == 200
    assert me["timeZone"] == "Europe/Berlin"
    assert me["emailAddress"] == sample_jira.email
    assert me["accountId"] and me["displayName"] and me["self"].startswith(sample_jira.base_url)
    assert_matches_spec("User", me)


async def test_fields_list_system_and_custom_fields(http):
    status, fields = await get_json(http, f"{API}/field")
    assert status == 200
    by_id = {f["id"]: f for f in fields}
    for field_id in (
        "summary",
        "description",
        "comment",
        "worklog",
        "attachment",
        "issuelinks",
        "subtasks",
        "parent",
        "updated",
    ):
        assert by_id[field_id]["custom"] is False
    customs = {f["schema"]["custom"].rsplit(":", 1)[1] for f in fields if f["custom"]}
    assert {
        "gh-sprint",
        "float",
        "select",
        "multiselect",
        "userpicker",
        "multiuserpicker",
        "datepicker",
        "textarea",
    } <= customs
    for field in fields:
        assert_matches_spec("FieldDetails", field)


async def test_issue_has_all_fields_and_matches_the_spec(http, sample_jira):
    key = next(i.key for i in sample_jira.dataset.sorted_issues() if i.attachments and i.links and i.comments)
    status, issue = await get_json(http, f"{API}/issue/{key}", params={"expand": "renderedFields"})
    assert status == 200
    assert issue["key"] == key
    assert set(issue["fields"]) == set(ALL_FIELD_IDS)
    fields = issue["fields"]
    assert fields["description"]["type"] == "doc"
    assert fields["updated"].endswith(("+0100", "+0200"))  # rendered in the user's zone, like Cloud
    attachment = fields["attachment"][0]
    assert {"id", "filename", "size", "mimeType", "content", "created", "author"} <= set(attachment)
    assert attachment["content"] == f"{sample_jira.base_url}{API}/attachment/content/{attachment['id']}"
    link = fields["issuelinks"][0]
    assert {"id", "type"} <= set(link) and ("inwardIssue" in link or "outwardIssue" in link)
    assert isinstance(issue["renderedFields"]["description"], str) and issue["renderedFields"][
        "description"
    ].startswith("<")
    assert_matches_spec("IssueBean", issue)


async def test_custom_fields_carry_their_typed_values(http, sample_jira):
    wanted = [
        SPRINT_FIELD,
        STORY_POINTS_FIELD,
        IMPACT_FIELD,
        PLATFORMS_FIELD,
        REVIEWER_FIELD,
        TARGET_DATE_FIELD,
        RELEASE_NOTES_FIELD,
        CONTRIBUTORS_FIELD,
    ]
    keys = [i.key for i in sample_jira.dataset.sorted_issues()][:100]
    status, body = await post_json(http, f"{API}/issue/bulkfetch", {"issueIdsOrKeys": keys, "fields": wanted})
    assert status == 200
    seen = {f: [i["fields"][f] for i in body["issues"] if i["fields"].get(f) is not None] for f in wanted}
    assert all(seen.values()), {f: len(v) for f, v in seen.items()}
    assert {"id", "name", "state", "boardId"} <= set(seen[SPRINT_FIELD][0][0])
    assert isinstance(seen[STORY_POINTS_FIELD][0], float)
    assert {"value", "id"} <= set(seen[IMPACT_FIELD][0])
    assert all({"value", "id"} <= set(option) for option in seen[PLATFORMS_FIELD][0])
    assert "accountId" in seen[REVIEWER_FIELD][0] and "accountId" in seen[CONTRIBUTORS_FIELD][0][0]
    assert datetime.strptime(seen[TARGET_DATE_FIELD][0], "%Y-%m-%d")
    assert seen[RELEASE_NOTES_FIELD][0]["type"] == "doc"


async def test_subtasks_and_parents_agree(http, sample_jira):
    child = next(i for i in sample_jira.dataset.sorted_issues() if i.issue_type == "Sub-task")
    _, issue = await get_json(http, f"{API}/issue/{child.key}")
    parent_key = issue["fields"]["parent"]["key"]
    assert issue["fields"]["issuetype"]["subtask"] is True
    _, parent = await get_json(http, f"{API}/issue/{parent_key}")
    assert child.key in [s["key"] for s in parent["fields"]["subtasks"]]


async def test_unknown_route_and_wrong_method_answer_with_jiras_error_body(http):
    status, body = await get_json(http, f"{API}/nothing/here")
    assert status == 404 and body["errors"] == {} and body["errorMessages"]
    async with http.delete(f"{API}/myself") as response:
        assert response.status == 405
        assert (await response.json())["errorMessages"]


async def test_the_removed_search_endpoint_answers_410(http):
    status, body = await get_json(http, f"{API}/search", params={"jql": "project = ALPHA"})
    assert status == 410
    assert "/rest/api/3/search/jql" in body["errorMessages"][0]


# ---------------------------------------------------------------- search


async def collect_search(
    http, jql: str, page_size: int, fields: str = "key,updated", method: str = "GET"
) -> tuple[list[str], int]:
    keys: list[str] = []
    token = None
    pages = 0
    while True:
        if method == "GET":
            params = {"jql": jql, "maxResults": str(page_size), "fields": fields}
            if token:
                params["nextPageToken"] = token
            status, body = await get_json(http, f"{API}/search/jql", params=params)
        else:
            payload = {"jql": jql, "maxResults": page_size, "fields": fields.split(",")}
            if token:
                payload["nextPageToken"] = token
            status, body = await post_json(http, f"{API}/search/jql", payload)
        assert status == 200, body
        pages += 1
        keys += [issue["key"] for issue in body["issues"]]
        if body["isLast"]:
            assert "nextPageToken" not in body
            return keys, pages
        token = body["nextPageToken"]


async def test_search_pages_through_a_time_zone_window_without_gaps_or_repeats(http, sample_jira):
    day = (sample_jira.dataset.now - timedelta(days=3)).astimezone(sample_jira.config.zone).date().isoformat()
    expected = berlin_day_window(sample_jira, day)
    assert expected, "the data set should have work on that day"
    next_day = (datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat()
    jql = f'project in (ALPHA, BETA) AND updated >= "{day} 00:00" AND updated < "{next_day} 00:00" ORDER BY updated ASC, key ASC'
    keys, pages = await collect_search(http, jql, page_size=1)
    assert sorted(keys) == expected and len(keys) == len(set(keys))
    assert pages == len(expected)
    post_keys, _ = await collect_search(http, jql, page_size=2, method="POST")
    assert post_keys == keys
    date_only, _ = await collect_search(
        http, f"project = ALPHA OR project = BETA AND updated >= {day} AND updated < {next_day}", 50
    )
    assert sorted(date_only) == sorted(
        k for k in sample_jira.dataset.issues if k.startswith("ALPHA-") or k in expected
    )  # AND binds tighter than OR


async def test_search_order_by_updated_is_ordered(http, sample_jira):
    status, body = await get_json(
        http,
        f"{API}/search/jql",
        params={"jql": "project = ALPHA ORDER BY updated DESC", "fields": "updated", "maxResults": "500"},
    )
    assert status == 200
    times = [datetime.strptime(i["fields"]["updated"], "%Y-%m-%dT%H:%M:%S.%f%z") for i in body["issues"]]
    assert times == sorted(times, reverse=True)
    assert len(times) == sum(1 for k in sample_jira.dataset.issues if k.startswith("ALPHA-"))


async def test_search_fields_parameter(http, sample_jira):
    _, ids_only = await get_json(http, f"{API}/search/jql", params={"jql": "project = ALPHA", "maxResults": "3"})
    assert all(set(issue) == {"id"} for issue in ids_only["issues"])
    _, few = await get_json(
        http, f"{API}/search/jql", params=[("jql", "project = ALPHA"), ("fields", "key"), ("fields", "updated")]
    )
    assert all(issue["key"].startswith("ALPHA-") and set(issue["fields"]) == {"updated"} for issue in few["issues"])
    _, everything = await get_json(
        http, f"{API}/search/jql", params={"jql": "project = ALPHA", "fields": "*all,-comment", "maxResults": "2"}
    )
    assert all(set(issue["fields"]) == set(ALL_FIELD_IDS) - {"comment"} for issue in everything["issues"])
    assert_matches_spec("SearchAndReconcileResults", everything)


async def test_search_page_size_is_capped_when_many_fields_are_asked_for(http):
    _, body = await get_json(
        http, f"{API}/search/jql", params={"jql": "project in (ALPHA, BETA)", "fields": "*all", "maxResults": "5000"}
    )
    assert len(body["issues"]) == 60 and body["isLast"]  # fewer than the cap of 100
    _, body = await get_json(
        http, f"{API}/search/jql", params={"jql": "project in (ALPHA, BETA)", "fields": "key", "maxResults": "5000"}
    )
    assert len(body["issues"]) == 60


@pytest.mark.parametrize(
    ("jql", "message_part"),
    [
        ("status = Done", "does not support the field 'status'"),
        ("projekt = ALPHA", "Field 'projekt' does not exist"),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'"),
        ("key in (ALPHA-1, ALPHA-999)", "An issue with key 'ALPHA-999' does not exist"),
        ('updated >= "2026-13-01"', "Date value '2026-13-01' for field 'updated' is invalid"),
        ("project = ALPHA AND", "Error in the JQL Query"),
        ("ORDER BY updated", "Unbounded JQL queries are not allowed"),
        ("", "Unbounded JQL queries are not allowed"),
    ],
)
async def test_bad_jql_answers_400_with_jiras_error_body(http, jql, message_part):
    status, body = await get_json(http, f"{API}/search/jql", params={"jql": jql})
    assert status == 400
    assert body["errors"] == {}
    assert message_part in body["errorMessages"][0]


async def test_a_forged_page_token_is_refused(http):
    status, first = await get_json(http, f"{API}/search/jql", params={"jql": "project = ALPHA", "maxResults": "1"})
    assert status == 200 and not first["isLast"]
    status, body = await get_json(
        http, f"{API}/search/jql", params={"jql": "project = ALPHA", "nextPageToken": first["nextPageToken"] + "x"}
    )
    assert status == 400 and "nextPageToken" in body["errorMessages"][0]
    status, _ = await get_json(
        http, f"{API}/search/jql", params={"jql": "project = BETA", "nextPageToken": first["nextPageToken"]}
    )
    assert status == 400  # a token belongs to its query


# ---------------------------------------------------------------- bulk fetch, truncation, paging


async def test_bulkfetch_returns_up_to_100_issues_in_id_order(http, sample_jira):
    issues = sample_jira.dataset.sorted_issues()
    wanted = [issues[5].key, str(issues[2].id), issues[40].key.lower(), "ALPHA-9999"]
    status, body = await post_json(
        http, f"{API}/issue/bulkfetch", {"issueIdsOrKeys": wanted, "fields": ["summary", "updated"]}
    )
    assert status == 200
    assert [i["key"] for i in body["issues"]] == [issues[2].key, issues[5].key, issues[40].key]
    assert body["issueErrors"] == []  # an unknown issue is simply left out, as on Cloud
    assert_matches_spec("BulkIssueResults", body)
    status, body = await post_json(
        http, f"{API}/issue/bulkfetch", {"issueIdsOrKeys": [f"ALPHA-{n}" for n in range(1, 101)]}
    )
    assert status == 200
    assert "comment" not in body["issues"][0]["fields"]  # the default is *navigable
    status, body = await post_json(
        http, f"{API}/issue/bulkfetch", {"issueIdsOrKeys": [f"ALPHA-{n}" for n in range(1, 102)]}
    )
    assert status == 400 and "100" in body["errorMessages"][0]
    for bad in ({}, {"issueIdsOrKeys": "ALPHA-1"}, {"issueIdsOrKeys": []}):
        status, body = await post_json(http, f"{API}/issue/bulkfetch", bad)
        assert status == 400 and body["errorMessages"]
    async with http.post(
        f"{API}/issue/bulkfetch", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400


async def test_inline_comments_and_worklogs_are_truncated_and_pageable(http, sample_jira):
    chatty = next(i for i in sample_jira.dataset.sorted_issues() if len(i.comments) > 20)
    busy = next(i for i in sample_jira.dataset.sorted_issues() if len(i.worklogs) > 20)
    _, issue = await get_json(http, f"{API}/issue/{chatty.key}")
    inline = issue["fields"]["comment"]
    assert len(inline["comments"]) == 20 and inline["total"] == len(chatty.comments) > 20
    pages, start = [], 0
    while True:
        status, page = await get_json(
            http,
            f"{API}/issue/{chatty.key}/comment",
            params={"startAt": start, "maxResults": 7, "expand": "renderedBody"},
        )
        assert status == 200 and page["total"] == len(chatty.comments)
        assert_matches_spec("PageOfComments", page)
        pages += page["comments"]
        start += len(page["comments"])
        if not page["comments"] or start >= page["total"]:
            break
    assert [c["id"] for c in pages] == [c.id for c in chatty.comments]
    assert all(c["renderedBody"].startswith("<") for c in pages)
    _, newest_first = await get_json(
        http, f"{API}/issue/{chatty.key}/comment", params={"orderBy": "-created", "maxResults": 1}
    )
    assert newest_first["comments"][0]["id"] == chatty.comments[-1].id

    _, issue = await get_json(http, f"{API}/issue/{busy.key}")
    inline = issue["fields"]["worklog"]
    assert len(inline["worklogs"]) == 20 and inline["total"] == len(busy.worklogs)
    status, page = await get_json(http, f"{API}/issue/{busy.key}/worklog", params={"startAt": 20})
    assert status == 200 and len(page["worklogs"]) == len(busy.worklogs) - 20
    assert_matches_spec("PageOfWorklogs", page)
    for worklog in page["worklogs"]:
        assert {"id", "issueId", "started", "timeSpent", "timeSpentSeconds", "author"} <= set(worklog)


async def test_page_size_caps_of_the_comment_endpoint(sample_jira_factory):
    jira = sample_jira_factory(comment_page_max=5)
    chatty = next(i for i in jira.dataset.sorted_issues() if len(i.comments) > 5)
    async with aiohttp.ClientSession(base_url=jira.base_url, headers=sample_jira_auth_headers(jira)) as http:
        _, page = await get_json(http, f"{API}/issue/{chatty.key}/comment", params={"maxResults": 100})
    assert len(page["comments"]) == 5 and page["maxResults"] == 5


# ---------------------------------------------------------------- auth


async def test_wrong_or_missing_credentials_are_anonymous(sample_jira):
    key = sample_jira.dataset.sorted_issues()[0].key
    for headers in (
        basic_auth_headers(sample_jira.email, "wrong-token"),
        basic_auth_headers("x@example.com", sample_jira.api_token),
        {},
    ):
        async with aiohttp.ClientSession(base_url=sample_jira.base_url, headers=headers) as http:
            status, body = await get_json(http, f"{API}/myself")
            assert status == 401 and body["errorMessages"]
            status, body = await get_json(http, f"{API}/issue/{key}")
            assert status == 404
            assert body["errorMessages"] == ["Issue does not exist or you do not have permission to see it."]
            status, body = await get_json(http, f"{API}/search/jql", params={"jql": "project = ALPHA"})
            assert status == 200 and body == {"issues": [], "isLast": True}
            status, body = await post_json(http, f"{API}/issue/bulkfetch", {"issueIdsOrKeys": [key]})
            assert status == 200 and body["issues"] == []
            status, _ = await get_json(http, f"{API}/issue/{key}/comment")
            assert status == 404
    assert sample_jira.stats["anonymous_requests"] >= 15


async def test_anonymous_access_shows_issues_but_not_restricted_comments(sample_jira_factory):
    jira = sample_jira_factory(anonymous_access=True)
    issue = next(i for i in jira.dataset.sorted_issues() if any(c.visibility for c in i.comments))
    public = [c.id for c in issue.comments if c.visibility is None]
    async with aiohttp.ClientSession(base_url=jira.base_url) as http:
        status, _ = await get_json(http, f"{API}/myself")
        assert status == 401
        status, body = await get_json(http, f"{API}/issue/{issue.key}/comment")
        assert status == 200 and [c["id"] for c in body["comments"]] == public
    async with aiohttp.ClientSession(base_url=jira.base_url, headers=sample_jira_auth_headers(jira)) as http:
        _, body = await get_json(http, f"{API}/issue/{issue.key}/comment")
        restricted = [c for c in body["comments"] if "visibility" in c]
        assert restricted and {"type", "value"} <= set(restricted[0]["visibility"])


async def test_a_personal_access_token_is_accepted_when_configured(sample_jira_factory):
    jira = sample_jira_factory(personal_access_token="pat-123")
    async with aiohttp.ClientSession(base_url=jira.base_url, headers={"Authorization": "Bearer pat-123"}) as http:
        status, _ = await get_json(http, f"{API}/myself")
        assert status == 200
    async with aiohttp.ClientSession(base_url=jira.base_url, headers={"Authorization": "Bearer nope"}) as http:
        status, _ = await get_json(http, f"{API}/myself")
        assert status == 401


def test_the_config_repr_hides_the_token(sample_jira):
    assert sample_jira.api_token not in repr(sample_jira.config)


# ---------------------------------------------------------------- life cycle


async def test_the_async_server_starts_and_stops_on_the_running_loop(sample_jira_config):
    from jarkdown_pipeline.sample_jira import SampleJira

    async with SampleJira(sample_jira_config.replace(issue_count=5)) as jira:
        assert jira.base_url.startswith("http://127.0.0.1:") and jira.media_url != jira.base_url
        with pytest.raises(RuntimeError, match="already running"):
            await jira.start()
        async with aiohttp.ClientSession(
            base_url=jira.base_url, headers=basic_auth_headers(jira.email, jira.api_token)
        ) as http:
            status, _ = await get_json(http, f"{API}/myself")
        assert status == 200 and jira.stats["api"]["requests"] == 1
        assert len(jira.dataset.issues) == 5
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{jira.base_url}{API}/myself")


def test_a_busy_port_is_reported(sample_jira, sample_jira_factory):
    port = int(sample_jira.base_url.rsplit(":", 1)[1])
    with pytest.raises(RuntimeError, match="failed to start"):
        sample_jira_factory(port=port)


async def test_stopping_does_not_wait_for_an_abandoned_download(sample_jira_factory):
    jira = sample_jira_factory(huge_attachment_bytes=1024**3, issue_count=5)
    huge = jira.dataset.huge_attachment
    async with aiohttp.ClientSession(headers=sample_jira_auth_headers(jira)) as http:
        response = await http.get(f"{jira.base_url}{API}/attachment/content/{huge.id}")
        assert len(await response.content.read(1024)) > 0
        jira.stop(timeout=30)  # the download is still open and unread
        assert not jira._thread.is_alive()
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        response.release()


async def test_server_info_and_thumbnails(http, sample_jira):
    status, info = await get_json(http, f"{API}/serverInfo")
    assert status == 200 and info["baseUrl"] == sample_jira.base_url and info["deploymentType"] == "Cloud"
    assert_matches_spec("ServerInformation", info)
    attachments = list(sample_jira.dataset.attachments.values())
    image = next(a for a in attachments if a.mime_type == "image/png")
    other = next(a for a in attachments if not a.mime_type.startswith("image/"))
    async with http.get(f"{API}/attachment/thumbnail/{image.id}") as response:
        assert response.status == 200 and (await response.read()).startswith(b"\x89PNG")
    async with http.get(f"{API}/attachment/thumbnail/{other.id}") as response:
        assert response.status == 404
