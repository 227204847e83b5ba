"""Jira Cloud REST v3 JSON for the sample data (shapes as in jira-cloud-openapi-v3.json)."""

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jarkdown_pipeline.sample_jira import adf
from jarkdown_pipeline.sample_jira.changelog import SampleChange, SampleChangeItem
from jarkdown_pipeline.sample_jira.data import (
    CONTRIBUTORS_FIELD,
    EPIC_LINK_FIELD,
    IMPACT_FIELD,
    PLATFORMS_FIELD,
    RELEASE_NOTES_FIELD,
    REVIEWER_FIELD,
    SPRINT_FIELD,
    STORY_POINTS_FIELD,
    TARGET_DATE_FIELD,
    Dataset,
    SampleAttachment,
    SampleComment,
    SampleIssue,
    SampleUser,
    SampleWorklog,
    format_duration,
)  # fmt: skip

_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
# (id, name, schema, navigable)
_FIELDS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("summary", "Summary", {"type": "string", "system": "summary"}, True),
    ("description", "Description", {"type": "string", "system": "description"}, True),
    ("environment", "Environment", {"type": "string", "system": "environment"}, True),
    ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}, True),
    ("status", "Status", {"type": "status", "system": "status"}, True),
    ("statusCategory", "Status Category", {"type": "statusCategory", "system": "statusCategory"}, True),
    ("priority", "Priority", {"type": "priority", "system": "priority"}, True),
    ("project", "Project", {"type": "project", "system": "project"}, True),
    ("assignee", "Assignee", {"type": "user", "system": "assignee"}, True),
    ("reporter", "Reporter", {"type": "user", "system": "reporter"}, True),
    ("creator", "Creator", {"type": "user", "system": "creator"}, True),
    ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}, True),
    ("components", "Components", {"type": "array", "items": "component", "system": "components"}, True),
    ("fixVersions", "Fix versions", {"type": "array", "items": "version", "system": "fixVersions"}, True),
    ("versions", "Affects versions", {"type": "array", "items": "version", "system": "versions"}, True),
    ("created", "Created", {"type": "datetime", "system": "created"}, True),
    ("updated", "Updated", {"type": "datetime", "system": "updated"}, True),
    ("resolution", "Resolution", {"type": "resolution", "system": "resolution"}, True),
    ("resolutiondate", "Resolved", {"type": "datetime", "system": "resolutiondate"}, True),
    ("duedate", "Due date", {"type": "date", "system": "duedate"}, True),
    ("issuelinks", "Linked Issues", {"type": "array", "items": "issuelinks", "system": "issuelinks"}, True),
    ("subtasks", "Sub-tasks", {"type": "array", "items": "issuelinks", "system": "subtasks"}, True),
    ("parent", "Parent", {"type": "issuelink", "system": "parent"}, True),
    ("attachment", "Attachment", {"type": "array", "items": "attachment", "system": "attachment"}, True),
    ("comment", "Comment", {"type": "comments-page", "system": "comment"}, False),
    ("worklog", "Log Work", {"type": "array", "items": "worklog", "system": "worklog"}, False),
    ("timetracking", "Time tracking", {"type": "timetracking", "system": "timetracking"}, False),
    ("timeoriginalestimate", "Original estimate", {"type": "number", "system": "timeoriginalestimate"}, True),
    ("timespent", "Time Spent", {"type": "number", "system": "timespent"}, True),
    ("votes", "Votes", {"type": "votes", "system": "votes"}, True),
    ("watches", "Watchers", {"type": "watches", "system": "watches"}, True),
    (
        "statuscategorychangedate",
        "Status Category Changed",
        {"type": "datetime", "system": "statuscategorychangedate"},
        True,
    ),
    ("lastViewed", "Last Viewed", {"type": "datetime", "system": "lastViewed"}, True),
    (
        SPRINT_FIELD,
        "Sprint",
        {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint", "customId": 10020},
        True,
    ),
    (
        STORY_POINTS_FIELD,
        "Story point estimate",
        {"type": "number", "custom": _CUSTOM + "float", "customId": 10016},
        True,
    ),
    (IMPACT_FIELD, "Customer Impact", {"type": "option", "custom": _CUSTOM + "select", "customId": 10030}, True),
    (
        PLATFORMS_FIELD,
        "Affected Platforms",
        {"type": "array", "items": "option", "custom": _CUSTOM + "multiselect", "customId": 10031},
        True,
    ),
    (REVIEWER_FIELD, "Reviewer", {"type": "user", "custom": _CUSTOM + "userpicker", "customId": 10032}, True),
    (TARGET_DATE_FIELD, "Target Date", {"type": "date", "custom": _CUSTOM + "datepicker", "customId": 10033}, True),
    (RELEASE_NOTES_FIELD, "Release Notes", {"type": "string", "custom": _CUSTOM + "textarea", "customId": 10034}, True),
    (
        EPIC_LINK_FIELD,
        "Epic Link",
        {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link", "customId": 10014},
        True,
    ),
    (
        CONTRIBUTORS_FIELD,
        "Contributors",
        {"type": "array", "items": "user", "custom": _CUSTOM + "multiuserpicker", "customId": 10035},
        True,
    ),
]
ALL_FIELD_IDS = [f[0] for f in _FIELDS]
NAVIGABLE_FIELD_IDS = [f[0] for f in _FIELDS if f[3]]
_ADF_FIELDS = {"description", "environment", RELEASE_NOTES_FIELD}


def jira_time(moment: datetime, zone: ZoneInfo) -> str:
    """Jira's timestamp format, in the viewer's zone: 2026-11-20T10:15:00.000+0100."""
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


def field_definitions() -> list[dict[str, Any]]:
    out = []
    for field_id, name, schema, navigable in _FIELDS:
        custom = field_id.startswith("customfield_")
        entry: dict[str, Any] = {
            "id": field_id, "key": field_id, "name": name, "custom": custom, "orderable": True,
            "navigable": navigable, "searchable": True, "schema": dict(schema),
        }  # fmt: skip
        entry["clauseNames"] = [f"cf[{field_id.split('_')[1]}]", name] if custom else [field_id]
        out.append(entry)
    return out


def resolve_fields(requested: Iterable[str] | None, default: str) -> tuple[list[str], bool]:
    """Jira's `fields` semantics -> (field ids in order, ids_only).

    Values may be comma-separated; `*all`, `*navigable`, `-field` exclusions, `id` (ids only).
    Unknown names are ignored, as Jira does.
    """
    tokens = [t.strip() for value in (requested or []) for t in str(value).split(",") if t.strip()]
    if not tokens:
        tokens = [default]
    chosen: list[str] = []
    excluded: set[str] = set()
    for token in tokens:
        if token == "*all":
            chosen += ALL_FIELD_IDS
        elif token == "*navigable":
            chosen += NAVIGABLE_FIELD_IDS
        elif token.startswith("-"):
            excluded.add(token[1:])
        elif token in ALL_FIELD_IDS:
            chosen.append(token)
    ids_only = all(t == "id" for t in tokens)
    seen: set[str] = set()
    ordered = [f for f in chosen if f not in excluded and not (f in seen or seen.add(f))]
    return ordered, ids_only


class Renderer:
    """Renders one data set for one viewer (their zone; anonymous viewers miss restricted comments)."""

    api_version = "3"

    def __init__(
        self, dataset: Dataset, base_url: str, zone: ZoneInfo, anonymous: bool, inline_changelog: int | None = 40
    ) -> None:
        self.ds = dataset
        self.inline_changelog = inline_changelog  # None: every entry inline (Data Center)
        self.base = base_url.rstrip("/")
        self.api = f"{self.base}/rest/api/{self.api_version}"
        self.zone = zone
        self.anonymous = anonymous
        self._users: dict[str, dict[str, Any]] = {}  # the same user appears hundreds of times per page

    def time(self, moment: datetime) -> str:
        return jira_time(moment, self.zone)

    def user(self, user: SampleUser | None) -> dict[str, Any] | None:
        if user is None:
            return None
        cached = self._users.get(user.account_id)
        if cached is None:
            cached = self._users[user.account_id] = self._user(user)
        return cached

    def _user(self, user: SampleUser) -> dict[str, Any]:
        initials = "".join(part[0] for part in user.display_name.split()[:2] if part).upper() or "U"
        avatar = f"https://avatar-management.example.invalid/initials/{quote(initials)}-5.png"
        return {
            "self": f"{self.api}/user?accountId={user.account_id}", "accountId": user.account_id,
            "emailAddress": user.email,
            "avatarUrls": {size: f"{avatar}?size={size[:2]}&s={size[:2]}" for size in ("48x48", "24x24", "16x16", "32x32")},
            "displayName": user.display_name, "active": user.active, "timeZone": user.time_zone, "accountType": "atlassian",
        }  # fmt: skip

    def myself(self) -> dict[str, Any]:
        body = self._user(self.ds.me())
        body.update(
            {
                "locale": "en_US",
                "groups": {"size": 2, "items": []},
                "applicationRoles": {"size": 1, "items": []},
                "expand": "groups,applicationRoles",
            }
        )
        return body

    def attachment(self, a: SampleAttachment) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.api}/attachment/{a.id}", "id": str(a.id), "filename": a.filename, "author": self.user(a.author),
            "created": self.time(a.created), "size": a.size, "mimeType": a.mime_type,
            "content": f"{self.api}/attachment/content/{a.id}",
        }  # fmt: skip
        if a.mime_type.startswith("image/"):
            body["thumbnail"] = f"{self.api}/attachment/thumbnail/{a.id}"
        return body

    def comment(self, issue: SampleIssue, c: SampleComment, rendered_body: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.api}/issue/{issue.id}/comment/{c.id}", "id": c.id, "author": self.user(c.author),
            "body": self.document(c.body, issue), "updateAuthor": self.user(c.author), "created": self.time(c.created),
            "updated": self.time(c.updated), "jsdPublic": True,
        }  # fmt: skip
        if c.visibility:
            body["visibility"] = dict(c.visibility)
        if rendered_body:
            body["renderedBody"] = adf.adf_to_html(c.body)
        return body

    def worklog(self, issue: SampleIssue, w: SampleWorklog) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.api}/issue/{issue.id}/worklog/{w.id}", "author": self.user(w.author), "updateAuthor": self.user(w.author),
            "created": self.time(w.created), "updated": self.time(w.updated), "started": self.time(w.started),
            "timeSpent": format_duration(w.time_spent_seconds), "timeSpentSeconds": w.time_spent_seconds,
            "id": w.id, "issueId": str(issue.id),
        }  # fmt: skip
        if w.comment is not None:
            body["comment"] = self.document(w.comment, issue)
        return body

    def change(self, change: SampleChange) -> dict[str, Any]:
        """One changelog entry (``Changelog`` in the OpenAPI)."""
        return {
            "id": change.id, "author": self.user(change.author), "created": self.time(change.created),
            "items": [self.change_item(item) for item in change.items],
        }  # fmt: skip

    def change_item(self, item: SampleChangeItem) -> dict[str, Any]:
        return {
            "field": item.field, "fieldtype": item.fieldtype, "fieldId": item.field_id, "from": item.from_value,
            "fromString": item.from_string, "to": item.to_value, "toString": item.to_string,
        }  # fmt: skip

    def changelog(self, issue: SampleIssue) -> dict[str, Any]:
        """``expand=changelog``: the first entries inline (all on Data Center), with the total."""
        changes = self.ds.changes_of(issue)
        shown = changes if self.inline_changelog is None else changes[: self.inline_changelog]
        return {
            "startAt": 0, "maxResults": len(shown) if self.inline_changelog is None else self.inline_changelog,
            "total": len(changes), "histories": [self.change(c) for c in shown],
        }  # fmt: skip

    def visible_comments(self, issue: SampleIssue) -> list[SampleComment]:
        if self.anonymous:
            return [c for c in issue.comments if c.visibility is None]
        return list(issue.comments)

    def issue_ref(self, issue: SampleIssue) -> dict[str, Any]:
        status = self.status(issue)
        fields: dict[str, Any] = {"summary": issue.summary, "status": status, "priority": self.priority(issue)}
        fields["issuetype"] = self.issue_type(issue)
        return {"id": str(issue.id), "key": issue.key, "self": f"{self.api}/issue/{issue.id}", "fields": fields}

    def status(self, issue: SampleIssue) -> dict[str, Any]:
        name, category_key, color, category_id, status_id = self.ds.status(issue)
        category_name = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[category_key]
        return {
            "self": f"{self.api}/status/{status_id}", "description": "", "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": name, "id": status_id,
            "statusCategory": {"self": f"{self.api}/statuscategory/{category_id}", "id": category_id, "key": category_key, "colorName": color, "name": category_name},
        }  # fmt: skip

    def priority(self, issue: SampleIssue) -> dict[str, Any]:
        name, priority_id = self.ds.priority(issue)
        return {
            "self": f"{self.api}/priority/{priority_id}",
            "iconUrl": f"{self.base}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": priority_id,
        }

    def issue_type(self, issue: SampleIssue) -> dict[str, Any]:
        names = ["Story", "Task", "Bug", "Epic", "Sub-task"]
        type_id = str(10001 + names.index(issue.issue_type))
        return {
            "self": f"{self.api}/issuetype/{type_id}", "id": type_id, "description": "", "name": issue.issue_type,
            "subtask": issue.issue_type == "Sub-task", "hierarchyLevel": {"Epic": 1, "Sub-task": -1}.get(issue.issue_type, 0),
            "iconUrl": f"{self.base}/images/icons/issuetypes/{issue.issue_type.lower()}.svg", "avatarId": 10300,
        }  # fmt: skip

    def project(self, issue: SampleIssue) -> dict[str, Any]:
        p = issue.project
        return {
            "self": f"{self.api}/project/{p.id}", "id": p.id, "key": p.key, "name": p.name, "projectTypeKey": "software",
            "simplified": False, "avatarUrls": {s: f"{self.base}/secure/projectavatar?size={s}&pid={p.id}" for s in ("48x48", "24x24", "16x16", "32x32")},
        }  # fmt: skip

    def _version(self, issue: SampleIssue, name: str) -> dict[str, Any]:
        version_id = str(10000 + issue.project.versions.index(name) + 100 * self.ds.projects.index(issue.project))
        return {
            "self": f"{self.api}/version/{version_id}",
            "id": version_id,
            "name": name,
            "archived": False,
            "released": name.endswith(".0"),
        }

    def _component(self, issue: SampleIssue, name: str) -> dict[str, Any]:
        component_id = str(10000 + issue.project.components.index(name) + 100 * self.ds.projects.index(issue.project))
        return {"self": f"{self.api}/component/{component_id}", "id": component_id, "name": name}

    def _links(self, issue: SampleIssue) -> list[dict[str, Any]]:
        out = []
        for link in issue.links:
            other = self.ds.find_issue_ref(link.other_key)
            if other is None:
                continue
            type_id, name, inward, outward = self.ds.link_type(link.type_index)
            entry: dict[str, Any] = {
                "id": link.id, "self": f"{self.api}/issueLink/{link.id}",
                "type": {"id": type_id, "name": name, "inward": inward, "outward": outward, "self": f"{self.api}/issueLinkType/{type_id}"},
            }  # fmt: skip
            entry["outwardIssue" if link.outward else "inwardIssue"] = self.issue_ref(other)
            out.append(entry)
        return out

    def _option(self, field_id: str, option: tuple[str, str]) -> dict[str, Any]:
        return {"self": f"{self.api}/customFieldOption/{option[0]}", "value": option[1], "id": option[0]}

    def _custom(self, issue: SampleIssue, field_id: str) -> Any:
        value = issue.custom.get(field_id)
        if value is None:
            return None
        if field_id == IMPACT_FIELD:
            return self._option(field_id, value)
        if field_id == PLATFORMS_FIELD:
            return [self._option(field_id, option) for option in value]
        if field_id == REVIEWER_FIELD:
            return self.user(value)
        if field_id == CONTRIBUTORS_FIELD:
            return [self.user(u) for u in value]
        if isinstance(value, date):
            return value.isoformat()
        if field_id == RELEASE_NOTES_FIELD:
            return self.document(value, issue)
        return value

    def document(self, value: Any, issue: SampleIssue) -> Any:
        """A rich-text value as this flavour serves it (Cloud: the ADF document itself)."""
        return value

    def field_value(self, issue: SampleIssue, field_id: str, inline_comments: int, inline_worklogs: int) -> Any:
        if field_id.startswith("customfield_"):
            return self._custom(issue, field_id)
        if field_id == "comment":
            return self._comment_page(issue, inline_comments)
        if field_id == "worklog":
            return self._worklog_page(issue, inline_worklogs)
        value = _FIELD_VALUES.get(field_id)
        if value is None:
            raise KeyError(field_id)
        return value(self, issue)

    def _done(self, issue: SampleIssue) -> bool:
        return self.ds.status(issue)[1] == "done"

    def _resolution(self, issue: SampleIssue) -> dict[str, Any] | None:
        if not self._done(issue):
            return None
        return {
            "self": f"{self.api}/resolution/10000", "id": "10000",
            "description": "Work has been completed on this issue.", "name": "Done",
        }  # fmt: skip

    def _parent(self, issue: SampleIssue) -> dict[str, Any] | None:
        parent = self.ds.find_issue_ref(issue.parent_key) if issue.parent_key else None
        return self.issue_ref(parent) if parent else None

    def _comment_page(self, issue: SampleIssue, inline_comments: int) -> dict[str, Any]:
        comments = self.visible_comments(issue)
        return {
            "comments": [self.comment(issue, c) for c in comments[:inline_comments]],
            "self": f"{self.api}/issue/{issue.id}/comment", "maxResults": inline_comments,
            "total": len(comments), "startAt": 0,
        }  # fmt: skip

    def _worklog_page(self, issue: SampleIssue, inline_worklogs: int) -> dict[str, Any]:
        return {
            "startAt": 0, "maxResults": inline_worklogs, "total": len(issue.worklogs),
            "worklogs": [self.worklog(issue, w) for w in issue.worklogs[:inline_worklogs]],
        }  # fmt: skip

    @staticmethod
    def _time_spent(issue: SampleIssue) -> int | None:
        return sum(w.time_spent_seconds for w in issue.worklogs) or None

    def _time_tracking(self, issue: SampleIssue) -> dict[str, Any]:
        time_spent = self._time_spent(issue)
        body: dict[str, Any] = {}
        if issue.original_estimate_seconds is not None:
            remaining = max(issue.original_estimate_seconds - (time_spent or 0), 0)
            body.update(
                originalEstimate=format_duration(issue.original_estimate_seconds), remainingEstimate=format_duration(remaining),
                originalEstimateSeconds=issue.original_estimate_seconds, remainingEstimateSeconds=remaining,
            )  # fmt: skip
        if time_spent is not None:
            body.update(timeSpent=format_duration(time_spent), timeSpentSeconds=time_spent)
        return body

    def issue(
        self,
        issue: SampleIssue,
        field_ids: list[str],
        expand: Iterable[str] = (),
        inline_comments: int = 20,
        inline_worklogs: int = 20,
    ) -> dict[str, Any]:
        expand = {e.strip() for e in expand if e.strip()}
        fields = {f: self.field_value(issue, f, inline_comments, inline_worklogs) for f in field_ids}
        body: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(issue.id), "self": f"{self.api}/issue/{issue.id}", "key": issue.key, "fields": fields,
        }  # fmt: skip
        if "changelog" in expand:
            body["changelog"] = self.changelog(issue)
        if "renderedFields" in expand:
            body["renderedFields"] = self._rendered_fields(issue, field_ids, inline_comments)
        if "names" in expand:
            body["names"] = {d["id"]: d["name"] for d in field_definitions() if d["id"] in field_ids}
        if "schema" in expand:
            body["schema"] = {d["id"]: d["schema"] for d in field_definitions() if d["id"] in field_ids}
        return body

    def _rendered_fields(self, issue: SampleIssue, field_ids: list[str], inline_comments: int) -> dict[str, Any]:
        rendered: dict[str, Any] = {}
        for field_id in field_ids:
            if field_id in _ADF_FIELDS:
                value = (
                    issue.description
                    if field_id == "description"
                    else issue.environment
                    if field_id == "environment"
                    else issue.custom.get(field_id)
                )
                rendered[field_id] = adf.adf_to_html(value) if value else None
            elif field_id == "comment":
                comments = self.visible_comments(issue)
                rendered["comment"] = {
                    "comments": [dict(self.comment(issue, c), body=adf.adf_to_html(c.body)) for c in comments[:inline_comments]],
                    "maxResults": inline_comments, "total": len(comments), "startAt": 0,
                }  # fmt: skip
            elif field_id in ("created", "updated", "resolutiondate"):
                value = self.field_value(issue, field_id, 0, 0)
                rendered[field_id] = self._friendly_time(issue, field_id) if value else None
            else:
                rendered[field_id] = None
        return rendered

    def _friendly_time(self, issue: SampleIssue, field_id: str) -> str:
        moment = issue.created if field_id == "created" else issue.updated
        return moment.astimezone(self.zone).strftime("%d/%b/%y %I:%M %p")


# Field id -> its value for an issue (comment, worklog and custom fields take other arguments).
_FIELD_VALUES: dict[str, Callable[[Renderer, SampleIssue], Any]] = {
    "summary": lambda r, i: i.summary,
    "description": lambda r, i: r.document(i.description, i),
    "environment": lambda r, i: r.document(i.environment, i),
    "issuetype": Renderer.issue_type,
    "status": Renderer.status,
    "statusCategory": lambda r, i: r.status(i)["statusCategory"],
    "priority": Renderer.priority,
    "project": Renderer.project,
    "assignee": lambda r, i: r.user(i.assignee),
    "reporter": lambda r, i: r.user(i.reporter),
    "creator": lambda r, i: r.user(i.reporter),
    "labels": lambda r, i: list(i.labels),
    "components": lambda r, i: [r._component(i, name) for name in i.components],
    "fixVersions": lambda r, i: [r._version(i, name) for name in i.fix_versions],
    "versions": lambda r, i: [],
    "created": lambda r, i: r.time(i.created),
    "updated": lambda r, i: r.time(i.updated),
    "resolution": Renderer._resolution,
    "resolutiondate": lambda r, i: r.time(i.updated) if r._done(i) else None,
    "statuscategorychangedate": lambda r, i: r.time(i.updated),
    "lastViewed": lambda r, i: None,
    "duedate": lambda r, i: i.duedate.isoformat() if i.duedate else None,
    "issuelinks": Renderer._links,
    "subtasks": lambda r, i: [r.issue_ref(sub) for sub in r.ds.subtask_refs(i)],
    "parent": Renderer._parent,
    "attachment": lambda r, i: [r.attachment(a) for a in i.attachments],
    "timetracking": Renderer._time_tracking,
    "timeoriginalestimate": lambda r, i: i.original_estimate_seconds,
    "timespent": lambda r, i: Renderer._time_spent(i),
    "votes": lambda r, i: {"self": f"{r.api}/issue/{i.key}/votes", "votes": i.id % 7, "hasVoted": False},
    "watches": lambda r, i: {"self": f"{r.api}/issue/{i.key}/watchers", "watchCount": 1 + i.id % 4, "isWatching": True},
}
