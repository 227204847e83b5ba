"""The window gives the C heaps' free pages back while it runs, and stops doing so when it ends."""

import asyncio

import pytest

from jarkdown_pipeline import _memory

needs_malloc_trim = pytest.mark.skipif(_memory._malloc_trim() is None, reason="no malloc_trim in this C library")


@needs_malloc_trim
def test_release_free_memory_calls_the_c_library():
    assert _memory.release_free_memory() is True


@needs_malloc_trim
async def test_releasing_runs_while_the_body_runs_and_stops_after(monkeypatch):
    calls = []
    monkeypatch.setattr(_memory, "release_free_memory", lambda: calls.append(True) or True)
    async with _memory.releasing_free_memory(interval=0.01):
        while len(calls) < 2:
            await asyncio.sleep(0.01)
    after = len(calls)
    await asyncio.sleep(0.05)
    assert len(calls) == after, "the periodic release outlived the window"


async def test_drop_in_turns_empties_the_list_a_few_items_a_turn():
    items = [{"n": n} for n in range(25)]
    seen_lengths = []

    async def watch() -> None:
        while True:
            seen_lengths.append(len(items))
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch())
    await asyncio.sleep(0)
    await _memory.drop_in_turns(items, per_turn=10)
    watcher.cancel()
    assert items == []
    assert 15 in seen_lengths and 5 in seen_lengths  # the loop ran between the slices
