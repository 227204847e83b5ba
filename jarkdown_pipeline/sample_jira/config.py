"""Settings of the sample Jira: data set, credentials, latency and fault injection."""

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEMO_EMAIL = "demo@example.com"
# Fake on purpose: the sample Jira is a local test double, these open nothing real.
DEMO_API_TOKEN = "sample-jira-demo-token"
EAGER_ISSUE_LIMIT = 2000
GENERATIONS = ("auto", "eager", "lazy")
FLAVOURS = ("cloud", "datacenter")
DEMO_PERSONAL_ACCESS_TOKEN = "sample-jira-demo-pat"  # Data Center mode's default (fake, like the token)


@dataclass(frozen=True)
class FaultConfig:
    """What goes wrong, and when. Request numbers count API-host requests under /rest/, from 1."""

    # 429 with Retry-After on these request numbers, and/or on a seeded fraction of requests.
    rate_limit_requests: frozenset[int] = frozenset()
    rate_limit_rate: float = 0.0
    retry_after_seconds: float = 1.0
    # 503 bursts: (first request number, how many requests in a row).
    unavailable_bursts: tuple[tuple[int, int], ...] = ()
    # The first `cut_download_attempts` downloads of these attachment ids (or of a seeded
    # fraction of all attachments) stop after `cut_after_fraction` of the bytes.
    cut_download_attachment_ids: frozenset[int] = frozenset()
    cut_download_rate: float = 0.0
    cut_download_attempts: int = 1
    cut_after_fraction: float = 0.5
    # Present in search results, gone by the time they are fetched (bulkfetch omits them, GET 404s).
    vanished_issue_keys: frozenset[str] = frozenset()
    # The first bulkfetch that asks for these keys reports them in issueErrors (retriable).
    bulkfetch_error_keys: frozenset[str] = frozenset()
    # Paged comments, worklogs and changelogs of these issues lose a page: GET pages past the first
    # come back empty (total unchanged), the changelog bulkfetch leaves out their entries past the inline ones.
    dropped_page_issue_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("rate_limit_rate", "cut_download_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"FaultConfig.{name} must be between 0 and 1, got {value!r}")
        if not 0.0 <= self.cut_after_fraction < 1.0:
            raise ValueError(f"FaultConfig.cut_after_fraction must be in [0, 1), got {self.cut_after_fraction!r}")
        if self.retry_after_seconds < 0:
            raise ValueError("FaultConfig.retry_after_seconds must not be negative")
        for start, count in self.unavailable_bursts:
            if start < 1 or count < 1:
                raise ValueError(
                    f"FaultConfig.unavailable_bursts entries need start >= 1 and count >= 1, got {(start, count)!r}"
                )
        object.__setattr__(self, "rate_limit_requests", frozenset(self.rate_limit_requests))
        object.__setattr__(
            self, "cut_download_attachment_ids", frozenset(int(i) for i in self.cut_download_attachment_ids)
        )
        object.__setattr__(self, "vanished_issue_keys", frozenset(k.upper() for k in self.vanished_issue_keys))
        object.__setattr__(self, "bulkfetch_error_keys", frozenset(k.upper() for k in self.bulkfetch_error_keys))
        object.__setattr__(self, "dropped_page_issue_keys", frozenset(k.upper() for k in self.dropped_page_issue_keys))


@dataclass(frozen=True)
class SampleJiraConfig:
    """Everything that shapes one sample Jira. Same seed and `now` give the same data."""

    seed: int = 42
    issue_count: int = 300
    # "eager": every issue drawn at start-up from one generator (the data set as it has always been);
    # "lazy": a skeleton at start-up, each issue generated when asked for (any size, in seconds);
    # "auto": eager up to EAGER_ISSUE_LIMIT issues, lazy above.
    generation: str = "auto"
    projects: tuple[str, ...] = ("ALPHA", "BETA", "OPS")
    days: int = 30
    # The instant the data set is generated around; None means the real current time.
    now: datetime | None = None
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    media_port: int = 0
    latency_seconds: float = 0.0
    media_latency_seconds: float | None = None  # None: same as latency_seconds
    email: str = DEMO_EMAIL
    api_token: str = DEMO_API_TOKEN
    personal_access_token: str | None = None  # accepted as "Bearer ..." (Data Center style) when set
    anonymous_access: bool = False  # True: anonymous users may browse (like a public Cloud site)
    time_zone: str = "Europe/Berlin"  # the user's zone: JQL dates and rendered timestamps use it
    min_attachments_per_issue: int = 0
    max_attachments_per_issue: int = 3
    attachment_min_bytes: int = 200
    attachment_max_bytes: int = 256 * 1024
    huge_attachment_bytes: int | None = None  # one extra attachment of this size, streamed
    huge_attachment_issue: str | None = None  # default: the most recently updated issue
    inline_comment_limit: int = 20
    inline_worklog_limit: int = 20
    # Largest pages, as Jira Cloud hands them out (the OpenAPI's documented maxima): comments 100,
    # worklogs 5000, bulkfetch 100; /search/jql up to 5000 when only id or key is asked for, fewer
    # as soon as fields are (100 here, Cloud's usual answer).
    comment_page_max: int = 100
    worklog_page_max: int = 5000
    bulkfetch_page_max: int = 100
    search_page_max_ids: int = 5000
    search_page_max_fields: int = 100
    # Changelogs: Cloud inlines a few dozen entries with expand=changelog (histories with maxResults
    # and total); GET /issue/{key}/changelog pages by 100; POST /changelog/bulkfetch takes up to
    # 1000 issues and answers pages of up to `changelog_bulkfetch_page_max` entries.
    inline_changelog_limit: int = 40
    changelog_page_max: int = 100
    changelog_bulkfetch_issues_max: int = 1000
    changelog_bulkfetch_page_max: int = 1000
    long_history_issue: str | None = None  # the issue with hundreds of entries (default: the first issue)
    # API-token rate limiting (off when None): a token bucket of `rate_limit_burst` requests that
    # refills at `rate_limit_per_second`; past it, 429 with Retry-After as Jira Cloud answers.
    rate_limit_burst: int | None = None
    rate_limit_per_second: float = 50.0
    max_comments_per_issue: int = 45
    max_worklogs_per_issue: int = 30
    media_token_ttl_seconds: float = 60.0
    # Serialise every issue at start-up (as the pipeline fetches them), so that serving costs
    # next to no CPU during a benchmark; start-up takes ~2 ms per issue longer.
    prerender: bool = False
    # JQL `key in (...)` naming an issue that does not exist answers 400, as Jira does.
    strict_jql_keys: bool = True
    faults: FaultConfig = field(default_factory=FaultConfig)
    # (key, project) pairs: each issue is moved to that project once the data set is generated, as
    # Jira moves issues (new key, same id; ``SampleJira.move_issue`` does it while running).
    moved_issues: tuple[tuple[str, str], ...] = ()
    # "cloud": REST v3, ADF, a media host; "datacenter": REST v2 only, wiki markup, Bearer PAT (see datacenter.py).
    flavour: str = "cloud"

    def __post_init__(self) -> None:
        self._check_flavour()
        object.__setattr__(self, "projects", self._checked_projects())
        self._check_data_set()
        self._check_attachments_and_pages()
        self._check_server()

    def _checked_projects(self) -> tuple[str, ...]:
        if not self.projects:
            raise ValueError("SampleJiraConfig.projects needs at least one project key")
        projects = tuple(p.strip().upper() for p in self.projects)
        for key in projects:
            if not (key.isascii() and key.isalnum() and key[0].isalpha()):
                raise ValueError(f"SampleJiraConfig.projects: {key!r} is not a valid Jira project key")
        if len(set(projects)) != len(projects):
            raise ValueError("SampleJiraConfig.projects has duplicates")
        return projects

    def _check_data_set(self) -> None:
        if self.issue_count < 0:
            raise ValueError("SampleJiraConfig.issue_count must not be negative")
        if self.generation not in GENERATIONS:
            raise ValueError(
                f"SampleJiraConfig.generation must be one of {', '.join(GENERATIONS)}; got {self.generation!r}"
            )
        if self.days < 1:
            raise ValueError("SampleJiraConfig.days must be at least 1")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"SampleJiraConfig.time_zone: unknown time zone {self.time_zone!r}") from exc
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("SampleJiraConfig.now must be time-zone aware")

    def _check_attachments_and_pages(self) -> None:
        if not 0 <= self.min_attachments_per_issue <= self.max_attachments_per_issue:
            raise ValueError("need 0 <= min_attachments_per_issue <= max_attachments_per_issue")
        if not 1 <= self.attachment_min_bytes <= self.attachment_max_bytes:
            raise ValueError("need 1 <= attachment_min_bytes <= attachment_max_bytes")
        if self.huge_attachment_bytes is not None and self.huge_attachment_bytes < 1:
            raise ValueError("huge_attachment_bytes must be positive")
        if self.inline_comment_limit < 0 or self.inline_worklog_limit < 0 or self.inline_changelog_limit < 0:
            raise ValueError("inline limits must not be negative")
        caps = (
            "comment_page_max",
            "worklog_page_max",
            "bulkfetch_page_max",
            "search_page_max_ids",
            "search_page_max_fields",
            "changelog_page_max",
            "changelog_bulkfetch_issues_max",
            "changelog_bulkfetch_page_max",
        )
        for name in caps:
            if getattr(self, name) < 1:
                raise ValueError(f"SampleJiraConfig.{name} must be at least 1")

    def _check_server(self) -> None:
        if self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the sample Jira binds to loopback only (127.0.0.1, ::1 or localhost)")
        if self.latency_seconds < 0 or (self.media_latency_seconds or 0) < 0:
            raise ValueError("latency must not be negative")
        if not self.email or not self.api_token:
            raise ValueError("email and api_token must be non-empty")
        if self.rate_limit_burst is not None and (self.rate_limit_burst < 1 or self.rate_limit_per_second <= 0):
            raise ValueError("rate_limit_burst must be at least 1 and rate_limit_per_second positive")

    def _check_flavour(self) -> None:
        if self.flavour not in FLAVOURS:
            raise ValueError(f"SampleJiraConfig.flavour must be one of {', '.join(FLAVOURS)}; got {self.flavour!r}")
        if self.flavour == "datacenter" and self.personal_access_token is None:
            object.__setattr__(self, "personal_access_token", DEMO_PERSONAL_ACCESS_TOKEN)

    @property
    def is_datacenter(self) -> bool:
        return self.flavour == "datacenter"

    @property
    def uses_lazy_generation(self) -> bool:
        return self.generation == "lazy" or (self.generation == "auto" and self.issue_count > EAGER_ISSUE_LIMIT)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def effective_media_latency(self) -> float:
        return self.latency_seconds if self.media_latency_seconds is None else self.media_latency_seconds

    def replace(self, **changes) -> "SampleJiraConfig":
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        # Keep the token out of reprs and logs, even though the demo one is fake.
        shown = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("api_token", "personal_access_token")
        }
        return "SampleJiraConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ", api_token=<hidden>)"
