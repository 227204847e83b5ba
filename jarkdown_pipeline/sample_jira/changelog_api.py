"""Jira Cloud's changelog endpoints on the sample Jira (shapes as in jira-cloud-openapi-v3.json).

- ``GET /rest/api/3/issue/{key}/changelog``: ``PageBeanChangelog`` (startAt / maxResults / total / isLast / values);
- ``POST /rest/api/3/changelog/bulkfetch``: up to 1000 issues, pages of entries over all of them
  sorted by date and issue id (oldest first), ``nextPageToken`` until the last page.
"""

import functools
import hashlib
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from jarkdown_pipeline.sample_jira.changelog import SampleChange
from jarkdown_pipeline.sample_jira.data import SampleIssue

if TYPE_CHECKING:
    from jarkdown_pipeline.sample_jira.app import SampleJira

API = "/rest/api/3"
_ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_BULK_MAX_FIELD_IDS = 10


def add_routes(jira: "SampleJira", router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/issue/{{key}}/changelog", functools.partial(issue_changelog, jira))
    router.add_post(f"{API}/changelog/bulkfetch", functools.partial(bulk_changelogs, jira))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"errorMessages": [message], "errors": {}}, status=status)


async def issue_changelog(jira: "SampleJira", request: web.Request) -> web.Response:
    authenticated, may_browse = jira._viewer(request)
    issue = jira._visible_issue(request.match_info["key"], may_browse)
    if issue is None:
        return _error(404, _ISSUE_NOT_FOUND)
    paging = jira._paging(request, 100, jira.config.changelog_page_max)
    if isinstance(paging, web.Response):
        return paging
    start_at, max_results = paging
    changes = jira.dataset.changes_of(issue)
    page = [] if start_at and jira.faults.drops_pages_of(issue.key) else changes[start_at : start_at + max_results]
    renderer = jira._renderer(anonymous=not authenticated)
    url = f"{jira.base_url}{API}/issue/{issue.key}/changelog"
    body: dict[str, Any] = {
        "self": f"{url}?startAt={start_at}&maxResults={max_results}", "maxResults": max_results, "startAt": start_at,
        "total": len(changes), "isLast": start_at + max_results >= len(changes),
        "values": [renderer.change(c) for c in page],
    }  # fmt: skip
    if not body["isLast"]:
        body["nextPage"] = f"{url}?startAt={start_at + max_results}&maxResults={max_results}"
    return web.json_response(body)


def _bulk_request(jira: "SampleJira", body: Any) -> tuple[list[str], list[str], int] | web.Response:
    """(issue ids or keys, field ids, page size) of a valid request; Jira's 400 otherwise."""
    config = jira.config
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    wanted = body.get("issueIdsOrKeys")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(k, (str, int)) for k in wanted):
        return _error(400, "issueIdsOrKeys is required: a non-empty list of issue ids or keys.")
    if len(wanted) > config.changelog_bulkfetch_issues_max:
        return _error(400, f"A maximum of {config.changelog_bulkfetch_issues_max} issues can be requested at once.")
    field_ids = body.get("fieldIds") or []
    if not isinstance(field_ids, list) or len(field_ids) > _BULK_MAX_FIELD_IDS:
        return _error(400, f"fieldIds must be a list of at most {_BULK_MAX_FIELD_IDS} field ids.")
    size = body.get("maxResults", 1000)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 10000:
        return _error(400, "maxResults must be a number from 1 to 10000.")
    return [str(k) for k in wanted], [str(f) for f in field_ids], min(size, config.changelog_bulkfetch_page_max)


def _entries(
    jira: "SampleJira", issues: list[SampleIssue], field_ids: list[str]
) -> list[tuple[SampleIssue, SampleChange]]:
    """Every (issue, entry) asked for, by date, issue id and entry id; entries filtered to ``field_ids``."""
    inline = jira.config.inline_changelog_limit
    entries = []
    for issue in issues:
        changes = jira.dataset.changes_of(issue)
        if jira.faults.drops_pages_of(issue.key):
            changes = changes[:inline]
        for change in changes:
            if field_ids and not any(item.field_id in field_ids for item in change.items):
                continue
            entries.append((issue, change))
    entries.sort(key=lambda pair: (pair[1].created, pair[0].id, int(pair[1].id)))
    return entries


async def bulk_changelogs(jira: "SampleJira", request: web.Request) -> web.Response:
    authenticated, may_browse = jira._viewer(request)
    body = await jira._json_body(request)
    if isinstance(body, web.Response):
        return body
    parsed = _bulk_request(jira, body)
    if isinstance(parsed, web.Response):
        return parsed
    wanted, field_ids, size = parsed
    fingerprint = hashlib.sha256(json.dumps([wanted, field_ids, size]).encode()).hexdigest()
    offset = 0
    if body.get("nextPageToken"):
        offset = jira._read_page_token(str(body["nextPageToken"]), fingerprint)
        if offset is None:
            return _error(400, "The nextPageToken is invalid or has expired.")
    found: dict[int, SampleIssue] = {}
    for name in wanted:
        issue = jira._visible_issue(name, may_browse)
        if issue is not None:
            found.setdefault(issue.id, issue)  # not found or not visible: left out
    entries = _entries(jira, list(found.values()), field_ids)
    page = entries[offset : offset + size]
    renderer = jira._renderer(anonymous=not authenticated)
    by_issue: dict[int, list[str]] = {}
    for issue, change in page:
        by_issue.setdefault(issue.id, []).append(jira._change_json_texts(renderer, issue)[change.id])
    logs = ", ".join(
        f'{{"issueId": "{issue_id}", "changeHistories": [{", ".join(texts)}]}}' for issue_id, texts in by_issue.items()
    )
    token = ""
    if offset + size < len(entries):
        token = ", " + json.dumps({"nextPageToken": jira._make_page_token(offset + size, fingerprint)})[1:-1]
    # The JSON web.json_response would write for {"issueChangeLogs": [...], "nextPageToken": ...}, joined
    # from the entries' kept texts.
    return web.Response(text=f'{{"issueChangeLogs": [{logs}]{token}}}', content_type="application/json")
