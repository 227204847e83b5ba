"""A sample Jira data set of any size, generated issue by issue when asked for.

Start-up draws only a compact skeleton per issue (project, number, created, updated, type,
parent) from the seeded generator, in arrays; everything else about an issue (summary, fields,
attachments, documents, comments, worklogs) comes from a generator seeded by the seed and the
issue's number, the moment the issue is asked for, and is kept in a small cache. Links pair an
issue with one a few numbers away, so both ends are computed from either side. Search uses an
index of the issues sorted by ``updated``.

The data differ from the eager data set's (`Dataset`, which draws every issue from one
generator in turn); the same seed, `now` and size always give the same data.
"""

import bisect
import hashlib
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import accumulate

from jarkdown_pipeline.sample_jira.config import SampleJiraConfig
from jarkdown_pipeline.sample_jira.data import (
    _ISSUE_TYPES,
    _NORMAL_NAMES,
    _STATUSES,
    _SUMMARY_OBJECTS,
    _SUMMARY_VERBS,
    HOSTILE_NAMES,
    HUGE_ATTACHMENT_NAME,
    Dataset,
    SampleAttachment,
    SampleIssue,
    SampleLink,
)
from jarkdown_pipeline.sample_jira.jql import BoundQuery, IssueFacts

FIRST_ISSUE_ID = 10001
CACHED_ISSUES = 1000  # generated issues kept (a page of a search or a bulk fetch needs at most 100)
_TYPE_NAMES = [name for name, _ in _ISSUE_TYPES]
_TYPE_CUMULATIVE = list(accumulate(weight for _, weight in _ISSUE_TYPES))
_PARENT_TYPES = {"Story", "Task", "Bug"}
# A linked issue is this many numbers away (either way): the other end finds the link by looking
# at the few issues that could have chosen it.
_LINK_OFFSETS = tuple(sign * step for step in (1, 2, 3, 5, 8, 13, 34, 89, 233, 610, 1597) for sign in (1, -1))
_LINK_SHARE = 300  # per mille of issues with an outward link


def _stable_hash(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def _ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class _KeysByIndex(Sequence):
    """Every issue key, computed from the skeleton (documents mention random issues)."""

    def __init__(self, dataset: "LazyDataset") -> None:
        self._ds = dataset

    def __len__(self) -> int:
        return self._ds.size

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._ds.key_of(i) for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._ds.key_of(index % len(self))


class _IssuesByKey(Mapping):
    """key -> issue, generated on access; membership and length need no generation."""

    def __init__(self, dataset: "LazyDataset") -> None:
        self._ds = dataset

    def __getitem__(self, key: str) -> SampleIssue:
        index = self._ds.index_of_key(key)
        if index is None:
            raise KeyError(key)
        return self._ds.issue_at(index)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._ds.index_of_key(key) is not None

    def __iter__(self) -> Iterator[str]:
        return (self._ds.key_of(i) for i in self._ds.live_indices())

    def __len__(self) -> int:
        return self._ds.size - len(self._ds.deleted)


class _IssuesById(Mapping):
    def __init__(self, dataset: "LazyDataset") -> None:
        self._ds = dataset

    def __getitem__(self, issue_id: int) -> SampleIssue:
        index = self._ds.index_of_id(issue_id)
        if index is None:
            raise KeyError(issue_id)
        return self._ds.issue_at(index)

    def __iter__(self) -> Iterator[int]:
        return (FIRST_ISSUE_ID + i for i in self._ds.live_indices())

    def __len__(self) -> int:
        return self._ds.size - len(self._ds.deleted)


class _AttachmentsById(Mapping):
    """attachment id -> attachment: the id says which issue it belongs to."""

    def __init__(self, dataset: "LazyDataset") -> None:
        self._ds = dataset

    def __getitem__(self, attachment_id: int) -> SampleAttachment:
        index = (int(attachment_id) - FIRST_ISSUE_ID) // self._ds.attachment_slots
        if int(attachment_id) < FIRST_ISSUE_ID or self._ds.index_of_id(FIRST_ISSUE_ID + index) is None:
            raise KeyError(attachment_id)
        for attachment in self._ds.issue_at(index).attachments:
            if attachment.id == int(attachment_id):
                return attachment
        raise KeyError(attachment_id)

    def __iter__(self) -> Iterator[int]:
        return (a.id for issue in self._ds.iter_issues() for a in issue.attachments)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LazyDataset(Dataset):
    """The `Dataset` interface over issues generated on demand (see the module's docstring)."""

    def _generate(self) -> None:
        config = self.config
        self.size = config.issue_count
        self.deleted: set[int] = set()
        self.issues_generated = 0  # how many times an issue was generated (cache misses)
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, SampleIssue] = OrderedDict()
        self._pinned: dict[int, SampleIssue] = {}  # edited issues (and the huge attachment's) stay as they are
        self.attachment_slots = config.max_attachments_per_issue + 1  # + the huge attachment
        self._comment_slots = config.max_comments_per_issue + 1
        self._worklog_slots = config.max_worklogs_per_issue + 1
        # Comments and worklogs added by edits are numbered after every generated one.
        self._next_comment_id = 10000 + self.size * self._comment_slots
        self._next_worklog_id = 10000 + self.size * self._worklog_slots
        rng = random.Random(config.seed)
        self._generate_people(rng)
        self._build_skeleton(rng)
        self._all_keys = _KeysByIndex(self)
        self.issues = _IssuesByKey(self)  # type: ignore[assignment]
        self.issues_by_id = _IssuesById(self)  # type: ignore[assignment]
        self.attachments = _AttachmentsById(self)  # type: ignore[assignment]
        self._huge_index = self._huge_attachment_target()
        if self._huge_index is not None:
            target = self.issue_at(self._huge_index)
            self._pinned[self._huge_index] = target
            self.huge_attachment = target.attachments[-1]

    @property
    def is_lazy(self) -> bool:
        return True

    # ---------------------------------------------------------------- skeleton

    def _build_skeleton(self, rng: random.Random) -> None:
        """Project, created, updated for every issue (numbered in order of creation), then type and parent."""
        config = self.config
        now_ms = int(self.now.timestamp() * 1000)
        window_ms = config.days * 86_400_000
        project_count = len(self.projects)
        drafts = []
        for _ in range(self.size):
            project = min(int(rng.random() ** 1.3 * project_count), project_count - 1)
            updated = now_ms - int(window_ms * rng.random())
            updated = updated - updated % 1000 + rng.randrange(1000)
            drafts.append((updated - rng.randrange(0, 20 * 86400) * 1000, updated, project))
        drafts.sort()
        self._created = array("q", (d[0] for d in drafts))
        self._updated = array("q", (d[1] for d in drafts))
        self._project = array("H", (d[2] for d in drafts))
        del drafts
        self._number = array("I", bytes(4 * self.size))
        self._members: list[array] = [array("I") for _ in self.projects]  # index by number - 1
        for index, project in enumerate(self._project):
            self._members[project].append(index)
            self._number[index] = len(self._members[project])
        self._assign_types_and_parents(rng)
        order = sorted(range(self.size), key=lambda i: (self._updated[i], i))
        self._by_updated = array("I", order)
        self._updated_sorted = array("q", (self._updated[i] for i in order))

    def _assign_types_and_parents(self, rng: random.Random) -> None:
        self._type = array("B", bytes(self.size))
        self._parent = array("i", [-1]) * self.size
        self._subtasks: dict[int, list[int]] = {}
        parents: list[array] = [array("I") for _ in self.projects]
        epics: list[array] = [array("I") for _ in self.projects]
        total = _TYPE_CUMULATIVE[-1]
        for index in range(self.size):
            project = self._project[index]
            kind = _TYPE_NAMES[bisect.bisect_right(_TYPE_CUMULATIVE, rng.random() * total)]
            if kind == "Sub-task" and not parents[project]:
                kind = "Task"
            if kind == "Sub-task":
                parent = parents[project][rng.randrange(len(parents[project]))]
                self._parent[index] = parent
                self._subtasks.setdefault(parent, []).append(index)
            elif kind in _PARENT_TYPES and epics[project] and rng.random() < 0.4:
                self._parent[index] = epics[project][rng.randrange(len(epics[project]))]
            self._type[index] = _TYPE_NAMES.index(kind)
            if kind in _PARENT_TYPES:
                parents[project].append(index)
            elif kind == "Epic":
                epics[project].append(index)

    def _huge_attachment_target(self) -> int | None:
        config = self.config
        if not config.huge_attachment_bytes:
            return None
        if config.huge_attachment_issue:
            index = self.index_of_key(config.huge_attachment_issue)
            if index is None:
                raise ValueError(f"huge_attachment_issue {config.huge_attachment_issue!r} is not in the data set")
            return index
        return self._by_updated[-1] if self.size else None

    # ---------------------------------------------------------------- look-ups

    def key_of(self, index: int) -> str:
        return f"{self.projects[self._project[index]].key}-{self._number[index]}"

    def index_of_key(self, key: str) -> int | None:
        project_key, _, number = key.strip().upper().rpartition("-")
        if not number.isdigit():
            return None
        for position, project in enumerate(self.projects):
            if project.key == project_key:
                members = self._members[position]
                number_value = int(number)
                if 1 <= number_value <= len(members) and members[number_value - 1] not in self.deleted:
                    return members[number_value - 1]
        return None

    def index_of_id(self, issue_id: int) -> int | None:
        index = int(issue_id) - FIRST_ISSUE_ID
        return index if 0 <= index < self.size and index not in self.deleted else None

    def live_indices(self) -> Iterator[int]:
        return (i for i in range(self.size) if i not in self.deleted)

    def find_issue(self, id_or_key: str) -> SampleIssue | None:
        text = str(id_or_key).strip()
        index = self.index_of_id(int(text)) if text.isdigit() else self.index_of_key(text)
        return None if index is None else self.issue_at(index)

    def find_issue_ref(self, id_or_key: str) -> SampleIssue | None:
        """The issue if generated already, else only what a reference shows (no documents, comments...)."""
        text = str(id_or_key).strip()
        index = self.index_of_id(int(text)) if text.isdigit() else self.index_of_key(text)
        if index is None:
            return None
        with self._lock:
            known = self._pinned.get(index) or self._cache.get(index)
        return known if known is not None else self._issue_head(index, random.Random(self._issue_seed(index)))

    def sorted_issues(self) -> list[SampleIssue]:
        return list(self.iter_issues())

    def iter_issues(self) -> Iterator[SampleIssue]:
        return (self.issue_at(i) for i in self.live_indices())

    def subtasks_of(self, issue: SampleIssue) -> list[SampleIssue]:
        return [self.issue_at(i) for i in self._subtask_indices(issue)]

    def subtask_refs(self, issue: SampleIssue) -> list[SampleIssue]:
        return [ref for i in self._subtask_indices(issue) if (ref := self.find_issue_ref(str(FIRST_ISSUE_ID + i)))]

    def _subtask_indices(self, issue: SampleIssue) -> list[int]:
        return [i for i in self._subtasks.get(issue.id - FIRST_ISSUE_ID, []) if i not in self.deleted]

    def matching_facts(self, bound: BoundQuery) -> list[IssueFacts]:
        facts = (self._facts(i) for i in self._candidates(bound))
        return [f for f in facts if bound.matches(f)]

    def _candidates(self, bound: BoundQuery) -> Iterator[int]:
        """Issues that may match: those a top-level key clause names, or those in the ``updated`` bounds."""
        named = bound.key_candidates()
        if named is not None:
            found = {self.index_of_id(int(v)) if v.isdigit() else self.index_of_key(v) for v in named}
            return iter(sorted(i for i in found if i is not None))
        low, high = bound.updated_bounds()
        first = 0 if low is None else bisect.bisect_left(self._updated_sorted, int(low.timestamp() * 1000))
        last = (
            len(self._updated_sorted)
            if high is None
            else bisect.bisect_right(self._updated_sorted, int(high.timestamp() * 1000))
        )
        return (self._by_updated[p] for p in range(first, last) if self._by_updated[p] not in self.deleted)

    def _facts(self, index: int) -> IssueFacts:
        project = self.projects[self._project[index]].key
        return IssueFacts(
            FIRST_ISSUE_ID + index, f"{project}-{self._number[index]}", project,
            _ms_to_datetime(self._updated[index]), _ms_to_datetime(self._created[index]),
        )  # fmt: skip

    # ---------------------------------------------------------------- generation of one issue

    def issue_at(self, index: int) -> SampleIssue:
        with self._lock:
            issue = self._pinned.get(index)
            if issue is not None:
                return issue
            issue = self._cache.get(index)
            if issue is not None:
                self._cache.move_to_end(index)
                return issue
            issue = self._generate_issue(index)
            self._cache[index] = issue
            if len(self._cache) > CACHED_ISSUES:
                self._cache.popitem(last=False)
            return issue

    def _issue_seed(self, index: int) -> str:
        return f"{self.config.seed}/issue/{index}"

    def _issue_head(self, index: int, rng: random.Random) -> SampleIssue:
        """Key, type, times and parent from the skeleton; summary, status and priority: the issue's first draws."""
        parent = self._parent[index]
        return SampleIssue(
            id=FIRST_ISSUE_ID + index, key=self.key_of(index), project=self.projects[self._project[index]],
            issue_type=_TYPE_NAMES[self._type[index]],
            summary=f"{rng.choice(_SUMMARY_VERBS)} {rng.choice(_SUMMARY_OBJECTS)}",
            status_index=rng.randrange(len(_STATUSES)), priority_index=rng.choices(range(5), weights=[1, 3, 6, 3, 1])[0],
            created=_ms_to_datetime(self._created[index]), updated=_ms_to_datetime(self._updated[index]),
            reporter=self.users[0], assignee=None,
            parent_key=self.key_of(parent) if parent >= 0 and parent not in self.deleted else None,
        )  # fmt: skip

    def _generate_issue(self, index: int) -> SampleIssue:
        self.issues_generated += 1
        rng = random.Random(self._issue_seed(index))
        issue = self._issue_head(index, rng)
        issue.reporter = rng.choice(self.users)
        issue.assignee = rng.choice(self.users) if rng.random() < 0.8 else None
        self._fill_labels_and_dates(rng, issue)
        # Ids numbered per issue, so that any issue's are known without generating the others.
        saved = (self._next_attachment_id, self._next_comment_id, self._next_worklog_id)
        self._next_attachment_id = 10000 + index * self.attachment_slots
        self._next_comment_id = 10000 + index * self._comment_slots
        self._next_worklog_id = 10000 + index * self._worklog_slots
        try:
            self._fill_content(rng, issue, index)
        finally:
            self._next_attachment_id, self._next_comment_id, self._next_worklog_id = saved
        issue.links = self._links_of(index)
        return issue

    def _fill_content(self, rng: random.Random, issue: SampleIssue, index: int) -> None:
        showcase = issue.number == 1  # each project's first issue
        for name in self._attachment_names(rng, showcase, index):
            self._add_attachment(rng, issue, name, size=None)
        self._fill_documents(rng, issue, self._all_keys, showcase)
        if index == self._huge_index:
            self._add_attachment(rng, issue, HUGE_ATTACHMENT_NAME, size=self.config.huge_attachment_bytes)

    def _attachment_names(self, rng: random.Random, showcase: bool, index: int) -> list[str]:
        count = rng.randint(self.config.min_attachments_per_issue, self.config.max_attachments_per_issue)
        names = [rng.choice(_NORMAL_NAMES) for _ in range(count)]
        if showcase and count >= 1:
            names[0] = "screenshot.png"  # the showcase embeds an image
        elif count >= 1 and rng.random() < 0.2:
            names[-1] = HOSTILE_NAMES[index % len(HOSTILE_NAMES)]
        if count >= 2 and (index < 50 or rng.random() < 0.1):
            names[1] = names[0]  # same filename twice in one issue
        return names

    def _register_attachment(self, attachment: SampleAttachment) -> None:
        pass  # found through its id (see _AttachmentsById)

    def _outward_link(self, index: int) -> tuple[int, int] | None:
        """(other issue, link type) when this issue links out; the other is a few numbers away."""
        roll = _stable_hash(self.config.seed, "link", index)
        if roll % 1000 >= _LINK_SHARE:
            return None
        other = index + _LINK_OFFSETS[(roll >> 10) % len(_LINK_OFFSETS)]
        if not 0 <= other < self.size:
            return None
        return other, (roll >> 20) % 4

    def _links_of(self, index: int) -> list[SampleLink]:
        links = []
        outward = self._outward_link(index)
        if outward is not None:
            links.append(SampleLink(str(10000 + index + 1), outward[1], True, self.key_of(outward[0])))
        for offset in _LINK_OFFSETS:
            source = index - offset
            if 0 <= source < self.size and (chosen := self._outward_link(source)) is not None and chosen[0] == index:
                links.append(SampleLink(str(10000 + source + 1), chosen[1], False, self.key_of(source)))
        return links

    # ---------------------------------------------------------------- mutations

    def touch_issue(self, key: str, updated: datetime | None = None, comment: str | None = None) -> SampleIssue:
        with self._lock:
            index = self.index_of_key(key) if not str(key).strip().isdigit() else self.index_of_id(int(key))
            if index is None:
                raise KeyError(f"no issue {key!r} in the sample Jira")
            self._pinned[index] = self.issue_at(index)
            issue = super().touch_issue(key, updated=updated, comment=comment)
            self._move_in_index(index, int(issue.updated.timestamp() * 1000))
            return issue

    def _move_in_index(self, index: int, updated_ms: int) -> None:
        position = bisect.bisect_left(self._updated_sorted, self._updated[index])
        while self._by_updated[position] != index:
            position += 1
        del self._by_updated[position]
        del self._updated_sorted[position]
        self._updated[index] = updated_ms
        position = bisect.bisect_right(self._updated_sorted, updated_ms)
        self._by_updated.insert(position, index)
        self._updated_sorted.insert(position, updated_ms)

    def move_issue(self, key: str, project_key: str, updated: datetime | None = None) -> SampleIssue:
        # Keys are computed from positions here: a moved issue would need its own bookkeeping.
        raise NotImplementedError("moving issues needs the eager data set (generation='eager')")

    def delete_issue(self, key: str) -> list[str]:
        """Delete an issue and its sub-tasks; issues that link to them (or had them as parent) no longer do."""
        with self._lock:
            issue = self.find_issue(key)
            if issue is None:
                raise KeyError(f"no issue {key!r} in the sample Jira")
            doomed = [issue.id - FIRST_ISSUE_ID] + [s.id - FIRST_ISSUE_ID for s in self.subtasks_of(issue)]
            keys = {self.key_of(i) for i in doomed}
            self.generation += 1
            self.deleted.update(doomed)
            for index in doomed:
                self._cache.pop(index, None)
                self._pinned.pop(index, None)
            for other in [*self._cache.values(), *self._pinned.values()]:
                other.links = [link for link in other.links if link.other_key not in keys]
                if other.parent_key in keys:
                    other.parent_key = None
            return sorted(keys)


def make_dataset(config: SampleJiraConfig, site_url: str) -> Dataset:
    """The eager data set (as it always was) or the lazy one, as `config.generation` says."""
    return LazyDataset(config, site_url) if config.uses_lazy_generation else Dataset(config, site_url)
