"""Retry policy of the Jira client, as data, plus the tenacity pieces that apply it.

Jira Cloud rate-limits with 429 (and sheds load with 503/504), usually sending ``Retry-After``.
When it does, that wait is honoured (capped by ``max_retry_after`` so a bogus header cannot stall
a run for hours); otherwise the wait is exponential backoff with full jitter, which spreads the
retries of many concurrent requests instead of synchronising them.
"""

import asyncio
import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import aiohttp
from tenacity import RetryCallState

DEFAULT_RETRY_STATUSES = frozenset({429, 503, 504})


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


# Failures of the transport, not of the request: worth another try.
TRANSIENT_TRANSPORT_ERRORS = (
    aiohttp.ClientConnectionError,  # refused, reset, server disconnected, OS errors
    aiohttp.ClientPayloadError,  # body cut short (Content-Length or chunked framing broken)
    asyncio.TimeoutError,  # connect or socket-read timeout
    IncompleteDownload,
)


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
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def is_retryable(policy: RetryPolicy, error: BaseException) -> bool:
    if isinstance(error, RetryableStatus):
        return True
    return policy.retry_on_connection_errors and isinstance(error, TRANSIENT_TRANSPORT_ERRORS)


class RetryAfterOrBackoff:
    """tenacity wait strategy: the server's Retry-After when it sent one, else jittered backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RetryableStatus) and error.retry_after is not None:
            return min(error.retry_after, self.policy.max_retry_after)
        return self.policy.backoff(retry_state.attempt_number)
