"""Give the C allocator's free memory back to the system while a long window runs.

A backfill parses bulk pages of megabytes, one after another, in the event loop's thread and in
the threads that store them. glibc keeps what they freed in its heaps (one per thread that
allocated), so the process's resident memory follows the highest point each heap ever reached, and
it creeps up as the heaps fragment. ``malloc_trim(0)`` returns the free pages of every heap. A no-op
where the C library has no such function (macOS, musl).
"""

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

logger = logging.getLogger(__name__)

# Often: the resident peak of a backfill is the free memory between two trims (a trim costs a
# fraction of a millisecond), not the memory in use.
TRIM_INTERVAL_SECONDS = 1.0
ITEMS_FREED_PER_TURN = 4


async def drop_in_turns(items: list[Any], per_turn: int = ITEMS_FREED_PER_TURN) -> None:
    """Empty ``items`` ``per_turn`` at a time, a turn of the event loop between: a bulk page's 100
    issues (hundreds of thousands of objects) freed at once would hold the loop, and every answer
    waiting on it, for tens of milliseconds. Frees only what nothing else holds."""
    while items:
        del items[-per_turn:]
        await asyncio.sleep(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = library.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the C heaps' free pages to the system; False where that cannot be done."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@contextlib.asynccontextmanager
async def releasing_free_memory(interval: float = TRIM_INTERVAL_SECONDS) -> AsyncIterator[None]:
    """While the body runs, ``release_free_memory`` every ``interval`` seconds (in a thread: it walks the heaps)."""

    async def every_interval() -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(release_free_memory)

    task = asyncio.create_task(every_interval()) if _malloc_trim() is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
