"""The change history of a sample issue, generated on demand from the seed and the issue.

Nothing is stored per issue: an issue's changelog is drawn from a generator seeded by the seed and
the issue's id, between its creation and ``history_until`` (its first ``updated``), walked
backwards from the issue's current status and assignee so that the history ends where the issue
is. Edits made at run time (``touch``) add their entries after it (``SampleIssue.edits``).

Sizes are Jira-like: most issues have a handful of entries, one in ten more than Cloud inlines,
and one issue (``long_history_issue``, default the first issue) hundreds.
"""

import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jarkdown_pipeline.sample_jira.data import Dataset, SampleIssue, SampleProject, SampleUser

LONG_HISTORY_ENTRIES = 300  # at least this many entries for the long-history issue
# Changelog entries kept, most recently used first: every changelog of a benchmark's thousand issues
# (a paged one is asked for again by each bulk changelog page, and generating it anew held every other
# answer, on both hosts, for milliseconds per issue), a bounded part of a lazy data set's.
_CACHED_ENTRIES = 50_000
# Names some custom fields had when they changed (Jira's changelog keeps the name of the day):
# the renderer names a field by its id's current name.
_OLD_NAMES = {"customfield_10016": "Story Points"}
_WORDS = (
    "the checkout retries on a timeout from the payment gateway and the nightly backfill replays "
    "events in order so that the ledger matches Überweisungen and the 東京 region failover keeps "
    "sessions | pipes *stars* `ticks` <angle> [brackets] while webhook signatures are verified"
).split()


@dataclass(frozen=True)
class SampleChangeItem:
    field: str
    fieldtype: str
    field_id: str
    from_value: str | None
    from_string: str | None
    to_value: str | None
    to_string: str | None


@dataclass(frozen=True)
class SampleChange:
    id: str
    author: "SampleUser"
    created: datetime
    items: tuple[SampleChangeItem, ...]


def long_text(rng: random.Random, low: int, high: int) -> str:
    """Prose of ``low`` to ``high`` characters, in lines (a description's plain text as a changelog holds it)."""
    target = rng.randint(low, high)
    words: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(_WORDS)
        words.append(word + ("\n" if rng.random() < 0.05 else ""))
        size += len(word) + 1
    return " ".join(words).replace("\n ", "\n").strip()


class ChangelogSource:
    """Each issue's changelog (generated entries, then its run-time edits), the recently used ones kept
    (up to _CACHED_ENTRIES entries)."""

    def __init__(self, dataset: "Dataset") -> None:
        self.ds = dataset
        self._cache: OrderedDict[tuple[int, datetime], list[SampleChange]] = OrderedDict()
        self._cached_entries = 0
        self._long_id: int | None = None

    def changes(self, issue: "SampleIssue") -> list[SampleChange]:
        return self.generated(issue) + list(issue.edits)

    def generated(self, issue: "SampleIssue") -> list[SampleChange]:
        until = issue.history_until or issue.updated
        cache_key = (issue.id, until)
        cached = self._cache.get(cache_key)
        if cached is not None:
            self._cache.move_to_end(cache_key)
            return cached
        cached = self._cache[cache_key] = _Walk(self.ds, issue, until, self._entry_count(issue)).changes()
        self._cached_entries += len(cached)
        while self._cached_entries > _CACHED_ENTRIES and len(self._cache) > 1:
            self._cached_entries -= len(self._cache.popitem(last=False)[1])
        return cached

    def long_history_id(self) -> int | None:
        if self._long_id is None:
            named = self.ds.config.long_history_issue
            issue = self.ds.find_issue(named) if named else next(iter(self.ds.iter_issues()), None)
            self._long_id = issue.id if issue is not None else -1
        return self._long_id

    def _entry_count(self, issue: "SampleIssue") -> int:
        rng = random.Random(f"{self.ds.config.seed}/changelog-size/{issue.id}")
        inline = max(self.ds.config.inline_changelog_limit, 1)
        if issue.id == self.long_history_id():
            return LONG_HISTORY_ENTRIES + rng.randrange(80)
        if rng.random() < 0.1:
            return rng.randint(inline + 1, 3 * inline)
        return rng.randint(0, 12)


class _Walk:
    """Draws ``count`` changes of one issue, newest first, then gives them oldest first."""

    def __init__(self, ds: "Dataset", issue: "SampleIssue", until: datetime, count: int) -> None:
        self.ds = ds
        self.issue = issue
        self.until = until
        self.count = count
        self.rng = random.Random(f"{ds.config.seed}/changelog/{issue.id}")
        # What each field holds after the change being drawn (walking back from the present).
        self.status = issue.status_index
        self.assignee = issue.assignee
        self.estimate = issue.original_estimate_seconds
        self.points: float | None = None
        self.priority = issue.priority_index
        self.labels = tuple(issue.labels)
        self.description = long_text(self.rng, 200, 1200)

    def changes(self) -> list[SampleChange]:
        span = max((self.until - self.issue.created).total_seconds(), 1.0)
        moments = sorted(
            (self.issue.created + timedelta(seconds=span * self.rng.random())).replace(microsecond=0)
            for _ in range(self.count)
        )
        drawn = []
        for position in range(self.count - 1, -1, -1):  # newest first: each draw says what came before
            items = self._items()
            drawn.append(
                SampleChange(
                    id=str(self.issue.id * 1000 + position),
                    author=self.rng.choice(self.ds.users),
                    created=moments[position].replace(microsecond=self.rng.randrange(1000) * 1000),
                    items=items,
                )
            )
        drawn.reverse()
        return drawn

    def _items(self) -> tuple[SampleChangeItem, ...]:
        kinds: list[Callable[[], SampleChangeItem]] = [self._status] * 4 + [self._assignee] * 2
        kinds += [self._estimate, self._points, self._priority, self._labels, self._description, self._release_notes]
        first = self.rng.choice(kinds)
        items = [first()]
        if first == self._status and self.rng.random() < 0.3:
            items.append(self._assignee())  # a transition that reassigns
        return tuple(items)

    def _status(self) -> SampleChangeItem:
        statuses = self.ds.status_names()
        after = self.status
        before = self.rng.choice([i for i in range(len(statuses)) if i != after])
        self.status = before
        (before_name, before_id), (after_name, after_id) = statuses[before], statuses[after]
        return SampleChangeItem("status", "jira", "status", before_id, before_name, after_id, after_name)

    def _assignee(self) -> SampleChangeItem:
        after = self.assignee
        others = [u for u in self.ds.users if u is not after]
        before = None if self.rng.random() < 0.25 else self.rng.choice(others)
        self.assignee = before
        user_id = self.ds.changelog_user_id
        return SampleChangeItem(
            "assignee", "jira", "assignee",
            user_id(before) if before else None, before.display_name if before else None,
            user_id(after) if after else None, after.display_name if after else None,
        )  # fmt: skip

    def _estimate(self) -> SampleChangeItem:
        after = self.estimate
        before = self.rng.choice([None, 1800, 3600, 4 * 3600, 8 * 3600, 16 * 3600, 40 * 3600])
        self.estimate = before
        text = [None if v is None else str(v) for v in (before, after)]
        return SampleChangeItem(
            "timeoriginalestimate", "jira", "timeoriginalestimate", text[0], text[0], text[1], text[1]
        )

    def _points(self) -> SampleChangeItem:
        after = self.points
        before = self.rng.choice([None, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0])
        self.points = before
        text = [None if v is None else f"{v:g}" for v in (before, after)]
        field_id = "customfield_10016"
        return SampleChangeItem(_OLD_NAMES[field_id], "custom", field_id, None, text[0], None, text[1])

    def _priority(self) -> SampleChangeItem:
        names = self.ds.priority_names()
        after = self.priority
        before = self.rng.choice([i for i in range(len(names)) if i != after])
        self.priority = before
        (before_name, before_id), (after_name, after_id) = names[before], names[after]
        return SampleChangeItem("priority", "jira", "priority", before_id, before_name, after_id, after_name)

    def _labels(self) -> SampleChangeItem:
        after = self.labels
        pool = ["backend", "frontend", "perf", "security", "tech-debt", "customer", "ünïcode"]
        before = tuple(sorted(self.rng.sample(pool, self.rng.randint(0, 3))))
        self.labels = before
        return SampleChangeItem("labels", "jira", "labels", None, " ".join(before), None, " ".join(after))

    def _description(self) -> SampleChangeItem:
        after = self.description
        before = long_text(self.rng, 150, 3000) if self.rng.random() < 0.9 else ""
        self.description = before
        return SampleChangeItem("description", "jira", "description", None, before or None, None, after or None)

    def _release_notes(self) -> SampleChangeItem:
        before, after = long_text(self.rng, 40, 600), long_text(self.rng, 40, 600)
        return SampleChangeItem("Release Notes", "custom", "customfield_10034", None, before, None, after)


def summary_edit(issue: "SampleIssue", author: "SampleUser", before: str, when: datetime) -> SampleChange:
    """The entry a run-time edit of the summary adds."""
    position = 900 + len(issue.edits)  # after any generated entry's number
    item = SampleChangeItem("summary", "jira", "summary", None, before, None, issue.summary)
    return SampleChange(id=str(issue.id * 1000 + position), author=author, created=when, items=(item,))


def key_change(
    issue: "SampleIssue", author: "SampleUser", old_key: str, old_project: "SampleProject", when: datetime
) -> SampleChange:
    """The entry a move to another project adds, as Jira writes it: the Key and the project change."""
    position = 900 + len(issue.edits)
    items = (
        SampleChangeItem("Key", "jira", "issuekey", None, old_key, None, issue.key),
        SampleChangeItem(
            "project", "jira", "project", old_project.id, old_project.name, issue.project.id, issue.project.name
        ),
    )
    return SampleChange(id=str(issue.id * 1000 + position), author=author, created=when, items=items)


def parent_change(
    issue: "SampleIssue", author: "SampleUser", old: "SampleIssue | None", new: "SampleIssue | None", when: datetime
) -> SampleChange:
    """The entry a change of parent adds (Cloud's ``IssueParentAssociation``: ids, keys as strings)."""
    position = 900 + len(issue.edits)
    ids = [str(ref.id) if ref else None for ref in (old, new)]
    keys = [ref.key if ref else None for ref in (old, new)]
    item = SampleChangeItem("IssueParentAssociation", "jira", "parent", ids[0], keys[0], ids[1], keys[1])
    return SampleChange(id=str(issue.id * 1000 + position), author=author, created=when, items=(item,))
