"""The error hierarchy of the Jira layer (the seed's, with status and Jira's messages carried)."""

from typing import Any


class JarkdownError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(JarkdownError):
    """A setting is missing or malformed; the message names it."""


class JiraApiError(JarkdownError):
    """Jira answered with an error status, or could not be reached.

    ``status_code`` is None when no HTTP answer came (connection refused, timeout).
    ``error_messages`` holds Jira's ``errorMessages`` plus ``errors`` values, when it sent any.
    """

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        response: Any = None,
        error_messages: list[str] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = response
        self.error_messages = list(error_messages or [])
        self.url = url


class AuthenticationError(JiraApiError):
    """Jira rejected the credentials (401), or treated them as anonymous."""


class IssueNotFoundError(JiraApiError):
    """The issue does not exist or the user may not see it (404)."""


class MalformedResponseError(JiraApiError):
    """Jira answered 2xx with a body of the wrong shape (not JSON, an entry that is not an object, ...).

    For a bulk-fetch page the caller fetches that page's issues one by one instead.
    """


class BadRequestError(JiraApiError):
    """Jira refused the request itself (400): a JQL or field it does not accept. Not retried."""


class ForbiddenError(JiraApiError):
    """The user may not do this (403 on anything but ``/myself``)."""


class RateLimitedError(JiraApiError):
    """Jira kept answering 429 until the retry policy gave up; ``retry_after`` is its last wait (seconds)."""

    def __init__(self, message: str, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, *args, **kwargs)
        self.retry_after = retry_after


class ServerError(JiraApiError):
    """Jira answered 5xx (after the retries the policy allows for 502/503/504)."""


class TransportError(JiraApiError):
    """No usable answer came: connection refused or cut, TLS failure, timeout (``status_code`` is None)."""


class RequestTimeoutError(TransportError):
    """A request passed its total deadline, or a download fell below the minimum transfer rate. Not retried."""


class ResponseTooLargeError(MalformedResponseError):
    """An API answer grew past the client's cap on (decompressed) body bytes; ``limit`` is that cap."""

    def __init__(self, message: str, *args: Any, limit: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, *args, **kwargs)
        self.limit = limit


class PaginationError(MalformedResponseError):
    """Paging went wrong: a page brought nothing new (a repeated token, only items seen), or the page cap was hit."""


class DownloadSizeError(JiraApiError):
    """An attachment's bytes do not match the size Jira announced (more of them, or a different length). Not retried."""


class AttachmentDownloadError(JarkdownError):
    """An attachment could not be downloaded completely.

    From ``download_all_attachments``: ``failures`` maps attachment id to its error and
    ``completed`` holds the result dicts of the attachments that did download.
    """

    def __init__(
        self,
        message: str,
        filename: str | None = None,
        cause: BaseException | None = None,
        *,
        failures: dict[str, BaseException] | None = None,
        completed: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.filename = filename
        self.cause = cause
        self.failures = dict(failures or {})
        self.completed = list(completed or [])


def describe_error(error: BaseException) -> str:
    """One line for metadata and logs; Jira's own messages when it sent any (never credentials)."""
    if isinstance(error, JiraApiError) and error.error_messages:
        messages = "; ".join(error.error_messages)
        return f"{error} ({messages})" if messages not in str(error) else str(error)
    return f"{type(error).__name__}: {error}" if not isinstance(error, JiraApiError) else str(error)


class IssueError(JarkdownError, ValueError):
    """One issue could not be parsed, rendered or stored; the others go on.

    A ValueError too, so callers that refused a malformed issue with ValueError keep working.

    ``key`` names the issue (or its id, or ``"<page N entry M>"`` when Jira sent no usable key) and
    ``reason`` is one line that says why, fit for a step's metadata and log.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
