"""The seeded data set: projects, users, fields and issues, the same for the same seed and `now`.

The model here is plain data; `shapes.py` turns it into Jira Cloud REST v3 JSON.
"""

import mimetypes
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jarkdown_pipeline.sample_jira import adf, content
from jarkdown_pipeline.sample_jira.changelog import (
    ChangelogSource,
    SampleChange,
    key_change,
    parent_change,
    summary_edit,
)
from jarkdown_pipeline.sample_jira.config import SampleJiraConfig
from jarkdown_pipeline.sample_jira.jql import BoundQuery, IssueFacts

HUGE_ATTACHMENT_NAME = "huge-dataset.bin"

# Custom field ids, as a Cloud site would number them.
SPRINT_FIELD = "customfield_10020"
STORY_POINTS_FIELD = "customfield_10016"
IMPACT_FIELD = "customfield_10030"
PLATFORMS_FIELD = "customfield_10031"
REVIEWER_FIELD = "customfield_10032"
TARGET_DATE_FIELD = "customfield_10033"
RELEASE_NOTES_FIELD = "customfield_10034"
CONTRIBUTORS_FIELD = "customfield_10035"
EPIC_LINK_FIELD = "customfield_10014"  # Data Center's Epic Link (Cloud sites keep the field, empty)

_USER_NAMES = [
    "Mia Krystof", "Zoë Ångström", "José Núñez", "李小龍", "Priya Raman", "Bob O'Brien",
    "Ola Nordmann", "Max <Tester> | *Ops*",
]  # fmt: skip
_NORMAL_NAMES = [
    "screenshot.png", "design-mockup.png", "server.log", "report-Q3.pdf", "data-export.csv", "archive.zip",
    "notes.md", "trace.bin", "Überblick Präsentation.pdf", "日本語の仕様書.txt", "résumé.docx", "diagram.png",
]  # fmt: skip
HOSTILE_NAMES = [
    "../../evil.txt", "a|b*c?.txt", "`whoami`.sh", "CON.txt", "NUL.png", "..", "trailing dot.", ".hidden",
    "<script>alert(1)</script>.html", "C:\\Windows\\evil.bat", "emoji 🚀 file.txt", "long-" + "x" * 240 + ".txt",
    "%2e%2e%2fencoded.txt", "name with [brackets] (1).md",
]  # fmt: skip
_TEXT_EXTENSIONS = {".txt", ".log", ".md", ".csv", ".sh", ".html", ".bat", ".json"}
_ISSUE_TYPES = [("Story", 30), ("Task", 30), ("Bug", 25), ("Epic", 5), ("Sub-task", 10)]
_STATUSES = [
    ("To Do", "new", "blue-gray", 2, "1"), ("In Progress", "indeterminate", "yellow", 4, "3"),
    ("In Review", "indeterminate", "yellow", 4, "10001"), ("Done", "done", "green", 3, "10002"),
]  # fmt: skip
_PRIORITIES = [("Highest", "1"), ("High", "2"), ("Medium", "3"), ("Low", "4"), ("Lowest", "5")]
_LINK_TYPES = [
    ("10000", "Blocks", "is blocked by", "blocks"), ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"), ("10003", "Relates", "relates to", "relates to"),
]  # fmt: skip
_IMPACT_OPTIONS = [("10100", "Low"), ("10101", "Medium"), ("10102", "High"), ("10103", "Critical — page someone")]
_PLATFORM_OPTIONS = [("10200", "Web"), ("10201", "iOS"), ("10202", "Android"), ("10203", "Desktop/Linux")]
_SUMMARY_VERBS = ["Fix", "Investigate", "Add", "Remove", "Migrate", "Document", "Speed up", "Harden"]
_SUMMARY_OBJECTS = [
    "checkout retries", "the nightly backfill", "webhook signature checks", "Überweisungs-Export",
    "dashboard latency", "the `cache` layer", "login on Safari", "CSV export with | pipes", "東京 region failover",
    "tenant migration [phase 2]", "rate limiting (429s)", "search *wildcards*",
]  # fmt: skip


@dataclass
class SampleUser:
    account_id: str
    display_name: str
    email: str
    time_zone: str
    active: bool = True


@dataclass
class SampleProject:
    id: str
    key: str
    name: str
    components: list[str]
    versions: list[str]
    lead: SampleUser


@dataclass
class SampleAttachment:
    id: int
    issue_key: str
    filename: str
    mime_type: str
    size: int
    kind: str
    created: datetime
    author: SampleUser
    media_id: str

    @property
    def extension(self) -> str:
        dot = self.filename.rfind(".")
        return self.filename[dot:] if dot > 0 else ""


@dataclass
class SampleComment:
    id: str
    author: SampleUser
    body: dict[str, Any]
    created: datetime
    updated: datetime
    visibility: dict[str, str] | None = None


@dataclass
class SampleWorklog:
    id: str
    author: SampleUser
    comment: dict[str, Any] | None
    started: datetime
    time_spent_seconds: int
    created: datetime
    updated: datetime


@dataclass
class SampleLink:
    id: str
    type_index: int
    outward: bool  # True: this issue -> other ("blocks"); False: other -> this ("is blocked by")
    other_key: str


@dataclass
class SampleIssue:
    id: int
    key: str
    project: SampleProject
    issue_type: str
    summary: str
    status_index: int
    priority_index: int
    created: datetime
    updated: datetime
    reporter: SampleUser
    assignee: SampleUser | None
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    fix_versions: list[str] = field(default_factory=list)
    description: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    duedate: date | None = None
    parent_key: str | None = None
    links: list[SampleLink] = field(default_factory=list)
    attachments: list[SampleAttachment] = field(default_factory=list)
    comments: list[SampleComment] = field(default_factory=list)
    worklogs: list[SampleWorklog] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    original_estimate_seconds: int | None = None
    # The changelog is generated up to here (the first `updated`); run-time edits add `edits` after it.
    history_until: datetime | None = None
    edits: list[Any] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])

    @property
    def sort_key(self) -> tuple[str, int]:
        return (self.project.key, self.number)


def _account_id(rng: random.Random) -> str:
    return "712020:" + str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    if low >= high:
        return low
    return int(round(low * (high / low) ** rng.random()))


def format_duration(seconds: int) -> str:
    """Jira's time-tracking format ('1d 2h 30m', 8-hour days, 5-day weeks)."""
    parts = []
    for unit, length in (("w", 5 * 8 * 3600), ("d", 8 * 3600), ("h", 3600), ("m", 60)):
        if seconds >= length:
            parts.append(f"{seconds // length}{unit}")
            seconds %= length
    return " ".join(parts) or "0m"


@dataclass
class _AttachmentNames:
    """Draws an eager data set's attachment names: hostile names in turn, and the same name twice in one issue."""

    hostile_counter: int = 0
    duplicate_done: bool = False

    def draw(self, rng: random.Random, config: SampleJiraConfig, showcase: bool) -> list[str]:
        count = rng.randint(config.min_attachments_per_issue, config.max_attachments_per_issue)
        names = [rng.choice(_NORMAL_NAMES) for _ in range(count)]
        if showcase and count >= 1:
            names[0] = "screenshot.png"  # the showcase embeds an image
        elif count >= 1 and rng.random() < 0.2:
            names[-1] = HOSTILE_NAMES[self.hostile_counter % len(HOSTILE_NAMES)]
            self.hostile_counter += 1
        if count >= 2 and (not self.duplicate_done or rng.random() < 0.1):
            names[1] = names[0]  # same filename twice in one issue
            self.duplicate_done = True
        return names


class Dataset:
    """The issues a sample Jira serves, plus run-time mutations (touch, delete)."""

    def __init__(self, config: SampleJiraConfig, site_url: str) -> None:
        self.config = config
        self.site_url = site_url.rstrip("/")
        now = config.now or datetime.now(UTC)
        self.now = now.astimezone(UTC).replace(microsecond=(now.microsecond // 1000) * 1000)
        self.users: list[SampleUser] = []
        self.projects: list[SampleProject] = []
        self.issues: dict[str, SampleIssue] = {}
        self.issues_by_id: dict[int, SampleIssue] = {}
        self.attachments: dict[int, SampleAttachment] = {}
        self.huge_attachment: SampleAttachment | None = None
        self.generation = 0  # bumped by every mutation (caches of rendered issues key on it)
        self._next_comment_id = 10000
        self._next_worklog_id = 10000
        self._next_attachment_id = 10000
        self._earlier_by_project: dict[str, list[SampleIssue]] = {}
        self.changelogs = ChangelogSource(self)
        # Keys issues had before a move, to their key now (Jira answers an old key with the issue).
        self.moved_keys: dict[str, str] = {}
        self._generate()
        del self._earlier_by_project
        for key, project in config.moved_issues:
            self.move_issue(key, project)

    # ---------------------------------------------------------------- look-ups

    def find_issue(self, id_or_key: str) -> SampleIssue | None:
        text = str(id_or_key).strip()
        if text.isdigit():
            return self.issues_by_id.get(int(text))
        key = text.upper()
        return self.issues.get(self.moved_keys.get(key, key))

    def project_by_value(self, value: str) -> SampleProject | None:
        for project in self.projects:
            if value.upper() == project.key or value == project.id or value.casefold() == project.name.casefold():
                return project
        return None

    def sorted_issues(self) -> list[SampleIssue]:
        return sorted(self.issues.values(), key=lambda issue: issue.id)

    def iter_issues(self) -> Iterator[SampleIssue]:
        """Every issue in id order."""
        return iter(self.sorted_issues())

    def find_issue_ref(self, id_or_key: str) -> SampleIssue | None:
        """An issue as another issue refers to it (key, summary, status, priority, type)."""
        return self.find_issue(id_or_key)

    def subtask_refs(self, issue: SampleIssue) -> list[SampleIssue]:
        """The sub-tasks as their parent refers to them."""
        return self.subtasks_of(issue)

    def matching_facts(self, bound: BoundQuery) -> list[IssueFacts]:
        """The search facts of every issue the query matches, unsorted."""
        facts = (IssueFacts(i.id, i.key, i.project.key, i.updated, i.created) for i in self.issues.values())
        return [f for f in facts if bound.matches(f)]

    @property
    def is_lazy(self) -> bool:
        return False

    def status(self, issue: SampleIssue) -> tuple[str, str, str, int, str]:
        return _STATUSES[issue.status_index]

    def status_names(self) -> list[tuple[str, str]]:
        """(name, id) of every status, by index."""
        return [(name, status_id) for name, _, _, _, status_id in _STATUSES]

    def priority_names(self) -> list[tuple[str, str]]:
        return list(_PRIORITIES)

    @staticmethod
    def changelog_user_id(user: SampleUser) -> str:
        """How a changelog item names a user (Cloud: the account id; Data Center's renderer maps it to the name)."""
        return user.account_id

    def changes_of(self, issue: SampleIssue) -> list[SampleChange]:
        """The issue's changelog, oldest first."""
        return self.changelogs.changes(issue)

    def link_type(self, index: int) -> tuple[str, str, str, str]:
        return _LINK_TYPES[index]

    def priority(self, issue: SampleIssue) -> tuple[str, str]:
        return _PRIORITIES[issue.priority_index]

    def subtasks_of(self, issue: SampleIssue) -> list[SampleIssue]:
        return sorted(
            (i for i in self.issues.values() if i.parent_key == issue.key and i.issue_type == "Sub-task"),
            key=lambda i: i.id,
        )

    def me(self) -> SampleUser:
        return self.users[0]

    # ---------------------------------------------------------------- mutations

    def clock(self) -> datetime:
        """The current time as the data set sees it: the fixed `now`, or the real time."""
        if self.config.now is not None:
            return self.now
        return datetime.now(UTC).replace(microsecond=0)

    def touch_issue(self, key: str, updated: datetime | None = None, comment: str | None = None) -> SampleIssue:
        """Edit an issue: new summary, `updated` bumped (and optionally a new comment)."""
        issue = self.find_issue(key)
        if issue is None:
            raise KeyError(f"no issue {key!r} in the sample Jira")
        if updated is None:
            updated = max(self.clock(), issue.updated + timedelta(minutes=1))
        elif updated.tzinfo is None:
            raise ValueError("updated must be time-zone aware")
        if issue.history_until is None:
            issue.history_until = issue.updated
        issue.updated = updated.astimezone(UTC)
        self.generation += 1
        before = issue.summary
        base = issue.summary.split(" (edit ", 1)[0]
        edits = int(issue.summary.rsplit("(edit ", 1)[1].rstrip(")")) + 1 if "(edit " in issue.summary else 1
        issue.summary = f"{base} (edit {edits})"
        issue.edits.append(summary_edit(issue, self.me(), before, issue.updated))
        if comment is not None:
            issue.comments.append(
                SampleComment(
                    id=str(self._take_comment_id()),
                    author=self.me(),
                    body={"type": "doc", "version": 1, "content": [adf.paragraph(adf.text(comment))]},
                    created=issue.updated,
                    updated=issue.updated,
                )  # fmt: skip
            )
        return issue

    def set_parent(self, key: str, parent_key: str | None, updated: datetime | None = None) -> SampleIssue:
        """Give an issue another parent (an epic for a story, task or bug; ``None``: none), as Jira's
        ``parent`` field edit does: `updated` bumped, a changelog entry. The old parent's JSON does not
        change (Cloud's epics do not list their children)."""
        issue = self.find_issue(key)
        parent = self.find_issue(parent_key) if parent_key is not None else None
        if issue is None or (parent_key is not None and parent is None):
            raise KeyError(f"no issue {key!r} or {parent_key!r} in the sample Jira")
        if parent is issue:
            raise ValueError(f"{issue.key} cannot be its own parent")
        old = self.find_issue(issue.parent_key) if issue.parent_key else None
        if issue.history_until is None:
            issue.history_until = issue.updated
        issue.updated = (updated or max(self.clock(), issue.updated + timedelta(minutes=1))).astimezone(UTC)
        issue.parent_key = parent.key if parent is not None else None
        issue.edits.append(parent_change(issue, self.me(), old, parent, issue.updated))
        self.generation += 1
        return issue

    def delete_issue(self, key: str) -> list[str]:
        """Delete an issue and its sub-tasks (as Jira's deleteSubtasks=true); returns the keys deleted."""
        issue = self.find_issue(key)
        if issue is None:
            raise KeyError(f"no issue {key!r} in the sample Jira")
        doomed = [issue] + self.subtasks_of(issue)
        self.generation += 1
        keys = {i.key for i in doomed}
        for gone in doomed:
            del self.issues[gone.key]
            del self.issues_by_id[gone.id]
            for attachment in gone.attachments:
                self.attachments.pop(attachment.id, None)
        for other in self.issues.values():
            other.links = [link for link in other.links if link.other_key not in keys]
            if other.parent_key in keys:
                other.parent_key = None
        return sorted(keys)

    def move_issue(self, key: str, project_key: str, updated: datetime | None = None) -> SampleIssue:
        """Move an issue to another project, as Jira does: a new key (the project's next number), the
        same id, `updated` bumped, a changelog entry for the Key and the project. The old key still
        finds it (``find_issue``), a search by it no longer does; links and sub-tasks follow it."""
        issue = self.find_issue(key)
        project = self.project_by_value(project_key)
        if issue is None:
            raise KeyError(f"no issue {key!r} in the sample Jira")
        if project is None or project is issue.project:
            raise ValueError(f"cannot move {issue.key} to {project_key!r}: not another project of the sample Jira")
        old_key, old_project = issue.key, issue.project
        taken = [i.number for i in self.issues.values() if i.project is project] + [
            int(k.rsplit("-", 1)[1]) for k in self.moved_keys if k.rsplit("-", 1)[0] == project.key
        ]
        if issue.history_until is None:
            issue.history_until = issue.updated
        issue.updated = (updated or max(self.clock(), issue.updated + timedelta(minutes=1))).astimezone(UTC)
        del self.issues[old_key]
        issue.key, issue.project = f"{project.key}-{max(taken, default=0) + 1}", project
        # Versions and components are the project's own: those the new project lacks are dropped, as Jira does.
        issue.fix_versions = [name for name in issue.fix_versions if name in project.versions]
        issue.components = [name for name in issue.components if name in project.components]
        self.issues[issue.key] = issue
        self.moved_keys = {old: (issue.key if new == old_key else new) for old, new in self.moved_keys.items()}
        self.moved_keys[old_key] = issue.key
        for other in self.issues.values():
            for link in other.links:
                if link.other_key == old_key:
                    link.other_key = issue.key
            if other.parent_key == old_key:
                other.parent_key = issue.key
        issue.edits.append(key_change(issue, self.me(), old_key, old_project, issue.updated))
        self.generation += 1
        return issue

    def _take_comment_id(self) -> int:
        self._next_comment_id += 1
        return self._next_comment_id

    def _take_worklog_id(self) -> int:
        self._next_worklog_id += 1
        return self._next_worklog_id

    # ---------------------------------------------------------------- generation

    def _generate(self) -> None:
        config = self.config
        rng = random.Random(config.seed)
        self._generate_people(rng)
        self._generate_issues(rng)

    def _generate_people(self, rng: random.Random) -> None:
        """Users and projects: the first draws of the seeded generator (the same in both data sets)."""
        config = self.config
        me = SampleUser(_account_id(rng), "Demo User", config.email, config.time_zone)
        self.users = [me]
        zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney", "Asia/Kolkata"]
        for index, name in enumerate(_USER_NAMES):
            handle = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum()) or f"user{index}"
            self.users.append(
                SampleUser(
                    _account_id(rng), name, f"{handle}@example.com", zones[index % len(zones)], active=index != 5
                )
            )
        for index, key in enumerate(config.projects):
            self.projects.append(
                SampleProject(
                    id=str(10000 + index),
                    key=key,
                    name=f"{key.title()} Project",
                    components=["API", "Frontend", "Database", "Infra"][: 2 + index % 3],
                    versions=[f"v{index + 1}.{minor}" for minor in range(3)],
                    lead=rng.choice(self.users),
                )  # fmt: skip
            )

    def _generate_issues(self, rng: random.Random) -> None:
        self._draft_issues(rng)
        keys = [issue.key for issue in self.sorted_issues()]
        showcase_projects: set[str] = set()
        names = _AttachmentNames()
        for issue in self.sorted_issues():
            showcase = issue.project.key not in showcase_projects  # each project's first issue
            showcase_projects.add(issue.project.key)
            self._fill_structure(rng, issue)
            for name in names.draw(rng, self.config, showcase):
                self._add_attachment(rng, issue, name, size=None)
            self._fill_documents(rng, issue, keys, showcase)
        self._fill_links(rng)
        self._add_huge_attachment(rng)

    def _draft_issues(self, rng: random.Random) -> None:
        """Every issue's head (project, key, type, summary, times, people), numbered in order of creation."""
        config = self.config
        # Times first: `updated` spread over the window so every day has work.
        window = timedelta(days=config.days)
        drafts = []
        for _ in range(config.issue_count):
            project = self.projects[min(int(rng.random() ** 1.3 * len(self.projects)), len(self.projects) - 1)]
            updated = self.now - window * rng.random()
            updated = updated.replace(microsecond=rng.randrange(1000) * 1000)
            created = updated - timedelta(seconds=rng.randrange(0, 20 * 86400))
            drafts.append((created, updated, project))
        drafts.sort(key=lambda d: d[0])
        numbers = {project.key: 0 for project in self.projects}
        for index, (created, updated, project) in enumerate(drafts):
            numbers[project.key] += 1
            issue_type = rng.choices([t for t, _ in _ISSUE_TYPES], weights=[w for _, w in _ISSUE_TYPES])[0]
            issue = SampleIssue(
                id=10001 + index, key=f"{project.key}-{numbers[project.key]}", project=project,
                issue_type=issue_type,
                summary=f"{rng.choice(_SUMMARY_VERBS)} {rng.choice(_SUMMARY_OBJECTS)}",
                status_index=rng.randrange(len(_STATUSES)), priority_index=rng.choices(range(5), weights=[1, 3, 6, 3, 1])[0],
                created=created, updated=updated, reporter=rng.choice(self.users),
                assignee=rng.choice(self.users) if rng.random() < 0.8 else None,
            )  # fmt: skip
            self.issues[issue.key] = issue
            self.issues_by_id[issue.id] = issue

    def _add_huge_attachment(self, rng: random.Random) -> None:
        config = self.config
        if not config.huge_attachment_bytes:
            return
        target = self.find_issue(config.huge_attachment_issue) if config.huge_attachment_issue else None
        if config.huge_attachment_issue and target is None:
            raise ValueError(f"huge_attachment_issue {config.huge_attachment_issue!r} is not in the data set")
        if target is None and self.issues:
            target = max(self.issues.values(), key=lambda i: (i.updated, i.id))
        if target is not None:
            self.huge_attachment = self._add_attachment(
                rng, target, HUGE_ATTACHMENT_NAME, size=config.huge_attachment_bytes
            )

    def _fill_structure(self, rng: random.Random, issue: SampleIssue) -> None:
        project = issue.project
        earlier = self._earlier_by_project.setdefault(project.key, [])
        if issue.issue_type == "Sub-task":
            parents = [i for i in earlier if i.issue_type in ("Story", "Task", "Bug")]
            if parents:
                issue.parent_key = rng.choice(parents).key
            else:
                issue.issue_type = "Task"
        elif issue.issue_type in ("Story", "Task", "Bug") and rng.random() < 0.4:
            epics = [i for i in earlier if i.issue_type == "Epic"]
            if epics:
                issue.parent_key = rng.choice(epics).key
        self._fill_labels_and_dates(rng, issue)
        earlier.append(issue)

    def _fill_labels_and_dates(self, rng: random.Random, issue: SampleIssue) -> None:
        project = issue.project
        issue.labels = sorted(
            rng.sample(
                ["backend", "frontend", "perf", "security", "tech-debt", "customer", "ünïcode"], rng.randint(0, 3)
            )
        )
        issue.components = sorted(rng.sample(project.components, rng.randint(0, min(2, len(project.components)))))
        issue.fix_versions = [rng.choice(project.versions)] if rng.random() < 0.5 else []
        if rng.random() < 0.3:
            issue.duedate = (issue.created + timedelta(days=rng.randint(3, 60))).date()
        if rng.random() < 0.5:
            issue.original_estimate_seconds = rng.choice([1800, 3600, 4 * 3600, 8 * 3600, 16 * 3600])

    def _fill_documents(
        self, rng: random.Random, issue: SampleIssue, issue_keys: Sequence[str], showcase: bool
    ) -> None:
        """Description, environment, custom fields, comments and worklogs (its attachments already added)."""
        ctx = adf.DocContext(
            rng=rng, site_url=self.site_url, users=[{"accountId": u.account_id, "displayName": u.display_name} for u in self.users],
            issue_keys=issue_keys, timestamp_ms=int(issue.created.timestamp() * 1000),  # type: ignore[arg-type]
            media=[adf.MediaRef(a.media_id, a.filename, a.kind == content.KIND_PNG) for a in issue.attachments],
        )  # fmt: skip
        if showcase:
            issue.description = adf.showcase_document(ctx)
        elif rng.random() < 0.95:
            issue.description = adf.random_document(ctx)
        ctx.media = []
        if rng.random() < 0.2:
            issue.environment = adf.random_document(ctx, blocks=1)
        self._fill_custom_fields(rng, issue, ctx)
        self._fill_comments(rng, issue, ctx)
        self._fill_worklogs(rng, issue, ctx)

    def _add_attachment(self, rng: random.Random, issue: SampleIssue, name: str, size: int | None) -> SampleAttachment:
        self._next_attachment_id += 1
        attachment_id = self._next_attachment_id
        dot = name.rfind(".")
        extension = name[dot:].lower() if dot > 0 else ""
        if extension == ".png" and size is None:
            kind = content.KIND_PNG
            size = len(content.png_bytes(self.config.seed, attachment_id))
        else:
            kind = content.KIND_TEXT if extension in _TEXT_EXTENSIONS else content.KIND_BINARY
            if size is None:
                size = _log_uniform(rng, self.config.attachment_min_bytes, self.config.attachment_max_bytes)
        mime = (
            "image/png"
            if kind == content.KIND_PNG
            else (mimetypes.guess_type("f" + extension)[0] if extension else None)
        )
        span = max((issue.updated - issue.created).total_seconds(), 0)
        attachment = SampleAttachment(
            id=attachment_id, issue_key=issue.key, filename=name,
            mime_type=mime or ("text/plain" if kind == content.KIND_TEXT else "application/octet-stream"),
            size=size, kind=kind, created=(issue.created + timedelta(seconds=span * rng.random())).replace(microsecond=0),
            author=rng.choice(self.users), media_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )  # fmt: skip
        issue.attachments.append(attachment)
        self._register_attachment(attachment)
        return attachment

    def _register_attachment(self, attachment: SampleAttachment) -> None:
        self.attachments[attachment.id] = attachment

    def _fill_custom_fields(self, rng: random.Random, issue: SampleIssue, ctx: adf.DocContext) -> None:
        custom: dict[str, Any] = {}
        if issue.issue_type in ("Story", "Task", "Bug") and rng.random() < 0.7:
            sprint_no = rng.randint(1, 6)
            start = (self.now - timedelta(days=14 * (6 - sprint_no) + 14)).replace(
                hour=8, minute=0, second=0, microsecond=0
            )
            custom[SPRINT_FIELD] = [
                {
                    "id": 100 + sprint_no, "name": f"{issue.project.key} Sprint {sprint_no}",
                    "state": "active" if sprint_no == 6 else "closed", "boardId": 1 + self.projects.index(issue.project),
                    "goal": rng.choice(["", "Ship the checkout rewrite", "Stabilise \"nightly\" jobs"]),
                    "startDate": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "endDate": (start + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                }
            ]  # fmt: skip
        if issue.issue_type in ("Story", "Bug") or rng.random() < 0.3:
            custom[STORY_POINTS_FIELD] = rng.choice([1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 0.5])
        if rng.random() < 0.6:
            custom[IMPACT_FIELD] = rng.choice(_IMPACT_OPTIONS)
        if rng.random() < 0.5:
            custom[PLATFORMS_FIELD] = sorted(rng.sample(_PLATFORM_OPTIONS, rng.randint(1, 3)))
        if rng.random() < 0.5:
            custom[REVIEWER_FIELD] = rng.choice(self.users)
        if rng.random() < 0.3:
            custom[CONTRIBUTORS_FIELD] = rng.sample(self.users, rng.randint(1, 3))
        if rng.random() < 0.4:
            custom[TARGET_DATE_FIELD] = (issue.created + timedelta(days=rng.randint(7, 90))).date()
        if rng.random() < 0.3:
            custom[RELEASE_NOTES_FIELD] = adf.random_document(ctx, blocks=1)
        issue.custom = custom

    def _fill_comments(self, rng: random.Random, issue: SampleIssue, ctx: adf.DocContext) -> None:
        roll = rng.random()
        limit = self.config.max_comments_per_issue
        if roll < 0.1 and limit > self.config.inline_comment_limit:
            count = rng.randint(self.config.inline_comment_limit + 1, limit)
        else:
            count = rng.randint(0, min(6, limit))
        span = max((issue.updated - issue.created).total_seconds(), 1)
        times = sorted(issue.created + timedelta(seconds=span * rng.random()) for _ in range(count))
        for created in times:
            created = created.replace(microsecond=rng.randrange(1000) * 1000)
            edited = rng.random() < 0.15
            visibility = None
            if rng.random() < 0.1:
                visibility = rng.choice(
                    [
                        {"type": "role", "value": "Administrators", "identifier": "Administrators"},
                        {
                            "type": "group",
                            "value": "jira-developers",
                            "identifier": "276f955c-63d7-42c8-9520-92d01dca0625",
                        },
                    ]
                )
            issue.comments.append(
                SampleComment(
                    id=str(self._take_comment_id()),
                    author=rng.choice(self.users),
                    body=adf.random_document(ctx, blocks=rng.randint(1, 2)),
                    created=created,
                    updated=min(created + timedelta(minutes=rng.randint(1, 90)), issue.updated) if edited else created,
                    visibility=visibility,
                )  # fmt: skip
            )

    def _fill_worklogs(self, rng: random.Random, issue: SampleIssue, ctx: adf.DocContext) -> None:
        roll = rng.random()
        limit = self.config.max_worklogs_per_issue
        if roll < 0.1 and limit > self.config.inline_worklog_limit:
            count = rng.randint(self.config.inline_worklog_limit + 1, limit)
        elif roll < 0.5:
            count = rng.randint(1, min(5, limit))
        else:
            count = 0
        span = max((issue.updated - issue.created).total_seconds(), 1)
        for _ in range(count):
            started = (issue.created + timedelta(seconds=span * rng.random())).replace(second=0, microsecond=0)
            logged = min(started + timedelta(minutes=rng.randint(5, 600)), issue.updated)
            issue.worklogs.append(
                SampleWorklog(
                    id=str(self._take_worklog_id()),
                    author=rng.choice(self.users),
                    comment=adf.random_document(ctx, blocks=1) if rng.random() < 0.7 else None,
                    started=started,
                    time_spent_seconds=900 * rng.randint(1, 32),
                    created=logged,
                    updated=logged,
                )  # fmt: skip
            )
        issue.worklogs.sort(key=lambda w: (w.started, int(w.id)))

    def _fill_links(self, rng: random.Random) -> None:
        ordered = self.sorted_issues()
        link_id = 10000
        for issue in ordered:
            if len(ordered) < 2 or rng.random() >= 0.3:
                continue
            other = rng.choice(ordered)
            if other is issue or any(link.other_key == other.key for link in issue.links):
                continue
            link_id += 1
            type_index = rng.randrange(len(_LINK_TYPES))
            issue.links.append(SampleLink(str(link_id), type_index, True, other.key))
            other.links.append(SampleLink(str(link_id), type_index, False, issue.key))
