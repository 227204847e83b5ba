"""The first issues' attachments of a window, downloaded from a search beside the window's own.

Before its first download a window waits for a search and then a bulk page: two round trips while
all but one connection idle. On a knowledge base that holds no issue yet (nothing stored can have
moved, and every issue found is fetched) one more search request, sent with the window's first,
asks for the first ``PREFETCH_ISSUES`` issues with their attachment lists, and their files download
while the first bulk page is on its way. The bulk page stays the authority: each issue's own download
(``sync.download_issue_attachments``) waits for this one (``take``), so nothing is asked for twice,
finds the files in place and counts them as downloaded, and records the manifest as usual. The files
of an issue that never got its own download (it vanished before its bulk page) are removed
(``discard_leftovers``). No Dagster import.
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline._file_thread import in_file_thread
from jarkdown_pipeline.exceptions import AttachmentDownloadError, describe_error
from jarkdown_pipeline.issue_keys import is_issue_key

if TYPE_CHECKING:
    from jarkdown_pipeline.attachment_handler import AttachmentHandler
    from jarkdown_pipeline.jira_api_client import JiraApiClient
    from jarkdown_pipeline.knowledge_base import KnowledgeBase

logger = logging.getLogger(__name__)

PREFETCH_ISSUES = 20
"""Issues whose attachments come from the search (a few downloads per connection while the first bulk
page is on its way); 0 sends no such search."""


async def first_attachment_lists(client: "JiraApiClient", jql: str) -> dict[str, list[Any]]:
    """The attachment lists of the first ``PREFETCH_ISSUES`` issues ``jql`` finds (one search request),
    by key; issues without attachments, or without a valid key or list, left out."""
    async with contextlib.aclosing(
        client.search_pages(jql, fields=("attachment",), page_size=PREFETCH_ISSUES)
    ) as pages:
        async for refs in pages:
            return dict(_attachment_lists(refs[:PREFETCH_ISSUES]))
    return {}


def _attachment_lists(refs: Sequence[Any]) -> "list[tuple[str, list[Any]]]":
    found = []
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue  # a hostile entry: the window's own search reports it
        fields = ref.get("fields")
        attachments = fields.get("attachment") if isinstance(fields, Mapping) else None
        if is_issue_key(ref.get("key")) and isinstance(attachments, list) and attachments:
            found.append((ref["key"], attachments))
    return found


class AttachmentPrefetch:
    """The downloads of one window's first issues (see the module's docstring)."""

    def __init__(self) -> None:
        self._downloads: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}
        self._taken: set[str] = set()  # issues whose own download began: left to it

    async def run(self, client: "JiraApiClient", handler: "AttachmentHandler", kb: "KnowledgeBase", jql: str) -> None:
        """Search for the first issues' attachment lists and download their files; never raises (the
        window's own search and downloads say what is wrong)."""
        if PREFETCH_ISSUES <= 0:
            return
        try:
            lists = await first_attachment_lists(client, jql)
        except Exception as error:
            logger.debug("No attachments downloaded from the search: %s", describe_error(error))
            return
        loop = asyncio.get_running_loop()
        # An issue whose own download began first (its bulk page came before this search's answer) is its own.
        done = {key: loop.create_future() for key in lists if key not in self._taken}
        self._downloads.update(done)
        await asyncio.gather(*(_download(handler, kb, key, lists[key], done[key]) for key in done))

    async def take(self, key: str) -> list[dict[str, Any]]:
        """What was downloaded for ``key`` (once its downloads are over); [] for any other issue."""
        self._taken.add(key)
        future = self._downloads.pop(key, None)
        return [] if future is None else await future

    async def discard_leftovers(self, kb: "KnowledgeBase") -> list[str]:
        """Remove the files downloaded for issues that never got their own download; their keys."""
        leftovers = list(self._downloads.items())
        self._downloads.clear()
        for key, future in leftovers:
            await in_file_thread(discard_files, kb, key, await future)
        return [key for key, _ in leftovers]


async def _download(
    handler: "AttachmentHandler",
    kb: "KnowledgeBase",
    key: str,
    attachments: list[Any],
    done: "asyncio.Future[list[dict[str, Any]]]",
) -> None:
    """Download one issue's files; ``done`` gets what was downloaded, whatever happens."""
    infos: list[dict[str, Any]] = []
    try:
        infos = await handler.download_all_attachments(attachments, kb.checked(kb.attachments_dir(key), key))
    except AttachmentDownloadError as error:  # the issue's own download asks again for the others
        infos = list(error.completed)
    except Exception as error:  # e.g. a refused folder: the issue's own download says so
        logger.debug("Attachments of %s not downloaded from the search: %s", key, describe_error(error))
    finally:
        if not done.done():
            done.set_result(infos)


def discard_files(kb: "KnowledgeBase", key: str, infos: Sequence[Mapping[str, Any]]) -> None:
    """Delete the files ``infos`` say were downloaded for ``key``, then its folders if that left them empty."""
    folder = kb.checked(kb.attachments_dir(key), key)
    for info in infos:
        if info.get("status") == "downloaded":
            path = Path(str(info.get("path")))
            if path.parent == folder:  # only what this prefetch wrote, in the issue's own folder
                path.unlink(missing_ok=True)
    for empty in (folder, kb.issue_dir(key)):
        with contextlib.suppress(OSError):
            empty.rmdir()
