"""RetryPolicy and Retry-After parsing (pure)."""

import ssl
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from tenacity import RetryCallState

from jarkdown_pipeline._retry import (
    DeadlineExceeded,
    IncompleteDownload,
    RetryableStatus,
    RetryAfterOrBackoff,
    RetryPolicy,
    decide_retry,
    is_retryable,
    parse_retry_after,
)
from jarkdown_pipeline.jira_api_client import error_for_status

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0), (None, None), ("", None), ("soon", None)],
)
def test_retry_after_seconds(header, expected):
    assert parse_retry_after(header, now=NOW) == expected


def test_retry_after_http_date_is_seconds_from_now():
    header = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(header, now=NOW) == pytest.approx(42.0)


def test_retry_after_date_in_the_past_means_no_wait():
    header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 0.0


def test_backoff_is_full_jitter_exponential_and_capped():
    policy = RetryPolicy(base_backoff=0.5, max_backoff=3.0)
    ceilings = []
    for attempt in range(1, 7):
        ceilings.append(policy.backoff(attempt, rng=lambda low, high: high))
        assert policy.backoff(attempt, rng=lambda low, high: low) == 0.0
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_backoff=-1)


def _certificate_error() -> aiohttp.ClientConnectorCertificateError:
    key = ConnectionKey("jira.example", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorCertificateError(key, ssl.SSLCertVerificationError("self-signed certificate"))


# (error, attempt that failed, retried?, wait with the jitter at its top) for RetryPolicy(base_backoff=0.5,
# max_backoff=30, max_retry_after=120, max_attempts=5). The floor: a retried status never waits less than 0.5 s.
DECISIONS = [
    (RetryableStatus(429, 7.0, [], None), 1, True, 7.0),
    (RetryableStatus(429, 0.0, [], None), 1, True, 0.5),  # Retry-After: 0 -> floored
    (RetryableStatus(503, None, [], None), 3, True, 2.0),  # no (or garbage) Retry-After -> backoff
    (RetryableStatus(429, 3600.0, [], None), 1, True, 120.0),  # capped
    (RetryableStatus(502, None, [], None), 4, True, 4.0),
    (RetryableStatus(429, 5.0, [], None), 5, False, 0.0),  # attempts used up
    (aiohttp.ServerDisconnectedError(), 2, True, 1.0),
    (TimeoutError(), 1, True, 0.5),
    (IncompleteDownload("short"), 1, True, 0.5),
    (_certificate_error(), 1, False, 0.0),  # TLS verification: never retried
    (DeadlineExceeded("trickled"), 1, False, 0.0),
    (ValueError("bug"), 1, False, 0.0),
]


@pytest.mark.parametrize(("error", "attempt", "retry", "wait"), DECISIONS)
def test_retry_decision_table(error, attempt, retry, wait):
    decision = decide_retry(RetryPolicy(), error, attempt, rng=lambda low, high: high)
    assert (decision.retry, decision.wait) == (retry, wait)
    assert decision.reason


@pytest.mark.parametrize("retry_after", [0.0, None])
def test_a_retried_status_never_waits_zero_even_with_zero_jitter(retry_after):
    decision = decide_retry(RetryPolicy(), RetryableStatus(429, retry_after, [], None), 1, rng=lambda low, high: low)
    assert decision.wait == RetryPolicy().base_backoff > 0


# Stated here, not read from DEFAULT_RETRY_STATUSES: rate limits and gateway errors are worth another
# attempt; a 500 (Jira's own bug for this request) and every 4xx but 429 are not.
RETRIED_STATUSES = (429, 502, 503, 504)
FINAL_STATUSES = (500, 501, 400, 401, 403, 404, 409)
STATUS_RETRIED = [(status, True) for status in RETRIED_STATUSES] + [(status, False) for status in FINAL_STATUSES]


@pytest.mark.parametrize(("status", "retried"), STATUS_RETRIED)
def test_default_policy_retries_rate_limits_and_gateway_errors_only(status, retried):
    url = "https://jira.example/rest/api/3/issue/ABC-1"
    error = error_for_status(status, "GET", url, {"Retry-After": "1"}, b"{}", issue_key="ABC-1")
    assert is_retryable(RetryPolicy(), error) is retried


@pytest.mark.parametrize(
    "error",
    [
        RetryableStatus(429, None, [], None),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("cut"),
        TimeoutError(),
        IncompleteDownload("short"),
    ],
)
def test_transient_errors_are_retryable(error):
    assert is_retryable(RetryPolicy(), error)


def test_other_errors_and_disabled_transport_retries_are_not_retried():
    assert not is_retryable(RetryPolicy(), ValueError("bug"))
    assert not is_retryable(RetryPolicy(retry_on_connection_errors=False), aiohttp.ServerDisconnectedError())


def _state_after(error: BaseException, attempt_number: int = 1) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    state.attempt_number = attempt_number
    state.set_exception((type(error), error, None))
    return state


def test_wait_honours_retry_after_capped_and_floored_by_policy():
    wait = RetryAfterOrBackoff(RetryPolicy(max_retry_after=10))
    assert wait(_state_after(RetryableStatus(429, 4.0, [], None))) == 4.0
    assert wait(_state_after(RetryableStatus(429, 3600.0, [], None))) == 10
    assert wait(_state_after(RetryableStatus(429, 0.0, [], None))) == 0.5


def test_wait_without_retry_after_uses_backoff():
    wait = RetryAfterOrBackoff(RetryPolicy(base_backoff=1.0, max_backoff=8.0))
    for attempt in range(1, 6):
        assert 0.0 <= wait(_state_after(aiohttp.ServerDisconnectedError(), attempt)) <= min(8.0, 2 ** (attempt - 1))
