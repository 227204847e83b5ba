"""The stages of one pipeline run, as plain async functions over a client and a knowledge base.

The Dagster assets are thin wrappers around these. No Dagster import, so the stages run and test
without it. Each stage isolates failures per issue: one bad issue is reported, never stops the
others. Fatal problems (authentication, a JQL Jira rejects) raise before anything is written.
"""

import asyncio
import contextlib
import gc
import logging
import os
import sys
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

from jarkdown_pipeline._file_thread import in_file_thread
from jarkdown_pipeline._memory import drop_in_turns, releasing_free_memory
from jarkdown_pipeline.attachment_handler import AttachmentHandler
from jarkdown_pipeline.attachment_prefetch import AttachmentPrefetch
from jarkdown_pipeline.exceptions import (
    AttachmentDownloadError,
    AuthenticationError,
    IssueError,
    IssueNotFoundError,
    JarkdownError,
    MalformedResponseError,
    describe_error,
)
from jarkdown_pipeline.issue_keys import is_issue_key, issue_sort_key
from jarkdown_pipeline.jira_api_client import BulkFetchResult, JiraApiClient
from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.knowledge_base import KnowledgeBase, KnownKeys, RenderOptions, StagedRawIssue
from jarkdown_pipeline.knowledge_base.moves import follow_moves, moves_among
from jarkdown_pipeline.progress import PROGRESS_INTERVAL_SECONDS, WindowProgress, progress_reports
from jarkdown_pipeline.render_worker import (
    RenderOutcome,
    RenderWorker,
    RenderWorkerGone,
    issue_error_reason,
    render_issue_outcome,
)
from jarkdown_pipeline.window_search import (
    WindowSearch,
    jql_date_literal,
    latest_of,
    record_window_search,
    within_scope,
)

logger = logging.getLogger(__name__)

# Searches that return ids, keys and `updated` only ask for Jira's largest pages (5000 for id/key only;
# it answers with fewer as it sees fit, the more so the more fields are asked for).
LIGHT_SEARCH_PAGE_SIZE = 5000
STORED_DURING_SEARCH_MARGIN_SECONDS = 0.05
# From this many issues in a window, a child process renders them (render_worker): its start costs
# CPU (imports) that a small window would not win back; a large one keeps every render's CPU off
# the loop that downloads (docs/BENCHMARKS.md has the figures).
RENDER_PROCESS_MIN_ISSUES = 100


def scope_jql_since(scope_jql: str | None, start: date) -> str:
    """Every issue the knowledge base may hold: in scope and updated since the first partition.

    Bounded by the start date because Jira's search rejects unbounded queries.
    """
    return within_scope(scope_jql, f"updated >= {jql_date_literal(start)}")


_LOOP_LOCKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]]" = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def locked(kb: KnowledgeBase) -> AsyncIterator[None]:
    """``kb.lock()`` from a coroutine, without blocking the event loop while another holder has it.

    Coroutines of this loop queue on an asyncio lock first, so at most one of them waits for the
    file lock (in a thread): a coroutine blocking the loop on the file lock while another coroutine
    of the same loop holds it would never wake up.
    """
    # The file lock is taken in another thread, so this thread cannot re-enter it: the state store
    # (whose first opening may take the lock to build it) is opened before.
    await asyncio.to_thread(lambda: kb.store)
    loop_locks = _LOOP_LOCKS.setdefault(asyncio.get_running_loop(), {})
    in_process = loop_locks.setdefault(kb.state_dir, asyncio.Lock())
    async with in_process:
        file_lock = kb.lock()
        await asyncio.to_thread(file_lock.__enter__)
        try:
            yield
        finally:
            file_lock.__exit__(None, None, None)


class StageRecord:
    """A stage result as the run record the next stage reads: every field, so none can be forgotten."""

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IssuesStageResult(StageRecord):
    jql: str
    keys: list[str]
    """Keys in the window that the knowledge base should hold (vanished ones excluded)."""
    fetched: list[str] = field(default_factory=list)
    """Fetched because new or changed in Jira (their raw JSON was written if it differed)."""
    unchanged: list[str] = field(default_factory=list)
    """Not fetched: the stored copy has the same ``updated``."""
    vanished: dict[str, str] = field(default_factory=dict)
    """Found by the search but gone (404) when fetched: skipped."""
    failed: dict[str, str] = field(default_factory=dict)
    """Could not be fetched or stored for another reason (an error status, a malformed or too deeply
    nested answer, a search result without a valid key, named by id or position): the run must fail
    so a re-run retries them."""
    raw_written: int = 0
    restored: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    """Fetched for the first time: files elsewhere that link to them in Jira can now link locally."""
    moved: dict[str, str] = field(default_factory=dict)
    """Issues stored under another key before (old key -> new key): their files followed them."""
    keys_seen: IssueKeySet = field(default_factory=IssueKeySet, repr=False)
    """The search's keys so far (a streamed search is decided page by page); not part of the record."""

    def as_record(self) -> dict[str, Any]:
        return asdict(replace(self, keys_seen=IssueKeySet()), dict_factory=_without_keys_seen)


def _without_keys_seen(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name: value for name, value in items if name != "keys_seen"}


def window_search_fields(kb: KnowledgeBase) -> tuple[str, ...]:
    """What the window's search asks for: ``updated`` only when it decides something (an issue may be
    stored already), else the key alone, so that Jira can answer with its largest pages."""
    return ("updated",) if holds_raw_issues(kb) else ("key",)


def holds_raw_issues(kb: KnowledgeBase) -> bool:
    """Whether any issue's raw JSON is stored (stops at the first one found)."""
    try:
        with os.scandir(kb.raw_dir) as entries:
            return any(entry.name.endswith(".json") for entry in entries)
    except FileNotFoundError:
        return False


async def search_window_pages(
    client: JiraApiClient, kb: KnowledgeBase, result: IssuesStageResult
) -> AsyncIterator[tuple[dict[str, dict[str, Any]], list[str]]]:
    """Each page of the window's search as it arrives: (its refs by key, its keys to fetch).

    Which issues are unchanged is decided per page (added to ``result.unchanged``); ``result.keys``
    and ``result.failed`` (entries without a valid key) grow page by page.
    """
    fields = window_search_fields(kb)
    position = 0
    async for entries in client.search_pages(result.jql, fields=fields, page_size=LIGHT_SEARCH_PAGE_SIZE):
        page: dict[str, dict[str, Any]] = {}
        for ref in entries:
            position += 1
            try:
                page[searched_issue_key(ref, position)] = ref
            except IssueError as error:  # that entry's problem: reported, the others go on
                result.failed[error.key] = error.reason
                logger.error("Search result %s: %s", error.key, error.reason)
        new_keys = [key for key in page if key not in result.keys_seen]
        result.keys_seen.update(new_keys)
        result.keys += new_keys
        to_fetch = []
        searched = {key: fields_of(page[key]).get("updated") for key in new_keys}
        stored = kb.stored_updated_of([key for key, updated in searched.items() if updated is not None])
        for key in new_keys:
            searched_updated = searched[key]
            if searched_updated is not None and stored.get(key) == searched_updated:
                result.unchanged.append(key)
            else:
                to_fetch.append(key)
        yield {key: page[key] for key in new_keys}, to_fetch


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a hostile value may be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fields_of(issue: Mapping[str, Any]) -> Mapping[str, Any]:
    """The issue's ``fields`` when they are an object, else an empty one."""
    fields = issue.get("fields")
    return fields if isinstance(fields, Mapping) else {}


def held_key(key: str) -> str:
    """The one copy of an issue key that the window's lists keep (interned, so the search's copy): a
    bulk page's copy, one small object kept per issue amid the page's freed ones, would keep the
    allocator's blocks of that page from being reused."""
    return sys.intern(key)


def searched_issue_key(ref: Any, position: int) -> str:
    """The key of the ``position``-th search result; IssueError naming it by id (or position) without one."""
    if not isinstance(ref, Mapping):
        raise IssueError(f"<search result {position}>", f"Jira sent {type(ref).__name__} instead of an issue object")
    key = ref.get("key")
    if is_issue_key(key):
        return held_key(key)
    issue_id = ref.get("id")
    has_id = isinstance(issue_id, (str, int)) and str(issue_id).isdigit()
    name = f"id {issue_id}" if has_id else f"<search result {position}>"
    raise IssueError(name, f"Jira sent an invalid issue key: {short_repr(key)}")


def check_fetched_issue(issue: Any, name: str) -> Mapping[str, Any]:
    """``issue`` when it has the shape the pipeline reads; else IssueError naming it (``name`` when it
    has no valid key): an object, a valid key, ``fields`` an object, ``fields.attachment`` a list."""
    if not isinstance(issue, Mapping):
        raise IssueError(name, f"Jira sent {type(issue).__name__} instead of an issue object")
    key = issue.get("key")
    if not is_issue_key(key):
        raise IssueError(name, f"Jira sent an invalid issue key: {short_repr(key)}")
    fields = issue.get("fields")
    if not isinstance(fields, Mapping):
        raise IssueError(key, f"its fields are {type(fields).__name__}, not an object")
    if not isinstance(fields.get("attachment") or [], list):
        raise IssueError(key, f"its attachment list is {type(fields.get('attachment')).__name__}, not a list")
    return issue


def well_formed_entries(issues: Iterable[Any], wanted: set[str]) -> tuple[list[Mapping[str, Any]], int]:
    """A bulk page's entries for ``wanted`` keys that have an issue's shape, and how many entries did not."""
    good, malformed = [], 0
    for position, issue in enumerate(issues, 1):
        try:
            issue = check_fetched_issue(issue, f"<bulk page entry {position}>")
        except IssueError:
            malformed += 1
            continue
        if issue["key"] in wanted:
            good.append(issue)
    return good, malformed


async def fetch_issues(
    client: JiraApiClient,
    kb: KnowledgeBase,
    result: IssuesStageResult,
    pages: AsyncIterator[tuple[list[str], BulkFetchResult | Exception]],
    *,
    on_fetched: Callable[[Mapping[str, Any], "asyncio.Future[None]"], None] | None = None,
    before_next: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Store each issue of the bulk ``pages`` (``client.bulk_fetch_pages`` or ``bulk_fetch_stream``)
    as its page arrives; adds to ``result`` (``finish_issues_result`` puts it in order once every
    page of the window is fetched). Issues a page failed or left out are then fetched one by one.

    The bulk pages come in order, each asked for when the previous one arrived: the downloads of a
    page's issues start while the next page is on its way. ``on_fetched(issue, stored)`` is called
    for each issue as its page arrives, before it is stored (the streaming pipeline starts its
    attachments there); ``stored`` completes once the page is stored. It must be quick and must not
    raise. ``before_next`` is awaited after each page is stored, before the next one is taken (the
    streaming pipeline waits there while too many issues are still being downloaded and rendered).
    """
    stored: set[str] = set()  # of the page being stored (a window's keys are each in one page)
    retry_one_by_one: set[str] = set()
    may_move = holds_raw_issues(kb)  # into an empty knowledge base, nothing moves

    def store_issue(issue: Mapping[str, Any], staged: StagedRawIssue) -> None:
        key = held_key(issue["key"])
        if kb.restore_from_removed(key):
            result.restored.append(key)
            logger.info("%s is back in scope: restored from %s/", key, kb.removed_dir.name)
        is_new = not kb.has_raw_issue(key)  # a stat: publishing reads the stored copy anyway
        if kb.publish_raw_issue(staged):
            result.raw_written += 1
        if is_new:
            result.new.append(key)
        stored.add(key)
        result.fetched.append(key)

    def not_stored(key: str, error: Exception) -> None:
        result.failed[key] = f"not stored: {issue_error_reason(error)}"
        logger.error("Could not store %s: %s", key, issue_error_reason(error))

    def stage_page(issues: list[Mapping[str, Any]]) -> dict[str, StagedRawIssue]:
        """Each issue's raw JSON encoded and written aside, before the lock is taken: the lock is then
        held for the renames, not for the files' creation (which the render child would wait for)."""
        staged = {}
        for issue in issues:
            try:
                staged[issue["key"]] = kb.stage_raw_issue(issue)
            except Exception as error:  # e.g. JSON too deep to write, a refused symbolic link: this issue only
                not_stored(issue["key"], error)
        return staged

    def store_page(issues: list[Mapping[str, Any]], staged: dict[str, StagedRawIssue]) -> None:
        if may_move:  # an issue stored under another key moved: its folder becomes the new key's first
            moved, move_failures = follow_moves(kb, issues)
            result.moved.update({move.old_key: move.new_key for move in moved})
            result.failed.update(move_failures)
        for issue in issues:
            key = issue["key"]
            if key not in staged:
                continue  # could not be staged: reported
            if key in result.failed:
                kb.discard_staged(staged[key])
                continue
            try:
                store_issue(issue, staged[key])
            except Exception as error:  # e.g. a refused symbolic link, a folder that cannot be restored
                kb.discard_staged(staged[key])
                not_stored(key, error)

    async def complete(issues: list[Mapping[str, Any]], completion: "asyncio.Future[None]") -> None:
        """Wait for a page's deferred completion; should it fail, each issue is completed on its own,
        and one that cannot be is that issue's failure (its downloads may have started: not refetched)."""
        try:
            await completion
            return
        except AuthenticationError:
            raise
        except Exception as error:
            logger.warning(
                "Completing a bulk page failed (%s); completing its issues one by one", issue_error_reason(error)
            )
        for issue in issues:
            try:
                await client.complete_issue_alone(cast(dict[str, Any], issue))
            except AuthenticationError:
                raise
            except Exception as error:  # this issue's: its comments, worklogs or history could not be paged
                result.failed[issue["key"]] = issue_error_reason(error)
                logger.error("Could not complete %s: %s", issue["key"], issue_error_reason(error))

    async def store(issues: list[Mapping[str, Any]], completion: "asyncio.Future[None] | None" = None) -> None:
        # Written as each answer arrives, so memory holds a few bulk pages, not a year of issues.
        # Under the lock: against a concurrent reconciliation moving, or a run storing, the same issue.
        # In a thread: encoding and writing a page of 100 issues would stall the downloads' responses
        # on the loop; the thread gives the loop the interpreter at every switch interval.
        page_stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A moved issue's downloads wait for its folder to follow it (else they would land in a new
        # folder, and the old one's copies be kept): only those, found by id, not every new key.
        moving = await asyncio.to_thread(new_keys_moving, issues) if may_move and on_fetched is not None else set()
        for issue in issues if on_fetched is not None else ():
            if issue["key"] not in moving:
                on_fetched(issue, page_stored)
        try:
            if completion is not None:  # the downloads run meanwhile: they need the attachment lists only
                await complete(issues, completion)
            staged = await asyncio.to_thread(stage_page, issues)
            stored_all = False
            try:
                async with locked(kb):
                    await asyncio.to_thread(store_page, issues, staged)
                stored_all = True
            finally:
                if not stored_all:  # e.g. cancelled before store_page published or discarded them
                    for copy in staged.values():
                        kb.discard_staged(copy)
            for issue in issues if moving else ():
                if issue["key"] in moving:
                    on_fetched(issue, page_stored)
            page_stored.set_result(None)
        finally:
            if not page_stored.done():  # storing failed: the window fails, and its waiters with it
                page_stored.cancel()

    def new_keys_moving(issues: list[Mapping[str, Any]]) -> set[str]:
        new = [issue for issue in issues if not kb.has_raw_issue(issue["key"])]
        return {move.new_key for move in moves_among(kb, new)} if new else set()

    def note_vanished(key: str, reason: str) -> None:
        result.vanished[key] = reason
        logger.info("Skipping %s: it no longer exists or is no longer visible (%s)", key, reason)

    async for chunk, bulk in pages:
        stored.clear()
        if isinstance(bulk, AuthenticationError):
            raise bulk
        if isinstance(bulk, Exception):  # an error status, a malformed page, JSON too deep to parse: this page only
            reason = issue_error_reason(bulk)
            logger.warning("Bulk fetch of %d issues failed (%s); fetching them one by one", len(chunk), reason)
            retry_one_by_one.update(chunk)
            continue
        wanted = set(chunk)
        issues, malformed = well_formed_entries(bulk.issues, wanted)
        if malformed:
            logger.warning("A bulk page had %d malformed entries; fetching its missing issues one by one", malformed)
        await store(issues, bulk.completion)
        for key, reason in bulk.not_found.items():  # Jira already said 404: asking again would say it again
            if key in wanted and key not in stored:
                note_vanished(key, reason)
        # Named in the page's errors, returned under another key, or lost among malformed entries:
        # a single GET says what became of each (issues whose storing failed are reported already).
        retry_one_by_one.update(
            key for key in wanted - stored if key not in result.failed and key not in result.vanished
        )
        bulk.issues.clear()  # the page's last hold on its issues but ``issues``
        await drop_in_turns(issues)
        if before_next is not None:
            await before_next()

    async def fetch_one(key: str) -> None:
        # The bulk answer does not say why an issue is missing; a single GET does (404 = gone).
        try:
            issue = check_fetched_issue(await client.fetch_issue(key), key)
        except AuthenticationError:
            raise
        except IssueNotFoundError as error:
            note_vanished(key, describe_error(error))
            return
        except Exception as error:  # an error status, a malformed or too deeply nested answer: this issue only
            result.failed[key] = issue_error_reason(error)
            logger.error("Could not fetch %s: %s", key, issue_error_reason(error))
            return
        if issue["key"] != key:  # Jira followed the old key: stored (and its files moved) under the new one
            result.vanished[key] = f"moved to {issue['key']}"
            logger.info("%s moved to %s", key, issue["key"])
            if issue["key"] not in result.keys_seen:
                result.keys_seen.add(issue["key"])
                result.keys.append(issue["key"])
        await store([issue])

    await asyncio.gather(*(fetch_one(key) for key in sorted(retry_one_by_one, key=issue_sort_key)))


def finish_issues_result(result: IssuesStageResult) -> None:
    """The stage's lists in key order, once every page of the window is fetched; vanished keys dropped."""
    result.keys = sorted((key for key in result.keys if key not in result.vanished), key=issue_sort_key)
    for names in (result.fetched, result.new, result.restored, result.unchanged):
        names.sort(key=issue_sort_key)


@dataclass
class AttachmentsStageResult(StageRecord):
    issues: int = 0
    downloaded: int = 0
    present: int = 0
    bytes_downloaded: int = 0
    pruned: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    manifests_written: int = 0


@dataclass
class DownloadedAttachments:
    """One issue's downloads, waiting to be recorded (``record_issue_attachments``)."""

    key: str
    infos: list[dict[str, Any]]
    downloaded_for: Any
    """The issue's ``updated`` its attachment list came with."""
    error_text: str | None


async def download_issue_attachments(
    handler: AttachmentHandler,
    kb: KnowledgeBase,
    key: str,
    result: AttachmentsStageResult,
    fetched: Mapping[str, Any] | None = None,
    prefetched: Sequence[Mapping[str, Any]] = (),
) -> DownloadedAttachments | None:
    """Download what is missing of one issue's attachments; None when the issue is not stored.

    ``fetched`` is the issue as just fetched (saves reading it back; it may not be stored yet),
    else the stored raw JSON is read. ``prefetched``: what ``AttachmentPrefetch`` downloaded for it
    (found in place here, counted as downloaded). Failures are kept for ``record_issue_attachments``;
    only AuthenticationError and the like propagate.
    """
    issue = fetched if fetched is not None else kb.read_raw_issue(key)
    if issue is None:
        result.failed[key] = "no stored issue JSON (fetch failed earlier)"
        return None
    attachments = fields_of(issue).get("attachment") or []
    downloaded_for = fields_of(issue).get("updated")
    del issue  # only the attachment list is needed from here on
    result.issues += 1
    try:
        infos = []
        if attachments:  # the folder is checked first: a symbolic link on the way could lead out of the root
            infos = await handler.download_all_attachments(attachments, kb.checked(kb.attachments_dir(key), key))
        error_text = None
    except AttachmentDownloadError as error:
        infos = list(error.completed)
        error_text = describe_error(error)
    count_as_downloaded(infos, prefetched)
    for info in infos:
        if info.get("status") == "downloaded":
            result.downloaded += 1
        else:
            result.present += 1
        result.bytes_downloaded += int(info.get("bytes_downloaded") or 0)
    return DownloadedAttachments(key, infos, downloaded_for, error_text)


def count_as_downloaded(infos: Sequence[dict[str, Any]], prefetched: Sequence[Mapping[str, Any]]) -> None:
    """Mark as downloaded (with their bytes) the files found in place that ``prefetched`` downloaded."""
    early = {(info.get("attachment_id"), info.get("filename")): info for info in prefetched}
    for info in infos:
        first = early.get((info.get("attachment_id"), info.get("filename")))
        if first is not None and first.get("status") == "downloaded" and info.get("status") == "skipped":
            info.update(status="downloaded", bytes_downloaded=first.get("bytes_downloaded") or 0)


async def record_issue_attachments(
    kb: KnowledgeBase,
    downloaded: DownloadedAttachments,
    result: AttachmentsStageResult,
    stored: "asyncio.Future[None] | None" = None,
) -> None:
    """Write the manifest and prune what Jira dropped, once the issue is stored (``stored`` done)."""
    if stored is not None:
        await stored
    key = downloaded.key
    # File-system work only (a stat, a manifest, a folder listing): in a thread, so its system calls
    # leave the event loop to the downloads' responses. The result is updated here, on the loop.
    manifest_written, pruned = await in_file_thread(
        _record_attachments, kb, key, downloaded.infos, downloaded.downloaded_for, downloaded.error_text is None
    )
    if manifest_written:
        result.manifests_written += 1
    if downloaded.error_text is not None:
        result.failed[key] = downloaded.error_text
        logger.error("Attachments of %s: %s", key, downloaded.error_text)
    if pruned:
        result.pruned[key] = pruned
        logger.info("%s: removed attachments no longer in Jira: %s", key, ", ".join(pruned))


def _record_attachments(
    kb: KnowledgeBase, key: str, infos: list[dict[str, Any]], downloaded_for: Any, complete: bool
) -> tuple[bool, list[str]]:
    """Write the manifest and prune what Jira dropped; (manifest written, pruned names).

    First, temporary files a killed run left in the issue's folders are removed.
    """
    for leftover in kb.remove_stale_temp_files(key):
        logger.info("Removed %s, left by an interrupted run", leftover)
    if kb.stored_updated(key) != downloaded_for:
        # A concurrent run stored a newer version meanwhile: its manifest and its attachments
        # win; pruning from this older list could delete an attachment the newer one has.
        logger.info("%s changed while its attachments downloaded: leaving the manifest to the newer run", key)
        return False, []
    manifest_written = kb.write_attachment_manifest(key, infos, complete=complete)
    if not complete:
        return manifest_written, []  # keep partial files of a failing issue until its next complete run
    return manifest_written, kb.prune_attachments(key, (info["filename"] for info in infos))


@dataclass
class MarkdownStageResult(StageRecord):
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    relinked: list[str] = field(default_factory=list)
    """Issues outside the window re-rendered because issues they link to arrived, or their children changed."""


def render_issue_options(
    field_definitions: Sequence[Mapping[str, Any]],
    base_url: str,
    include_custom_fields: Sequence[str] | None,
    exclude_custom_fields: Sequence[str],
    history: str = "inline",
) -> RenderOptions:
    """The run's RenderOptions (what ``KnowledgeBase.render_issue_file`` renders with besides the known keys)."""
    return RenderOptions.of(field_definitions, base_url, include_custom_fields, exclude_custom_fields, history)


def markdown_written_since(kb: KnowledgeBase, key: str, moment: float) -> bool:
    """Whether ``KEY/KEY.md`` was written at or after ``moment`` (a ``time.time()``)."""
    try:
        return kb.markdown_path(key).stat().st_mtime >= moment
    except FileNotFoundError:
        return False


def written_or_failed(markdown: MarkdownStageResult, outcome: RenderOutcome) -> bool | None:
    """The outcome's ``written``; a failed render (one issue's bad data) is recorded and logged."""
    if outcome.error is not None:
        markdown.failed[outcome.key] = outcome.error
        logger.error("Could not render %s: %s\n%s", outcome.key, outcome.error, outcome.details)
    return outcome.written


# The window parses hundreds of big issues: at Python's default (a young-generation collection
# every 700 allocations) the collector runs hundreds of times on the event loop in a large window,
# while reference counting frees almost everything anyway (docs/BENCHMARKS.md, 26 Nov 2026).
WINDOW_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_collections(threshold: int = WINDOW_GC_THRESHOLD) -> Iterator[None]:
    """Raise the young-generation threshold of the garbage collector for a while, then restore it."""
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


# The window's threads (storing a bulk page, writing files) and its event loop share the interpreter
# lock: the loop takes it back after every socket call, and waits up to the switch interval for a
# thread that holds it (Python's default, 5 ms). Shorter, the loop answers responses sooner.
WINDOW_SWITCH_INTERVAL = 0.001


@contextlib.contextmanager
def prompt_thread_switches(interval: float = WINDOW_SWITCH_INTERVAL) -> Iterator[None]:
    """Shorten the interpreter's thread switch interval to ``interval`` for a while (never lengthen
    it), then restore it."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, before))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first exception of a (nested) exception group that is not itself a group."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def remove_shared_stale_temp_files(kb: KnowledgeBase) -> None:
    """Temporary files a killed run left in the folders every issue shares (never fatal: logged)."""
    try:
        for leftover in kb.remove_stale_temp_files():
            logger.info("Removed %s, left by an interrupted run", leftover)
    except OSError as error:
        logger.warning("Could not remove temporary files left by an interrupted run: %s", describe_error(error))


# Fetched issues still on their way through downloads and rendering at most, before the window's
# bulk stream waits: bulk pages arrive faster than downloads end, and each waiting issue holds its
# attachment list and a task. Ten bulk pages keep every download slot busy.
WINDOW_BACKLOG_ISSUES = 1000
# The window's first bulk request: a few issues, so that their downloads start while the first full
# page (megabytes of JSON) is on its way.
FIRST_BULK_REQUEST_ISSUES = 10


class Backlog:
    """Issues handed on and not finished; ``room()`` waits while there are ``limit`` or more."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._room = asyncio.Event()
        self._room.set()

    def add(self) -> None:
        self.count += 1
        if self.count >= self.limit:
            self._room.clear()

    def done(self) -> None:
        self.count -= 1
        if self.count < self.limit:
            self._room.set()

    async def room(self) -> None:
        await self._room.wait()


@dataclass
class WindowResult:
    """What the streaming pipeline did to one window: the three stages' records."""

    issues: IssuesStageResult
    attachments: AttachmentsStageResult
    markdown: MarkdownStageResult
    latest_updated: datetime | None = None
    """The latest ``updated`` among the issues the search found (None: it found none)."""
    search: WindowSearch | None = None
    """What was searched and why, for a run of a partition (``refresh_window``)."""

    def failed(self) -> bool:
        return bool(self.issues.failed or self.attachments.failed or self.markdown.failed)


async def mirror_window(
    client: JiraApiClient,
    kb: KnowledgeBase,
    jql: str,
    *,
    field_definitions: Sequence[Mapping[str, Any]],
    base_url: str,
    include_custom_fields: Sequence[str] | None = None,
    exclude_custom_fields: Sequence[str] = (),
    history: str = "inline",
    max_concurrent_downloads: int = 5,
    render_process: bool | None = None,
    on_progress: Callable[[str], None] | None = None,
    progress_interval: float = PROGRESS_INTERVAL_SECONDS,
) -> WindowResult:
    """Search, fetch, download and render one window as a stream, not as three stages in a row.

    ``on_progress`` is given a line (issues done of the total, attachments, rate, time left) every
    ``progress_interval`` seconds while the window runs.

    The search streams: each search page's changed issues are bulk-fetched as soon as the page
    arrives, while the next page is asked for (a JQL Jira rejects raises with the first page, before
    anything is written); which issues are unchanged is decided per page. Each bulk page is stored
    as it arrives and its issues' attachments start downloading at once (``max_concurrent_downloads``
    is the one bound on downloads; every request is bounded per host by the client's throttler).
    Unchanged issues (not fetched) go the same way from their stored JSON. Each issue is rendered
    once its own attachments are in and the search has ended. Failures stay per issue, as in the
    separate stages.

    Links: every issue is rendered knowing the keys stored when the search ended plus the
    window's own keys (they are on their way). A last pass, under the knowledge base's lock, puts
    right what that guessed wrong: files linking locally to an issue that never arrived (vanished,
    failed) or that a concurrent reconciliation moved away, and files linking to Jira for an issue
    that a concurrent run stored meanwhile; then, as before, files elsewhere that link in Jira to
    an issue that just arrived.

    Rendering: for windows of RENDER_PROCESS_MIN_ISSUES issues or more (``render_process=None``), or
    always (True), a child process renders (``render_worker``), so the event loop only downloads
    and stores; if it cannot start or dies, the issues it did not render are rendered here.
    """
    window_started = time.time()
    with fewer_collections(), prompt_thread_switches():  # see WINDOW_GC_THRESHOLD, WINDOW_SWITCH_INTERVAL
        cleanup = asyncio.create_task(asyncio.to_thread(remove_shared_stale_temp_files, kb))  # beside the search
        issues = IssuesStageResult(jql=jql, keys=[])
        attachments = AttachmentsStageResult()
        markdown = MarkdownStageResult()
        progress = WindowProgress()
        handler = AttachmentHandler(client, max_concurrent_downloads=max_concurrent_downloads)
        prefetch = AttachmentPrefetch()
        revision_at_start = await asyncio.to_thread(kb.store.current_revision)
        render_options = render_issue_options(
            field_definitions, base_url, include_custom_fields, exclude_custom_fields, history
        )
        # Looked up as rendering asks (KnownKeys), not listed: a window's cost follows its own issues.
        known = KnownKeys(kb)  # the window's keys join it when the search ends (renders wait for that)
        stored_known = KnownKeys(kb)  # what unchanged issues' links are judged by: the stored keys alone
        search_ended = asyncio.Event()  # renders wait for it: they need the window's keys

        def render(key: str, known_keys: KnownKeys) -> bool | None:
            return written_or_failed(markdown, render_issue_outcome(kb, key, known_keys, render_options))

        render_worker: RenderWorker | None = None  # None again if the child goes away mid-window
        spawning: asyncio.Task[RenderWorker] | None = None

        def spawn_when_needed() -> None:
            # As soon as the window is known to want a render process (its search has found enough
            # issues), not at the search's end: the child's start (imports) then runs while the
            # loop waits on the network, not beside the first bulk pages and downloads.
            nonlocal spawning
            wanted = render_process or (render_process is None and len(issues.keys) >= RENDER_PROCESS_MIN_ISSUES)
            if wanted and spawning is None:
                spawning = asyncio.create_task(RenderWorker.spawn())

        async def start_rendering() -> None:
            nonlocal known, render_worker
            known = KnownKeys(kb, issues.keys)
            if spawning is not None:  # spawned as the search found the issues (spawn_when_needed)
                try:
                    worker = await spawning
                    await worker.begin(kb, known, render_options)
                    render_worker = worker
                except RenderWorkerGone as error:
                    logger.warning("Rendering on the event loop instead: %s", error)
            search_ended.set()

        async def spawned_worker() -> RenderWorker | None:
            """The render child to close, if one was spawned (whether or not its window began in it).

            A spawn still under way is waited for, not cancelled: it ends once the process runs and
            its pipes are connected (the child's imports come after), and a cancelled one left the
            child running until the garbage collector got to it."""
            if spawning is None:
                return None
            await asyncio.wait([spawning])  # its own failure is not this window's to raise
            if spawning.cancelled() or spawning.exception() is not None:
                return None
            return spawning.result()

        async def render_and_record(key: str, unchanged: bool) -> None:
            # An unchanged issue's links are judged by the stored keys alone: taking the window's
            # keys as arriving would rewrite it for a key that then vanishes, and back again at the
            # end, on every run that finds that key. If the key does arrive, the last pass relinks it.
            nonlocal render_worker
            await search_ended.wait()
            outcome: RenderOutcome | None = None
            answer_lost = False
            if render_worker is not None:
                try:
                    outcome = await render_worker.render(key, unchanged=unchanged)
                except RenderWorkerGone as error:
                    answer_lost = True
                    if render_worker is not None:  # said once, not by every render waiting on it
                        logger.warning("Rendering on the event loop from %s on: %s", key, error)
                        render_worker = None
            if outcome is None:
                # Held for one issue only: read its raw JSON and manifest, render, write. No network I/O inside.
                async with locked(kb):
                    written = render(key, stored_known if unchanged else known)
                    if written is False and answer_lost and markdown_written_since(kb, key, window_started):
                        written = True  # the render process wrote it, and died before it could say so
            else:
                written = written_or_failed(markdown, outcome)
            if written is not None:
                (markdown.written if written else markdown.unchanged).append(key)

        # Queue items are small (key, attachment list, updated): a year's backfill never holds all its
        # issues' JSON in memory; unchanged issues (None) are read back from disk by the worker.
        queue: asyncio.Queue[tuple[str, dict[str, Any] | None, asyncio.Future[None] | None] | None] = asyncio.Queue()

        backlog = Backlog(WINDOW_BACKLOG_ISSUES)
        latest_updated: datetime | None = None  # what the next run's search of this window can start from

        def on_fetched(issue: Mapping[str, Any], stored: "asyncio.Future[None]") -> None:
            nonlocal latest_updated
            fields = fields_of(issue)
            latest_updated = latest_of(fields.get("updated"), latest_updated)
            slim = {"fields": {"attachment": fields.get("attachment"), "updated": fields.get("updated")}}
            backlog.add()
            queue.put_nowait((held_key(issue["key"]), slim, stored))

        async def search_and_fetch() -> None:
            nonlocal latest_updated
            # One bulk stream for the whole window, fed each search page's changed issues as the page
            # arrives, while the next page is asked for; it pauses while the backlog is full.
            to_fetch_queue: asyncio.Queue[list[str] | None] = asyncio.Queue()
            try:
                async with asyncio.TaskGroup() as fetches:
                    pages = client.bulk_fetch_stream(
                        to_fetch_queue, first_request_issues=FIRST_BULK_REQUEST_ISSUES, defer_completion=True
                    )
                    fetches.create_task(
                        fetch_issues(client, kb, issues, pages, on_fetched=on_fetched, before_next=backlog.room)
                    )
                    spawn_when_needed()
                    if not holds_raw_issues(kb):  # nothing stored, so nothing moved: see AttachmentPrefetch
                        fetches.create_task(prefetch.run(client, handler, kb, jql))
                    async for page, to_fetch in search_window_pages(client, kb, issues):
                        progress.found += len(page)
                        spawn_when_needed()
                        fetching = set(to_fetch)
                        for key, ref in page.items():
                            if key not in fetching:
                                latest_updated = latest_of(fields_of(ref).get("updated"), latest_updated)
                                queue.put_nowait((key, None, None))
                        if to_fetch:
                            to_fetch_queue.put_nowait(to_fetch)
                    to_fetch_queue.put_nowait(None)
                    progress.total = progress.found
                    await cleanup
                    await start_rendering()
            finally:
                if not cleanup.done():
                    cleanup.cancel()
            finish_issues_result(issues)

        def attachments_failed(key: str, error: Exception) -> None:
            attachments.failed[key] = issue_error_reason(error)
            logger.error("Attachments of %s failed: %s", key, issue_error_reason(error))

        async def record_and_render(downloaded: DownloadedAttachments | None, key: str, unchanged: bool) -> None:
            if downloaded is not None:
                try:
                    await record_issue_attachments(kb, downloaded, attachments)
                except Exception as error:  # e.g. the manifest could not be written: this issue's failure
                    attachments_failed(key, error)
            try:
                await render_and_record(key, unchanged)
            except Exception as error:  # whatever it is, it is this issue's: the window goes on
                markdown.failed[key] = issue_error_reason(error)
                logger.error("Could not render %s: %s", key, issue_error_reason(error))

        async def finish(
            downloaded: DownloadedAttachments | None, key: str, stored: "asyncio.Future[None] | None", fetched: bool
        ) -> None:
            # Waits for the issue's page to be stored: a task of its own, so the worker that
            # downloaded goes on to the next issue's downloads meanwhile.
            try:
                if stored is not None:
                    await stored
                if key not in issues.failed:  # else it could not be stored: its earlier copy, manifest and file stay
                    await record_and_render(downloaded, key, unchanged=stored is None)
            finally:
                if fetched:
                    backlog.done()
            progress.issue_finished(failed=key in issues.failed or key in attachments.failed or key in markdown.failed)
            if downloaded is not None:
                progress.attachments_stored(
                    len(downloaded.infos), sum(info.get("bytes_downloaded") or 0 for info in downloaded.infos)
                )

        def in_place(key: str) -> bool:
            """An unchanged issue whose attachments are all on disk: nothing to download, nothing to record."""
            try:
                entries = kb.attachments_in_place(key)
            except Exception:  # e.g. an unreadable manifest: the usual path says what is wrong
                return False
            if entries is not None:
                for leftover in kb.remove_stale_temp_files(key):  # as recording its attachments would
                    logger.info("Removed %s, left by an interrupted run", leftover)
                attachments.issues += 1
                attachments.present += len(entries)
            return entries is not None

        async def worker(group: asyncio.TaskGroup) -> None:
            while (item := await queue.get()) is not None:
                key, slim, stored = item
                downloaded: DownloadedAttachments | None = None
                if slim is None and in_place(key):  # its raw JSON is not read at all
                    group.create_task(finish(None, key, None, fetched=False))
                    continue
                try:
                    early = await prefetch.take(key)
                    downloaded = await download_issue_attachments(handler, kb, key, attachments, slim, prefetched=early)
                except AuthenticationError:
                    raise
                except Exception as error:
                    attachments_failed(key, error)
                group.create_task(finish(downloaded, key, stored, fetched=slim is not None))

        # Issues in progress at once: enough to keep every download slot busy.
        workers = max_concurrent_downloads * 2
        completed = False
        try:
            async with (
                progress_reports(progress, on_progress, progress_interval),
                releasing_free_memory(),
                asyncio.TaskGroup() as group,
            ):
                # A fatal error anywhere cancels the rest.
                for _ in range(workers):
                    group.create_task(worker(group))
                try:
                    await search_and_fetch()
                finally:
                    for _ in range(workers):
                        queue.put_nowait(None)
            completed = True
        except BaseExceptionGroup as group_error:
            # The first fatal error as itself (AuthenticationError, cancellation), as the stages raised it.
            raise first_leaf(group_error) from None
        finally:
            if (worker := await spawned_worker()) is not None:
                await worker.close(abandon=not completed)
        for key in await prefetch.discard_leftovers(kb):
            logger.info("%s did not arrive: removed the attachments downloaded for it from the search", key)

        async with locked(kb):
            now_known = KnownKeys(kb, issues.keys)
            gone = known.gone() | stored_known.gone()
            # Stored by other runs meanwhile: every issue rendered since the window started (a superset).
            arrived_elsewhere = kb.keys_rendered_since(revision_at_start, excluding=known.arriving)
            relink = set(kb.files_linking_to(gone)) | set(kb.files_linking_to_jira(arrived_elsewhere))
            in_window = now_known.arriving
            # The window's changed issues knew them as arriving; its unchanged ones did not.
            relink |= set(kb.files_linking_to_jira(issues.new, skip=IssueKeySet(issues.fetched)))
            for key in sorted(relink, key=issue_sort_key):
                rerender_in_last_pass(kb, key, render, now_known, in_window, markdown)
            # Parents whose children changed (added, gone, moved, another status): their Children
            # sections, after the relinks above (which can change a child's row).
            for key in kb.store.parents_with_children_changed_since(revision_at_start):
                rerender_in_last_pass(kb, key, render, now_known, in_window, markdown)
        order = {key: index for index, key in enumerate(issues.keys)}
        markdown.written.sort(key=lambda key: order.get(key, len(order)))
        markdown.unchanged.sort(key=lambda key: order.get(key, len(order)))
        return WindowResult(issues=issues, attachments=attachments, markdown=markdown, latest_updated=latest_updated)


async def refresh_window(
    client: JiraApiClient, kb: KnowledgeBase, search: WindowSearch, **options: Any
) -> WindowResult:
    """Mirror a partition's window as ``search`` says (the whole window, or what changed since its last
    complete run: ``plan_window_search``); a run without failures is recorded for the next one.
    ``options``: ``mirror_window``'s, the render options among them."""
    window = await mirror_window(client, kb, search.jql, **options)
    window.search = search
    if not window.failed():
        await asyncio.to_thread(record_window_search, kb.store, search, window.latest_updated)
    return window


def rerender_in_last_pass(
    kb: KnowledgeBase,
    key: str,
    render: Callable[[str, KnownKeys], bool | None],
    known: KnownKeys,
    in_window: Container[str],
    markdown: MarkdownStageResult,
) -> None:
    """The window's last pass renders ``key`` again; a file of the window it rewrites counts as
    written, one outside the window as relinked."""
    if not (kb.has_raw_issue(key) and render(key, known)):
        return
    if key not in in_window:
        if key not in markdown.relinked:
            markdown.relinked.append(key)
    elif key in markdown.unchanged:
        markdown.unchanged.remove(key)
        markdown.written.append(key)


@dataclass
class ReconciliationResult:
    jql: str
    in_scope: int
    moved: list[str] = field(default_factory=list)
    kept_recent: list[str] = field(default_factory=list)
    rerendered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


RECONCILE_MAX_REMOVED_SHARE = 0.10
RECONCILE_ALWAYS_ALLOWED_REMOVALS = 50
REFUSAL_KEYS_SHOWN = 10


@dataclass(frozen=True)
class RemovalGuard:
    """How much one reconciliation may move to ``_removed/``: a bad answer from Jira's search (empty,
    truncated) must never empty the mirror.

    A pass is refused when it would move more than ``always_allowed`` issues and more than
    ``max_share`` of the issues stored, unless ``allow_removals`` (an operator's go-ahead for this
    pass) covers it. An empty scan of a non-empty knowledge base is always refused.
    """

    max_share: float = RECONCILE_MAX_REMOVED_SHARE
    always_allowed: int = RECONCILE_ALWAYS_ALLOWED_REMOVALS
    allow_removals: int = 0

    def refuses(self, removing: int, stored: int, in_scope: int) -> bool:
        if removing == 0:
            return False
        if in_scope == 0:
            return True
        if removing <= self.allow_removals:
            return False
        return removing > self.always_allowed and removing > self.max_share * stored


class ReconciliationRefused(JarkdownError):
    """Reconciliation moved nothing: it would have removed too much (see RemovalGuard).

    ``would_remove`` holds the keys it would have moved, ``stored`` how many the knowledge base holds.
    """

    def __init__(self, message: str, would_remove: list[str], stored: int, in_scope: int) -> None:
        super().__init__(message)
        self.would_remove = would_remove
        self.stored = stored
        self.in_scope = in_scope


def refusal(guard: RemovalGuard, would_remove: list[str], stored: int, in_scope: int) -> ReconciliationRefused:
    """The error that says what a refused pass would have moved, and how to allow it."""
    count = len(would_remove)
    shown = ", ".join(would_remove[:REFUSAL_KEYS_SHOWN]) + (", ..." if count > REFUSAL_KEYS_SHOWN else "")
    if in_scope == 0:
        why = (
            f"Jira's scope search returned no issue at all, while the knowledge base holds {stored}: an empty "
            "answer is never trusted. Check the scope JQL and the account's permissions; to empty the "
            f"mirror on purpose, delete its issue folders yourself"
        )
    else:
        why = (
            f"Jira's scope search returned {in_scope} issues, so {count} of the {stored} stored issues "
            f"({count / stored:.0%}) would leave; one pass may move at most {guard.always_allowed} issues or "
            f"{guard.max_share:.0%} of the knowledge base. If Jira really dropped them, allow this pass with "
            f"allow_removals={count}"
        )
    message = (
        f"Reconciliation stopped and moved nothing: it would have moved {count} issues to _removed/ ({shown}). {why}."
    )
    return ReconciliationRefused(message, would_remove, stored, in_scope)


async def scope_keys(client: JiraApiClient, jql: str) -> set[str]:
    """Every key of the scope search; MalformedResponseError for an entry that is not an issue object
    (the answer cannot be trusted, so nothing may be moved from it)."""
    in_scope: set[str] = set()
    async for ref in client.search_jql(jql, fields=("id", "key"), page_size=LIGHT_SEARCH_PAGE_SIZE):
        if not isinstance(ref, Mapping):
            raise MalformedResponseError(
                f"Jira's scope search sent {type(ref).__name__} instead of an issue object: reconciliation moved nothing",
                status_code=200,
            )
        key = ref.get("key")
        if is_issue_key(key):
            in_scope.add(key)
        else:
            logger.warning("Jira's scope search sent an invalid issue key %s: ignored", short_repr(key))
    return in_scope


def linking_file_rerender(kb: KnowledgeBase, render_options: Mapping[str, Any]) -> Callable[[str], bool]:
    """``reconcile``'s ``rerender``: one issue file rendered with ``render_options`` (see
    ``render_issue_options``). The stored keys are listed once, at the first call: reconcile calls
    back after all its moves, under the knowledge base's lock, so they cannot change in between."""
    known: list[frozenset[str]] = []

    def rerender(key: str) -> bool:
        if not known:
            known.append(frozenset(kb.raw_issue_keys()))
        return kb.render_issue_file(key, known_issue_keys=known[0], **render_options)

    return rerender


async def reconcile(
    client: JiraApiClient,
    kb: KnowledgeBase,
    jql: str,
    *,
    rerender: Callable[[str], bool] | None = None,
    guard: RemovalGuard = RemovalGuard(),
) -> ReconciliationResult:
    """Move issues the knowledge base holds but Jira no longer has in scope to ``_removed/``.

    The whole search completes before anything moves: a failed search moves nothing, and so does a
    pass ``guard`` refuses (ReconciliationRefused). Issue files that linked to a moved issue are
    re-rendered (when ``rerender`` is given) so no link dangles. One issue that cannot be moved
    (a symbolic link on the way) is reported in ``failed``; the others move.
    """
    # Anything stored after this moment may have entered the scope after the search passed it
    # (created, or moved in, meanwhile): it is kept, and checked again by the next reconciliation.
    # The margin covers file systems whose timestamps lag the clock by a tick.
    search_started = time.time() - STORED_DURING_SEARCH_MARGIN_SECONDS
    in_scope = await scope_keys(client, jql)
    result = ReconciliationResult(jql=jql, in_scope=len(in_scope))
    with kb.lock():
        stored = kb.live_issue_keys()
        leaving = []
        for key in sorted(stored - in_scope, key=issue_sort_key):
            if kb.stored_since(key, search_started):
                result.kept_recent.append(key)
                logger.info("%s is not in the search but was stored during it: kept for now", key)
            else:
                leaving.append(key)
        if guard.refuses(len(leaving), len(stored), len(in_scope)):
            raise refusal(guard, leaving, len(stored), len(in_scope))
        move_all(kb, leaving, result)
        if result.moved and rerender is not None:
            rerender_linkers(kb, result, rerender)
    return result


def move_all(kb: KnowledgeBase, keys: Iterable[str], result: ReconciliationResult) -> None:
    """Move each issue to ``_removed/``; one that cannot move is reported, the others go on."""
    for key in keys:
        try:
            moved = kb.move_to_removed(key)
        except Exception as error:
            result.failed[key] = issue_error_reason(error)
            logger.error("Could not move %s to %s/: %s", key, kb.removed_dir.name, issue_error_reason(error))
            continue
        if moved:
            result.moved.append(key)
            logger.info("%s is no longer in Jira's scope: moved to %s/", key, kb.removed_dir.name)


def rerender_linkers(kb: KnowledgeBase, result: ReconciliationResult, rerender: Callable[[str], bool]) -> None:
    """Re-render the files that linked to a moved issue, so no link dangles."""
    for key in kb.files_linking_to(result.moved):
        try:
            if rerender(key):
                result.rerendered.append(key)
        except Exception as error:
            result.failed[key] = issue_error_reason(error)
            logger.exception("Could not re-render %s after reconciliation", key)
