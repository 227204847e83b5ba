"""Async Jira REST v3 client: one aiohttp session, retries, pagination, bulk fetch, downloads.

Design notes (why, not what):
- One ``aiohttp.ClientSession`` per ``async with``, opened only in ``__aenter__``.
- The ``Authorization`` header is built per request and only for the Jira base URL's origin;
  redirects are followed by hand, so a 303 to Jira's media host (token in its URL) never gets
  the credentials. Cookies are not kept at all (``DummyCookieJar``): loopback hosts on two ports
  share a cookie domain, and the client needs no session cookie.
- Jira Cloud answers a wrong email/token as *anonymous* (404s, empty searches); only ``/myself``
  says 401. The credentials are therefore checked on open, so a bad token can never look like an
  empty project.
- Every call, downloads included, goes through the same tenacity loop driven by ``RetryPolicy``.
- Secrets never reach messages, logs or reprs: every error leaving the client passes through one
  scrub (``_secrets.Secrets``: token, PAT, Basic credentials, any echoed ``Authorization`` value),
  and URLs are shown without their query string (media URLs carry a token there).
- Every request is bounded: a total deadline per API request (``request_deadline``; a download until
  its headers), a cap on decompressed API bodies (``max_response_bytes``), a minimum transfer rate
  for downloads (``min_download_rate`` over ``download_rate_window``), a page cap and a
  nothing-new check for paging (``max_pages``). None of them is retried: the server had its chance.
- Attachments are asked for with ``Accept-Encoding: identity`` and decoded by the client if a server
  compresses them anyway, checking the compressed stream's end, so a saved file is exactly the
  attachment; no byte beyond Jira's announced size is written.
- Plain ``http://`` to anything but loopback is refused unless ``allow_insecure_http`` (the token
  would travel in clear text).
"""

import asyncio
import base64
import collections
import contextlib
import itertools
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from yarl import URL

from jarkdown_pipeline import changelogs, datacenter
from jarkdown_pipeline._body import (
    ContentDecoder,
    RateFloor,
    SizeCap,
    SizeLimitExceeded,
    TooSlow,
    UnsupportedEncoding,
)
from jarkdown_pipeline._file_thread import in_file_thread
from jarkdown_pipeline._files import DOWNLOAD_TEMP_SUFFIX, new_temp_file, write_atomically
from jarkdown_pipeline._json import load_json, load_json_in_turns
from jarkdown_pipeline._retry import (
    DEFAULT_RETRY_STATUSES,
    DeadlineExceeded,
    IncompleteDownload,
    RetryableStatus,
    RetryAfterOrBackoff,
    RetryPolicy,
    decide_retry,
    is_retryable,
    parse_retry_after,
)
from jarkdown_pipeline._secrets import Secrets
from jarkdown_pipeline._throttle import HostThrottler, slept_time
from jarkdown_pipeline.base_url import check_transport_security, normalise_base_url
from jarkdown_pipeline.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DownloadSizeError,
    ForbiddenError,
    IssueNotFoundError,
    JiraApiError,
    MalformedResponseError,
    PaginationError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)

__all__ = ["BulkFetchResult", "ClientStats", "JiraApiClient", "RetryPolicy"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BULK_FETCH_MAX_ISSUES = 100  # Jira Cloud's limit per POST /issue/bulkfetch
DOWNLOAD_CHUNK_SIZE = 8192
# Attachments up to this size are read whole into memory and written in one go (see download_to_file).
IN_MEMORY_DOWNLOAD_BYTES = 1024 * 1024
# Jira Cloud's attachment content answers 303 to its media host, unless asked ``redirect=false``:
# then the bytes come in the same answer. Asked for attachments this small (by Jira's ``size``), one
# round trip instead of two; larger ones, and those of unknown size, are streamed from the media host.
DIRECT_DOWNLOAD_MAX_BYTES = IN_MEMORY_DOWNLOAD_BYTES
_CLOUD_CONTENT_PATH = re.compile(r"/rest/api/[0-9]+/attachment/content/[^/]+/?$")
# An error body is only read for its message; a runaway HTML page must not be held whole.
MAX_ERROR_BODY_BYTES = 64 * 1024
# Defaults of the bounds (see JiraApiClient's keywords). A bulk page of 100 full issues is a few MB.
DEFAULT_REQUEST_DEADLINE = 300.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# 1 KiB/s over two minutes: only a stream that has all but stopped trips it; a slow link is far above.
DEFAULT_MIN_DOWNLOAD_RATE = 1024.0
DEFAULT_DOWNLOAD_RATE_WINDOW = 120.0
DEFAULT_MAX_PAGES = 10_000


@dataclass
class ClientStats:
    """Counters the pipeline reports as metadata.

    ``requests`` counts HTTP requests sent (retries and redirect hops included); ``retries`` the
    retried attempts; ``bytes_downloaded`` attachment bytes received by ``download_to_file`` (a
    restarted download counts again); ``rate_limited`` the 429s received; ``peak_in_flight`` the most calls running at once (from sending until the body is
    read; for a response handed to the caller, until its headers arrived).
    """

    requests: int = 0
    retries: int = 0
    bytes_downloaded: int = 0
    peak_in_flight: int = 0
    rate_limited: int = 0
    in_flight: int = field(default=0, repr=False)

    def as_dict(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("in_flight")
        return data


@dataclass
class BulkFetchResult:
    """Complete issues in the order asked for, and ``{key or id: reason}`` for those Jira did not return.

    ``not_found``: the subset of ``errors`` that Jira answered 404 for while fetching the page (Data
    Center's per-issue fallback), so the caller need not ask for them once more to learn they are gone.
    """

    issues: list[dict[str, Any]]
    errors: dict[str, str]
    not_found: dict[str, str] = field(default_factory=dict)
    completion: "asyncio.Future[None] | None" = field(default=None, compare=False, repr=False)
    """``bulk_fetch_stream(defer_completion=True)``: the paging of the issues' truncated changelogs,
    comments and worklogs (in place), still running; the issues are complete once it is done."""


def merged_bulk_results(pages: Iterable[BulkFetchResult]) -> BulkFetchResult:
    """Several pages' results as one, in page order."""
    merged = BulkFetchResult(issues=[], errors={})
    for page in pages:
        merged.issues.extend(page.issues)
        merged.errors.update(page.errors)
        merged.not_found.update(page.not_found)
    return merged


# What a bulk fetch expands unless told otherwise (one value for every bulk path, so none drifts).
WHOLE_ISSUE_EXPAND: tuple[str, ...] = ("renderedFields", "changelog")


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


def _without_query(url: URL | str) -> str:
    """A URL safe to show: Jira's media URLs carry a token in the query."""
    url = URL(str(url)) if not isinstance(url, URL) else url
    return str(url.with_query(None).with_fragment(None))


def _jira_error_messages(body: object) -> list[str]:
    """Jira's ``errorMessages`` plus ``errors`` (field -> message) from an error body."""
    if not isinstance(body, dict):
        return []
    messages = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, dict):
        messages.extend(f"{name}: {text}" for name, text in errors.items())
    if not messages and isinstance(body.get("message"), str):
        messages.append(body["message"])
    return messages


class JiraApiClient:
    """Async client for Jira Cloud REST v3. Use it as ``async with JiraApiClient(...) as client``."""

    def __init__(
        self,
        base_url_or_domain: str,
        email: str | None = None,
        api_token: str | None = None,
        *,
        personal_access_token: str | None = None,
        max_connections_per_host: int = 5,
        retry_policy: RetryPolicy | None = None,
        connect_timeout: float = 15.0,
        read_timeout: float = 60.0,
        max_redirects: int = 5,
        page_size: int = 100,
        verify_credentials: bool = True,
        api_version: str = "3",
        close_grace_period: float = 0.250,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        request_deadline: float | None = DEFAULT_REQUEST_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        min_download_rate: float = DEFAULT_MIN_DOWNLOAD_RATE,
        download_rate_window: float = DEFAULT_DOWNLOAD_RATE_WINDOW,
        max_pages: int = DEFAULT_MAX_PAGES,
        allow_insecure_http: bool = False,
        flavour: str = datacenter.CLOUD,
        direct_download_max_bytes: int = DIRECT_DOWNLOAD_MAX_BYTES,
    ) -> None:
        self.base_url = normalise_base_url(base_url_or_domain)
        check_transport_security(self.base_url, allow_insecure_http)
        self.domain = self.base_url.host
        if flavour not in datacenter.FLAVOURS:
            raise ConfigurationError(f"flavour must be one of {', '.join(datacenter.FLAVOURS)}, got {flavour!r}")
        self.flavour = flavour  # "auto" until __aenter__ asks serverInfo
        self.api_base = self.base_url / "rest" / "api" / ("2" if flavour == datacenter.DATACENTER else str(api_version))
        self._authorization = self._build_authorization(email, api_token, personal_access_token)
        self._secrets = Secrets(self._secret_values(email, api_token, personal_access_token))
        self.auth_kind = "bearer" if personal_access_token else "basic"
        self.email = email
        if max_connections_per_host < 1:
            raise ConfigurationError("max_connections_per_host must be at least 1")
        if not 1 <= page_size <= 5000:
            raise ConfigurationError(f"page_size must be between 1 and 5000, got {page_size}")
        self.max_connections_per_host = max_connections_per_host
        self.retry_policy = retry_policy or RetryPolicy()
        self.timeout = aiohttp.ClientTimeout(
            total=None,  # never cut a long attachment stream as a whole ...
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,  # ... but do cut one that stalls
        )
        self.max_redirects = max_redirects
        if direct_download_max_bytes < 0:
            raise ConfigurationError(f"direct_download_max_bytes must not be negative, got {direct_download_max_bytes}")
        self.direct_download_max_bytes = direct_download_max_bytes  # 0: every download follows Jira's redirect
        self.page_size = page_size
        self.verify_credentials = verify_credentials
        self.stats = ClientStats()
        self.session: aiohttp.ClientSession | None = None
        self.close_grace_period = close_grace_period
        # A client given its own sleep (tests) keeps the throttler's time by it: a wait it slept is over.
        self._clock, self._sleep = (time.monotonic, sleep) if sleep is asyncio.sleep else slept_time(sleep)
        self.throttler: HostThrottler | None = None
        self._myself: dict[str, Any] | None = None
        self._myself_lock: asyncio.Lock | None = None
        self._set_bounds(request_deadline, max_response_bytes, min_download_rate, download_rate_window, max_pages)

    def _set_bounds(
        self,
        request_deadline: float | None,
        max_response_bytes: int,
        min_download_rate: float,
        download_rate_window: float,
        max_pages: int,
    ) -> None:
        if request_deadline is not None and request_deadline <= 0:
            raise ConfigurationError(f"request_deadline must be positive (or None for none), got {request_deadline}")
        if max_response_bytes < 1:
            raise ConfigurationError(f"max_response_bytes must be at least 1, got {max_response_bytes}")
        if min_download_rate < 0 or download_rate_window <= 0:
            raise ConfigurationError("min_download_rate must not be negative and download_rate_window must be positive")
        if max_pages < 1:
            raise ConfigurationError(f"max_pages must be at least 1, got {max_pages}")
        self.request_deadline = request_deadline
        self.max_response_bytes = max_response_bytes
        self.min_download_rate = min_download_rate
        self.download_rate_window = download_rate_window
        self.max_pages = max_pages

    def _secret_values(self, email: str | None, api_token: str | None, personal_access_token: str | None) -> list[str]:
        values = [self._authorization, self._authorization.split(" ", 1)[-1]]
        values += [api_token or "", personal_access_token or ""]
        if email and api_token:
            values.append(f"{email}:{api_token}")
        return values

    def scrub(self, text: str) -> str:
        """``text`` without this client's credentials (for callers that log or store texts about it)."""
        return self._secrets.scrub(text)

    @staticmethod
    def _build_authorization(email: str | None, api_token: str | None, personal_access_token: str | None) -> str:
        if personal_access_token:
            if email or api_token:
                raise ConfigurationError(
                    "give either email and api_token (Jira Cloud) or personal_access_token (Data Center), not both"
                )
            return f"Bearer {personal_access_token}"
        if email and api_token:
            basic = base64.b64encode(f"{email}:{api_token}".encode()).decode("ascii")
            return f"Basic {basic}"
        if email and not api_token:
            raise ConfigurationError("Jira api_token is missing (an email was given)")
        if api_token and not email:
            raise ConfigurationError("Jira email is missing (an api_token was given)")
        raise ConfigurationError(
            "Jira credentials are missing: give email and api_token (Jira Cloud) or personal_access_token"
        )

    def __repr__(self) -> str:
        state = "open" if self.session is not None and not self.session.closed else "closed"
        return f"JiraApiClient(base_url={str(self.base_url)!r}, auth={self.auth_kind!r}, {state})"

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> "JiraApiClient":
        if self.session is not None:
            raise RuntimeError("JiraApiClient is already open; use one `async with` at a time")
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit_per_host=self.max_connections_per_host),
            headers={"Accept": "application/json", "User-Agent": "jarkdown-pipeline"},
            timeout=self.timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._myself_lock = asyncio.Lock()
        self.throttler = HostThrottler(self.max_connections_per_host, clock=self._clock, sleep=self._sleep)
        try:
            if self.flavour == datacenter.AUTO:
                await self._detect_flavour()
            if self.verify_credentials:
                await self.myself()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self._close()

    async def _close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()
            # Lets SSL transports finish closing before the loop moves on (aiohttp docs' advice);
            # tests of plain-http servers may shorten it.
            await asyncio.sleep(self.close_grace_period)

    def _require_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            raise RuntimeError("JiraApiClient is not open: use `async with JiraApiClient(...) as client:`")
        return self.session

    async def _detect_flavour(self) -> None:
        try:
            self.flavour = await datacenter.detect_flavour(self)
        except AuthenticationError as error:
            raise self._authentication_failed(error) from None
        if self.flavour == datacenter.DATACENTER:
            self.api_base = self.base_url / "rest" / "api" / "2"

    def _authentication_failed(self, error: AuthenticationError) -> AuthenticationError:
        return AuthenticationError(
            f"Jira authentication failed (HTTP {error.status_code}) for {self.base_url}: "
            f"check the {'personal access token' if self.auth_kind == 'bearer' else 'email and API token'}",
            status_code=error.status_code,
            response=error.response,
            error_messages=error.error_messages,
            url=error.url,
        )

    # ---------------------------------------------------------------- public calls

    async def myself(self) -> dict[str, Any]:
        """The authenticated user (``accountId``, ``timeZone``...); fetched once, then cached."""
        self._require_session()
        assert self._myself_lock is not None
        async with self._myself_lock:
            if self._myself is None:
                try:
                    me = await self._request_json("GET", self.api_base / "myself")
                except AuthenticationError as error:
                    raise self._authentication_failed(error) from None
                if not isinstance(me, dict):
                    raise MalformedResponseError(
                        f"Jira returned {type(me).__name__} for /myself, expected an object", status_code=200
                    )
                self._myself = me
            return self._myself

    async def fetch_fields(self) -> list[dict[str, Any]]:
        """All field definitions (``GET /field``): id, name, custom, schema."""
        fields = await self._request_json("GET", self.api_base / "field")
        if not isinstance(fields, list):
            raise MalformedResponseError(
                f"Jira returned {type(fields).__name__} for /field, expected a list", status_code=200
            )
        return fields

    async def fetch_issue(
        self, issue_key: str, *, fields: str = "*all", expand: str = "renderedFields,changelog"
    ) -> dict[str, Any]:
        """One issue, complete: truncated inline comments, worklogs and changelog are paged to the end."""
        issue = await self._request_json(
            "GET",
            self._issue_url(issue_key),
            params={"fields": fields, "expand": expand},
            issue_key=issue_key,
        )
        if not isinstance(issue, dict):
            raise MalformedResponseError(
                f"Jira returned {type(issue).__name__} for issue {issue_key}, expected an object", status_code=200
            )
        if self.flavour != datacenter.DATACENTER:  # Data Center inlines the whole changelog
            await changelogs.complete_changelog(self, issue)
        return await self.complete_issue(issue)

    async def search_jql(
        self,
        jql: str,
        *,
        fields: Sequence[str] = ("id", "key"),
        page_size: int | None = None,
        expand: str | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every issue matching ``jql`` (POST /search/jql, paged with ``nextPageToken``), each once.

        The issues of ``search_pages``, one by one.
        """
        async for page in self.search_pages(jql, fields=fields, page_size=page_size, expand=expand):
            for issue in page:
                yield issue

    async def search_pages(
        self,
        jql: str,
        *,
        fields: Sequence[str] = ("id", "key"),
        page_size: int | None = None,
        expand: str | None = None,
    ) -> AsyncIterator[list[Any]]:
        """Yield each page of issues matching ``jql`` as it arrives (issues not yielded before only).

        The next page is asked for when the caller asks for it: a caller that hands a page's work to
        other tasks overlaps that work with the next page's request. Jira answers with fewer issues
        than ``page_size`` as it sees fit (the fewer the fields, the bigger the pages), which is fine.
        An entry that is not an object is yielded as it came (and logged with its page and position):
        it cannot name an issue, but the caller reports it, so the run says Jira's answer was
        incomplete instead of silently missing an issue. Paging ends with ``PaginationError`` when
        a page with a ``nextPageToken`` brings no issue not seen before, when a token repeats, and
        after ``max_pages`` pages; ``MalformedResponseError`` when a page is not an object with a list.
        """
        if self.flavour == datacenter.DATACENTER:  # startAt paging on /rest/api/2/search
            async for page in datacenter.search_pages(self, jql, fields, page_size or self.page_size, expand):
                yield page
            return
        body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": page_size or self.page_size}
        if expand:
            body["expand"] = expand
        seen_tokens: set[str] = set()
        seen_issues: set[str] = set()
        for page_number in itertools.count(1):
            if page_number > self.max_pages:
                raise PaginationError(
                    f"search paged past the page cap ({self.max_pages} pages); stopping", status_code=200
                )
            page = await self._request_json("POST", self.api_base / "search" / "jql", json_body=body)
            issues = self._search_page_issues(page, page_number, seen_issues)
            yield issues
            token = page.get("nextPageToken")
            if page.get("isLast", not token) or not token:
                return
            if token in seen_tokens:
                raise PaginationError(
                    "Jira repeated a search nextPageToken; stopping instead of looping", status_code=200
                )
            if not issues:
                raise PaginationError(
                    f"search page {page_number} brought no new issue but a nextPageToken; stopping instead of looping",
                    status_code=200,
                )
            seen_tokens.add(token)
            body["nextPageToken"] = token

    @staticmethod
    def _search_page_issues(page: Any, page_number: int, seen: set[str]) -> list[Any]:
        """The issues of one search page not yielded before (``seen`` is updated), and its entries that
        are not objects (the caller reports them)."""
        entries = page.get("issues") if isinstance(page, dict) else None
        if not isinstance(page, dict) or not isinstance(entries, (list, type(None))):
            raise MalformedResponseError(
                f"Jira returned a malformed search page {page_number} (not an object with an 'issues' list)",
                status_code=200,
            )
        fresh = []
        for position, issue in enumerate(entries or []):
            if not isinstance(issue, dict):
                logger.warning(
                    "Entry %d of search page %d is a %s, not an issue object",
                    position,
                    page_number,
                    type(issue).__name__,
                )
                fresh.append(issue)
                continue
            identity = str(issue.get("id") or issue.get("key") or f"page {page_number} entry {position}")
            if identity not in seen:
                seen.add(identity)
                fresh.append(issue)
        return fresh

    async def bulk_fetch_issues(
        self,
        issue_keys: Iterable[str],
        *,
        fields: Sequence[str] = ("*all",),
        expand: Sequence[str] = WHOLE_ISSUE_EXPAND,
    ) -> BulkFetchResult:
        """Complete issues for ``issue_keys`` (POST /issue/bulkfetch, 100 per request, all requests at once
        within the throttler's bounds), in the order asked for; see ``bulk_fetch_pages`` for ``errors``."""
        keys = list(dict.fromkeys(str(k) for k in issue_keys))
        pages = await asyncio.gather(*(self._bulk_fetch_page(chunk, fields, expand) for chunk in _chunks(keys)))
        return merged_bulk_results(pages)

    async def bulk_fetch_pages(
        self,
        issue_keys: Iterable[str],
        *,
        fields: Sequence[str] = ("*all",),
        expand: Sequence[str] = WHOLE_ISSUE_EXPAND,
    ) -> AsyncIterator[tuple[list[str], BulkFetchResult | Exception]]:
        """``(keys asked, their page or the error that failed it)`` for each request of 100 issues, in order:
        each request is sent when the previous one's answer arrived, so it is on its way while the
        caller handles that answer, and the host serves other requests (downloads) between them.

        Issues Jira cannot return are reported in ``errors``, never raised and never dropped
        silently. Jira's ``issueErrors`` (retriable errors, named by issue id) are asked for once
        more; those still failing are reported under that id. Keys Jira does not return at all
        (deleted, moved, not visible) are reported under the key (pass issue ids, e.g. from
        ``search_jql``, to have one name per issue in ``errors``). A page's issues come in the order
        asked for; one returned under another key (moved) comes after them.
        """
        chunks: asyncio.Queue[list[str] | None] = asyncio.Queue()
        for chunk in _chunks(list(dict.fromkeys(str(k) for k in issue_keys))):
            chunks.put_nowait(chunk)
        chunks.put_nowait(None)
        async for answer in self.bulk_fetch_stream(chunks, fields=fields, expand=expand):
            yield answer

    async def bulk_fetch_stream(
        self,
        chunks: "asyncio.Queue[list[str] | None]",
        *,
        fields: Sequence[str] = ("*all",),
        expand: Sequence[str] = WHOLE_ISSUE_EXPAND,
        first_request_issues: int | None = None,
        defer_completion: bool = False,
    ) -> AsyncIterator[tuple[list[str], BulkFetchResult | Exception]]:
        """``bulk_fetch_pages`` over keys that arrive while it runs: each list taken from ``chunks``
        (cut into requests of at most 100 issues; None ends the stream) is fetched in order, one
        request at a time, each sent when the previous answer arrived if its keys are there by then,
        else as soon as they come. One stream over a whole window keeps at most two answers in
        memory (the one the caller handles and the next), however many keys the window has.

        ``first_request_issues``: the first request asks for that many issues only. A page of 100
        whole issues is megabytes to send and parse; a small first one starts the caller's work
        (the downloads) sooner, at the cost of one more request.

        ``defer_completion``: each page comes as soon as Jira's bulk answer is in, its issues'
        truncated changelogs, comments and worklogs still being paged (``BulkFetchResult.completion``,
        which the caller awaits before it stores them); their attachment lists are complete already."""
        pending: collections.deque[list[str]] = collections.deque()
        ended = False
        first_cut = first_request_issues

        async def page(chunk: list[str]) -> tuple[list[str], BulkFetchResult | Exception]:
            try:
                return chunk, await self._bulk_fetch_page(chunk, fields, expand, defer_completion)
            except Exception as error:  # that page's: the caller decides (e.g. fetches its issues one by one)
                return chunk, error

        def has_ready() -> bool:
            return bool(pending) or not chunks.empty()

        async def request_next() -> "asyncio.Future[tuple[list[str], BulkFetchResult | Exception]] | None":
            nonlocal ended, first_cut
            while not pending and not ended:
                keys = await chunks.get()
                if keys is None:
                    ended = True
                    continue
                keys = list(keys)
                if first_cut is not None and len(keys) > first_cut:
                    pending.append(keys[:first_cut])
                    keys = keys[first_cut:]
                first_cut = None
                pending.extend(_chunks(keys))
            return asyncio.ensure_future(page(pending.popleft())) if pending else None

        upcoming = await request_next()
        try:
            while upcoming is not None:
                answer = await upcoming
                upcoming = await request_next() if has_ready() else None  # on its way while the caller works
                yield answer
                if upcoming is None:
                    upcoming = await request_next()
        finally:
            if upcoming is not None:
                upcoming.cancel()

    async def _bulk_fetch_page(
        self, keys: list[str], fields: Sequence[str], expand: Sequence[str], defer_completion: bool = False
    ) -> BulkFetchResult:
        """One bulkfetch request (at most 100 keys), Jira's issueErrors asked once more, the issues
        completed (or, ``defer_completion``, being completed: ``BulkFetchResult.completion``)."""
        if not keys:
            return BulkFetchResult(issues=[], errors={})
        if self.flavour == datacenter.DATACENTER:  # no bulkfetch there: a search page of `key in (...)`
            return await datacenter.fetch_page(self, keys, fields, expand)
        issues, issue_errors = await self._bulk_fetch_round(keys, fields, expand)
        if issue_errors:
            retried, issue_errors = await self._bulk_fetch_round(list(issue_errors), fields, expand)
            issues.extend(retried)
        errors: dict[str, str] = dict(issue_errors)
        ordered = _in_asked_order(keys, issues, errors)
        if defer_completion:
            completion = asyncio.ensure_future(self.complete_issues(ordered))
            completion.add_done_callback(_retrieved)  # the caller may be gone (the window failed)
            return BulkFetchResult(issues=ordered, errors=errors, completion=completion)
        await self.complete_issues(ordered)
        return BulkFetchResult(issues=ordered, errors=errors)

    async def complete_issues(self, issues: Sequence[dict[str, Any]]) -> None:
        """Page the truncated changelogs, comments and worklogs of a bulk page's ``issues``, in place:
        one request for their long changelogs, beside the comment and worklog pages (each completes
        its own part of the issue, and completing a complete issue asks for nothing)."""
        await asyncio.gather(
            changelogs.complete_changelogs(self, issues), *(self.complete_issue(issue) for issue in issues)
        )

    async def complete_issue_alone(self, issue: dict[str, Any]) -> None:
        """``complete_issues`` for one issue, its changelog paged on its own (after a page's completion failed)."""
        await self.complete_issue(issue)
        await changelogs.complete_changelog(self, issue)

    async def _bulk_fetch_round(
        self, ids_or_keys: list[str], fields: Sequence[str], expand: Sequence[str]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """One POST /issue/bulkfetch over ``ids_or_keys`` (at most 100): (issues, {issue id: Jira's error})."""
        body = {"issueIdsOrKeys": ids_or_keys, "fields": list(fields), "expand": list(expand)}
        page = await self._request_json(
            "POST", self.api_base / "issue" / "bulkfetch", json_body=body, entries_member="issues"
        )
        self._check_bulk_page(page, ids_or_keys)
        errors: dict[str, str] = {}
        for issue_error in page.get("issueErrors") or []:
            # Stored in the run records: a server's text, so scrubbed like an error body.
            message = str(issue_error.get("errorMessage") or "unknown error")
            errors[str(issue_error.get("id"))] = self._secrets.scrub(message)
        return list(page.get("issues") or []), errors

    @staticmethod
    def _check_bulk_page(page: Any, chunk: list[str]) -> None:
        """A bulk-fetch answer of the wrong shape fails that page (the caller fetches its issues one by one)."""
        problem = None
        if not isinstance(page, dict):
            problem = f"a {type(page).__name__}, not an object"
        else:
            for name in ("issues", "issueErrors"):
                entries = page.get(name)
                if entries is not None and not isinstance(entries, list):
                    problem = f"'{name}' is a {type(entries).__name__}, not a list"
                    break
                bad = [i for i, entry in enumerate(entries or []) if not isinstance(entry, dict)]
                if bad:
                    problem = f"entry {bad[0]} of '{name}' is not an object"
                    break
        if problem:
            first, last = chunk[0] if chunk else "?", chunk[-1] if chunk else "?"
            raise MalformedResponseError(
                f"Jira returned a malformed bulkfetch page for {len(chunk)} issues ({first} .. {last}): {problem}",
                status_code=200,
            )

    async def complete_issue(self, issue: dict[str, Any]) -> dict[str, Any]:
        """Page an issue's truncated inline comments and worklogs to the end (in place, and returned); the
        totals stay as Jira announced them (the renderer notes what could not be fetched). Changelogs are
        completed by the callers (a bulk page's all at once)."""
        fields = issue.get("fields")
        if not isinstance(fields, dict):
            return issue  # nothing to complete; the renderer judges the issue's shape
        key = str(issue.get("key") or issue.get("id"))
        comment = fields.get("comment")
        if isinstance(comment, dict) and self._truncated(comment, "comments"):
            comments = await self._page_all(key, "comment", "comments", params={"expand": "renderedBody"})
            fields["comment"] = {
                "comments": comments,
                "maxResults": len(comments),
                "total": max(comment["total"], len(comments)),
                "startAt": 0,
            }
            rendered_fields = issue.get("renderedFields")
            rendered = rendered_fields.get("comment") if isinstance(rendered_fields, dict) else None
            if isinstance(rendered, dict):
                rendered_comments = [{**c, "body": c.get("renderedBody", c.get("body"))} for c in comments]
                issue["renderedFields"]["comment"] = {**fields["comment"], "comments": rendered_comments}
        worklog = fields.get("worklog")
        if isinstance(worklog, dict) and self._truncated(worklog, "worklogs"):
            worklogs = await self._page_all(key, "worklog", "worklogs")
            fields["worklog"] = {
                "worklogs": worklogs,
                "maxResults": len(worklogs),
                "total": max(worklog["total"], len(worklogs)),
                "startAt": 0,
            }
        return issue

    @staticmethod
    def get_attachment_content_url(attachment: dict[str, Any]) -> str:
        """The attachment's content URL ("" when it has none): the seed's accessor, which the handler uses."""
        return attachment.get("content", "")

    async def download_attachment_stream(self, content_url: str) -> aiohttp.ClientResponse:
        """The seed's streaming API, kept for callers that stream elsewhere (the pipeline uses ``download_to_file``).

        Opens an attachment's content (redirects followed without credentials off Jira's origin) and
        returns the open 200 response; the caller reads it and must release it
        (``async with await client.download_attachment_stream(url) as response:``). It has none of
        ``download_to_file``'s size, rate and encoding checks. Asked for with ``Accept-Encoding:
        identity``; should a server compress anyway, aiohttp decodes the body the caller reads.
        """

        async def attempt() -> aiohttp.ClientResponse:
            self._enter_flight()
            try:
                # The host's turn ends with the headers here: the caller reads the body on its own.
                async with self._exchange(
                    "GET", URL(content_url, encoded=True), accept="*/*", identity=True, background=True
                ) as response:
                    await self._raise_for_status(response, "GET", content_url)
                return response
            finally:
                self._leave_flight()

        return await self._with_retries("GET", content_url, attempt)

    async def download_to_file(
        self, content_url: str, destination: str | os.PathLike, *, expected_size: int | None = None
    ) -> int:
        """Download an attachment to ``destination``, atomically; returns its size.

        The bytes go to a hidden ``.part`` file beside ``destination`` (its folder created if
        missing), are fsynced, and replace ``destination`` only once complete: the final name never
        shows a partial file, and a failed download leaves nothing behind. One announced as
        ``IN_MEMORY_DOWNLOAD_BYTES`` or less is read whole, then created, written, synced and
        renamed in one trip to a thread, so the event loop makes none of its system calls (file
        creation is the slowest of them); a larger one is streamed in 8 KiB chunks.

        A cut or short stream is retried from the start; the length must match ``Content-Length``
        and ``expected_size`` (Jira's ``size``) when known. More bytes than announced stop the
        download at once (``DownloadSizeError``); a stream slower than ``min_download_rate`` over
        ``download_rate_window`` is abandoned (``RequestTimeoutError``). A body the server encoded
        (gzip, deflate) despite ``Accept-Encoding: identity`` is decoded, and must end properly.
        A small attachment of Jira Cloud's is asked for with ``redirect=false`` (``_content_request_url``).
        """
        destination = Path(destination)
        temp_file: list[str] = []  # the streamed path's temporary file, made on first need
        url = self._content_request_url(URL(content_url, encoded=True), expected_size)

        async def attempt() -> int:
            self._enter_flight()
            try:
                async with self._exchange(
                    "GET",
                    url,
                    accept="*/*",
                    identity=True,
                    auto_decompress=False,
                    body_in_deadline=False,  # a big attachment's pace is bounded by the minimum rate instead
                    background=True,
                ) as response:
                    try:
                        await self._raise_for_status(response, "GET", content_url)
                        received = await self._save_download(
                            response, content_url, destination, expected_size, temp_file
                        )
                    finally:
                        response.release()
                if isinstance(received, bytes):
                    # Written once the host's turn is over (as aiohttp frees a connection whose body
                    # is read): the slot serves the next download while this one is synced to disk.
                    await in_file_thread(
                        write_atomically, destination, received, durable=True, suffix=DOWNLOAD_TEMP_SUFFIX
                    )
                    return len(received)
                return received
            finally:
                self._leave_flight()

        try:
            return await self._with_retries("GET", content_url, attempt)
        finally:
            for name in temp_file:
                Path(name).unlink(missing_ok=True)

    # ---------------------------------------------------------------- internals: downloads

    def _content_request_url(self, url: URL, expected_size: int | None) -> URL:
        """``url`` asking Jira Cloud for the bytes themselves (``redirect=false``) when it is Jira's own
        attachment content URL and Jira lists the attachment as at most ``direct_download_max_bytes``;
        else ``url`` as it is (Data Center serves the bytes anyway; a URL with a query of its own is
        not Jira's usual one; a Jira that ignores the parameter still redirects, which is followed)."""
        small = expected_size is not None and expected_size <= self.direct_download_max_bytes
        if (
            not small
            or self.flavour == datacenter.DATACENTER
            or _origin(url) != _origin(self.base_url)
            or not _CLOUD_CONTENT_PATH.search(url.path)
            or url.raw_query_string
        ):
            return url
        return url.update_query(redirect="false")

    async def _save_download(
        self,
        response: aiohttp.ClientResponse,
        content_url: str,
        destination: Path,
        expected_size: int | None,
        temp_file: list[str],
    ) -> int | bytes:
        """One attempt's body: a small one read whole and checked (bytes, for the caller to write once
        the host's turn is over), a larger one streamed to ``destination`` (checked, atomic; its size).
        ``temp_file`` keeps the .part name for cleanup."""
        shown_url = _without_query(content_url)
        try:
            decoder = ContentDecoder(response.headers.get("Content-Encoding"))
        except UnsupportedEncoding as error:
            raise MalformedResponseError(
                f"attachment at {shown_url}: {error}", status_code=response.status, url=shown_url
            ) from None
        # A compressed body's Content-Length counts compressed bytes, not the attachment's.
        announced = response.content_length if decoder.encoding is None else None
        if announced is not None and expected_size is not None and announced != expected_size:
            raise DownloadSizeError(
                f"attachment at {shown_url} announces {announced} bytes but Jira lists its size as {expected_size}",
                status_code=response.status,
                url=shown_url,
            )
        wanted = announced if announced is not None else expected_size
        rate = RateFloor(self.min_download_rate, self.download_rate_window)
        try:
            if announced is not None and announced <= IN_MEMORY_DOWNLOAD_BYTES:
                body = await self._read_small_download(response, announced, rate)
                _check_download_length(len(body), wanted)
                return body
            if not temp_file:
                await _make_part_file(destination, temp_file)
            written = await self._stream_download(response, temp_file[0], decoder, wanted, rate, shown_url)
        except TooSlow as error:
            raise DeadlineExceeded(f"download of {shown_url} abandoned: {error}") from None
        except UnsupportedEncoding as error:
            raise MalformedResponseError(
                f"attachment at {shown_url}: {error}", status_code=response.status, url=shown_url
            ) from None
        os.replace(temp_file[0], destination)
        temp_file.clear()
        return written

    async def _read_small_download(self, response: aiohttp.ClientResponse, announced: int, rate: RateFloor) -> bytes:
        # aiohttp stops at Content-Length, so no byte beyond the announced size can arrive here.
        body = b""
        while len(body) < announced and (more := await response.content.read(announced - len(body))):
            rate.add(len(more))
            self.stats.bytes_downloaded += len(more)
            body += more
        return body

    async def _stream_download(
        self,
        response: aiohttp.ClientResponse,
        temp_name: str,
        decoder: ContentDecoder,
        wanted: int | None,
        rate: RateFloor,
        shown_url: str,
    ) -> int:
        written = 0
        with open(temp_name, "wb") as sink:  # truncated: a retry starts from the first byte
            while chunk := await response.content.read(DOWNLOAD_CHUNK_SIZE):
                rate.add(len(chunk))
                self.stats.bytes_downloaded += len(chunk)
                for piece in decoder.feed(chunk):
                    if wanted is not None and written + len(piece) > wanted:
                        raise DownloadSizeError(
                            f"attachment at {shown_url} sent more than the {wanted} bytes Jira announced; stopped there",
                            status_code=response.status,
                            url=shown_url,
                        )
                    sink.write(piece)
                    written += len(piece)
            decoder.finish()
            sink.flush()
            _check_download_length(written, wanted)
            # Durable before it is renamed into place; off the loop, it can take a while: not on the
            # file thread, where a large file's fsync would hold up the small writes behind it.
            await asyncio.to_thread(os.fsync, sink.fileno())
        return written

    # ---------------------------------------------------------------- internals: paging

    @staticmethod
    def _truncated(container: dict[str, Any], items_name: str) -> bool:
        items = container.get(items_name) or []
        total = container.get("total")
        return isinstance(items, list) and isinstance(total, int) and total > len(items)

    async def _page_all(
        self, issue_key: str, resource: str, items_name: str, *, params: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """All items of ``/issue/{key}/{resource}`` (startAt/maxResults/total paging), without duplicates.

        A page with no items ends paging cleanly even before ``total`` (items deleted while paging
        shrink it; logged). A page whose items were all seen already (a server ignoring ``startAt``)
        raises ``PaginationError``, as does passing ``max_pages``.
        """
        url = self._issue_url(issue_key) / resource
        items: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        start_at = 0
        for page_number in itertools.count(1):
            if page_number > self.max_pages:
                raise PaginationError(
                    f"{resource}s of {issue_key} paged past the page cap ({self.max_pages} pages); stopping",
                    status_code=200,
                )
            page = await self._request_json(
                "GET",
                url,
                params={**(params or {}), "startAt": str(start_at), "maxResults": str(self.page_size)},
                issue_key=issue_key,
            )
            batch = self._paged_items(page, items_name, issue_key, start_at)
            fresh = [item for item in batch if str(item.get("id", id(item))) not in seen_ids]
            seen_ids.update(str(item.get("id", id(item))) for item in fresh)
            items.extend(fresh)
            start_at += len(batch)
            total = page.get("total")
            if not batch:
                if isinstance(total, int) and start_at < total:
                    logger.info(
                        "%ss of %s ended at %d of %d announced (some were deleted meanwhile?)",
                        resource,
                        issue_key,
                        start_at,
                        total,
                    )
                return items
            if not fresh:
                raise PaginationError(
                    f"{resource}s of {issue_key}: the page at startAt {start_at - len(batch)} repeated items already seen; "
                    "stopping instead of looping",
                    status_code=200,
                )
            if not isinstance(total, int) or start_at >= total:
                return items
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _paged_items(page: Any, items_name: str, issue_key: str, start_at: int) -> list[dict[str, Any]]:
        batch = page.get(items_name) if isinstance(page, dict) else None
        if (
            not isinstance(page, dict)
            or not isinstance(batch, (list, type(None)))
            or any(not isinstance(item, dict) for item in batch or [])
        ):
            raise MalformedResponseError(
                f"Jira returned a malformed {items_name} page for {issue_key} at startAt {start_at} "
                f"(not an object with a list of objects under {items_name!r})",
                status_code=200,
            )
        return batch or []

    def _issue_url(self, issue_key: str) -> URL:
        key = str(issue_key).strip()
        if not key or "/" in key:
            raise ValueError(f"not an issue key or id: {issue_key!r}")
        return self.api_base / "issue" / key

    # ---------------------------------------------------------------- internals: HTTP

    def _scrub(self, text: str, url: URL | str) -> str:
        """Remove what must never be shown: the credentials and a URL's query (media tokens)."""
        query = URL(str(url)).raw_query_string
        if query:
            text = text.replace(query, "<redacted>")
        return self._secrets.scrub(text)

    def _enter_flight(self) -> None:
        self.stats.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)

    def _leave_flight(self) -> None:
        self.stats.in_flight -= 1

    def _headers_for(self, url: URL, accept: str | None, identity: bool = False) -> dict[str, str]:
        headers = {"Accept": accept} if accept else {}
        if identity:
            headers["Accept-Encoding"] = "identity"  # the saved bytes must be the attachment itself
        if _origin(url) == _origin(self.base_url):
            headers["Authorization"] = self._authorization
        return headers

    @contextlib.asynccontextmanager
    async def _deadline_at(self, method: str, url: URL | str, expires: float | None) -> AsyncIterator[None]:
        """Bound what runs inside by the loop time ``expires`` (a socket-read timeout inside stays what it is)."""
        if expires is None:
            yield
            return
        scope = asyncio.timeout_at(expires)
        try:
            async with scope:
                yield
        except TimeoutError:
            if scope.expired():
                raise DeadlineExceeded(
                    f"{method} {_without_query(url)} did not complete within the request deadline "
                    f"({self.request_deadline:g} s)"
                ) from None
            raise

    @contextlib.asynccontextmanager
    async def _exchange(
        self,
        method: str,
        url: URL,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        accept: str | None = None,
        identity: bool = False,
        auto_decompress: bool = True,
        body_in_deadline: bool = True,
        background: bool = False,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request through the host's throttler, following redirects by hand so credentials stay on
        Jira's origin; yields the final response (the caller reads and releases it).

        Each hop takes its host's turn (``self.throttler``); the last hop's is held until the block
        ends. The ``request_deadline`` counts from the first turn (waiting for a turn is this
        client's queue, not the server's time) and covers the body unless ``body_in_deadline`` is
        false (downloads: until the headers). ``background`` requests (downloads) take a host's free
        slot only when no other request waits for one (``_throttle.LanedSlots``).
        """
        session = self._require_session()
        if params:
            url = url.update_query(params)
        loop = asyncio.get_running_loop()
        expires = None
        for _hop in range(self.max_redirects + 1):
            origin = _origin(url)
            asked = loop.time()
            async with self.throttler.turn(origin, background=background) as started:
                if self.request_deadline is not None:
                    expires = (expires or asked + self.request_deadline) + loop.time() - asked
                self.stats.requests += 1
                async with self._deadline_at(method, url, expires):
                    response = await session.request(
                        method,
                        url,
                        json=json_body,
                        headers=self._headers_for(url, accept, identity),
                        allow_redirects=False,
                        # download_to_file decodes (and checks the end of) a compressed attachment itself.
                        auto_decompress=auto_decompress,
                    )
                if response.status == 429:
                    self._rate_limited(origin, started, response.headers)
                location = response.headers.get("Location")
                if response.status not in REDIRECT_STATUSES or not location:
                    async with self._deadline_at(method, url, expires if body_in_deadline else None):
                        yield response
                    return
                response.release()
            url = response.url.join(URL(location, encoded=True))
            if response.status == 303 or (response.status in (301, 302) and method != "HEAD"):
                method, json_body = "GET", None
        raise JiraApiError(
            f"too many redirects (more than {self.max_redirects}) from {_without_query(url)}", url=_without_query(url)
        )

    def _rate_limited(self, origin: tuple[str, str, int | None], started: float, headers: Any) -> None:
        """A 429: the whole host waits what it asked for (within the policy's bounds) and slows its pace."""
        self.stats.rate_limited += 1
        policy = self.retry_policy
        retry_after = parse_retry_after(headers.get("Retry-After"))
        wait = 0.0 if retry_after is None else max(policy.base_backoff, min(retry_after, policy.max_retry_after))
        self.throttler.rate_limited(origin, started, wait, headers)

    async def _raise_for_status(
        self, response: aiohttp.ClientResponse, method: str, url: URL | str, issue_key: str | None = None
    ) -> None:
        """Raise the typed error for a non-2xx answer (releasing the response); leave 2xx open."""
        if 200 <= response.status < 300:
            return
        try:
            raw = await response.content.read(MAX_ERROR_BODY_BYTES)
        except (TimeoutError, aiohttp.ClientError):
            raw = b""
        finally:
            response.release()
        raise error_for_status(
            response.status,
            method,
            url,
            response.headers,
            raw,
            issue_key=issue_key,
            retry_statuses=self.retry_policy.retry_statuses,
        )

    async def _read_capped(self, response: aiohttp.ClientResponse, method: str, url: URL | str) -> bytes:
        """The (decompressed) body, refused as soon as it passes ``max_response_bytes``."""
        cap = SizeCap(self.max_response_bytes)
        parts = []
        try:
            if response.content_length is not None and "Content-Encoding" not in response.headers:
                cap.add(response.content_length)  # refused before reading a byte
                cap.received = 0
            async for chunk in response.content.iter_any():
                cap.add(len(chunk))
                parts.append(chunk)
        except SizeLimitExceeded:
            shown_url = _without_query(url)
            raise ResponseTooLargeError(
                f"Jira's answer to {method} {shown_url} is larger than max_response_bytes "
                f"({self.max_response_bytes} bytes, decompressed); stopped reading",
                status_code=response.status,
                url=shown_url,
                limit=self.max_response_bytes,
            ) from None
        return b"".join(parts)

    async def _request_json(
        self,
        method: str,
        url: URL,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        issue_key: str | None = None,
        entries_member: str | None = None,
    ) -> Any:
        """The JSON answer to one request, retried as ``_with_retries`` decides. ``entries_member``: the
        answer is a page of many entries there (whole issues), parsed a few at a time (``load_json_in_turns``)."""

        async def attempt() -> Any:
            self._enter_flight()
            try:
                async with self._exchange(method, url, params=params, json_body=json_body) as response:
                    try:
                        await self._raise_for_status(response, method, url, issue_key)
                        raw = await self._read_capped(response, method, url)
                    finally:
                        response.release()
            finally:
                self._leave_flight()
            if response.status == 204 or not raw:
                return None
            try:
                return await load_json_in_turns(raw, entries_member) if entries_member else load_json(raw)
            except ValueError:
                raise MalformedResponseError(
                    f"Jira answered {method} {_without_query(url)} with {response.content_type or 'no content type'}, "
                    "not JSON (is the base URL right?)",
                    status_code=response.status,
                    url=_without_query(url),
                ) from None

        return await self._with_retries(method, url, attempt)

    async def _with_retries(self, method: str, url: URL | str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` under the retry policy; whatever leaves here is a scrubbed JiraApiError (or a bug)."""
        policy = self.retry_policy
        shown_url = _without_query(url)

        def log_retry(state: RetryCallState) -> None:
            self.stats.retries += 1
            error = state.outcome.exception() if state.outcome else None
            decision = decide_retry(policy, error, state.attempt_number) if error else None
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "Retrying %s %s after %s (attempt %d of %d, waiting %.2f s)",
                method,
                shown_url,
                decision.reason if decision else "?",
                state.attempt_number + 1,
                policy.max_attempts,
                wait,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=RetryAfterOrBackoff(policy),
            retry=retry_if_exception(lambda error: is_retryable(policy, error)),
            before_sleep=log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except JiraApiError as error:
            raise self._secrets.scrub_error(error)
        except (RetryableStatus, aiohttp.ClientError, TimeoutError, IncompleteDownload, DeadlineExceeded) as error:
            attempts = retrying.statistics.get("attempt_number", 1)
            final = final_error(error, method, shown_url, attempts, lambda text: self._scrub(text, url))
            raise self._secrets.scrub_error(final) from (None if isinstance(error, RetryableStatus) else error)
        finally:
            # tenacity keeps the last attempt's actions, bound to the retrying object: a reference
            # cycle per request (a few dozen objects) that only the garbage collector frees, which then runs
            # on the event loop in the middle of a window. Cleared, reference counting frees them.
            retrying.iter_state.reset()


async def _make_part_file(destination: Path, temp_file: list[str]) -> None:
    """Create the .part file beside ``destination`` and record its name, even when cancelled meanwhile.

    The thread makes the file whether or not its awaiter is cancelled; without the name, the
    download's cleanup could not remove it.
    """
    creating = asyncio.ensure_future(asyncio.to_thread(new_temp_file, destination, DOWNLOAD_TEMP_SUFFIX))
    try:
        sink, name = await asyncio.shield(creating)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            sink, name = await creating
            sink.close()
            temp_file.append(name)
        raise
    sink.close()
    temp_file.append(name)


def _check_download_length(received: int, wanted: int | None) -> None:
    if wanted is not None and received != wanted:
        raise IncompleteDownload(f"received {received} of {wanted} bytes")


def _retrieved(future: "asyncio.Future[None]") -> None:
    """Mark a background future's exception as seen: its caller reports it, or is gone."""
    if not future.cancelled():
        future.exception()


def _chunks(keys: list[str]) -> list[list[str]]:
    """``keys`` in bulkfetch requests of at most BULK_FETCH_MAX_ISSUES."""
    return [keys[i : i + BULK_FETCH_MAX_ISSUES] for i in range(0, len(keys), BULK_FETCH_MAX_ISSUES)]


def _in_asked_order(keys: list[str], issues: list[dict[str, Any]], errors: dict[str, str]) -> list[dict[str, Any]]:
    """``issues`` in the order of ``keys`` (by key or id), each once; keys not returned go to ``errors``."""
    by_key_or_id: dict[str, dict[str, Any]] = {}
    for issue in issues:
        by_key_or_id.setdefault(str(issue.get("key")), issue)
        by_key_or_id.setdefault(str(issue.get("id")), issue)
    ordered: list[dict[str, Any]] = []
    placed_ids: set[str] = set()
    for key in keys:
        issue = by_key_or_id.get(key)
        if issue is None:
            errors.setdefault(key, "not returned by Jira (deleted, moved, or not visible to this user)")
        elif str(issue.get("id")) not in placed_ids:
            ordered.append(issue)
            placed_ids.add(str(issue.get("id")))
    for issue in issues:
        if str(issue.get("id")) not in placed_ids:
            ordered.append(issue)
            placed_ids.add(str(issue.get("id")))
    return ordered


# ---------------------------------------------------------------- status and failure -> typed error (pure)


def _parse_error_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return load_json(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]


def error_for_status(
    status: int,
    method: str,
    url: URL | str,
    headers: Any,
    raw_body: bytes,
    *,
    issue_key: str | None = None,
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES,
) -> Exception:
    """The error for a non-2xx answer: ``RetryableStatus`` for a status the policy retries, else a typed JiraApiError.

    Pure (no aiohttp): status, URL, headers (a mapping) and the first bytes of the body in, an exception out.
    The caller scrubs secrets from it.
    """
    body = _parse_error_body(raw_body)
    messages = _jira_error_messages(body)
    if status in retry_statuses:
        return RetryableStatus(status, parse_retry_after(headers.get("Retry-After")), messages, body)
    shown_url = _without_query(url)
    detail = f": {'; '.join(messages)}" if messages else ""
    carried = {"status_code": status, "response": body, "error_messages": messages, "url": shown_url}
    if status == 401 or (status == 403 and str(url).rstrip("/").endswith("/myself")):
        return AuthenticationError(
            f"Jira rejected the credentials (HTTP {status}) for {method} {shown_url}{detail}", **carried
        )
    if status == 404 and issue_key is not None:
        return IssueNotFoundError(
            f"Issue {issue_key} does not exist or this user may not see it (HTTP 404){detail}", **carried
        )
    kind = {400: BadRequestError, 403: ForbiddenError, 429: RateLimitedError}.get(status)
    kind = kind or (ServerError if status >= 500 else JiraApiError)
    return kind(f"Jira returned HTTP {status} for {method} {shown_url}{detail}", **carried)


def final_error(
    error: BaseException, method: str, shown_url: str, attempts: int, scrub: Callable[[str], str]
) -> JiraApiError:
    """The JiraApiError for a failure the retries did not cure (or that was not retried)."""
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(error, RetryableStatus):
        detail = f": {'; '.join(error.error_messages)}" if error.error_messages else ""
        kind = RateLimitedError if error.status == 429 else ServerError if error.status >= 500 else JiraApiError
        extra = {"retry_after": error.retry_after} if kind is RateLimitedError else {}
        return kind(
            f"Jira returned HTTP {error.status} for {method} {shown_url} {tries}{detail}",
            status_code=error.status,
            response=error.body,
            error_messages=error.error_messages,
            url=shown_url,
            **extra,
        )
    if isinstance(error, DeadlineExceeded):
        return RequestTimeoutError(f"{scrub(str(error))} (not retried)", url=shown_url)
    if isinstance(error, asyncio.TimeoutError):
        return RequestTimeoutError(f"{method} {shown_url} timed out {tries}", url=shown_url)
    if isinstance(error, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return TransportError(
            f"{method} {shown_url}: TLS verification failed, not retried ({type(error).__name__}: {scrub(str(error))})",
            url=shown_url,
        )
    what = f"{type(error).__name__}: {scrub(str(error))}"
    return TransportError(f"{method} {shown_url} failed ({what}) {tries}", url=shown_url)
