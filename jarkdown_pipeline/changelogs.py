"""Every changelog entry of an issue, whatever Jira inlined (the client's changelog methods).

Jira Cloud inlines at most a few dozen entries with ``expand=changelog`` (``histories`` with
``maxResults`` and ``total``); the rest comes from ``POST /rest/api/3/changelog/bulkfetch`` (many
issues per request, pages of entries over all of them, ``nextPageToken``) or, for one issue,
``GET /rest/api/3/issue/{key}/changelog`` (startAt paging). Data Center inlines the whole
changelog. The completed changelog keeps Jira's announced ``total``, so an entry that could not
be fetched shows as ``total`` above the entries written.

Requests go through the client's ``_request_json``: its throttler, retries and bounds.
"""

import itertools
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline.exceptions import AuthenticationError, JiraApiError, MalformedResponseError, PaginationError

if TYPE_CHECKING:
    from jarkdown_pipeline.jira_api_client import JiraApiClient

logger = logging.getLogger(__name__)

BULK_CHANGELOG_MAX_ISSUES = 1000  # per POST /changelog/bulkfetch (the OpenAPI's maxItems)
BULK_CHANGELOG_PAGE_SIZE = 1000  # entries per page asked for (Jira's default)


def announced_total(issue: Mapping[str, Any]) -> int | None:
    """The changelog's ``total`` as Jira announced it, when the issue came with one."""
    changelog = issue.get("changelog")
    total = changelog.get("total") if isinstance(changelog, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def is_truncated(issue: Mapping[str, Any]) -> bool:
    """Whether Jira inlined fewer entries than it says the issue has."""
    total = announced_total(issue)
    histories = issue["changelog"].get("histories") if total is not None else None
    return total is not None and (not isinstance(histories, list) or len(histories) < total)


def completed(histories: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """The changelog with every entry fetched, in Jira's order (oldest first); ``total`` stays Jira's
    unless more entries came (made while paging)."""
    return {"startAt": 0, "maxResults": len(histories), "total": max(total, len(histories)), "histories": histories}


async def bulk_changelog_pages(
    client: "JiraApiClient", issue_ids: Sequence[str]
) -> AsyncIterator[dict[str, list[dict[str, Any]]]]:
    """Each page of ``POST /changelog/bulkfetch`` for ``issue_ids`` (at most 1000): {issue id: its entries
    on that page}. Paging ends with PaginationError when a token repeats, a page with a token brings
    nothing, or past the client's page cap; MalformedResponseError for a page of the wrong shape."""
    body: dict[str, Any] = {"issueIdsOrKeys": list(issue_ids), "maxResults": BULK_CHANGELOG_PAGE_SIZE}
    seen_tokens: set[str] = set()
    for page_number in itertools.count(1):
        if page_number > client.max_pages:
            raise PaginationError(f"changelog bulkfetch paged past the page cap ({client.max_pages})", status_code=200)
        page = await client._request_json("POST", client.api_base / "changelog" / "bulkfetch", json_body=body)
        entries = _bulk_page_entries(page, page_number)
        yield entries
        token = page.get("nextPageToken")
        if not token:
            return
        if token in seen_tokens or not entries:
            raise PaginationError(
                f"changelog bulkfetch page {page_number} repeated a token or brought nothing; stopping instead of looping",
                status_code=200,
            )
        seen_tokens.add(token)
        body["nextPageToken"] = token


def _bulk_page_entries(page: Any, page_number: int) -> dict[str, list[dict[str, Any]]]:
    logs = page.get("issueChangeLogs") if isinstance(page, dict) else None
    if not isinstance(logs, (list, type(None))) or not isinstance(page, dict):
        raise MalformedResponseError(
            f"Jira returned a malformed changelog bulkfetch page {page_number} (no 'issueChangeLogs' list)",
            status_code=200,
        )
    entries: dict[str, list[dict[str, Any]]] = {}
    for log in logs or []:
        histories = log.get("changeHistories") if isinstance(log, dict) else None
        if not isinstance(histories, list):
            continue
        entries.setdefault(str(log.get("issueId")), []).extend(h for h in histories if isinstance(h, dict))
    return entries


async def bulk_changelogs(client: "JiraApiClient", issue_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every entry of each issue (by id), in requests of up to 1000 issues, one after the other."""
    ids = list(dict.fromkeys(issue_ids))
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(ids), BULK_CHANGELOG_MAX_ISSUES):
        async for page in bulk_changelog_pages(client, ids[start : start + BULK_CHANGELOG_MAX_ISSUES]):
            for issue_id, entries in page.items():
                found.setdefault(issue_id, []).extend(entries)
    return found


async def paged_changelog(client: "JiraApiClient", issue_key: str) -> list[dict[str, Any]]:
    """Every entry of one issue: ``GET /issue/{key}/changelog`` (startAt paging, the client's ``_page_all``)."""
    return await client._page_all(issue_key, "changelog", "values")


async def complete_changelogs(client: "JiraApiClient", issues: Sequence[dict[str, Any]]) -> None:
    """Complete the truncated changelogs of ``issues`` in place: one bulk request (and its pages) for
    all of them; should Jira refuse the bulk endpoint, each issue's changelog is paged instead."""
    truncated = [issue for issue in issues if is_truncated(issue) and issue.get("id") is not None]
    if not truncated:
        return
    try:
        fetched = await bulk_changelogs(client, [str(issue["id"]) for issue in truncated])
    except AuthenticationError:
        raise
    except JiraApiError as error:
        logger.warning("Changelog bulkfetch failed (%s); paging each issue's changelog", error)
        for issue in truncated:
            await complete_changelog(client, issue)
        return
    for issue in truncated:
        issue["changelog"] = completed(fetched.get(str(issue["id"]), []), announced_total(issue) or 0)


async def complete_changelog(client: "JiraApiClient", issue: dict[str, Any]) -> None:
    """Complete one issue's truncated changelog in place (``GET /issue/{key}/changelog``)."""
    if is_truncated(issue):
        key = str(issue.get("key") or issue.get("id"))
        issue["changelog"] = completed(await paged_changelog(client, key), announced_total(issue) or 0)
