"""The sample Jira's Data Center mode: REST API v2, wiki markup bodies, ``startAt`` search, Bearer PATs.

What differs from Cloud mode, as Jira Data Center behaves:
- only ``/rest/api/2`` (v3 paths and ``/issue/bulkfetch`` answer 404);
- ``POST``/``GET /rest/api/2/search`` pages with ``startAt`` / ``maxResults`` / ``total``;
- rich text is wiki markup (generated from the same ADF documents, so both modes serve the same issues);
- users have ``name`` and ``key`` (no ``accountId``);
- attachments are served by the Jira host itself at ``/secure/attachment/{id}/{filename}`` (no media host);
- a request with credentials that are wrong is answered 401, whatever it asks for (Cloud treats it as anonymous).
"""

import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from jarkdown_pipeline.sample_jira import content
from jarkdown_pipeline.sample_jira.changelog import SampleChangeItem
from jarkdown_pipeline.sample_jira.data import EPIC_LINK_FIELD, SampleAttachment, SampleIssue, SampleUser
from jarkdown_pipeline.sample_jira.shapes import Renderer, resolve_fields
from jarkdown_pipeline.sample_jira.wiki_markup import WikiContext, adf_to_wiki

if TYPE_CHECKING:
    from jarkdown_pipeline.sample_jira.app import SampleJira

API_V2 = "/rest/api/2"
# Data Center's jira.search.views.default.max is 1000; whole issues come in smaller pages here, as on Cloud.
SEARCH_MAX_RESULTS = 1000
SEARCH_MAX_RESULTS_FULL = 100
DEFAULT_MAX_RESULTS = 50
_LIGHT_FIELDS = {"summary", "updated", "created", "status", "project", "issuetype"}


def username(user: SampleUser) -> str:
    """A Data Center user's name (login): the e-mail's local part."""
    return user.email.split("@", 1)[0]


class DataCenterRenderer(Renderer):
    """Renders the data set as Jira Data Center's REST API v2 shows it."""

    api_version = "2"

    def _user(self, user: SampleUser) -> dict[str, Any]:
        name = username(user)
        avatar = f"{self.base}/secure/useravatar?ownerId={quote(name)}"
        return {
            "self": f"{self.api}/user?username={quote(name)}",
            "name": name,
            "key": f"JIRAUSER{zlib.crc32(name.encode()) % 100000}",
            "emailAddress": user.email,
            "avatarUrls": {size: f"{avatar}&size={size[:2]}" for size in ("48x48", "24x24", "16x16", "32x32")},
            "displayName": user.display_name,
            "active": user.active,
            "timeZone": user.time_zone,
        }

    def _parent(self, issue: SampleIssue) -> dict[str, Any] | None:
        """Data Center: ``parent`` is a sub-task's only; an epic's stories name it in Epic Link."""
        return super()._parent(issue) if issue.issue_type == "Sub-task" else None

    def _custom(self, issue: SampleIssue, field_id: str) -> Any:
        if field_id == EPIC_LINK_FIELD:
            parent = self.ds.find_issue_ref(issue.parent_key) if issue.parent_key else None
            return parent.key if parent is not None and parent.issue_type == "Epic" else None
        return super()._custom(issue, field_id)

    def change_item(self, item: SampleChangeItem) -> dict[str, Any]:
        """Data Center names users in changelog items by their name, not an account id."""
        body = super().change_item(item)
        if item.field_id in ("assignee", "reporter"):
            names = {user.account_id: username(user) for user in self.ds.users}
            body["from"], body["to"] = names.get(item.from_value or ""), names.get(item.to_value or "")
        return body

    def attachment(self, a: SampleAttachment) -> dict[str, Any]:
        body = super().attachment(a)  # the same fields; the files are on the Jira host itself
        name = quote(a.filename, safe="")
        body["content"] = f"{self.base}/secure/attachment/{a.id}/{name}"
        if "thumbnail" in body:
            body["thumbnail"] = f"{self.base}/secure/thumbnail/{a.id}/{name}"
        return body

    def document(self, value: Any, issue: SampleIssue) -> Any:
        if value is None:
            return None
        return adf_to_wiki(value, self._wiki_context(issue))

    def _wiki_context(self, issue: SampleIssue) -> WikiContext:
        return WikiContext(
            usernames={user.account_id: username(user) for user in self.ds.users},
            media={a.media_id: (a.filename, a.kind == content.KIND_PNG) for a in issue.attachments},
        )


def add_routes(jira: "SampleJira", router: web.UrlDispatcher) -> None:
    """Data Center's routes (API v2 and /secure/attachment) on the sample Jira's API host."""
    search = DataCenterSearch(jira)
    # Before issue/{key}: Data Center has no bulk fetch, so POST /issue/bulkfetch is an unknown resource.
    router.add_route("*", f"{API_V2}/issue/bulkfetch", _not_found)
    router.add_get(f"{API_V2}/myself", jira._myself)
    router.add_get(f"{API_V2}/field", jira._fields)
    router.add_get(f"{API_V2}/search", search.get)
    router.add_post(f"{API_V2}/search", search.post)
    router.add_get(f"{API_V2}/issue/{{key}}", jira._issue)
    router.add_get(f"{API_V2}/issue/{{key}}/comment", jira._comments)
    router.add_get(f"{API_V2}/issue/{{key}}/worklog", jira._worklogs)
    router.add_get(f"{API_V2}/serverInfo", jira._server_info)
    router.add_get("/secure/attachment/{id}/{filename}", jira._attachment_direct)
    router.add_get("/secure/thumbnail/{id}/{filename}", jira._attachment_direct)


def rejects_credentials(jira: "SampleJira", request: web.Request) -> web.Response | None:
    """Data Center answers 401 to a request that carries credentials it does not accept."""
    if "Authorization" not in request.headers or jira._is_authenticated(request):
        return None
    return web.json_response(
        {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}},
        status=401,
        headers={"WWW-Authenticate": 'OAuth realm="sample-jira"'},
    )


class DataCenterSearch:
    """``/rest/api/2/search``: ``startAt`` / ``maxResults`` / ``total`` paging over the same matches as Cloud's."""

    def __init__(self, jira: "SampleJira") -> None:
        self.jira = jira

    async def get(self, request: web.Request) -> web.Response:
        query = request.query
        return await self.search(
            request,
            query.get("jql", ""),
            query.get("startAt"),
            query.get("maxResults"),
            query.getall("fields", []),
            query.get("expand", ""),
        )

    async def post(self, request: web.Request) -> web.Response:
        body = await self.jira._json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        fields = body.get("fields") or []
        expand = body.get("expand") or ""
        return await self.search(
            request,
            body.get("jql") or "",
            body.get("startAt"),
            body.get("maxResults"),
            [fields] if isinstance(fields, str) else fields,
            ",".join(expand) if isinstance(expand, list) else str(expand),
        )

    async def search(
        self, request: web.Request, jql: str, start_at: Any, max_results: Any, fields: list[str], expand: str
    ) -> web.Response:
        jira = self.jira
        authenticated, may_browse = jira._viewer(request)
        paging = _paging(start_at, max_results)
        if isinstance(paging, web.Response):
            return paging
        offset, requested = paging
        field_ids, ids_only = resolve_fields(fields, "*navigable")
        page_size = min(requested, SEARCH_MAX_RESULTS if set(field_ids) <= _LIGHT_FIELDS else SEARCH_MAX_RESULTS_FULL)
        bound = jira._bound_query(jql, may_browse, vanished_exist=False)
        if isinstance(bound, web.Response):
            return bound
        matched = jira._matching_ids(jql, bound) if may_browse else []
        page = matched[offset : offset + page_size]
        renderer = jira._renderer(anonymous=not authenticated)
        find = jira.dataset.find_issue_ref if set(field_ids) <= _LIGHT_FIELDS else jira.dataset.find_issue
        issues = [
            jira._issue_json(renderer, find(str(issue_id)), field_ids, expand.split(","))
            for issue_id in page
            if not ids_only
        ]
        rest = {"expand": "schema,names", "startAt": offset, "maxResults": page_size, "total": len(matched)}
        return jira._json_with_issues(issues, rest)


def _paging(start_at: Any, max_results: Any) -> tuple[int, int] | web.Response:
    try:
        offset = 0 if start_at in (None, "") else int(start_at)
        requested = DEFAULT_MAX_RESULTS if max_results in (None, "") else int(max_results)
    except (TypeError, ValueError):
        return _error(400, "startAt and maxResults must be numbers.")
    if offset < 0 or requested < 0:
        return _error(400, "startAt and maxResults must not be negative.")
    return offset, requested


async def _not_found(request: web.Request) -> web.Response:
    return _error(404, f"No resource at {request.method} {request.path}.")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"errorMessages": [message], "errors": {}}, status=status)
