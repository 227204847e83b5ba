"""Resources: the Jira connection, the knowledge base, and what the mirror covers.

Config apart from client: ``JiraResource`` holds only configuration (secrets come from ``dg.EnvVar``,
so the UI shows the variable's name, never its value); ``get_client()`` builds an unopened
``JiraApiClient``. During a step, ``open_client()`` opens one client on Dagster's event loop, on first
use, and the resource closes it when the step ends. Set-up itself does no I/O, so steps that never
call Jira (rendering, checks) never connect, and a second set-up costs nothing.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date

import dagster as dg
from pydantic import Field, PrivateAttr

from jarkdown_pipeline.jira_api_client import DEFAULT_MIN_DOWNLOAD_RATE, DEFAULT_REQUEST_DEADLINE, JiraApiClient
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.settings import Settings


class JiraResource(dg.ConfigurableResource):
    """Connection to one Jira site (Cloud: email + API token; Data Center: personal access token)."""

    base_url: str = Field(description="Jira base URL (https://acme.atlassian.net) or bare domain.")
    email: str | None = Field(default=None, description="Account e-mail, with api_token (Jira Cloud).")
    # repr=False: a resource printed in a traceback or a log line must not show the secret.
    api_token: str | None = Field(
        default=None, repr=False, description="API token (Jira Cloud). Set from JIRA_API_TOKEN."
    )
    personal_access_token: str | None = Field(
        default=None, repr=False, description="Personal access token (Jira Data Center). Set from JIRA_PAT."
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Allow a plain http:// base URL to a non-loopback host (JARKDOWN_ALLOW_INSECURE_HTTP).",
    )
    flavour: str = Field(
        default="auto", description="auto (Jira's serverInfo says), cloud or datacenter (JARKDOWN_JIRA_FLAVOUR)."
    )
    max_connections_per_host: int = Field(default=5, description="Concurrent connections per host, per step.")
    # Four times the connections: a download holds its slot through a request to Jira (answered 303),
    # one to the media host and its write to disk; with 10, the media host's 5 connections were busy
    # 4.1-4.2 of 5 on average, with 20 (a queue at both hosts) 4.3-4.5 (docs/BENCHMARKS.md).
    max_concurrent_downloads: int = Field(default=20, description="Attachment downloads at once, per step.")
    request_deadline_seconds: float | None = Field(
        default=DEFAULT_REQUEST_DEADLINE,
        description="Longest an API request may take in all, however its server trickles (None: no deadline).",
    )
    min_download_bytes_per_second: float = Field(
        default=DEFAULT_MIN_DOWNLOAD_RATE,
        description="Slowest average rate, over two minutes, a download may keep before it is abandoned (0: none).",
    )

    _exit_stack: contextlib.AsyncExitStack | None = PrivateAttr(default=None)
    _client: JiraApiClient | None = PrivateAttr(default=None)
    _open_lock: asyncio.Lock | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "JiraResource":
        """Non-secret values inline; e-mail and tokens as ``dg.EnvVar`` so they are read in the step."""
        insecure = settings.allow_insecure_http
        if settings.uses_personal_access_token:
            return cls(
                base_url=settings.jira_base_url,
                personal_access_token=dg.EnvVar("JIRA_PAT"),
                allow_insecure_http=insecure,
                flavour=settings.jira_flavour,
            )
        return cls(
            base_url=settings.jira_base_url,
            allow_insecure_http=insecure,
            flavour=settings.jira_flavour,
            email=dg.EnvVar("JIRA_EMAIL"),
            api_token=dg.EnvVar("JIRA_API_TOKEN"),
        )

    def get_client(self) -> JiraApiClient:
        """A new, unopened client (``async with`` it); raises ConfigurationError on bad settings."""
        return JiraApiClient(
            self.base_url,
            self.email,
            self.api_token,
            personal_access_token=self.personal_access_token,
            max_connections_per_host=self.max_connections_per_host,
            allow_insecure_http=self.allow_insecure_http,  # the client refuses a remote http:// URL otherwise
            flavour=self.flavour,
            request_deadline=self.request_deadline_seconds,
            min_download_rate=self.min_download_bytes_per_second,
        )

    @contextlib.asynccontextmanager
    async def yield_for_execution(self, context: dg.InitResourceContext) -> AsyncIterator["JiraResource"]:
        # Runs on the step's event loop; the client opened during the step is closed on exit.
        async with contextlib.AsyncExitStack() as stack:
            self._exit_stack = stack
            self._open_lock = asyncio.Lock()
            try:
                yield self
            finally:
                self._exit_stack = None
                self._client = None

    async def open_client(self) -> JiraApiClient:
        """The step's client, opened (credentials checked: AuthenticationError) on first call."""
        if self._exit_stack is None or self._open_lock is None:
            raise RuntimeError("JiraResource.open_client() is only available while a step runs")
        async with self._open_lock:
            if self._client is None:
                self._client = await self._exit_stack.enter_async_context(self.get_client())
            return self._client

    @property
    def client_if_open(self) -> JiraApiClient | None:
        return self._client


@dataclass(frozen=True)
class MirrorScope:
    """What the mirror covers and when its days start: the scope JQL, the first day, the time zone.

    A typed value handed to the assets as the ``mirror`` resource (Dagster's config fields cannot
    hold a date, and these come from the settings, not from run config).
    """

    start_date: date
    timezone: str = "UTC"
    scope_jql: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "MirrorScope":
        return cls(start_date=settings.start_date, timezone=settings.timezone, scope_jql=settings.scope_jql)


class KnowledgeBaseResource(dg.ConfigurableResource):
    """Where the knowledge base lives and how its files render (nothing secret: shown in the UI)."""

    output_dir: str = Field(description="The knowledge base folder (JARKDOWN_OUTPUT_DIR).")
    include_custom_fields: list[str] | None = Field(
        default=None, description="Only these custom fields (names or ids); all when unset."
    )
    exclude_custom_fields: list[str] = Field(default_factory=list, description="Custom fields left out.")
    history: str = Field(
        default="inline", description="Change history: inline, separate (KEY.history.md) or omit (JARKDOWN_HISTORY)."
    )
    state_dsn: str | None = Field(
        default=None, description="PostgreSQL DSN of the state store (JARKDOWN_STATE_DSN); unset: SQLite in .jarkdown/."
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> "KnowledgeBaseResource":
        return cls(
            output_dir=str(settings.output_dir),
            include_custom_fields=list(settings.include_custom_fields)
            if settings.include_custom_fields is not None
            else None,
            exclude_custom_fields=list(settings.exclude_custom_fields),
            history=settings.history,
            # Read from the environment when used: a DSN may hold a password, which the UI must not show.
            state_dsn=dg.EnvVar("JARKDOWN_STATE_DSN") if settings.state_dsn else None,
        )

    _opened: list[KnowledgeBase] = PrivateAttr(default_factory=list)

    def open(self) -> KnowledgeBase:
        """The knowledge base; its state store connection is closed when the step ends."""
        kb = KnowledgeBase(self.output_dir, state_dsn=self.state_dsn or None)
        self._opened.append(kb)
        return kb

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["KnowledgeBaseResource"]:
        # Closed here, not by the garbage collector: SQLite checkpoints and removes its -wal file on close.
        try:
            yield self
        finally:
            opened, self._opened = self._opened, []
            for kb in opened:
                kb.close()
