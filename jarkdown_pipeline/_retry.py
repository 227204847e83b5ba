"""Retry policy of the Jira client, as data, plus the tenacity pieces that apply it.

Jira Cloud rate-limits with 429 (and sheds load with 503/504), usually sending ``Retry-After``.
When it does, that wait is honoured (capped by ``max_retry_after`` so a bogus header cannot stall
a run for hours); otherwise the wait is exponential backoff with full jitter, which spreads the
retries of many concurrent requests instead of synchronising them. A retried status never waits
less than ``base_backoff``, whatever ``Retry-After`` says (0, a date in the past, garbage): a
server that says "retry now" must not get a zero-wait burst.

What is retried is one pure decision, ``decide_retry(policy, error, attempt)`` -> ``RetryDecision``
(retry or not, how long to wait, why), tested as a table; tenacity only applies it.
"""

import asyncio
import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from tenacity import RetryCallState

DEFAULT_RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries a call; every call (downloads included) goes through it.

    ``max_attempts`` counts the first try: 5 means one try and up to four retries.
    """

    max_attempts: int = 5
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    retry_on_connection_errors: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy backoff values must not be negative")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    def backoff(self, attempt_number: int, *, rng: Callable[[float, float], float] = random.uniform) -> float:
        """Full-jitter exponential backoff before retry number ``attempt_number`` (1-based)."""
        ceiling = min(self.max_backoff, self.base_backoff * (2 ** (attempt_number - 1)))
        return rng(0.0, ceiling)


class RetryableStatus(Exception):
    """A response with a status the policy retries; carries what the final error needs."""

    def __init__(self, status: int, retry_after: float | None, error_messages: list[str], body: object) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.error_messages = error_messages
        self.body = body


class IncompleteDownload(Exception):
    """The stream ended before the announced length: treated like a dropped connection."""


class DeadlineExceeded(Exception):
    """A request passed the client's total deadline, or a download fell below the minimum rate.

    Not retried: the server had the whole deadline (or window) and used it to send next to nothing.
    """


# Failures of the transport, not of the request: worth another try.
TRANSIENT_TRANSPORT_ERRORS = (
    aiohttp.ClientConnectionError,  # refused, reset, server disconnected, OS errors
    aiohttp.ClientPayloadError,  # body cut short (Content-Length or chunked framing broken)
    asyncio.TimeoutError,  # connect or socket-read timeout
    IncompleteDownload,
)
# A certificate that does not verify will not verify on the next try either: a configuration problem
# (or an attack), to be reported at once.
NEVER_RETRIED_TRANSPORT_ERRORS = (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch, DeadlineExceeded)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failed attempt: ``retry`` after ``wait`` seconds, or give up; ``reason`` says why."""

    retry: bool
    wait: float
    reason: str


def decide_retry(
    policy: RetryPolicy,
    error: BaseException,
    attempt_number: int,
    *,
    rng: Callable[[float, float], float] = random.uniform,
) -> RetryDecision:
    """The one retry decision: after attempt ``attempt_number`` (1-based) failed with ``error``."""
    if attempt_number >= policy.max_attempts:
        return RetryDecision(False, 0.0, f"gave up after {attempt_number} attempts")
    if isinstance(error, RetryableStatus):
        if error.retry_after is not None:
            wanted, source = error.retry_after, "Retry-After"
        else:
            wanted, source = policy.backoff(attempt_number, rng=rng), "backoff"
        # Floored: Retry-After 0 (or in the past) must not become a burst of immediate retries.
        wait = max(policy.base_backoff, min(wanted, policy.max_retry_after))
        return RetryDecision(True, wait, f"HTTP {error.status} ({source})")
    if isinstance(error, NEVER_RETRIED_TRANSPORT_ERRORS):
        return RetryDecision(False, 0.0, f"{type(error).__name__} is not retried")
    if policy.retry_on_connection_errors and isinstance(error, TRANSIENT_TRANSPORT_ERRORS):
        return RetryDecision(True, policy.backoff(attempt_number, rng=rng), type(error).__name__)
    return RetryDecision(False, 0.0, f"{type(error).__name__} is not retried")


def is_retryable(policy: RetryPolicy, error: BaseException) -> bool:
    """Whether ``error`` is worth another attempt at all (attempts left aside)."""
    return decide_retry(policy, error, 0, rng=lambda low, high: low).retry


class RetryAfterOrBackoff:
    """tenacity wait strategy: the wait ``decide_retry`` chose."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if error is None:
            return 0.0
        return decide_retry(self.policy, error, retry_state.attempt_number).wait
