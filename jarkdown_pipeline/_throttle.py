"""The client's one concurrency seam: a throttler around every request, per host.

Per host (scheme, host, port), at most ``max_concurrency`` requests run at once (the same number as
the connector's ``limit_per_host``, so a request never waits for a connection after it got its
turn), and requests start no earlier than the host's pace allows. The pace is shared by every
request of the client: after a 429 the whole host waits for the ``Retry-After`` it was given (not
each request on its own, which would send the next requests into the same limit), and from then on
requests start at the rate the host accepts:

- the rate the host states, when it states one (Jira Data Center's token bucket:
  ``X-RateLimit-FillRate`` tokens every ``X-RateLimit-Interval-Seconds``);
- else half the rate at which the host accepted this client's requests just before the 429
  (multiplicative decrease, as TCP does; Jira Cloud states no rate).

429s of requests that started before the pace was last set belong to the burst that set it: they
extend the pause but do not slow the pace again.

Two lanes share a host's slots: a freed slot goes to a waiting request of the main lane (searches,
bulk fetches, changelog and comment pages: what the downloads wait on) before a background one
(attachment downloads). Downloads queue in their dozens; a bulk page stuck behind them would leave
the download slots idle once the issues already fetched are done. Modelled on githubkit's ``throttling.py``
(a throttler that every request enters) with the rate-limit handling of its ``retry.py``.
"""

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Request starts remembered per host, to measure the rate the host accepted before a 429.
RECENT_STARTS = 64
# Without a measurable rate (a 429 on the first requests), the pace starts from this interval.
FIRST_PACE_INTERVAL = 0.1

Origin = tuple[str, str, int | None]


def stated_rate(headers: Mapping[str, str]) -> float | None:
    """Requests per second a host states in its rate-limit headers (Data Center's token bucket), or None."""
    try:
        fill = float(headers.get("X-RateLimit-FillRate", ""))
        interval = float(headers.get("X-RateLimit-Interval-Seconds", ""))
    except ValueError:
        return None
    if fill <= 0 or interval <= 0:
        return None
    return fill / interval


def accepted_rate(starts: "deque[float]", until: float) -> float | None:
    """Requests per second over the remembered starts before ``until``; None with fewer than two."""
    before = [moment for moment in starts if moment <= until]
    if len(before) < 2 or before[-1] <= before[0]:
        return None
    return (len(before) - 1) / (before[-1] - before[0])


def paced_interval(current: float, stated: float | None, accepted: float | None) -> float:
    """The seconds between request starts after a 429 (pure): the stated rate, else half the accepted one.

    Never faster than the pace already set: a host that limited this client once is not pushed harder.
    """
    if stated is not None:
        wanted = 1.0 / stated
    elif accepted is not None:
        wanted = 2.0 / accepted
    else:
        wanted = max(2 * current, FIRST_PACE_INTERVAL)
    return max(current, wanted)


@dataclass
class HostPace:
    """One host's turn-taking: a pause until ``resume_at``, then one start every ``interval`` seconds."""

    interval: float = 0.0
    resume_at: float = 0.0
    next_start: float = 0.0
    set_at: float = float("-inf")
    """When the pace was last slowed: 429s of requests started before it belong to that burst."""
    starts: "deque[float]" = field(default_factory=lambda: deque(maxlen=RECENT_STARTS))
    rate_limited: int = 0

    def take_turn(self, now: float) -> float:
        """Reserve the next start; the seconds to wait for it."""
        start = max(now, self.resume_at, self.next_start)
        self.next_start = start + self.interval
        return start - now

    def limited(self, now: float, started: float, wait: float, headers: Mapping[str, str]) -> None:
        """A request started at ``started`` got a 429 asking to wait ``wait`` seconds."""
        self.rate_limited += 1
        self.resume_at = max(self.resume_at, now + wait)
        if started < self.set_at:
            return  # the same burst: the pace already reflects it
        self.interval = paced_interval(self.interval, stated_rate(headers), accepted_rate(self.starts, started))
        self.set_at = now
        self.next_start = self.resume_at


class LanedSlots:
    """A semaphore of ``size`` slots whose waiters of the main lane are served before background ones,
    each lane in arrival order."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: dict[bool, deque[asyncio.Future[None]]] = {False: deque(), True: deque()}

    async def acquire(self, background: bool) -> None:
        if self.free > 0 and not (self._waiters[False] or self._waiters[True]):
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane = self._waiters[background]
        lane.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot as it was cancelled: pass it on
            elif waiter in lane:
                lane.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the slot to the first waiter of the main lane, else of the background lane, else free it."""
        for background in (False, True):
            lane = self._waiters[background]
            while lane:
                waiter = lane.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.free += 1

    @contextlib.asynccontextmanager
    async def held(self, background: bool) -> AsyncIterator[None]:
        await self.acquire(background)
        try:
            yield
        finally:
            self.release()


class HostThrottler:
    """``async with throttler.turn(origin) as started:`` around every request (see the module's doc)."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._clock = clock
        self._sleep = sleep
        self._slots: dict[Origin, LanedSlots] = {}
        self.paces: dict[Origin, HostPace] = {}

    def pace(self, origin: Origin) -> HostPace:
        return self.paces.setdefault(origin, HostPace())

    @contextlib.asynccontextmanager
    async def turn(self, origin: Origin, *, background: bool = False) -> AsyncIterator[float]:
        """Hold one of the host's slots, once its pace allows a start; yields the start (clock time).
        A ``background`` request (a download) gets a slot only when no main-lane request waits."""
        slots = self._slots.setdefault(origin, LanedSlots(self.max_concurrency))
        pace = self.pace(origin)
        async with slots.held(background):
            wait = pace.take_turn(self._clock())
            if wait > 0:
                await self._sleep(wait)
            # A 429 that arrived meanwhile paused the host further: wait for that too.
            while (later := pace.resume_at - self._clock()) > 0:
                await self._sleep(later)
            started = self._clock()
            pace.starts.append(started)
            yield started

    def rate_limited(self, origin: Origin, started: float, wait: float, headers: Mapping[str, str]) -> None:
        """Record a 429 for a request that started at ``started``: pause the host ``wait`` s, slow its pace."""
        self.pace(origin).limited(self._clock(), started, wait, headers)


def slept_time(
    sleep: Callable[[float], Awaitable[Any]],
) -> tuple[Callable[[], float], Callable[[float], Awaitable[Any]]]:
    """(clock, sleep) where the clock advances by exactly what was slept through ``sleep`` and nothing else:
    a client given a sleep that does not wait (tests) then sees its own waits as over."""
    now = [time.monotonic()]

    async def sleep_and_advance(seconds: float) -> None:
        await sleep(seconds)
        now[0] += seconds

    return (lambda: now[0]), sleep_and_advance
