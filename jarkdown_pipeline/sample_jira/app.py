"""The sample Jira: a Jira Cloud REST v3 subset and a media host, on aiohttp.web, loopback only."""

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import logging
import math
import re
import secrets
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from jarkdown_pipeline.sample_jira import changelog_api, content, datacenter
from jarkdown_pipeline.sample_jira.config import SampleJiraConfig
from jarkdown_pipeline.sample_jira.data import Dataset, SampleAttachment, SampleIssue
from jarkdown_pipeline.sample_jira.faults import RATE_LIMITED, UNAVAILABLE, FaultInjector
from jarkdown_pipeline.sample_jira.jql import BoundQuery, JqlError, bind_jql
from jarkdown_pipeline.sample_jira.lazy import make_dataset
from jarkdown_pipeline.sample_jira.shapes import ALL_FIELD_IDS, Renderer, field_definitions, resolve_fields

logger = logging.getLogger(__name__)

API = "/rest/api/3"
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_CHEAP_FIELDS = {"summary", "updated", "created", "status", "project", "issuetype"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_FRAGMENT_CACHE_MAX = 20_000  # serialised issues kept; cleared wholesale when full (or at the byte budget)
_FRAGMENT_CACHE_BYTES = 128 * 1024 * 1024
_SEARCH_CACHE_MAX = 4  # the matches of the last few queries: paging through one does not search again
PRERENDERED_ATTACHMENT_BYTES = 64 * 1024 * 1024  # --prerender: small attachments' bytes kept, at most this much
PRERENDERED_LAZY_ISSUES = 2000  # --prerender of a lazily generated data set: its first issues only
# --prerender: issues serialised as the pipeline's bulk fetch asks for them (the client's
# WHOLE_ISSUE_EXPAND); asked for otherwise, an issue is serialised per request.
PRERENDERED_EXPAND = ("changelog", "renderedFields")


def jira_error(
    status: int, *messages: str, errors: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """Jira's error body: {"errorMessages": [...], "errors": {...}}."""
    return web.json_response({"errorMessages": list(messages), "errors": errors or {}}, status=status, headers=headers)


class TokenBucket:
    """Jira Cloud's burst rate limiting of API-token traffic: ``burst`` requests at once, refilled at
    ``per_second``; a request finding the bucket empty is refused (it costs no token)."""

    def __init__(self, burst: int, per_second: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self.tokens = float(burst)
        self._at = clock()

    def take(self) -> float | None:
        """None when the request may go; else the seconds until a token is there."""
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.per_second)
        self._at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.per_second

    def refusal(self, wait: float) -> web.Response:
        """The 429 Jira sends: Retry-After in whole seconds (at least 1), and the bucket's figures as
        Jira Data Center states them (Cloud leaves the rate out)."""
        return jira_error(
            429, "Rate limit exceeded.",
            headers={"Retry-After": str(max(1, math.ceil(wait))), "X-RateLimit-Limit": str(self.burst),
                     "X-RateLimit-Remaining": "0", "X-RateLimit-FillRate": f"{self.per_second:g}",
                     "X-RateLimit-Interval-Seconds": "1", "RateLimit-Reason": "jira-burst-based"},
        )  # fmt: skip


# Requests a host's trace records at most (a bench run makes a few thousand; a long demo stops
# recording there instead of growing).
TRACE_MAX_REQUESTS = 100_000


@dataclass
class HostStats:
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    bytes_served: int = 0
    by_route: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    # When requests came (time.time()), and requests in flight integrated over time: over the span
    # from the first request to the last answer, their ratio is how busy the client kept this host.
    first_request_at: float | None = None
    last_answer_at: float | None = None
    in_flight_seconds: float = 0.0
    first_by_route: dict[str, float] = field(default_factory=dict)
    last_by_route: dict[str, float] = field(default_factory=dict)
    # Each answered request as (connection number, came, answered): how busy a client kept each of
    # its connections, and for how long one sat between an answer and its next request (the bench's
    # budget of a run's network phase). Numbered in order of first use; a closed connection's
    # number is never reused.
    trace: list[tuple[int, float, float]] = field(default_factory=list)
    connections: int = 0  # the connections the trace has seen
    _connections: "weakref.WeakKeyDictionary[object, int]" = field(default_factory=weakref.WeakKeyDictionary)
    _changed_at: float = 0.0

    def started(self, route: str = "") -> float:
        """Count a request that just came (its route's name); returns when (``time.time()``)."""
        now = self._in_flight_changes()
        self.by_route[route] += 1
        self.first_by_route.setdefault(route, now)
        self.last_by_route[route] = now
        if self.first_request_at is None:
            self.first_request_at = now
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return now

    def answered(self, came_at: float | None = None, connection: object | None = None) -> None:
        """Count a request's answer; with when it came (``started``'s value) and its connection (the
        transport), it joins the trace."""
        self.last_answer_at = self._in_flight_changes()
        self.in_flight -= 1
        if came_at is not None and connection is not None and len(self.trace) < TRACE_MAX_REQUESTS:
            number = self._connections.get(connection)
            if number is None:
                number = self._connections[connection] = self.connections
                self.connections += 1
            self.trace.append((number, came_at, self.last_answer_at))

    def _in_flight_changes(self) -> float:
        now = time.time()
        if self.in_flight:
            self.in_flight_seconds += self.in_flight * (now - self._changed_at)
        self._changed_at = now
        return now

    def snapshot(self, trace: bool = False) -> dict[str, Any]:
        """The counts; ``trace``: the trace too (``[[connection, came, answered], ...]``)."""
        span = (self.last_answer_at - self.first_request_at) if self.first_request_at and self.last_answer_at else 0.0
        return {
            "requests": self.requests, "in_flight": self.in_flight, "peak_in_flight": self.peak_in_flight,
            "bytes_served": self.bytes_served, "by_route": dict(sorted(self.by_route.items())),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "first_request_at": self.first_request_at, "last_answer_at": self.last_answer_at,
            "first_by_route": dict(sorted(self.first_by_route.items())),
            "last_by_route": dict(sorted(self.last_by_route.items())), "span_seconds": round(span, 3), "mean_in_flight": round(self.in_flight_seconds / span, 3) if span else 0.0,
            "connections": self.connections, **({"trace": [list(entry) for entry in self.trace]} if trace else {}),
        }  # fmt: skip


@dataclass
class Stats:
    api: HostStats = field(default_factory=HostStats)
    media: HostStats = field(default_factory=HostStats)
    rate_limited: int = 0  # 429s served
    rate_limited_at: list[float] = field(default_factory=list)  # when (time.time())
    unavailable: int = 0  # 503s served
    cut_downloads: int = 0
    media_requests_with_authorization: int = 0
    media_requests_with_cookie: int = 0
    media_token_rejections: int = 0
    anonymous_requests: int = 0
    # Requests answered with an attachment's bytes, from either host (the media host's, Cloud's
    # content asked with redirect=false, Data Center's), and when the first of them came.
    downloads: int = 0
    first_download_at: float | None = None

    def download_served(self, request_came_at: float | None) -> None:
        self.downloads += 1
        if request_came_at is not None and (self.first_download_at is None or request_came_at < self.first_download_at):
            self.first_download_at = request_came_at

    def snapshot(self, trace: bool = False) -> dict[str, Any]:
        return {
            "api": self.api.snapshot(trace), "media": self.media.snapshot(trace), "rate_limited": self.rate_limited,
            "rate_limited_at": list(self.rate_limited_at),
            "unavailable": self.unavailable, "cut_downloads": self.cut_downloads,
            "media_requests_with_authorization": self.media_requests_with_authorization,
            "media_requests_with_cookie": self.media_requests_with_cookie,
            "media_token_rejections": self.media_token_rejections, "anonymous_requests": self.anonymous_requests,
            "bytes_served": self.api.bytes_served + self.media.bytes_served,
            "downloads": self.downloads, "first_download_at": self.first_download_at,
        }  # fmt: skip


_CAME_AT = web.RequestKey("sample_jira_came_at", float)  # when its host counted a request (time.time())


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else '<unmatched>'}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SampleJira:
    """A fake Jira Cloud on two loopback ports: the REST API and the media host.

    >>> async with SampleJira(SampleJiraConfig(seed=1, issue_count=50)) as jira:
    ...     jira.base_url, jira.media_url, jira.stats
    """

    def __init__(self, config: SampleJiraConfig | None = None) -> None:
        self.config = config or SampleJiraConfig()
        self.faults = FaultInjector(self.config.faults, self.config.seed)
        burst = self.config.rate_limit_burst
        self._bucket = TokenBucket(burst, self.config.rate_limit_per_second) if burst else None
        self._stats = Stats()
        self._secret = secrets.token_bytes(32)  # signs media tokens and page tokens
        self._runners: list[web.AppRunner] = []
        self.base_url = ""
        self.media_url = ""
        self._dataset: Dataset | None = None
        self._open_transports: set[asyncio.BaseTransport] = set()  # of requests being answered
        # Serialised issue JSON, reused until the data changes: keeps the server's CPU out of benchmarks.
        self._fragments: dict[tuple, bytes] = {}  # ASCII JSON (json.dumps escapes the rest)
        self._change_fragments: dict[tuple, dict[str, str]] = {}  # per issue: {entry id: its JSON text}
        self._fragment_bytes = 0
        self._searches: dict[tuple, list[int]] = {}  # (jql, data generation) -> matching issue ids, in order
        self._attachment_bodies: dict[tuple[Any, ...], bytes] = {}  # --prerender: small attachments' bytes
        self._xsrf_cookie = f"atlassian.xsrf.token=sample-{hashlib.sha256(self._secret).hexdigest()[:16]}; Path=/"

    # ---------------------------------------------------------------- life cycle

    async def start(self) -> "SampleJira":
        if self._runners:
            raise RuntimeError("the sample Jira is already running")
        # A short shutdown timeout: stopping must not wait a minute for an abandoned 1 GiB download.
        api_runner = web.AppRunner(self._build_api_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
        media_runner = web.AppRunner(
            self._build_media_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await api_runner.setup()
        await media_runner.setup()
        self._runners = [api_runner, media_runner]
        try:
            api_site = web.TCPSite(api_runner, self.config.host, self.config.port, reuse_address=True)
            await api_site.start()
            media_site = web.TCPSite(media_runner, self.config.host, self.config.media_port, reuse_address=True)
            await media_site.start()
            self.base_url = self._site_url(api_runner)
            self.media_url = self._site_url(media_runner)
            # The data set links to the site (inline cards, self URLs), so it is built once the port is known.
            self._dataset = await asyncio.get_running_loop().run_in_executor(
                None, make_dataset, self.config, self.base_url
            )
            if self.config.prerender:
                await asyncio.get_running_loop().run_in_executor(None, self._prerender)
        except BaseException:
            await self.stop()
            raise
        return self

    def _prerender(self) -> None:
        """Serialise every issue as the pipeline asks for it (*all, renderedFields) ahead of time,
        and generate the bytes of small attachments (the server's CPU per request stays small
        next to the latency a benchmark sets; a big one is still generated as it is streamed).
        Only as many issues as the cache of serialised issues holds, and of a lazily generated data
        set only the first PRERENDERED_LAZY_ISSUES: the rest is served as it is asked for."""
        renderer = self._renderer(anonymous=False)
        budget = PRERENDERED_ATTACHMENT_BYTES
        issues = self.dataset.iter_issues()
        if self.dataset.is_lazy:
            issues = itertools.islice(issues, PRERENDERED_LAZY_ISSUES)
        for issue in issues:
            if not self._fragment_cache_has_room():
                break
            self._issue_json(renderer, issue, ALL_FIELD_IDS, list(PRERENDERED_EXPAND))
            paged = not self.config.is_datacenter  # Data Center inlines the whole changelog
            if paged and len(self.dataset.changes_of(issue)) > self.config.inline_changelog_limit:
                self._change_json_texts(renderer, issue)  # its changelog is paged: bulk changelog pages join these
            for attachment in issue.attachments:
                if attachment.size <= content.BLOCK_SIZE and attachment.size <= budget:
                    budget -= attachment.size
                    self._attachment_bodies[self._body_key(attachment)] = b"".join(
                        content.iter_content(
                            self.config.seed, attachment.id, attachment.kind, attachment.size, attachment.extension
                        )
                    )

    @staticmethod
    def _body_key(attachment: SampleAttachment) -> tuple[Any, ...]:
        return (attachment.id, attachment.kind, attachment.size, attachment.extension)

    def _issue_json(self, renderer: Renderer, issue: SampleIssue, field_ids: list[str], expand: list[str]) -> bytes:
        """The issue as JSON bytes, serialised once per (fields, expand, viewer): pages join these."""
        wanted_expand = tuple(sorted({e.strip() for e in expand if e.strip()}))
        key = (issue.id, self.dataset.generation, tuple(field_ids), wanted_expand, renderer.anonymous)
        text = self._fragments.get(key)
        if text is None:
            if not self._fragment_cache_has_room():
                self._clear_fragments()
            body = renderer.issue(
                issue, field_ids, wanted_expand, self.config.inline_comment_limit, self.config.inline_worklog_limit
            )
            text = self._fragments[key] = json.dumps(body).encode()
            self._fragment_bytes += len(text)
        return text

    def _change_json_texts(self, renderer: Renderer, issue: SampleIssue) -> dict[str, str]:
        """{entry id: its JSON text} of the issue's whole changelog, kept beside the serialised issues:
        a bulk changelog page is then joined, not serialised again (the server's own CPU would hold every
        other request, on either host, for the time it takes)."""
        key = (issue.id, self.dataset.generation, renderer.anonymous)
        texts = self._change_fragments.get(key)
        if texts is None:
            if not self._fragment_cache_has_room():
                self._clear_fragments()
            texts = {change.id: json.dumps(renderer.change(change)) for change in self.dataset.changes_of(issue)}
            self._change_fragments[key] = texts
            self._fragment_bytes += sum(len(text) for text in texts.values())
        return texts

    def _fragment_cache_has_room(self) -> bool:
        kept = len(self._fragments) + len(self._change_fragments)
        return kept < _FRAGMENT_CACHE_MAX and self._fragment_bytes < _FRAGMENT_CACHE_BYTES

    def _clear_fragments(self) -> None:
        self._fragments.clear()
        self._change_fragments.clear()
        self._fragment_bytes = 0

    @staticmethod
    def _json_with_issues(issues: list[bytes], rest: dict[str, Any]) -> web.Response:
        """{"issues": [...pre-serialised...], **rest} without parsing the issues again: one join of
        bytes (a page of whole issues is megabytes, and while it is built the server answers no one)."""
        tail = json.dumps(rest)[1:-1].encode()
        body = b"".join((b'{"issues": [', b", ".join(issues), b"]", b", " + tail if tail else b"", b"}"))
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    @staticmethod
    def _site_url(runner: web.AppRunner) -> str:
        host, port = runner.addresses[0][:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        # Cut requests still being answered (an abandoned download would otherwise hold the socket open).
        for transport in list(self._open_transports):
            transport.abort()
        for runner in runners:
            await runner.cleanup()

    async def __aenter__(self) -> "SampleJira":
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- public helpers

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            raise RuntimeError("the sample Jira has not been started")
        return self._dataset

    @property
    def email(self) -> str:
        return self.config.email

    @property
    def api_token(self) -> str:
        return self.config.api_token

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of what the server saw (see Stats.snapshot for the keys)."""
        return self._stats.snapshot()

    def stats_with_trace(self) -> dict[str, Any]:
        """``stats`` with each host's trace of answered requests (``HostStats.trace``)."""
        return self._stats.snapshot(trace=True)

    def reset_stats(self) -> None:
        self._stats = Stats()

    def touch_issue(self, key: str, updated: datetime | None = None, comment: str | None = None) -> dict[str, Any]:
        issue = self.dataset.touch_issue(key, updated=updated, comment=comment)
        return {
            "key": issue.key,
            "summary": issue.summary,
            "updated": self._renderer(anonymous=False).time(issue.updated),
        }

    def delete_issue(self, key: str) -> list[str]:
        return self.dataset.delete_issue(key)

    def set_parent(self, key: str, parent_key: str | None) -> dict[str, Any]:
        """Give an issue another parent (or none): its ``parent`` field and ``updated`` change."""
        issue = self.dataset.set_parent(key, parent_key)
        return {"key": issue.key, "parent": issue.parent_key}

    def move_issue(self, key: str, project: str) -> dict[str, Any]:
        """Move an issue to another project (new key, same id); the old key still answers with it."""
        old_key = self.dataset.find_issue(key).key if self.dataset.find_issue(key) else key
        issue = self.dataset.move_issue(key, project)
        return {"id": str(issue.id), "old_key": old_key, "key": issue.key}

    def info(self) -> dict[str, Any]:
        ds = self.dataset
        huge = ds.huge_attachment
        return {
            "base_url": self.base_url, "media_url": self.media_url, "seed": self.config.seed,
            "projects": [p.key for p in ds.projects], "issue_count": len(ds.issues), "time_zone": self.config.time_zone,
            "now": ds.now.isoformat(), "days": self.config.days, "generation": "lazy" if ds.is_lazy else "eager",
            "huge_attachment": {"issue_key": huge.issue_key, "attachment_id": str(huge.id), "size": huge.size} if huge else None,
            "flavour": self.config.flavour,
        }  # fmt: skip

    def expected_attachment_bytes(self, attachment_id: int | str) -> Iterator[bytes]:
        """The exact bytes the server serves for an attachment, in blocks (for byte-exact checks)."""
        attachment = self.dataset.attachments[int(attachment_id)]
        return content.iter_content(
            self.config.seed, attachment.id, attachment.kind, attachment.size, attachment.extension
        )

    # ---------------------------------------------------------------- apps and middleware

    def _build_api_app(self) -> web.Application:
        app = web.Application(middlewares=[self._api_middleware], client_max_size=4 * 1024 * 1024)
        r = app.router
        if self.config.is_datacenter:
            datacenter.add_routes(self, r)
        else:
            self._add_cloud_routes(r)
        r.add_get("/_sample/stats", self._sample_stats)
        r.add_post("/_sample/reset-stats", self._sample_reset_stats)
        r.add_get("/_sample/info", self._sample_info)
        r.add_post("/_sample/touch", self._sample_touch)
        r.add_post("/_sample/delete", self._sample_delete)
        return app

    def _add_cloud_routes(self, r: web.UrlDispatcher) -> None:
        r.add_get(f"{API}/myself", self._myself)
        r.add_get(f"{API}/field", self._fields)
        r.add_get(f"{API}/search/jql", self._search_get)
        r.add_post(f"{API}/search/jql", self._search_post)
        r.add_route("*", f"{API}/search", self._search_removed)
        r.add_post(f"{API}/issue/bulkfetch", self._bulkfetch)
        r.add_get(f"{API}/issue/{{key}}", self._issue)
        r.add_get(f"{API}/issue/{{key}}/comment", self._comments)
        r.add_get(f"{API}/issue/{{key}}/worklog", self._worklogs)
        changelog_api.add_routes(self, r)
        r.add_get(f"{API}/attachment/content/{{id}}", self._attachment_content)
        r.add_get(f"{API}/attachment/thumbnail/{{id}}", self._attachment_thumbnail)
        r.add_get(f"{API}/serverInfo", self._server_info)
        r.add_get("/rest/api/2/serverInfo", self._server_info)  # Cloud answers v2's too (flavour detection asks it)

    def _build_media_app(self) -> web.Application:
        app = web.Application(middlewares=[self._media_middleware])
        app.router.add_get("/file/{media_id}/binary", self._media_binary)
        return app

    @web.middleware
    async def _api_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if self._dataset is None:
            return jira_error(503, "The sample Jira is starting; try again in a moment.")
        if request.path.startswith("/_sample/"):
            return await handler(request)  # control endpoints: not counted, no faults, no latency
        host = self._stats.api
        request[_CAME_AT] = host.started(_route_name(request))
        transport = request.transport
        if transport is not None:
            self._open_transports.add(transport)
        response: web.StreamResponse | None = None
        try:
            if self.config.latency_seconds:
                await asyncio.sleep(self.config.latency_seconds)
            response = self._refusal(request)  # a Response is a mapping (empty: falsy), so no `or` here
            if response is None:
                response = await self._handled(request, handler)
            if not response.prepared and request.path.startswith("/rest/"):
                response.headers.add("Set-Cookie", self._xsrf_cookie)
            return response
        finally:
            host.answered(request[_CAME_AT], transport)
            host.by_status[response.status if response is not None else 499] += 1
            self._open_transports.discard(transport)

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The answer that stands in for the handler's: wrong Data Center credentials, the rate limit, a fault."""
        stats = self._stats
        api = request.path.startswith(("/rest/", "/secure/"))
        fault = self.faults.next_api_request() if api else None
        rejected = datacenter.rejects_credentials(self, request) if self.config.is_datacenter else None
        if rejected is not None:
            return rejected
        wait = self._bucket.take() if self._bucket is not None and api else None
        if wait is not None or fault == RATE_LIMITED:
            stats.rate_limited += 1
            stats.rate_limited_at.append(time.time())
        if wait is not None:
            return self._bucket.refusal(wait)
        if fault == RATE_LIMITED:
            headers = {
                "Retry-After": self.faults.retry_after_header(),
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "RateLimit-Reason": "jira-burst-based",
            }
            return jira_error(429, "Rate limit exceeded.", headers=headers)
        if fault == UNAVAILABLE:
            stats.unavailable += 1
            return jira_error(503, "Service Unavailable: the sample Jira is injecting an outage.")
        return None

    @staticmethod
    async def _handled(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return jira_error(404, f"No resource at {request.method} {request.path}.")
        except web.HTTPMethodNotAllowed as exc:
            return jira_error(
                405,
                f"Method {request.method} is not allowed for {request.path}.",
                headers={"Allow": ",".join(sorted(exc.allowed_methods))},
            )

    @web.middleware
    async def _media_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        stats = self._stats
        host = stats.media
        request[_CAME_AT] = host.started(_route_name(request))
        # The media host must never see Jira credentials or cookies: record any that arrive.
        if "Authorization" in request.headers:
            stats.media_requests_with_authorization += 1
        if "Cookie" in request.headers:
            stats.media_requests_with_cookie += 1
        transport = request.transport
        if transport is not None:
            self._open_transports.add(transport)
        response: web.StreamResponse | None = None
        try:
            if self.config.effective_media_latency:
                await asyncio.sleep(self.config.effective_media_latency)
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = web.json_response({"error": {"code": "NotFound", "title": "No such resource"}}, status=404)
            return response
        finally:
            host.answered(request[_CAME_AT], transport)
            host.by_status[response.status if response is not None else 499] += 1
            self._open_transports.discard(transport)

    # ---------------------------------------------------------------- auth

    def _is_authenticated(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            email, sep, token = decoded.partition(":")
            return bool(sep) and hmac.compare_digest(email.encode(), self.config.email.encode()) & hmac.compare_digest(
                token.encode(), self.config.api_token.encode()
            )
        if scheme.lower() == "bearer" and value and self.config.personal_access_token:
            return hmac.compare_digest(value.strip().encode(), self.config.personal_access_token.encode())
        return False

    def _viewer(self, request: web.Request) -> tuple[bool, bool]:
        """(authenticated, may_browse). Wrong credentials are anonymous, as on Cloud."""
        authenticated = self._is_authenticated(request)
        if not authenticated:
            self._stats.anonymous_requests += 1
        return authenticated, authenticated or self.config.anonymous_access

    def _renderer(self, anonymous: bool) -> Renderer:
        if self.config.is_datacenter:  # Data Center inlines the whole changelog
            return datacenter.DataCenterRenderer(self.dataset, self.base_url, self.config.zone, anonymous, None)
        return Renderer(self.dataset, self.base_url, self.config.zone, anonymous, self.config.inline_changelog_limit)

    def _visible_issue(self, id_or_key: str, may_browse: bool) -> SampleIssue | None:
        if not may_browse:
            return None
        issue = self.dataset.find_issue(id_or_key)
        if issue is None or self.faults.is_vanished(issue.key):
            return None
        return issue

    # ---------------------------------------------------------------- REST handlers

    async def _myself(self, request: web.Request) -> web.Response:
        authenticated, _ = self._viewer(request)
        if not authenticated:
            return jira_error(
                401,
                "Client must be authenticated to access this resource.",
                headers={"WWW-Authenticate": 'Basic realm="protected-by-api-token"'},
            )
        return web.json_response(self._renderer(anonymous=False).myself())

    async def _server_info(self, request: web.Request) -> web.Response:
        version, deployment = ("9.12.15", "DataCenter") if self.config.is_datacenter else ("1001.0.0-SNAPSHOT", "Cloud")
        return web.json_response(
            {
                "baseUrl": self.base_url, "displayUrl": self.base_url, "version": version,
                "versionNumbers": [int(n) for n in version.split("-")[0].split(".")], "deploymentType": deployment, "buildNumber": 100300,
                "serverTitle": "Sample Jira",
                "serverTimeZone": "Etc/UTC", "serverTime": self._renderer(anonymous=True).time(self.dataset.clock()),
            }
        )  # fmt: skip

    async def _fields(self, request: web.Request) -> web.Response:
        self._viewer(request)
        return web.json_response(field_definitions())

    async def _search_removed(self, request: web.Request) -> web.Response:
        return jira_error(
            410,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
            "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
        )

    async def _search_get(self, request: web.Request) -> web.Response:
        query = request.query
        fields = query.getall("fields", [])
        return await self._search(
            request,
            query.get("jql", ""),
            query.get("nextPageToken"),
            query.get("maxResults"),
            fields,
            query.get("expand", ""),
        )

    async def _search_post(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict):
            return jira_error(400, "The request body must be a JSON object.")
        fields = body.get("fields") or []
        if isinstance(fields, str):
            fields = [fields]
        expand = body.get("expand") or ""
        if isinstance(expand, list):
            expand = ",".join(expand)
        return await self._search(
            request, body.get("jql") or "", body.get("nextPageToken"), body.get("maxResults"), fields, expand
        )

    async def _search(
        self, request: web.Request, jql: str, page_token: str | None, max_results: Any, fields: list[str], expand: str
    ) -> web.Response:
        authenticated, may_browse = self._viewer(request)
        try:
            requested = 50 if max_results in (None, "") else int(max_results)
        except (TypeError, ValueError):
            return jira_error(400, f"The value '{max_results}' is not valid for maxResults; it must be a number.")
        if requested < 0:
            return jira_error(400, "maxResults must not be negative.")
        field_ids, ids_only = resolve_fields(fields, "id")
        # Jira's largest pages go to searches for id or key only; any field makes them smaller.
        cap = self.config.search_page_max_fields if field_ids else self.config.search_page_max_ids
        page_size = min(requested, cap)
        ds = self.dataset
        bound = self._bound_query(jql, may_browse)
        if isinstance(bound, web.Response):
            return bound
        offset = 0
        if page_token:
            offset = self._read_page_token(page_token, jql)
            if offset is None:
                return jira_error(
                    400, "The nextPageToken is invalid or has expired; start the search again without it."
                )
        if not may_browse:
            return web.json_response({"issues": [], "isLast": True})
        matched = self._matching_ids(jql, bound)
        page = matched[offset : offset + page_size]
        renderer = self._renderer(anonymous=not authenticated)
        expand_list = expand.split(",")
        # A light search (the fields an issue's reference shows) needs no whole issue: the lazy data set skips generating it.
        find = ds.find_issue_ref if set(field_ids) <= _CHEAP_FIELDS else ds.find_issue
        issues = [
            json.dumps({"id": str(issue_id)}).encode()
            if ids_only
            else self._issue_json(renderer, find(str(issue_id)), field_ids, expand_list)
            for issue_id in page
        ]
        rest: dict[str, Any] = {}
        next_offset = offset + len(page)
        if next_offset < len(matched) and page_size > 0:
            rest["nextPageToken"] = self._make_page_token(next_offset, jql)
            rest["isLast"] = False
        else:
            rest["isLast"] = True
        return self._json_with_issues(issues, rest)

    def _bound_query(self, jql: str, may_browse: bool, vanished_exist: bool = True) -> BoundQuery | web.Response:
        """The query bound to the data set, or Jira's 400 for JQL it refuses (``vanished_exist=False``: a
        key in ``vanished_issue_keys`` is gone, as when it was deleted after the search that found it)."""
        ds = self.dataset

        def issue_exists(key: str) -> bool:
            # A moved issue's old key is still a key Jira knows (the search finds nothing under it).
            return (key.upper() in ds.issues or key.upper() in ds.moved_keys) and (
                vanished_exist or not self.faults.is_vanished(key)
            )

        try:
            return bind_jql(
                jql, self.config.zone,
                project_exists=(lambda v: (p.key if (p := ds.project_by_value(v)) else None)) if may_browse else (lambda v: v.upper()),
                issue_exists=issue_exists if (may_browse and self.config.strict_jql_keys) else None,
            )  # fmt: skip
        except JqlError as exc:
            return jira_error(400, str(exc))

    def _matching_ids(self, jql: str, bound: BoundQuery) -> list[int]:
        """The ids of the issues a query matches, in its order; the same query on the same data is not run again."""
        cache_key = (jql, self.dataset.generation)
        matched = self._searches.get(cache_key)
        if matched is None:
            if len(self._searches) >= _SEARCH_CACHE_MAX:
                del self._searches[next(iter(self._searches))]
            matched = self._searches[cache_key] = [fact.id for fact in bound.sort(self.dataset.matching_facts(bound))]
        return matched

    def _make_page_token(self, offset: int, jql: str) -> str:
        payload = _b64(json.dumps({"o": offset, "q": hashlib.sha256(jql.encode()).hexdigest()[:16]}).encode())
        signature = _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:12])
        return f"{payload}.{signature}"

    def _read_page_token(self, token: str, jql: str) -> int | None:
        payload, _, signature = token.partition(".")
        expected = _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()[:12])
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if data.get("q") != hashlib.sha256(jql.encode()).hexdigest()[:16]:
            return None
        return int(data["o"])

    async def _json_body(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return jira_error(400, "Unexpected character in the request body: it is not valid JSON.")

    async def _bulkfetch(self, request: web.Request) -> web.Response:
        authenticated, may_browse = self._viewer(request)
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict):
            return jira_error(400, "The request body must be a JSON object.")
        wanted = body.get("issueIdsOrKeys")
        if not isinstance(wanted, list) or not all(isinstance(k, (str, int)) for k in wanted):
            return jira_error(
                400,
                "issueIdsOrKeys is required and must be a list of issue ids or keys.",
                errors={"issueIdsOrKeys": "required"},
            )
        if not wanted:
            return jira_error(400, "issueIdsOrKeys must not be empty.")
        if len(wanted) > self.config.bulkfetch_page_max:
            return jira_error(
                400,
                f"A maximum of {self.config.bulkfetch_page_max} issues can be requested at once; got {len(wanted)}.",
            )
        fields = body.get("fields") or []
        if isinstance(fields, str):
            fields = [fields]
        expand = body.get("expand") or []
        if isinstance(expand, str):
            expand = expand.split(",")
        field_ids, _ = resolve_fields(fields, "*navigable")
        found: dict[int, SampleIssue] = {}
        errors = []
        for wanted_key in wanted:
            issue = self._visible_issue(str(wanted_key), may_browse)
            if issue is None or issue.id in found:
                continue  # not found or not visible: left out, as Cloud does
            if self.faults.take_bulkfetch_error(issue.key):
                errors.append(
                    {
                        "id": str(issue.id),
                        "errorMessage": "The issue could not be retrieved because of a temporary error. Try again.",
                    }
                )
                continue
            found[issue.id] = issue
        renderer = self._renderer(anonymous=not authenticated)
        issues = [self._issue_json(renderer, issue, field_ids, expand) for _, issue in sorted(found.items())]
        return self._json_with_issues(issues, {"issueErrors": errors})

    async def _issue(self, request: web.Request) -> web.Response:
        authenticated, may_browse = self._viewer(request)
        issue = self._visible_issue(request.match_info["key"], may_browse)
        if issue is None:
            return jira_error(404, ISSUE_NOT_FOUND)
        field_ids, _ = resolve_fields(request.query.getall("fields", []), "*all")
        expand = request.query.get("expand", "").split(",")
        renderer = self._renderer(anonymous=not authenticated)
        return web.Response(
            body=self._issue_json(renderer, issue, field_ids, expand), content_type="application/json", charset="utf-8"
        )

    def _paging(self, request: web.Request, default_max: int, cap: int) -> tuple[int, int] | web.Response:
        try:
            start_at = int(request.query.get("startAt", 0))
            max_results = int(request.query.get("maxResults", default_max))
        except ValueError:
            return jira_error(400, "startAt and maxResults must be numbers.")
        if start_at < 0 or max_results < 0:
            return jira_error(400, "startAt and maxResults must not be negative.")
        return start_at, min(max_results, cap)

    async def _comments(self, request: web.Request) -> web.Response:
        authenticated, may_browse = self._viewer(request)
        issue = self._visible_issue(request.match_info["key"], may_browse)
        if issue is None:
            return jira_error(404, ISSUE_NOT_FOUND)
        paging = self._paging(request, 100, self.config.comment_page_max)
        if isinstance(paging, web.Response):
            return paging
        start_at, max_results = paging
        renderer = self._renderer(anonymous=not authenticated)
        comments = renderer.visible_comments(issue)
        order = request.query.get("orderBy", "created")
        if order not in ("created", "+created", "-created"):
            return jira_error(400, f"orderBy must be one of created, +created, -created; got {order!r}.")
        comments.sort(key=lambda c: (c.created, int(c.id)), reverse=order == "-created")
        rendered_body = "renderedBody" in request.query.get("expand", "").split(",")
        page = [] if start_at and self.faults.drops_pages_of(issue.key) else comments[start_at : start_at + max_results]
        return web.json_response(
            {
                "startAt": start_at,
                "maxResults": max_results,
                "total": len(comments),
                "comments": [renderer.comment(issue, c, rendered_body) for c in page],
            }
        )

    async def _worklogs(self, request: web.Request) -> web.Response:
        authenticated, may_browse = self._viewer(request)
        issue = self._visible_issue(request.match_info["key"], may_browse)
        if issue is None:
            return jira_error(404, ISSUE_NOT_FOUND)
        paging = self._paging(request, 5000, self.config.worklog_page_max)
        if isinstance(paging, web.Response):
            return paging
        start_at, max_results = paging
        worklogs = list(issue.worklogs)
        try:
            if "startedAfter" in request.query:
                after = int(request.query["startedAfter"])
                worklogs = [w for w in worklogs if w.started.timestamp() * 1000 >= after]
            if "startedBefore" in request.query:
                before = int(request.query["startedBefore"])
                worklogs = [w for w in worklogs if w.started.timestamp() * 1000 < before]
        except ValueError:
            return jira_error(400, "startedAfter and startedBefore are UNIX timestamps in milliseconds.")
        renderer = self._renderer(anonymous=not authenticated)
        page = [] if start_at and self.faults.drops_pages_of(issue.key) else worklogs[start_at : start_at + max_results]
        return web.json_response(
            {
                "startAt": start_at,
                "maxResults": max_results,
                "total": len(worklogs),
                "worklogs": [renderer.worklog(issue, w) for w in page],
            }
        )

    def _find_attachment(self, attachment_id: str, may_browse: bool) -> SampleAttachment | None:
        if not attachment_id.isdigit():
            return None
        attachment = self.dataset.attachments.get(int(attachment_id))
        if attachment is None or self._visible_issue(attachment.issue_key, may_browse) is None:
            return None
        return attachment

    async def _attachment_content(self, request: web.Request) -> web.StreamResponse:
        _, may_browse = self._viewer(request)
        attachment = self._find_attachment(request.match_info["id"], may_browse)
        if attachment is None:
            return jira_error(
                404,
                f"The attachment with id '{request.match_info['id']}' does not exist or you do not have permission to see it.",
            )
        if request.query.get("redirect", "true").lower() == "false":
            return await self._stream(request, attachment, self._stats.api)
        expires = int(time.time() + self.config.media_token_ttl_seconds)
        token = self._media_token(attachment, expires)
        location = (
            f"{self.media_url}/file/{attachment.media_id}/binary?token={token}"
            f"&client=sample-jira&dl=true&name={quote(attachment.filename, safe='')}"
        )
        return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-cache, no-store"})

    async def _attachment_direct(self, request: web.Request) -> web.StreamResponse:
        """Data Center: the bytes from the Jira host itself (/secure/attachment/{id}/{filename})."""
        _, may_browse = self._viewer(request)
        attachment = self._find_attachment(request.match_info["id"], may_browse)
        if attachment is None:
            return jira_error(404, f"The attachment with id '{request.match_info['id']}' does not exist.")
        return await self._stream(request, attachment, self._stats.api)

    async def _attachment_thumbnail(self, request: web.Request) -> web.StreamResponse:
        """Images only: their thumbnail is the image itself (it is tiny)."""
        _, may_browse = self._viewer(request)
        attachment = self._find_attachment(request.match_info["id"], may_browse)
        if attachment is None or not attachment.mime_type.startswith("image/"):
            return jira_error(404, f"No thumbnail for attachment '{request.match_info['id']}'.")
        return await self._attachment_content(request)

    # ---------------------------------------------------------------- media host

    def _media_token(self, attachment: SampleAttachment, expires: int) -> str:
        payload = _b64(
            json.dumps({"a": attachment.id, "m": attachment.media_id, "e": expires}, separators=(",", ":")).encode()
        )
        signature = _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())
        return f"{payload}.{signature}"

    def _check_media_token(self, token: str | None, media_id: str) -> SampleAttachment | web.Response:
        def reject(status: int, title: str) -> web.Response:
            self._stats.media_token_rejections += 1
            return web.json_response(
                {"error": {"code": "Unauthorized" if status == 401 else "Forbidden", "title": title}}, status=status
            )

        if not token:
            return reject(401, "A signed token is required.")
        payload, _, signature = token.partition(".")
        expected = _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return reject(403, "The token signature is invalid.")
        try:
            claims = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return reject(403, "The token is malformed.")
        if claims.get("m") != media_id:
            return reject(403, "The token is for another file.")
        if claims.get("e", 0) < time.time():
            return reject(403, "The token has expired.")
        attachment = self.dataset.attachments.get(int(claims.get("a", -1)))
        if attachment is None:
            return web.json_response({"error": {"code": "NotFound", "title": "The file no longer exists."}}, status=404)
        return attachment

    async def _media_binary(self, request: web.Request) -> web.StreamResponse:
        checked = self._check_media_token(request.query.get("token"), request.match_info["media_id"])
        if isinstance(checked, web.Response):
            return checked
        return await self._stream(request, checked, self._stats.media)

    async def _stream(self, request: web.Request, attachment: SampleAttachment, host: HostStats) -> web.StreamResponse:
        """Serve the bytes (honouring a single Range), generated block by block, never whole."""
        self._stats.download_served(request.get(_CAME_AT))
        size = attachment.size
        start, end, status = 0, size, 200
        range_header = request.headers.get("Range")
        if range_header:
            match = _RANGE.match(range_header.strip())
            if match is None or match.groups() == ("", ""):
                return jira_error(400, f"The Range header {range_header!r} is malformed.")
            first, last = match.groups()
            if first == "":
                start, end = max(size - int(last), 0), size
            else:
                start, end = int(first), (min(int(last) + 1, size) if last else size)
            if start >= size or start >= end:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename, safe='')}"
        response = web.StreamResponse(
            status=status,
            headers={
                "Content-Type": attachment.mime_type,
                "Accept-Ranges": "bytes",
                "Content-Disposition": disposition,
            },
        )
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        response.content_length = end - start
        cut_at = self.faults.cut_download_at(attachment.id, start, end)
        await response.prepare(request)
        position = start
        try:
            prerendered = self._attachment_bodies.get(self._body_key(attachment))
            blocks = (
                [prerendered[start:end]] if prerendered is not None
                else content.iter_content(self.config.seed, attachment.id, attachment.kind, size, attachment.extension, start, end)
            )  # fmt: skip
            for block in blocks:
                if cut_at is not None and position + len(block) > cut_at:
                    await response.write(block[: cut_at - position])
                    host.bytes_served += cut_at - position
                    self._stats.cut_downloads += 1
                    await asyncio.sleep(0)  # let the partial bytes reach the socket before the cut
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                await response.write(block)
                host.bytes_served += len(block)
                position += len(block)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away (or the server is stopping): nothing left to send to
        return response

    # ---------------------------------------------------------------- control endpoints

    async def _sample_stats(self, request: web.Request) -> web.Response:
        # ?trace=1: each host's requests too (tens of kB for a bench run; the counts alone otherwise).
        return web.json_response(self.stats_with_trace() if request.query.get("trace") == "1" else self.stats)

    async def _sample_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response(self.stats)

    async def _sample_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.info())

    async def _sample_touch(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict) or not isinstance(body.get("key"), str):
            return jira_error(400, 'Send {"key": "ABC-1"} (optional "updated": ISO-8601 with offset, "comment": text).')
        updated = None
        if body.get("updated"):
            try:
                updated = datetime.fromisoformat(body["updated"])
            except (TypeError, ValueError):
                return jira_error(400, f"updated {body['updated']!r} is not an ISO-8601 timestamp.")
            if updated.tzinfo is None:
                return jira_error(400, "updated needs a UTC offset.")
        try:
            return web.json_response(self.touch_issue(body["key"], updated=updated, comment=body.get("comment")))
        except KeyError:
            return jira_error(404, ISSUE_NOT_FOUND)

    async def _sample_delete(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body, dict) or not isinstance(body.get("key"), str):
            return jira_error(400, 'Send {"key": "ABC-1"}.')
        try:
            return web.json_response({"deleted": self.delete_issue(body["key"])})
        except KeyError:
            return jira_error(404, ISSUE_NOT_FOUND)
