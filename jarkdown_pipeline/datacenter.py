"""Jira Data Center (and Server): the deployment type, and REST API v2's search and issue fetching.

``JiraApiClient`` calls in here when its flavour is ``datacenter``; everything else (myself, field,
issue GET, comment and worklog paging, attachment downloads, retries, typed errors) is the same
code as on Cloud, under ``/rest/api/2``. What differs, and why:
- the deployment type is read once per client from ``GET /rest/api/2/serverInfo`` (``deploymentType``:
  ``Cloud``, ``Server`` or ``DataCenter``), which both answer, so no setting can be got wrong;
- search is ``POST /rest/api/2/search`` paged with ``startAt`` / ``maxResults`` / ``total`` (Cloud's
  ``/search/jql`` with ``nextPageToken`` does not exist there), under the same bounds: the page cap,
  a page that brings nothing new, a malformed page;
- there is no bulk fetch: whole issues come from search pages of ``key in (...)``, 100 keys a
  request (fewer requests than one GET per issue; see docs/BENCHMARKS.md). Data Center refuses a
  ``key in`` naming an issue that is gone (400); such a page is fetched one issue at a time.
- attachments live on the Jira host (``/secure/attachment/{id}/{name}``): the client sends the
  PAT there because it is the Jira origin, and nowhere else.
"""

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline.exceptions import (
    BadRequestError,
    ConfigurationError,
    IssueNotFoundError,
    JiraApiError,
    MalformedResponseError,
    PaginationError,
    describe_error,
)

if TYPE_CHECKING:
    from jarkdown_pipeline.jira_api_client import BulkFetchResult, JiraApiClient

__all__ = ["CLOUD", "DATACENTER", "FLAVOURS", "detect_flavour", "fetch_page", "search", "search_pages"]

logger = logging.getLogger(__name__)

AUTO, CLOUD, DATACENTER = "auto", "cloud", "datacenter"
FLAVOURS = (AUTO, CLOUD, DATACENTER)
_DEPLOYMENTS = {"cloud": CLOUD, "server": DATACENTER, "datacenter": DATACENTER}
FLAVOUR_SETTING = "JARKDOWN_JIRA_FLAVOUR"


def flavour_of(server_info: Any) -> str:
    """``cloud`` or ``datacenter`` from a serverInfo answer (pure); ConfigurationError when it does not say."""
    deployment = server_info.get("deploymentType") if isinstance(server_info, dict) else None
    flavour = _DEPLOYMENTS.get(str(deployment).lower()) if deployment else None
    if flavour is None:
        raise ConfigurationError(
            f"Jira's /rest/api/2/serverInfo does not name a known deployment type (got {deployment!r}); "
            f"set {FLAVOUR_SETTING}=cloud or {FLAVOUR_SETTING}=datacenter"
        )
    return flavour


async def detect_flavour(client: "JiraApiClient") -> str:
    """Ask Jira once which API it speaks. A 401 is the credentials' fault (Data Center refuses a wrong PAT
    on every path); any other failure to read serverInfo names the setting that overrides detection."""
    try:
        info = await client._request_json("GET", client.base_url / "rest" / "api" / "2" / "serverInfo")
    except (MalformedResponseError, JiraApiError) as error:
        if error.status_code == 401:
            raise
        raise ConfigurationError(
            f"could not tell whether {client.base_url} is Jira Cloud or Data Center "
            f"(GET /rest/api/2/serverInfo: {error}); set {FLAVOUR_SETTING}=cloud or {FLAVOUR_SETTING}=datacenter"
        ) from None
    flavour = flavour_of(info)
    logger.info("Jira at %s is %s %s", client.base_url, info.get("deploymentType"), info.get("version", ""))
    return flavour


async def search_pages(
    client: "JiraApiClient", jql: str, fields: Sequence[str], page_size: int, expand: str | None
) -> AsyncIterator[list[Any]]:
    """Each page of issues matching ``jql`` (POST /rest/api/2/search, ``startAt`` paging), issues not yielded before only.

    Ends at ``total`` or at an empty page (issues leaving the query meanwhile shrink it); raises
    ``PaginationError`` for a page of issues all seen before and past ``max_pages`` pages.
    """
    body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": page_size, "startAt": 0}
    if expand:
        body["expand"] = expand
    seen: set[str] = set()
    for page_number in itertools.count(1):
        if page_number > client.max_pages:
            raise PaginationError(
                f"search paged past the page cap ({client.max_pages} pages); stopping", status_code=200
            )
        # Whole issues, up to 100 a page (fetch_page): parsed a few at a time, like Cloud's bulk pages.
        page = await client._request_json("POST", client.api_base / "search", json_body=body, entries_member="issues")
        fresh = client._search_page_issues(page, page_number, seen)
        yield fresh
        entries = len(page.get("issues") or [])
        body["startAt"] += entries
        total = page.get("total")
        if not entries or not isinstance(total, int) or body["startAt"] >= total:
            return
        if not fresh:
            raise PaginationError(
                f"search page {page_number} (startAt {body['startAt'] - entries}) repeated issues already seen; "
                "stopping instead of looping",
                status_code=200,
            )


async def search(
    client: "JiraApiClient", jql: str, fields: Sequence[str], page_size: int, expand: str | None
) -> AsyncIterator[Any]:
    """The issues of ``search_pages``, one by one."""
    async for page in search_pages(client, jql, fields, page_size, expand):
        for issue in page:
            yield issue


def keys_jql(keys: Sequence[str]) -> str:
    """``key in ("ABC-1", "ABC-2")``: the JQL of whole-issue search pages (keys quoted as JQL strings)."""
    quoted = ", ".join('"' + str(key).replace("\\", "\\\\").replace('"', '\\"') + '"' for key in keys)
    return f"key in ({quoted})"


async def fetch_page(
    client: "JiraApiClient", keys: list[str], fields: Sequence[str], expand: Sequence[str]
) -> "BulkFetchResult":
    """One page of whole issues (at most 100 keys), comments and worklogs paged to the end, in the order asked for.

    One search request for ``key in (...)``; a page Jira refuses (400: a key that no longer exists)
    is fetched one issue at a time, so one vanished issue costs only its own GET. Keys not returned
    are named in ``errors``, like Cloud's bulk fetch.
    """
    from jarkdown_pipeline.jira_api_client import BulkFetchResult

    not_found: dict[str, str] = {}
    try:
        issues = [
            issue
            async for issue in search(client, keys_jql(keys), fields, len(keys), ",".join(expand))
            if isinstance(issue, dict)
        ]
    except BadRequestError:
        issues = await _one_by_one(client, keys, not_found)
    errors = dict(not_found)
    found: dict[str, dict[str, Any]] = {}
    for issue in issues:
        found.setdefault(str(issue.get("key")), issue)
        found.setdefault(str(issue.get("id")), issue)
    ordered: list[dict[str, Any]] = []
    for key in keys:
        issue = found.get(key)
        if issue is None:
            errors.setdefault(key, "not returned by Jira (deleted, moved, or not visible to this user)")
        elif all(issue is not other for other in ordered):
            ordered.append(issue)
    completed = await asyncio.gather(*(client.complete_issue(issue) for issue in ordered))
    return BulkFetchResult(issues=list(completed), errors=errors, not_found=not_found)


async def _one_by_one(client: "JiraApiClient", keys: list[str], not_found: dict[str, str]) -> list[dict[str, Any]]:
    """GET /issue/{key} for each (not completed: the caller completes every issue once); 404s go in ``not_found``."""
    issues = []
    for key in keys:
        try:
            issue = await client._request_json(
                "GET",
                client._issue_url(key),
                params={"fields": "*all", "expand": "renderedFields,changelog"},
                issue_key=key,
            )
        except IssueNotFoundError as error:
            not_found[key] = describe_error(error)
            continue
        if isinstance(issue, dict):
            issues.append(issue)
    return issues
