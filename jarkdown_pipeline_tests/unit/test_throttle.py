"""The client's throttler as pure units: the pace after a 429, per host, with a clock of its own."""

import asyncio
from collections import deque

import pytest

from jarkdown_pipeline._throttle import (
    FIRST_PACE_INTERVAL,
    HostPace,
    HostThrottler,
    LanedSlots,
    accepted_rate,
    paced_interval,
    stated_rate,
)

DC_HEADERS = {"X-RateLimit-FillRate": "20", "X-RateLimit-Interval-Seconds": "2"}


@pytest.mark.parametrize(
    ("headers", "rate"),
    [
        (DC_HEADERS, 10.0),
        ({"X-RateLimit-FillRate": "50", "X-RateLimit-Interval-Seconds": "1"}, 50.0),
        ({"Retry-After": "1"}, None),  # Jira Cloud states no rate
        ({"X-RateLimit-FillRate": "0", "X-RateLimit-Interval-Seconds": "1"}, None),
        ({"X-RateLimit-FillRate": "ten", "X-RateLimit-Interval-Seconds": "1"}, None),
        ({"X-RateLimit-FillRate": "10"}, None),
    ],
)
def test_stated_rate_reads_data_centers_token_bucket(headers, rate):
    assert stated_rate(headers) == rate


def test_accepted_rate_counts_the_starts_before_the_refused_one():
    starts = deque([0.0, 0.1, 0.2, 0.3, 0.4, 5.0])
    assert accepted_rate(starts, until=0.4) == pytest.approx(10.0)
    assert accepted_rate(deque([1.0]), until=2.0) is None
    assert accepted_rate(deque([1.0, 1.0]), until=2.0) is None


@pytest.mark.parametrize(
    ("current", "stated", "accepted", "interval"),
    [
        (0.0, 10.0, 100.0, 0.1),  # the stated rate wins over the measured one
        (0.0, None, 100.0, 0.02),  # else half the accepted rate
        (0.0, None, None, FIRST_PACE_INTERVAL),  # nothing to go by: a first guess
        (0.3, None, None, 0.6),  # ... doubled on each new burst
        (0.5, 10.0, None, 0.5),  # never faster than the pace already set
        (0.05, None, 100.0, 0.05),
    ],
)
def test_paced_interval(current, stated, accepted, interval):
    assert paced_interval(current, stated, accepted) == pytest.approx(interval)


def test_a_pace_spaces_starts_and_a_429_pauses_the_host_then_paces_it():
    pace = HostPace()
    assert [pace.take_turn(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]  # no pace until a 429
    pace.starts.extend([0.0, 0.1, 0.2, 0.3])
    pace.limited(now=0.35, started=0.3, wait=1.0, headers={})
    assert pace.resume_at == pytest.approx(1.35) and pace.interval == pytest.approx(0.2)  # half of 10/s
    # Every request, whenever it asks, waits for the pause, then one starts every 0.2 s.
    waits = [pace.take_turn(0.4) for _ in range(3)]
    assert waits == pytest.approx([0.95, 1.15, 1.35])


def test_429s_of_the_same_burst_extend_the_pause_but_slow_the_pace_once():
    pace = HostPace()
    pace.starts.extend([0.0, 0.1, 0.2, 0.3])
    pace.limited(now=0.35, started=0.3, wait=1.0, headers={})
    pace.limited(now=0.36, started=0.25, wait=2.0, headers={})  # started before the pace was set
    assert pace.interval == pytest.approx(0.2) and pace.resume_at == pytest.approx(2.36)
    assert pace.rate_limited == 2
    pace.starts.extend([2.4, 2.6, 2.8])
    pace.limited(now=2.9, started=2.8, wait=1.0, headers={})  # a new burst: slower again
    assert pace.interval > 0.2


class FakeTime:
    """A clock that moves only when slept on (to the latest moment a sleeper waited for)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        until = self.now + seconds
        await asyncio.sleep(0)  # the others asking at the same moment compute their waits first
        self.now = max(self.now, until)


async def test_the_throttler_bounds_each_host_on_its_own():
    time = FakeTime()
    throttler = HostThrottler(2, clock=time.clock, sleep=time.sleep)
    in_flight = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}
    release = asyncio.Event()

    async def request(host: str) -> None:
        async with throttler.turn(("http", host, 80)):
            in_flight[host] += 1
            peak[host] = max(peak[host], in_flight[host])
            await release.wait()
            in_flight[host] -= 1

    tasks = [asyncio.create_task(request(host)) for host in "aaaaabbb"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert in_flight == {"a": 2, "b": 2}  # two per host, and one host does not wait for the other
    release.set()
    await asyncio.gather(*tasks)
    assert peak == {"a": 2, "b": 2} and time.slept == []


async def test_a_429_makes_every_request_of_the_host_wait_and_then_take_turns():
    time = FakeTime()
    throttler = HostThrottler(5, clock=time.clock, sleep=time.sleep)
    host, other = ("https", "jira", None), ("https", "media", None)
    async with throttler.turn(host) as started:
        pass
    throttler.rate_limited(host, started, 2.0, DC_HEADERS)  # 10 requests a second stated

    async def request(origin) -> None:
        async with throttler.turn(origin):
            pass

    # All asked at the same moment: the pause, then one start every 0.1 s; the media host is not paused.
    await asyncio.gather(*(request(host) for _ in range(3)), request(other))
    assert time.slept == pytest.approx([2.0, 2.1, 2.2])


async def test_a_freed_slot_goes_to_a_waiting_main_request_before_waiting_downloads():
    throttler = HostThrottler(1)
    host = ("https", "jira", None)
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def request(name: str, background: bool, hold: asyncio.Event | None = None) -> None:
        async with throttler.turn(host, background=background):
            order.append(name)
            if hold is not None:
                first_in.set()
                await hold.wait()

    holder = asyncio.create_task(request("download 1", True, release))
    await first_in.wait()
    waiting = [asyncio.create_task(request(f"download {n}", True)) for n in (2, 3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(request("bulk page", False)))  # asks last, served first
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *waiting)
    assert order == ["download 1", "bulk page", "download 2", "download 3"]


async def test_a_cancelled_waiter_loses_its_place_and_a_slot_handed_to_it_is_passed_on():
    slots = LanedSlots(1)
    await slots.acquire(background=False)
    gone = asyncio.create_task(slots.acquire(background=False))
    handed = asyncio.create_task(slots.acquire(background=True))
    after = asyncio.create_task(slots.acquire(background=True))
    await asyncio.sleep(0)
    gone.cancel()  # cancelled while waiting: it leaves the queue
    await asyncio.sleep(0)
    slots.release()  # to `handed`, the first waiter left
    handed.cancel()  # cancelled before it could run: the slot goes on to `after`
    await asyncio.gather(gone, handed, return_exceptions=True)
    await asyncio.wait_for(after, 1)
    assert slots.free == 0
    slots.release()
    assert slots.free == 1
