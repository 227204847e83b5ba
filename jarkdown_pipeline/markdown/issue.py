"""One Jira issue as one Markdown file: YAML frontmatter, then the sections a reader needs.

Pure: the same issue JSON, field definitions and attachment list give byte-identical text.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jarkdown_pipeline.exceptions import IssueError
from jarkdown_pipeline.issue_keys import check_issue_key, is_issue_key, issue_sort_key
from jarkdown_pipeline.markdown.adf import adf_to_markdown, adf_to_table_cell, is_adf_document
from jarkdown_pipeline.markdown.cells import markdown_to_cell
from jarkdown_pipeline.markdown.completeness import completeness
from jarkdown_pipeline.markdown.escape import (
    clean_text,
    escape_heading_end,
    escape_table_cell,
    escape_text,
    escape_text_linking_urls,
    link,
)
from jarkdown_pipeline.markdown.fields import (
    FieldDefinition,
    custom_field_slugs,
    data_to_text,
    display_datetime,
    field_value_to_data,
    format_duration,
    normalize_datetime,
    ordered_custom_fields,
    parse_field_definitions,
    sprint_names,
)
from jarkdown_pipeline.markdown.frontmatter import dump_frontmatter
from jarkdown_pipeline.markdown.history import (
    check_history_mode,
    history_document,
    history_link,
    history_section,
    previous_keys,
)
from jarkdown_pipeline.markdown.links import IssueLinks
from jarkdown_pipeline.markdown.links_gfm import defuse_gfm_autolinks
from jarkdown_pipeline.markdown.media import MediaIndex
from jarkdown_pipeline.markdown.wiki import html_to_markdown, user_names, wiki_to_markdown
from jarkdown_pipeline.sizes import human_size

EPIC_LINK_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-link"  # Data Center's Epic Link field
# Far above any real issue (Jira caps a text field at 32,767 characters): a rendering past it is
# refused with IssueError rather than written (the issue's raw JSON is kept by the caller).
MAX_ISSUE_MARKDOWN_CHARS = 8 * 1024 * 1024


def issue_markdown_path(key: str) -> str:
    """The issue file's path inside the knowledge base: ``KEY/KEY.md``.

    Raises ValueError for anything that is not a Jira issue key (it becomes a folder name).
    """
    check_issue_key(key)
    return f"{key}/{key}.md"


def _mapping(value: Any) -> Mapping[str, Any]:
    """A JSON object, or an empty one (a malformed value never breaks the page)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """A JSON array, or nothing (a malformed value never breaks the page)."""
    return value if isinstance(value, list) else []


def is_rich_text_field(value: Any, definition: FieldDefinition) -> bool:
    """ADF (Cloud), or a text-area field's wiki markup (Data Center sends it as a plain string)."""
    if is_adf_document(value):
        return True
    return isinstance(value, str) and bool(definition.schema_custom) and "textarea" in definition.schema_custom


def _plain(value: Any) -> str:
    """A scalar as text; objects and arrays by their names (never a Python repr)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    return data_to_text(field_value_to_data(value, None))


def _name(value: Any, *keys: str) -> str | None:
    if isinstance(value, Mapping):
        for key in keys or ("name",):
            if value.get(key) not in (None, ""):
                return _plain(value[key]) or None
    return None


def _user(value: Any) -> str | None:
    return _name(value, "displayName", "name", "emailAddress", "accountId")


def _names(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [name for name in (_name(value, "name", "value") for value in values) if name]


def _percent(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return None
    percent = value.get("percent")
    if not isinstance(percent, (int, float)) or isinstance(percent, bool):
        done, total = value.get("progress"), value.get("total")
        if not (isinstance(done, int) and isinstance(total, int) and total > 0):
            return None
        percent = round(done * 100 / total)
    return int(percent) if float(percent).is_integer() else percent


def _count(container: Any, items_key: str) -> int | None:
    if not isinstance(container, Mapping):
        return None
    if isinstance(container.get("total"), int):
        return max(container["total"], len(container.get(items_key) or ()))
    if isinstance(container.get(items_key), list):
        return len(container[items_key])
    return None


def _duration(
    timetracking: Mapping[str, Any], fields: Mapping[str, Any], text_key: str, seconds_keys: Sequence[str]
) -> str | None:
    if timetracking.get(text_key):
        return _plain(timetracking[text_key])
    for key in seconds_keys:
        seconds = timetracking.get(key) if key in timetracking else fields.get(key)
        if isinstance(seconds, int):
            return format_duration(seconds)
    return None


class _IssueRenderer:
    def __init__(
        self,
        issue: Mapping[str, Any],
        *,
        field_definitions: Iterable[Mapping[str, Any]] | None,
        attachments: Iterable[Mapping[str, Any]] | None,
        base_url: str,
        known_issue_keys: Iterable[str],
        include_custom_fields: Sequence[str] | None,
        exclude_custom_fields: Sequence[str],
        attachments_dir: str,
        history: str = "inline",
        children: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.history_mode = check_history_mode(history)
        if not isinstance(issue, Mapping) or not issue.get("key"):
            raise IssueError("<no key>", "not a Jira issue: expected a mapping with a 'key' (as GET /issue returns it)")
        self.issue = issue
        self.key = str(issue["key"])
        if not is_issue_key(self.key):
            raise IssueError(repr(self.key)[:80], f"not a Jira issue key: {self.key[:80]!r} (expected PROJECT-123)")
        self.fields: Mapping[str, Any] = _mapping(issue.get("fields"))
        self.rendered: Mapping[str, Any] = _mapping(issue.get("renderedFields"))
        self.links = IssueLinks(base_url, known_issue_keys)
        self.definitions = parse_field_definitions(field_definitions, issue.get("names"))
        self.media = MediaIndex(attachments or (), attachments_dir)
        self.users = user_names(self.fields)  # for wiki markup's [~name] mentions
        self.custom = ordered_custom_fields(
            self.fields, self.definitions, include=include_custom_fields, exclude=exclude_custom_fields
        )
        all_custom = [d for d in self.definitions.values() if d.custom] + [
            d for d in self.custom if d.id not in self.definitions
        ]
        self.slugs = custom_field_slugs(all_custom)
        self.other_children = {
            str(child["key"]): child
            for child in children
            if isinstance(child, Mapping) and is_issue_key(child.get("key")) and child.get("key") != self.key
        }

    # -- helpers ---------------------------------------------------------------------------

    def browse_url(self, key: str) -> str:
        return self.links.browse_url(key)

    def issue_link(self, key: str) -> str:
        return link(escape_text(key), self.links.href(key))

    def rich_text(self, value: Any, rendered_html: Any = None, *, heading_offset: int = 0) -> str:
        """ADF (Cloud), wiki markup (Data Center), or rendered HTML as the last resort."""
        if is_adf_document(value):
            return adf_to_markdown(value, media=self.media, heading_offset=heading_offset, links=self.links)
        if isinstance(value, str) and value.strip():
            return wiki_to_markdown(
                value, heading_offset=heading_offset, media=self.media, users=self.users, links=self.links
            )
        if isinstance(rendered_html, str) and rendered_html.strip():
            return html_to_markdown(rendered_html, heading_offset=heading_offset)
        return ""

    def rich_text_cell(self, value: Any) -> str:
        if is_adf_document(value):
            return adf_to_table_cell(value, media=self.media, links=self.links)
        if isinstance(value, str) and value.strip():
            markdown = wiki_to_markdown(value, media=self.media, users=self.users, links=self.links)
            return escape_table_cell(markdown_to_cell(markdown))
        return ""

    def sprint_values(self) -> list[str]:
        names: list[str] = []
        for definition in self.definitions.values():
            if definition.is_sprint and self.fields.get(definition.id):
                names.extend(name for name in sprint_names(self.fields[definition.id]) if name not in names)
        return names

    # -- hierarchy -------------------------------------------------------------------------

    def parent_ref(self) -> Mapping[str, Any]:
        parent = self.fields.get("parent")
        return parent if isinstance(parent, Mapping) and is_issue_key(parent.get("key")) else {}

    def epic_key(self) -> str | None:
        """Data Center's Epic Link (a key), or Cloud's parent when that parent is an epic."""
        for definition in self.definitions.values():
            value = self.fields.get(definition.id)
            if definition.schema_custom == EPIC_LINK_SCHEMA and isinstance(value, str) and is_issue_key(value):
                return value
        parent_type = _mapping(_mapping(self.parent_ref().get("fields")).get("issuetype"))
        if parent_type.get("hierarchyLevel") == 1 or parent_type.get("name") == "Epic":
            return str(self.parent_ref()["key"])
        return None

    def child_keys(self) -> list[str]:
        return [str(sub["key"]) for sub in self.children_refs()]

    def children_refs(self) -> list[Mapping[str, Any]]:
        """Jira's sub-tasks in Jira's order, then the other issues naming this one as their parent
        (``children``: an epic's stories in Cloud, Data Center's Epic Link) in key order. A child
        given in ``children`` (the mirror's copy) shows its summary and status from there."""
        subtasks: dict[str, Mapping[str, Any]] = {}
        for sub in _list(self.fields.get("subtasks")):
            if isinstance(sub, Mapping) and is_issue_key(sub.get("key")):
                subtasks.setdefault(str(sub["key"]), sub)
        others = sorted((key for key in self.other_children if key not in subtasks), key=issue_sort_key)
        return [self.other_children.get(key, sub) for key, sub in subtasks.items()] + [
            self.other_children[key] for key in others
        ]

    def hierarchy_lines(self) -> str:
        """Under the title: the parent (and the epic, when that is another issue), linked locally when mirrored."""
        lines = []
        parent = self.parent_ref()
        if parent:
            lines.append("Parent: " + self.issue_line(parent)[2:])
        epic = self.epic_key()
        if epic and epic != parent.get("key"):
            lines.append(f"Epic: {self.issue_link(epic)}")
        return "\n\n".join(lines)

    # -- frontmatter -----------------------------------------------------------------------

    def frontmatter(self) -> dict[str, Any]:
        f = self.fields
        status = f.get("status") if isinstance(f.get("status"), Mapping) else {}
        project = f.get("project") if isinstance(f.get("project"), Mapping) else {}
        parent = f.get("parent") if isinstance(f.get("parent"), Mapping) else {}
        parent_fields = parent.get("fields") if isinstance(parent.get("fields"), Mapping) else {}
        timetracking = f.get("timetracking") if isinstance(f.get("timetracking"), Mapping) else {}
        attachments = f.get("attachment")
        data: dict[str, Any] = {
            "key": self.key,
            "id": str(self.issue["id"]) if self.issue.get("id") not in (None, "") else None,
            "url": self.browse_url(self.key),
            # Only for an issue that moved: the frontmatter of every other issue stays as it was.
            **({"previous_keys": moved_from} if (moved_from := previous_keys(self.issue)) else {}),
            "summary": _plain(f.get("summary")),
            "type": _name(f.get("issuetype")),
            "status": _name(status),
            "status_category": _name(status.get("statusCategory")),
            "priority": _name(f.get("priority")),
            "resolution": _name(f.get("resolution")),
            "project": _name(project),
            "project_key": _name(project, "key") or self.key.rsplit("-", 1)[0],
            "assignee": _user(f.get("assignee")),
            "reporter": _user(f.get("reporter")),
            "creator": _user(f.get("creator")),
            "labels": [_plain(label) for label in _list(f.get("labels")) if label not in (None, "")],
            "components": _names(f.get("components")),
            "parent_summary": _name(parent_fields, "summary"),
            "parent": self.parent_ref().get("key"),
            "epic": self.epic_key(),
            "children": self.child_keys(),
            "affects_versions": _names(f.get("versions")),
            "fix_versions": _names(f.get("fixVersions")),
            "sprint": self.sprint_values(),
            "created_at": normalize_datetime(f.get("created")),
            "updated_at": normalize_datetime(f.get("updated")),
            "resolved_at": normalize_datetime(f.get("resolutiondate")),
            "duedate": _plain(f["duedate"]) if f.get("duedate") else None,
            "original_estimate": _duration(
                timetracking, f, "originalEstimate", ("originalEstimateSeconds", "timeoriginalestimate")
            ),
            "time_spent": _duration(timetracking, f, "timeSpent", ("timeSpentSeconds", "timespent")),
            "remaining_estimate": _duration(
                timetracking, f, "remainingEstimate", ("remainingEstimateSeconds", "timeestimate")
            ),
            "progress": _percent(f.get("progress")),
            "aggregate_progress": _percent(f.get("aggregateprogress")),
            "votes": f["votes"].get("votes") if isinstance(f.get("votes"), Mapping) else None,
            "watches": f["watches"].get("watchCount") if isinstance(f.get("watches"), Mapping) else None,
            "comment_count": _count(f.get("comment"), "comments") or 0,
            "worklog_count": _count(f.get("worklog"), "worklogs") or 0,
            "attachment_count": len(attachments) if isinstance(attachments, list) else len(self.media.attachments),
        }
        custom: dict[str, Any] = {}
        for definition in self.custom:
            if definition.is_sprint:  # already the top-level ``sprint``
                continue
            value = self.custom_field_data(definition)
            if value is not None:
                custom[self.slugs.get(definition.id, definition.id)] = value
        data.update(completeness(self.issue, self.downloaded_ids(), self.history_mode))
        data["custom_fields"] = custom
        return data

    def downloaded_ids(self) -> set[str]:
        return {str(info.get("attachment_id")) for info in self.media.attachments}

    def custom_field_data(self, definition: FieldDefinition) -> Any:
        """A custom field's frontmatter value; rich text as Markdown, whichever markup Jira sent."""
        value = self.fields.get(definition.id)
        if isinstance(value, str) and is_rich_text_field(value, definition):
            return wiki_to_markdown(value, media=self.media, users=self.users) or None
        return field_value_to_data(value, definition, media=self.media)

    # -- sections --------------------------------------------------------------------------

    def title(self) -> str:
        summary = _plain(self.fields.get("summary")).replace("\r", " ").replace("\n", " ").strip()
        heading = f"# {link(escape_text(self.key), self.browse_url(self.key))}"
        return f"{heading}: {escape_heading_end(escape_text_linking_urls(summary))}" if summary else heading

    def description(self) -> str:
        return self.rich_text(self.fields.get("description"), self.rendered.get("description"), heading_offset=2)

    def environment(self) -> str:
        return self.rich_text(self.fields.get("environment"), self.rendered.get("environment"), heading_offset=2)

    def linked_issues(self) -> str:
        groups: dict[str, list[str]] = {}
        for issue_link in _list(self.fields.get("issuelinks")):
            if not isinstance(issue_link, Mapping):
                continue
            link_type = issue_link.get("type") if isinstance(issue_link.get("type"), Mapping) else {}
            if isinstance(issue_link.get("outwardIssue"), Mapping):
                other, relation = issue_link["outwardIssue"], link_type.get("outward")
            elif isinstance(issue_link.get("inwardIssue"), Mapping):
                other, relation = issue_link["inwardIssue"], link_type.get("inward")
            else:
                continue
            relation = _plain(relation or link_type.get("name")) or "relates to"
            groups.setdefault(relation, []).append(self.issue_line(other))
        parts = []
        for relation, lines in groups.items():
            parts.append(f"### {escape_heading_end(escape_text(relation))}\n\n" + "\n".join(lines))
        return "\n\n".join(parts)

    def issue_line(self, other: Mapping[str, Any]) -> str:
        key = _plain(other.get("key"))
        other_fields = other.get("fields") if isinstance(other.get("fields"), Mapping) else {}
        line = f"- {self.issue_link(key)}" if key else "- (unknown issue)"
        summary = other_fields.get("summary")
        if summary:
            line += f": {escape_text_linking_urls(_plain(summary).replace(chr(10), ' '))}"
        details = [name for name in (_name(other_fields.get("status")), _name(other_fields.get("issuetype"))) if name]
        if details:
            line += f" ({escape_text(', '.join(details))})"
        return line

    def children(self) -> str:
        return "\n".join(self.issue_line(sub) for sub in self.children_refs())

    def worklogs(self) -> str:
        container = self.fields.get("worklog")
        if not isinstance(container, Mapping):
            return ""
        worklogs = [w for w in _list(container.get("worklogs")) if isinstance(w, Mapping)]
        if not worklogs:
            return ""
        rows = ["| Author | Started | Time spent | Comment |", "| --- | --- | --- | --- |"]
        total_seconds = 0
        for worklog in worklogs:
            seconds = worklog.get("timeSpentSeconds")
            if isinstance(seconds, int):
                total_seconds += seconds
            spent = worklog.get("timeSpent") or (format_duration(seconds) if isinstance(seconds, int) else "")
            cells = [
                escape_table_cell(escape_text(_user(worklog.get("author")) or "Unknown", in_table=True)),
                escape_table_cell(display_datetime(worklog.get("started"))),
                escape_table_cell(escape_text(_plain(spent), in_table=True)),
                self.rich_text_cell(worklog.get("comment")),
            ]
            rows.append("| " + " | ".join(cells) + " |")
        count = len(worklogs)
        summary = (
            f"**Total time logged:** {format_duration(total_seconds)} in {count} worklog{'s' if count != 1 else ''}"
        )
        reported = container.get("total")
        if isinstance(reported, int) and reported > count:
            summary += f" (Jira reports {reported} worklogs; {reported - count} could not be fetched)"
        return "\n".join(rows) + "\n\n" + summary + "."

    def custom_fields(self) -> str:
        same_name: dict[str, int] = {}
        for definition in self.custom:
            same_name[definition.name] = same_name.get(definition.name, 0) + 1
        rows = ["| Field | Value |", "| --- | --- |"]
        rich_sections = []
        for definition in self.custom:
            label = definition.name if same_name[definition.name] == 1 else f"{definition.name} ({definition.id})"
            value = self.fields.get(definition.id)
            if is_rich_text_field(value, definition):
                body = self.rich_text(value, (self.rendered or {}).get(definition.id), heading_offset=3)
                if body:
                    rich_sections.append(f"### {escape_heading_end(escape_text(label))}\n\n{body}")
                continue
            data = field_value_to_data(value, definition, media=self.media)
            if data is None:
                continue
            text = display_datetime(data) if definition.schema_type == "datetime" else data_to_text(data)
            rows.append(
                f"| {escape_table_cell(escape_text(label, in_table=True))} | {escape_table_cell(escape_text_linking_urls(text, in_table=True))} |"
            )
        parts = ["\n".join(rows)] if len(rows) > 2 else []
        parts.extend(rich_sections)
        return "\n\n".join(parts)

    def comments(self) -> str:
        container = self.fields.get("comment")
        if not isinstance(container, Mapping):
            return ""
        comments = [c for c in _list(container.get("comments")) if isinstance(c, Mapping)]
        rendered_bodies = self.rendered_comment_bodies()
        parts = [self.comment(comment, rendered_bodies) for comment in comments]
        total = container.get("total")
        if isinstance(total, int) and total > len(comments):
            parts.append(f"*Jira reports {total} comments; {total - len(comments)} could not be fetched.*")
        return "\n\n".join(parts)

    def rendered_comment_bodies(self) -> dict[str, Any]:
        """renderedFields' comment bodies by comment id (the HTML fallback)."""
        bodies = {}
        rendered_container = self.rendered.get("comment")
        if isinstance(rendered_container, Mapping):
            for rendered in _list(rendered_container.get("comments")):
                if isinstance(rendered, Mapping) and rendered.get("id") is not None:
                    bodies[str(rendered["id"])] = rendered.get("body")
        return bodies

    def comment(self, comment: Mapping[str, Any], rendered_bodies: Mapping[str, Any]) -> str:
        block = [escape_heading_end(_comment_heading(comment))]
        visibility = comment.get("visibility")
        if isinstance(visibility, Mapping) and visibility.get("value"):
            kind = _plain(visibility.get("type")) or "group"
            block.append(
                f"> [!IMPORTANT]\n> Restricted to {escape_text(kind)}: {escape_text(_plain(visibility['value']))}"
            )
        if comment.get("jsdPublic") is False:
            block.append("> [!IMPORTANT]\n> Internal comment (not shared with customers)")
        rendered_html = comment.get("renderedBody") or rendered_bodies.get(str(comment.get("id")))
        body = self.rich_text(comment.get("body"), rendered_html, heading_offset=3)
        block.append(body or "*(empty comment)*")
        return "\n\n".join(block)

    def attachments(self) -> str:
        jira_list = [a for a in _list(self.fields.get("attachment")) if isinstance(a, Mapping)]
        downloaded = {str(info.get("attachment_id")): info for info in self.media.attachments}
        lines = []
        seen = set()
        for attachment in jira_list:
            attachment_id = str(attachment.get("id"))
            seen.add(attachment_id)
            info = downloaded.get(attachment_id)
            if info is None and not attachment.get("id"):  # no id to match: fall back to the name
                info = self.media.resolve({"alt": attachment.get("filename")})
            if info is not None and str(info.get("attachment_id")) not in seen - {attachment_id}:
                seen.add(str(info.get("attachment_id")))
                lines.append(self.attachment_line(info))
            else:
                name = _plain(attachment.get("filename")) or attachment_id
                details = _size_and_type(attachment.get("mimeType"), attachment.get("size"))
                lines.append(f"- {escape_text_linking_urls(name)}{details} (not downloaded)")
        for info in self.media.attachments:
            if str(info.get("attachment_id")) not in seen:
                lines.append(self.attachment_line(info))
        return "\n".join(lines)

    def attachment_line(self, info: Mapping[str, Any]) -> str:
        label = escape_text(MediaIndex.label(info))
        href = self.media.href(info)
        line = f"- {link(label, href)}{_size_and_type(info.get('mime_type'), info.get('size'))}"
        if MediaIndex.is_image(info) and not self.media.was_shown(info):  # each image shown once
            line += f"\n\n  !{link(label, href)}"
        return line

    def history(self) -> str:
        if self.history_mode == "omit":
            return ""
        if self.history_mode == "separate":
            return history_link(self.key, self.issue)
        return self.history_body()

    def history_body(self) -> str:
        return history_section(self.issue, self.definitions, _user)

    def render(self) -> "RenderedIssue":
        sections = [
            ("Description", self.description()),
            ("Environment", self.environment()),
            ("Linked Issues", self.linked_issues()),
            ("Children", self.children()),
            ("Worklogs", self.worklogs()),
            ("Custom Fields", self.custom_fields()),
            ("Comments", self.comments()),
            ("Attachments", self.attachments()),
            ("History", self.history()),
        ]
        hierarchy = self.hierarchy_lines()
        parts = [self.title() + (f"\n\n{hierarchy}" if hierarchy else "")]
        parts.extend(f"## {name}\n\n{body}" for name, body in sections if body.strip())
        front = self.frontmatter()
        # The whole body once more: text from separate fields can meet on a line (a title, a table row).
        text = dump_frontmatter(front) + "\n" + defuse_gfm_autolinks("\n\n".join(parts)) + "\n"
        return RenderedIssue(text, front)


def _comment_heading(comment: Mapping[str, Any]) -> str:
    """``### Author · created (edited updated)``."""
    heading = f"### {escape_text(_user(comment.get('author')) or 'Unknown author')}"
    created = display_datetime(comment.get("created"))
    if created:
        heading += f" · {created}"
    updated = comment.get("updated")
    if updated and normalize_datetime(updated) != normalize_datetime(comment.get("created")):
        heading += f" (edited {display_datetime(updated)})"
    return heading


def _size_and_type(mime_type: Any, size: Any) -> str:
    details = []
    if mime_type:
        details.append(escape_text(_plain(mime_type)))
    if isinstance(size, int) and not isinstance(size, bool):
        details.append(human_size(size))
    return f" ({', '.join(details)})" if details else ""


@dataclass(frozen=True)
class RenderedIssue:
    """An issue file's text and the frontmatter it was written from (``scalar_as_written`` gives
    its values as the file's YAML reads back)."""

    text: str
    frontmatter: dict[str, Any]


def render_issue(issue: Mapping[str, Any], **options: Any) -> str:
    """The Markdown file for one issue (frontmatter + sections), ending with one newline: the text of
    ``render_issue_document`` (which see for ``options``)."""
    return render_issue_document(issue, **options).text


def render_issue_document(
    issue: Mapping[str, Any],
    *,
    field_definitions: Iterable[Mapping[str, Any]] | None = None,
    attachments: Iterable[Mapping[str, Any]] | None = None,
    base_url: str = "",
    known_issue_keys: Iterable[str] = frozenset(),
    include_custom_fields: Sequence[str] | None = None,
    exclude_custom_fields: Sequence[str] = (),
    attachments_dir: str = "attachments",
    history: str = "inline",
    children: Iterable[Mapping[str, Any]] = (),
) -> RenderedIssue:
    """The Markdown file for one issue (frontmatter + sections, ending with one newline) and its frontmatter.

    ``issue`` is the JSON of ``GET /issue`` or bulk fetch (``fields``; ``renderedFields`` and
    ``names`` optional); ``field_definitions`` the list from ``GET /field``; ``attachments`` the
    AttachmentHandler info dicts. Issues in ``known_issue_keys`` are linked to their local file,
    others to ``{base_url}/browse/KEY``. Custom fields are filtered by name or id. ``history``:
    ``inline`` (a History section), ``separate`` (a link to ``KEY.history.md``, see
    :func:`render_issue_history`) or ``omit``. ``children``: issues that name this one as their
    parent besides Jira's ``subtasks`` (references as Jira writes them: ``key``, ``fields`` with
    ``summary``, ``status``, ``issuetype``), listed after the sub-tasks in key order.

    Raises IssueError (a ValueError) when ``issue`` has no valid key, or its Markdown would be
    longer than MAX_ISSUE_MARKDOWN_CHARS.
    """
    renderer = _IssueRenderer(
        issue,
        field_definitions=field_definitions,
        attachments=attachments,
        base_url=base_url,
        known_issue_keys=known_issue_keys,
        include_custom_fields=include_custom_fields,
        exclude_custom_fields=exclude_custom_fields,
        attachments_dir=attachments_dir,
        history=history,
        children=children,
    )
    rendered = renderer.render()
    if len(rendered.text) > MAX_ISSUE_MARKDOWN_CHARS:
        reason = f"its Markdown is {len(rendered.text):,} characters, over the limit of {MAX_ISSUE_MARKDOWN_CHARS:,}"
        raise IssueError(renderer.key, reason)
    return rendered


def render_issue_history(
    issue: Mapping[str, Any], *, field_definitions: Iterable[Mapping[str, Any]] | None = None
) -> str:
    """``KEY.history.md``: the issue's History section as a file of its own (the ``separate`` setting)."""
    renderer = _IssueRenderer(
        issue,
        field_definitions=field_definitions,
        attachments=(),
        base_url="",
        known_issue_keys=(),
        include_custom_fields=None,
        exclude_custom_fields=(),
        attachments_dir="attachments",
    )
    return history_document(renderer.key, renderer.history_body())
