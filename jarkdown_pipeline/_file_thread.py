"""One thread for the window's small per-issue file work (each small download's file, each issue's manifest).

Each job a thread runs takes the GIL back after each of its system calls (a small atomic write
makes about a dozen), and while several threads do so at once the event loop waits for the GIL
after its own calls: the next request on a freed connection goes out later. One thread does the
same work with less of that contention (docs/BENCHMARKS.md, session 17). A slow disk must not
serialize a run, though: past ``FILE_THREAD_BACKLOG`` jobs waiting for it, jobs go to the loop's
default executor, whose threads run them side by side.
"""

import asyncio
import concurrent.futures
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

FILE_THREAD_BACKLOG = 8
FILE_THREAD_NAME = "jarkdown-files"

_lock = threading.Lock()
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_queued = 0  # jobs given to the file thread and not finished yet (a guide, not an exact count)


def _file_thread() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=FILE_THREAD_NAME)
        return _executor


def _forget_after_fork() -> None:
    # A forked child has none of its parent's threads: it starts its own when it needs one.
    global _executor, _queued, _lock
    _executor, _queued, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _count(change: int) -> int:
    global _queued
    with _lock:
        _queued += change
        return _queued


async def in_file_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``asyncio.to_thread(func, ...)`` on the file thread, or on the default executor when more than
    ``FILE_THREAD_BACKLOG`` jobs already wait for the file thread."""
    if _count(+1) > FILE_THREAD_BACKLOG:
        _count(-1)
        return await asyncio.to_thread(func, *args, **kwargs)
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)  # as to_thread does
    try:
        return await asyncio.get_running_loop().run_in_executor(_file_thread(), call)
    finally:
        _count(-1)
