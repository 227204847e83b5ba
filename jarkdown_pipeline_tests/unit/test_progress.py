"""The window's progress line and its periodic reports."""

import asyncio

from jarkdown_pipeline.progress import WindowProgress, progress_reports


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_says_done_of_total_attachments_rate_and_time_left():
    clock = FakeClock()
    progress = WindowProgress(clock=clock)
    assert progress.line() == "0 issues of 0 found so far (search still paging), 0 attachments (0 B); starting; 0 s in"
    progress.found = 600
    progress.total = 1000
    for _ in range(400):
        progress.issue_finished()
    progress.issue_finished(failed=True)
    progress.attachments_stored(530, 12_900_000)
    clock.now += 10
    assert progress.line() == (
        "401 of 1,000 issues (40%), 1 failed, 530 attachments (12.3 MiB); 40.1 issues/s, about 15 s left; 10 s in"
    )
    clock.now += 3600
    progress.issues_done = 1000
    assert progress.line().endswith("0.3 issues/s; 1 h 00 min in")


def test_reports_come_while_the_window_runs_and_stop_with_it():
    said: list[str] = []

    async def window() -> None:
        progress = WindowProgress(total=3)
        async with progress_reports(progress, said.append, interval=0.01):
            for _ in range(3):
                await asyncio.sleep(0.03)
                progress.issue_finished()
        count = len(said)
        await asyncio.sleep(0.05)
        assert len(said) == count, "no report after the window"

    asyncio.run(window())
    assert len(said) >= 3 and any(line.startswith("3 of 3 issues (100%)") or "of 3 issues" in line for line in said)


def test_no_reports_without_a_sink():
    async def window() -> WindowProgress:
        async with progress_reports(WindowProgress(), None, interval=0.001) as progress:
            await asyncio.sleep(0.01)
            return progress

    assert asyncio.run(window()).issues_done == 0
