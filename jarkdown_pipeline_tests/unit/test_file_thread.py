"""The file thread: per-issue file work on one thread, spilling to the default executor past a backlog."""

import asyncio
import contextvars
import threading

import pytest

from jarkdown_pipeline import _file_thread
from jarkdown_pipeline._file_thread import FILE_THREAD_BACKLOG, FILE_THREAD_NAME, in_file_thread

REQUEST = contextvars.ContextVar("request", default=None)


async def test_jobs_run_on_one_named_thread_with_the_callers_context():
    REQUEST.set("ABC-1")

    def where(offset: int, *, scale: int) -> tuple[str, int, str | None]:
        return threading.current_thread().name, offset * scale, REQUEST.get()

    results = await asyncio.gather(*(in_file_thread(where, n, scale=2) for n in range(5)))
    assert {name for name, _, _ in results} == {f"{FILE_THREAD_NAME}_0"}
    assert [value for _, value, _ in results] == [0, 2, 4, 6, 8]
    assert {request for _, _, request in results} == {"ABC-1"}
    assert threading.current_thread() is threading.main_thread()


async def test_an_error_in_the_job_reaches_the_caller_and_the_thread_goes_on():
    def fail() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await in_file_thread(fail)
    assert await in_file_thread(lambda: "still serving") == "still serving"
    assert _file_thread._queued == 0


async def test_past_the_backlog_jobs_run_beside_the_file_thread():
    # A slow disk: the file thread is held; the jobs past the backlog do not wait for it.
    release = threading.Event()
    held_threads: list[str] = []

    def held() -> None:
        held_threads.append(threading.current_thread().name)
        release.wait(10)

    waiting = [asyncio.ensure_future(in_file_thread(held)) for _ in range(FILE_THREAD_BACKLOG)]
    await asyncio.sleep(0.05)
    beside = await asyncio.wait_for(in_file_thread(lambda: threading.current_thread().name), 5)
    assert not beside.startswith(FILE_THREAD_NAME)
    release.set()
    await asyncio.gather(*waiting)
    assert set(held_threads) == {f"{FILE_THREAD_NAME}_0"}
    assert _file_thread._queued == 0
    assert threading.current_thread().name != beside


async def test_after_a_fork_the_child_makes_its_own_file_thread():
    # A forked child has none of its parent's threads: the executor it inherited would never run a job.
    await in_file_thread(lambda: None)
    inherited = _file_thread._executor
    _file_thread._forget_after_fork()  # what os.register_at_fork runs in the child
    try:
        assert await in_file_thread(lambda: "served") == "served"
        assert _file_thread._executor is not None and _file_thread._executor is not inherited
    finally:
        inherited.shutdown(wait=True)
