"""Progress of a long window, said in the run's log about every ``interval`` seconds.

A backfill of 100,000 issues runs for many minutes; a user watching the Dagster UI or ``make demo``
sees issues done of the total, attachments and bytes, the rate and the time left. The counters are
plain attributes bumped by the window (one event loop, no locks); ``report_periodically`` is a task
that says the line, so a window waiting on slow downloads still shows it is alive.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from jarkdown_pipeline.sizes import human_size

PROGRESS_INTERVAL_SECONDS = 10.0


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


@dataclass
class WindowProgress:
    """Counters of one window. ``total`` is None while the search is still paging (``found`` so far)."""

    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    found: int = 0
    total: int | None = None
    issues_done: int = 0
    issues_failed: int = 0
    attachments: int = 0
    attachment_bytes: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def issue_finished(self, *, failed: bool = False) -> None:
        self.issues_done += 1
        self.issues_failed += failed

    def attachments_stored(self, count: int, size: int) -> None:
        self.attachments += count
        self.attachment_bytes += size

    def line(self) -> str:
        """``412 of 1,000 issues (41%), 530 attachments (12.3 MiB); 38.2 issues/s, about 15 s left``."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.issues_done / elapsed
        if self.total is None:
            done = f"{self.issues_done:,} issues of {self.found:,} found so far (search still paging)"
        else:
            share = f" ({100 * self.issues_done // self.total}%)" if self.total else ""
            done = f"{self.issues_done:,} of {self.total:,} issues{share}"
        failed = f", {self.issues_failed:,} failed" if self.issues_failed else ""
        parts = [f"{done}{failed}, {self.attachments:,} attachments ({human_size(self.attachment_bytes)})"]
        parts.append(f"{rate:.1f} issues/s" if self.issues_done else "starting")
        if self.total is not None and self.issues_done and self.total > self.issues_done:
            parts.append(f"about {_duration((self.total - self.issues_done) / rate)} left")
        return f"{parts[0]}; {', '.join(parts[1:])}; {_duration(elapsed)} in"


async def report_periodically(progress: WindowProgress, say: Callable[[str], None], interval: float) -> None:
    """Say the progress line every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        say(progress.line())


@contextlib.asynccontextmanager
async def progress_reports(
    progress: WindowProgress, say: Callable[[str], None] | None, interval: float = PROGRESS_INTERVAL_SECONDS
) -> AsyncIterator[WindowProgress]:
    """While the body runs, say the progress every ``interval`` seconds (nothing when ``say`` is None)."""
    if say is None:
        yield progress
        return
    task = asyncio.create_task(report_periodically(progress, say, interval))
    try:
        yield progress
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
