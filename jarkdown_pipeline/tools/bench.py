"""`make bench`: the pipeline's speed, memory and incremental cost, each figure from one real run.

Every run is `dagster job execute` of jira_markdown_job (one single-run backfill, the job's own
executor) against the bundled sample Jira in its own process, on a fresh DAGSTER_HOME and output
folder under ./.bench/. Scenarios:

- throughput: 1,000 issues, one attachment each, 50 ms added to every request on both hosts
  (API and media). Wall time of the whole run; the same for a day without issues (Dagster's
  start-up and the fixed requests), each the median of --rounds pairs of runs; (difference) / floor,
  where the floor is (attachments + issues/100 + the changelog, comment and worklog pages the sample
  Jira answered the run + its search pages beyond the near-empty day's one) x 50 ms / 5 connections.
  The goal is judged by the higher of that ratio and the median of the rounds' own ratios (a pair
  each): the median runs can come from different rounds.
  Peak requests in flight as the server saw them; the requests history adds per 1,000 issues
  (changelog pages beyond what Jira inlines).
  Calibration: the same 1,000 downloads, asked for as the pipeline asks (each small attachment's
  bytes from the API host with redirect=false), by a bare aiohttp session with the same 5
  connections per host and nothing else to do: what this machine and the sample Jira allow any
  client, next to the floor.
  The same at two search page sizes (the sample Jira answering 1,000 and 100 issues a page), and
  with API-token rate limiting on (a token bucket of 100 requests refilled at 50/s; its floor is the
  budget's); for each, the time from the window's first search request to its first download and
  the 429s served (in bursts: 429s less than a second apart).
- incremental: the same range again on the same knowledge base: requests, files rewritten, bytes.
- memory: one issue with a 1 GiB attachment; peak resident memory of the run's whole process tree
  (sampled), and the largest single process (getrusage of waited-for children).
- datacenter (not in the default set): the throughput runs against the sample Jira's Data Center mode
  (REST v2, wiki markup, attachments on the Jira host), their ratio to the floor of that request pattern.
- rendering: render_issue on the renderer's rich issue, and on the 1,000 sample issues as stored.
- scale: knowledge bases of 1,000, 10,000 and 100,000 issues (no latency, one small attachment
  each): the backfill in one run (wall time, issues/s, peak memory), a run of an unchanged day, a
  run of a day with 10 changed issues, a reconciliation pass.

    python -m jarkdown_pipeline.tools.bench [--only throughput,memory,rendering,scale,datacenter] [--rounds 5]
        [--scale-sizes 1000,10000,100000] [--datacenter-issues 1000] [--keep]
"""

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

try:
    import psutil
except ImportError:  # a dev dependency: `make bench` installs it
    raise SystemExit("make bench needs psutil: pip install -e '.[dev]' (or run `make bench`)") from None

from jarkdown_pipeline.jira_api_client import DIRECT_DOWNLOAD_MAX_BYTES
from jarkdown_pipeline.tools.connection_budget import budget_text, connection_budget
from jarkdown_pipeline.tools.pipeline_cli import (
    CODE_MODULE,
    backfill_command,
    dagster_executable,
    log_tail,
    report_line,
    summarize_knowledge_base,
)
from jarkdown_pipeline.tools.sample_server import (
    RunningSampleJira,
    popen_in_own_group,
    sample_jira_process,
    stop_process_group,
    terminate_on_sigterm,
)

BENCH_DIR = Path(".bench")
THROUGHPUT_ISSUES = 1000
LATENCY_MS = 50
# Pairs of runs per throughput scenario: one pair alone moves the ratio by up to a tenth on a shared
# machine (Dagster's start-up and end vary by up to half a second); the median of five holds steadier
# than that of three against a goal a few hundredths away.
THROUGHPUT_ROUNDS = 5
CONNECTIONS_PER_HOST = 5  # JiraResource's default max_connections_per_host
HUGE_ATTACHMENT_BYTES = 1024**3
MEMORY_GOAL_MIB = 200
RATIO_GOAL = 1.1
FIRST_DOWNLOAD_GOAL_SECONDS = 0.3
# Search page sizes the sample Jira answers with (Jira's caps vary: 5000 for id/key only, 100 with fields).
PAGE_SIZES = (1000, 100)
# The rate-limited run: a bucket of 100 requests refilled at 50/s, about half what 5 connections at
# 50 ms ask of the API host, so the budget runs out within the run.
RATE_LIMIT_BURST = 100
RATE_LIMIT_PER_SECOND = 50.0
SEARCH_ROUTE = "POST /rest/api/3/search/jql"
SAMPLE_INTERVAL_SECONDS = 0.02
RENDER_PASSES = 3
MIB = 1024 * 1024
CHANGED_PATHS_SHOWN = 20


# Requests beyond an issue's own bulk page that the API host must answer: the rest of a truncated
# changelog (bulk, or one issue's pages), comment list or worklog list (REST v2 or v3).
_EXTRA_PAGE_ROUTE_RE = re.compile(
    r"(?:GET|POST) /rest/api/[0-9]+/(?:changelog/bulkfetch|issue/\{key\}/(?:changelog|comment|worklog))"
)
_HISTORY_ROUTE_RE = re.compile(r"(?:GET|POST) /rest/api/[0-9]+/(?:changelog/bulkfetch|issue/\{key\}/changelog)")


def extra_pages(by_route: dict[str, int]) -> int:
    """The changelog, comment and worklog pages a run was answered (the sample Jira's requests per route)."""
    return sum(count for route, count in by_route.items() if _EXTRA_PAGE_ROUTE_RE.fullmatch(route))


def history_requests(by_route: dict[str, int]) -> int:
    """The requests a run made for changelog entries Jira did not inline."""
    return sum(count for route, count in by_route.items() if _HISTORY_ROUTE_RE.fullmatch(route))


def per_thousand_issues(requests: int, issues: int) -> float:
    return requests * 1000 / issues if issues else 0.0


def floor_seconds(issues: int, attachments: int, pages: int = 0) -> float:
    """The issue's floor: every attachment, every bulk page (100 issues) and every further changelog,
    comment or worklog page (``pages``) once, 5 at a time, 50 ms each."""
    return (attachments + issues / 100 + pages) * (LATENCY_MS / 1000) / CONNECTIONS_PER_HOST


def further_search_pages(by_route: dict[str, int], baseline_by_route: dict[str, int] | None = None) -> int:
    """The search requests a run was answered beyond those of the near-empty day's run (``baseline_by_route``;
    one search page when not given): the pages Jira's page cap makes of a window (at 100 issues a page, 9 more
    for 1,000 issues). Searches the pipeline makes by its own choice, whatever the window (the one that starts
    the first downloads), are in both runs and so not in the floor."""
    baseline = 1 if baseline_by_route is None else baseline_by_route.get(SEARCH_ROUTE, 0)
    return max(0, by_route.get(SEARCH_ROUTE, 0) - baseline)


def run_floor_seconds(run: "RunResult", baseline: "RunResult | None" = None) -> float:
    """The floor of a run: its issues, attachments and the further changelog, comment, worklog and
    search pages the sample Jira answered it (search pages beyond the near-empty day's run, ``baseline``)."""
    by_route = run.server["api"]["by_route"]
    baseline_by_route = baseline.server["api"]["by_route"] if baseline is not None else None
    pages = extra_pages(by_route) + further_search_pages(by_route, baseline_by_route)
    return floor_seconds(run.summary["issues"], run.summary["attachments"], pages)


@dataclass
class RunResult:
    label: str
    exit_code: int
    wall_seconds: float
    peak_tree_rss_bytes: int
    peak_tree_pss_bytes: int
    peak_processes: int
    server: dict[str, Any]
    log_path: str
    files_changed: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    load_average: float = 0.0
    changed_paths: list[str] = field(default_factory=list)
    """The first CHANGED_PATHS_SHOWN of the files the run wrote or deleted (which ones, not just how many)."""
    started_at: float = 0.0
    ended_at: float = 0.0
    """When the run's process started and ended (``time.time()``: the sample Jira's clock for its stats)."""
    budget: dict[str, Any] = field(default_factory=dict)
    """Each host's ``connection_budget`` over the window's network phase (``network_budget``)."""

    @property
    def api_requests(self) -> int:
        return self.server["api"]["requests"]

    @property
    def media_requests(self) -> int:
        return self.server["media"]["requests"]


class TreeMemorySampler:
    """Samples the memory of a process and all its descendants, in a background thread.

    Summed RSS counts pages shared between processes once per process: a child Dagster forks
    (before it execs) shows the parent's whole heap again, so one sample in a few read ~100 MiB
    high. Summed PSS (proportional set size) counts every page once in total, and is the figure
    the goal is checked against; summed RSS is kept beside it.

    PSS walks every page table of every process: at 20 ms that is ~25% of a core here, taken from
    the run it measures. Runs timed for speed sample RSS only, every 100 ms (``pss=False``).
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL_SECONDS, pss: bool = True) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.pss = pss
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total_rss = total_pss = 0
            for process in processes:
                try:
                    info = process.memory_full_info() if self.pss else process.memory_info()
                except psutil.Error:
                    continue
                total_rss += info.rss
                total_pss += getattr(info, "pss", info.rss)  # PSS is Linux-only; RSS elsewhere
            self.peak_rss = max(self.peak_rss, total_rss)
            self.peak_pss = max(self.peak_pss, total_pss)
            self.peak_processes = max(self.peak_processes, len(processes))
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeMemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


_STEP_DONE = re.compile(r' - ([A-Za-z0-9_]+) - STEP_SUCCESS - Finished execution of step "[^"]+" in ([0-9.]+)(ms|s)\.')


def step_durations(log_path: Path) -> dict[str, float]:
    """Seconds per step, from Dagster's STEP_SUCCESS events in the run's output."""
    durations = {}
    for match in _STEP_DONE.finditer(log_path.read_text(encoding="utf-8", errors="replace")):
        step, value, unit = match.groups()
        durations[step] = round(float(value) / (1000 if unit == "ms" else 1), 2)
    return durations


def files_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) per file, the per-run records under .jarkdown/runs/ aside."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            relative = str(path.relative_to(root))
            if relative.startswith(".jarkdown/runs/"):
                continue
            stat = path.stat()
            found[relative] = (stat.st_ino, stat.st_mtime_ns)
    return found


def run_pipeline(
    label: str,
    jira: RunningSampleJira,
    workdir: Path,
    output_dir: Path,
    start_date: date,
    first_day: date,
    last_day: date,
    *,
    memory_run: bool = False,
    command: list[str] | None = None,
    pss_interval: float = SAMPLE_INTERVAL_SECONDS,
) -> RunResult:
    """One `dagster job execute` over [first_day, last_day] (or ``command``), timed and sampled; the
    server's stats for it.

    ``memory_run``: sample PSS every ``pss_interval`` (the memory goals); else RSS every 100 ms
    (cheap, for runs timed for speed).
    """
    dagster_home = workdir / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(workdir)),
        **jira.pipeline_environment(),
        "JARKDOWN_OUTPUT_DIR": str(output_dir),
        "JARKDOWN_START_DATE": start_date.isoformat(),
        "DAGSTER_HOME": str(dagster_home),
    }
    log_path = workdir / f"{label}.log"
    before = files_snapshot(output_dir) if output_dir.exists() else {}
    jira.reset_stats()
    with open(log_path, "wb") as log:
        started, started_at = time.perf_counter(), time.time()
        command = command or backfill_command(first_day, last_day)
        process = popen_in_own_group(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            sampler_options = {"pss": True, "interval": pss_interval} if memory_run else {"pss": False, "interval": 0.1}
            with TreeMemorySampler(process.pid, **sampler_options) as sampler:
                exit_code = process.wait()
            wall, ended_at = time.perf_counter() - started, time.time()
        finally:
            stop_process_group(process)
    server = jira.stats(trace=True)
    budget = network_budget(server)
    for host in ("api", "media"):
        server[host].pop("trace", None)  # summed up in the budget: results.json keeps the figures only
    after = files_snapshot(output_dir) if output_dir.exists() else {}
    changed_paths = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    changed = len(changed_paths)
    if exit_code != 0:
        print(log_tail(log_path), file=sys.stderr)
        raise RuntimeError(f"the {label} run failed (exit {exit_code}); log: {log_path}")
    return RunResult(
        label,
        exit_code,
        wall,
        sampler.peak_rss,
        sampler.peak_pss,
        sampler.peak_processes,
        server,
        str(log_path),
        changed,
        asdict(summarize_knowledge_base(output_dir)),
        step_durations(log_path),
        os.getloadavg()[0],
        changed_paths[:CHANGED_PATHS_SHOWN],
        started_at,
        ended_at,
        budget,
    )


def last_answer_at(server: dict[str, Any]) -> float | None:
    """When the sample Jira last answered, on either host (its clock), if it answered at all."""
    answers = [server[host].get("last_answer_at") for host in ("api", "media")]
    return max((moment for moment in answers if moment is not None), default=None)


def host_budgets(server: dict[str, Any], start_at: float | None, end_at: float) -> dict[str, Any]:
    """Each host's ``connection_budget`` over [``start_at`` (None: its first request), ``end_at``],
    for the hosts whose trace has a request in it."""
    budgets = {}
    for host in ("api", "media"):
        trace = server[host].get("trace") or []
        if not trace:
            continue
        start = min(came for _, came, _ in trace) if start_at is None else start_at
        budget = connection_budget(trace, start, end_at, connections=CONNECTIONS_PER_HOST, latency=LATENCY_MS / 1000)
        if budget is not None:
            budgets[host] = budget
    return budgets


def network_budget(server: dict[str, Any]) -> dict[str, Any]:
    """Each host's ``connection_budget`` from the window's first search request to the last answer of
    either host (the network phase of ``run_phases``); empty without a search or a trace."""
    search = server["api"].get("first_by_route", {}).get(SEARCH_ROUTE)
    last = last_answer_at(server)
    if search is None or last is None:
        return {}
    return host_budgets(server, search, last)


def sample_days(jira: RunningSampleJira) -> tuple[date, date]:
    """The first and last day (the user's zone) on which the sample's issues were updated."""
    zone = ZoneInfo(jira.time_zone)
    now = datetime.fromisoformat(jira.info["now"]).astimezone(zone)
    return (now - timedelta(days=jira.info["days"])).date(), now.date()


def fixed_now() -> str:
    # Yesterday noon UTC: the same data all day long, and never "in the future" for the settings.
    moment = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    return moment.isoformat()


def throughput_options(page_size: int, rate_limited: bool = False) -> list[str]:
    """The sample Jira's options for a throughput scenario."""
    options = [
        "--issues",
        str(THROUGHPUT_ISSUES),
        "--days",
        "1",
        "--now",
        fixed_now(),
        "--seed",
        "42",
        "--attachments-per-issue",
        "1",
        "--attachment-min-bytes",
        "2048",
        "--attachment-max-bytes",
        "16384",
        "--latency-ms",
        str(LATENCY_MS),
        "--prerender",  # the server's JSON ready: its CPU stays out of the way
        # Every comment and worklog inline: the floor's further pages are the changelogs' alone.
        "--inline-comment-limit",
        "100",
        "--inline-worklog-limit",
        "100",
        "--search-page-max",
        str(page_size),
    ]
    if rate_limited:
        options += [
            "--rate-limit-burst",
            str(RATE_LIMIT_BURST),
            "--rate-limit-per-second",
            f"{RATE_LIMIT_PER_SECOND:g}",
        ]
    return options


def first_search_at(run: "RunResult") -> float | None:
    """When the sample Jira got the run's first search request (its clock), if it got one."""
    return run.server["api"].get("first_by_route", {}).get(SEARCH_ROUTE)


def run_phases(run: "RunResult") -> dict[str, float] | None:
    """A run in three phases, by the sample Jira's clock: from its start to the window's first search
    request (Dagster's start, the fields), from there to the last answer of either host (the
    window's network work), and from that answer to the run's end (the window's last files, the
    index, the checks, Dagster's end). None if the run made no search."""
    search, last = first_search_at(run), last_answer_at(run.server)
    if search is None or last is None or not run.started_at:
        return None
    return {
        "to_first_search": search - run.started_at,
        "network": last - search,
        "after_last_answer": run.ended_at - last,
    }


def first_download_seconds(run: "RunResult") -> float | None:
    """From the window's first search request to its first download (the first request the sample Jira
    answered with an attachment's bytes, from either host)."""
    search = first_search_at(run)
    download = run.server["first_download_at"]
    return None if search is None or download is None else download - search


def rate_limit_bursts(moments: list[float], gap: float = 1.0) -> int:
    """How many bursts the 429s came in: a new burst after ``gap`` seconds without one."""
    bursts, last = 0, None
    for moment in sorted(moments):
        if last is None or moment - last > gap:
            bursts += 1
        last = moment
    return bursts


def run_rounds(jira: RunningSampleJira, workdir: Path, rounds: int) -> tuple[list["RunResult"], list["RunResult"]]:
    """``rounds`` pairs (a near-empty day, then the 1,000 issues on a fresh knowledge base), alternating."""
    first_day, last_day = sample_days(jira)
    start_date, empty_day = first_day - timedelta(days=7), first_day - timedelta(days=3)
    empties: list[RunResult] = []
    fulls: list[RunResult] = []
    for n in range(1, rounds + 1):
        empty = run_pipeline(
            "empty_day", jira, workdir / f"empty-{n}", workdir / f"empty-{n}" / "kb", start_date, empty_day, empty_day
        )
        full = run_pipeline(
            "full", jira, workdir / f"full-{n}", workdir / f"full-{n}" / "kb", start_date, first_day, last_day
        )
        empties.append(empty)
        fulls.append(full)
        print(
            f"  round {n}: near-empty day {empty.wall_seconds:.1f} s ({empty.api_requests} API requests); 1,000 issues "
            f"{full.wall_seconds:.1f} s ({full.api_requests} API + {full.media_requests} media requests); "
            f"ratio {ratio_to_floor(full, empty):.2f}; history {history_requests(full.server['api']['by_route'])} "
            f"requests; first download {first_download_seconds(full) or 0:.2f} s; "
            f"429s {full.server['rate_limited']}",
            flush=True,
        )
    return empties, fulls


def scenario_figures(empties: list["RunResult"], fulls: list["RunResult"]) -> dict[str, Any]:
    """The figures of one scenario's median runs."""
    empty, full = median_run(empties), median_run(fulls)
    issues, attachments = full.summary["issues"], full.summary["attachments"]
    by_route = full.server["api"]["by_route"]
    return {
        "issues": issues,
        "attachments": attachments,
        "floor_seconds": run_floor_seconds(full, empty),
        "extra_pages": extra_pages(by_route),
        "further_search_pages": further_search_pages(by_route, empty.server["api"]["by_route"]),
        "history_requests": history_requests(by_route),
        "history_requests_per_1000_issues": per_thousand_issues(history_requests(by_route), issues),
        "wall_seconds": full.wall_seconds,
        "empty_day_wall_seconds": empty.wall_seconds,
        "net_seconds": full.wall_seconds - empty.wall_seconds,
        "ratio_to_floor": ratio_to_floor(full, empty),
        "rounds": [
            {
                "wall_seconds": f.wall_seconds,
                "empty_day_wall_seconds": e.wall_seconds,
                "ratio_to_floor": ratio_to_floor(f, e),
                "first_download_seconds": first_download_seconds(f),
                "rate_limited": f.server["rate_limited"],
                "rate_limit_bursts": rate_limit_bursts(f.server.get("rate_limited_at", [])),
                "phases": run_phases(f),
                "empty_day_phases": run_phases(e),
            }
            for e, f in zip(empties, fulls)
        ],
        "first_download_seconds": first_download_seconds(full),
        "search_requests": full.server["api"]["by_route"].get(SEARCH_ROUTE, 0),
        "rate_limited": full.server["rate_limited"],
        "rate_limit_bursts": rate_limit_bursts(full.server.get("rate_limited_at", [])),
        "api_requests": full.api_requests,
        "media_requests": full.media_requests,
        "peak_in_flight_api": full.server["api"]["peak_in_flight"],
        "peak_in_flight_media": full.server["media"]["peak_in_flight"],
        "media_span_seconds": full.server["media"]["span_seconds"],
        "media_mean_in_flight": full.server["media"]["mean_in_flight"],
        "api_span_seconds": full.server["api"]["span_seconds"],
        "api_mean_in_flight": full.server["api"]["mean_in_flight"],
        "step_seconds": full.step_seconds,
        "phases": run_phases(full),
        "empty_day_phases": run_phases(empty),
        "budget": full.budget,
    }


def bench_throughput_variant(root: Path, name: str, rounds: int, page_size: int, rate_limited: bool) -> dict[str, Any]:
    """One more throughput scenario (another page size, or the rate limit on), with its bare-client calibration."""
    workdir = root / "throughput" / name
    with sample_jira_process(throughput_options(page_size, rate_limited), log_path=workdir / "sample_jira.log") as jira:
        print(f"  {name}: {page_size} issues per search page{', rate limited' if rate_limited else ''}", flush=True)
        empties, fulls = run_rounds(jira, workdir, rounds)
        result = scenario_figures(empties, fulls)
        if rate_limited:
            # Past the first burst, the budget sets the pace: its requests beyond the bucket at its rate.
            budget = (result["api_requests"] - RATE_LIMIT_BURST) / RATE_LIMIT_PER_SECOND
            result["rate_limit_floor_seconds"] = max(result["floor_seconds"], budget)
            result["ratio_to_rate_limit_floor"] = result["net_seconds"] / result["rate_limit_floor_seconds"]
        else:
            first_day, last_day = sample_days(jira)
            bare = bare_client_downloads(jira, first_day, last_day)
            result["bare_client"] = {**bare, "floor_seconds": floor_seconds(0, bare["downloads"])}
    return result


def bench_throughput(root: Path, rounds: int = THROUGHPUT_ROUNDS) -> dict[str, Any]:
    """``rounds`` pairs of runs (a near-empty day, then the 1,000 issues on a fresh knowledge base),
    alternating; the figures are those of the median runs (each a real run), the ratio that of the
    median wall times. On a shared machine one pair alone moves the ratio by a tenth or more.
    Then the same at 100 issues per search page, and with the rate limit on."""
    workdir = root / "throughput"
    with sample_jira_process(throughput_options(PAGE_SIZES[0]), log_path=workdir / "sample_jira.log") as jira:
        first_day, last_day = sample_days(jira)
        start_date = first_day - timedelta(days=7)
        print(
            f"  sample Jira: {jira.info['issue_count']} issues updated {first_day} .. {last_day}, {LATENCY_MS} ms per request, "
            f"{PAGE_SIZES[0]} issues per search page",
            flush=True,
        )
        empties, fulls = run_rounds(jira, workdir, rounds)
        empty, full = median_run(empties), median_run(fulls)
        output_dir = Path(full.log_path).parent / "kb"
        again = run_pipeline(
            "incremental", jira, Path(full.log_path).parent, output_dir, start_date, first_day, last_day
        )
        print(
            f"  same range again: {again.wall_seconds:.1f} s, {again.api_requests} API requests, {again.files_changed} files changed",
            flush=True,
        )
        bare = bare_client_downloads(jira, first_day, last_day)
        print(f"  bare aiohttp, the same {bare['downloads']} downloads: {bare['wall_seconds']:.1f} s", flush=True)
    issues = full.summary["issues"]
    net = full.wall_seconds - empty.wall_seconds
    return {
        **scenario_figures(empties, fulls),
        "issues_per_second": issues / full.wall_seconds,
        "issues_per_second_net": issues / net,
        "requests_by_route": full.server["api"]["by_route"],
        "peak_tree_rss_bytes": full.peak_tree_rss_bytes,
        "empty_day_api_requests": empty.api_requests,
        "empty_day_step_seconds": empty.step_seconds,
        "load_average_1min_after": {
            "empty_day": empty.load_average,
            "full": full.load_average,
            "incremental": again.load_average,
        },
        "incremental": {
            "wall_seconds": again.wall_seconds,
            "api_requests": again.api_requests,
            "media_requests": again.media_requests,
            "requests_by_route": again.server["api"]["by_route"],
            "files_rewritten": again.files_changed,
            # Attachment bytes, from either host (a small one's from the API host, redirect=false).
            "bytes_downloaded": again.server["bytes_served"],
            "step_seconds": again.step_seconds,
        },
        "bare_client": {
            **bare,
            "floor_seconds": floor_seconds(0, bare["downloads"]),
            "downloads_in_flight": BARE_DOWNLOADS_IN_FLIGHT,
        },
        "output_dir": str(output_dir),
        "page_size": PAGE_SIZES[0],
        "variants": {
            f"page_{PAGE_SIZES[1]}": bench_throughput_variant(
                root, f"page_{PAGE_SIZES[1]}", rounds, PAGE_SIZES[1], False
            ),
            "rate_limited": bench_throughput_variant(root, "rate_limited", rounds, PAGE_SIZES[0], True),
        },
    }


BARE_DOWNLOADS_IN_FLIGHT = 20


def whole_issue_fetches(jira: RunningSampleJira) -> dict[str, Any]:
    """Data Center has no bulk fetch: its issues whole by the client's search pages of ``key in (...)``, and by
    one GET per issue (as many at once as connections per host), each with comments and worklogs completed."""
    from jarkdown_pipeline.jira_api_client import JiraApiClient

    async def timed(client: JiraApiClient, keys: list[str], per_issue: bool) -> dict[str, Any]:
        slots = asyncio.Semaphore(CONNECTIONS_PER_HOST)

        async def one(key: str) -> dict[str, Any]:
            async with slots:
                return await client.fetch_issue(key)

        before, started = client.stats.requests, time.perf_counter()
        if per_issue:
            fetched = len(await asyncio.gather(*(one(key) for key in keys)))
        else:
            fetched = len((await client.bulk_fetch_issues(keys)).issues)
        wall = time.perf_counter() - started
        return {
            "issues": fetched,
            "wall_seconds": wall,
            "issues_per_second": fetched / wall,
            "requests": client.stats.requests - before,
        }

    async def run() -> dict[str, Any]:
        pat = jira.pipeline_environment()["JIRA_PAT"]
        async with JiraApiClient(jira.base_url, personal_access_token=pat, flavour="datacenter") as client:
            scope = f"project in ({', '.join(jira.info['projects'])})"
            keys = [ref["key"] async for ref in client.search_jql(scope, fields=["updated"])]
            return {"search_pages": await timed(client, keys, False), "per_issue_get": await timed(client, keys, True)}

    return asyncio.run(run())


def bench_datacenter(root: Path, issues: int = THROUGHPUT_ISSUES, rounds: int = 1) -> dict[str, Any]:
    """The throughput runs against the sample Jira's Data Center mode (REST v2, wiki markup, attachments on the
    Jira host). Its floor has the same form as Cloud's, and is exact for Data Center's request pattern: one
    request per attachment (no redirect to a media host) and one search page per 100 whole issues (no bulk
    fetch); comments and worklogs are all inline, as in the Cloud runs."""
    options = [
        "--issues",
        str(issues),
        "--days",
        "1",
        "--now",
        fixed_now(),
        "--seed",
        "42",
        "--flavour",
        "datacenter",
        "--attachments-per-issue",
        "1",
        "--attachment-min-bytes",
        "2048",
        "--attachment-max-bytes",
        "16384",
        "--latency-ms",
        str(LATENCY_MS),
        "--prerender",
        "--inline-comment-limit",
        "100",
        "--inline-worklog-limit",
        "100",
    ]
    workdir = root / "datacenter"
    with sample_jira_process(options, log_path=workdir / "sample_jira.log") as jira:
        first_day, last_day = sample_days(jira)
        start_date, empty_day = first_day - timedelta(days=7), first_day - timedelta(days=3)
        pairs = []
        for n in range(1, rounds + 1):
            empty = run_pipeline(
                "empty_day",
                jira,
                workdir / f"empty-{n}",
                workdir / f"empty-{n}" / "kb",
                start_date,
                empty_day,
                empty_day,
            )
            full = run_pipeline(
                "full", jira, workdir / f"full-{n}", workdir / f"full-{n}" / "kb", start_date, first_day, last_day
            )
            pairs.append((empty, full))
            print(
                f"  round {n}: near-empty day {empty.wall_seconds:.1f} s; {full.summary['issues']} issues {full.wall_seconds:.1f} s "
                f"({full.api_requests} requests, one host); ratio {ratio_to_floor(full, empty):.2f}",
                flush=True,
            )
        whole_issues = whole_issue_fetches(jira)
        print(
            f"  whole issues: search pages {whole_issues['search_pages']['issues_per_second']:.0f} issues/s "
            f"({whole_issues['search_pages']['requests']} requests), one GET each "
            f"{whole_issues['per_issue_get']['issues_per_second']:.0f} issues/s ({whole_issues['per_issue_get']['requests']})",
            flush=True,
        )
    empty, full = median_run([e for e, _ in pairs]), median_run([f for _, f in pairs])
    return {
        "whole_issue_fetches": whole_issues,
        "issues": full.summary["issues"],
        "attachments": full.summary["attachments"],
        "floor_seconds": run_floor_seconds(full, empty),
        "wall_seconds": full.wall_seconds,
        "empty_day_wall_seconds": empty.wall_seconds,
        "ratio_to_floor": ratio_to_floor(full, empty),
        "api_requests": full.api_requests,
        "requests_by_route": full.server["api"]["by_route"],
        "step_seconds": full.step_seconds,
    }


def ratio_to_floor(full: RunResult, empty: RunResult) -> float:
    """(the issues' run - the near-empty day's) / the floor of the issues' run."""
    return (full.wall_seconds - empty.wall_seconds) / run_floor_seconds(full, empty)


def median_run(runs: list[RunResult]) -> RunResult:
    """The run with the median wall time (the upper one of an even number)."""
    return sorted(runs, key=lambda run: run.wall_seconds)[len(runs) // 2]


def bare_client_downloads(jira: RunningSampleJira, first_day: date, last_day: date) -> dict[str, Any]:
    """The window's attachments downloaded by a bare aiohttp session: the machine's ceiling."""
    import aiohttp

    from jarkdown_pipeline.window_search import window_jql

    authorization = "Basic " + base64.b64encode(f"{jira.email}:{jira.api_token}".encode()).decode()

    async def run() -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST)
        async with aiohttp.ClientSession(connector=connector) as session:
            body = {
                "jql": window_jql(None, first_day, last_day + timedelta(days=1)),
                "fields": ["attachment"],
                "maxResults": 5000,
            }
            attachments: list[dict[str, Any]] = []
            while True:
                async with session.post(
                    f"{jira.base_url}/rest/api/3/search/jql", json=body, headers={"Authorization": authorization}
                ) as response:
                    page = await response.json()
                attachments += [
                    attachment for issue in page["issues"] for attachment in issue["fields"].get("attachment") or []
                ]
                if not page.get("nextPageToken"):
                    break
                body["nextPageToken"] = page["nextPageToken"]
            slots = asyncio.Semaphore(BARE_DOWNLOADS_IN_FLIGHT)

            async def download(attachment: dict[str, Any]) -> int:
                url, headers = attachment["content"], {"Authorization": authorization}
                async with slots:
                    if attachment["size"] <= DIRECT_DOWNLOAD_MAX_BYTES:  # as the pipeline asks: the bytes at once
                        async with session.get(url, params={"redirect": "false"}, headers=headers) as response:
                            return len(await response.read())
                    # Credentials for the API host only, as the pipeline does: follow the 303 by hand.
                    async with session.get(url, headers=headers, allow_redirects=False) as response:
                        location = response.headers["Location"]
                    async with session.get(location) as response:
                        return len(await response.read())

            jira.reset_stats()
            started = time.perf_counter()
            sizes = await asyncio.gather(*(download(attachment) for attachment in attachments))
            wall = time.perf_counter() - started
            stats = await asyncio.to_thread(jira.stats, True)
            last = last_answer_at(stats)
            return {
                "budget": {} if last is None else host_budgets(stats, None, last),
                "downloads": len(sizes),
                "bytes": sum(sizes),
                "wall_seconds": wall,
                **{f"{host}_span_seconds": stats[host]["span_seconds"] for host in ("api", "media")},
                **{f"{host}_mean_in_flight": stats[host]["mean_in_flight"] for host in ("api", "media")},
            }

    return asyncio.run(run())


def bench_memory(root: Path) -> dict[str, Any]:
    options = [
        "--issues",
        "1",
        "--days",
        "1",
        "--now",
        fixed_now(),
        "--attachments-per-issue",
        "0",
        "--huge-attachment-bytes",
        str(HUGE_ATTACHMENT_BYTES),
    ]
    workdir = root / "memory"
    with sample_jira_process(options, log_path=workdir / "sample_jira.log") as jira:
        first_day, last_day = sample_days(jira)
        huge = jira.info["huge_attachment"]
        output_dir = workdir / "kb"
        result = run_pipeline(
            "huge_attachment", jira, workdir, output_dir, first_day, first_day, last_day, memory_run=True
        )
        # Largest single waited-for child so far (this bench runs the memory scenario first).
        largest_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    [downloaded] = [p for p in (output_dir / huge["issue_key"] / "attachments").iterdir()]
    size = downloaded.stat().st_size
    if size != huge["size"]:
        raise RuntimeError(f"the 1 GiB attachment arrived with {size} bytes, not {huge['size']}")
    return {
        "attachment_bytes": size,
        "wall_seconds": result.wall_seconds,
        "peak_tree_rss_bytes": result.peak_tree_rss_bytes,
        "peak_tree_pss_bytes": result.peak_tree_pss_bytes,
        "peak_processes": result.peak_processes,
        "largest_process_max_rss_bytes": largest_child,
        "throughput_mib_per_second": size / MIB / result.wall_seconds,
        "step_seconds": result.step_seconds,
    }


SCALE_SIZES = (1_000, 10_000, 100_000)
SCALE_DAYS = 30
SCALE_CHANGED_ISSUES = 10
SCALE_INCREMENTAL_GOAL = 1.3
SCALE_MEMORY_GOAL_MIB = 300


def reconciliation_command() -> list[str]:
    return [dagster_executable(), "job", "execute", "-m", CODE_MODULE, "-j", "jira_reconciliation_job"]


def window_issues(log_path: Path) -> int | None:
    """How many issues a run's window search found, from its summary line (None: no such line)."""
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        report = report_line(line)
        if report and (match := re.match(r"(\d+) issues? (?:changed )?in the window", report)):
            return int(match.group(1))
    return None


def whole_window_command(workdir: Path, day: date) -> list[str]:
    """One run of ``day`` with the run config that searches the whole day (README: whole_window)."""
    config = workdir / "whole_window.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("ops: {jira_window: {config: {whole_window: true}}}\n", encoding="utf-8")
    return [*backfill_command(day, day), "-c", str(config)]


def touch_issues(jira: RunningSampleJira, keys: list[str], day: date) -> None:
    """Edit ``keys`` in the sample Jira as a user would now: it stamps each edit with its clock (its
    fixed now, on ``day``, the last), as Jira does, so the edits are the day's latest updates."""
    zone = ZoneInfo(jira.time_zone)
    for key in keys:
        edited = jira.control("touch", {"key": key})
        stamped = datetime.strptime(edited["updated"], "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(zone)
        if stamped.date() != day:
            raise RuntimeError(f"{key} was edited at {stamped}, not on {day}")


def renderer_code_now() -> str:
    """The renderer's fingerprint of the code on disk now (what the next `dagster` process imports)."""
    from jarkdown_pipeline.knowledge_base import renderer_fingerprint

    return renderer_fingerprint.__wrapped__().hex()


def bench_scale_size(root: Path, issues: int) -> dict[str, Any]:
    """A knowledge base of ``issues`` issues (one small attachment each, no latency): its backfill in
    one run, a run of an unchanged day, a run of a day with 10 changed issues, a reconciliation."""
    options = [
        "--issues",
        str(issues),
        "--days",
        str(SCALE_DAYS),
        "--now",
        fixed_now(),
        "--seed",
        "42",
        "--attachments-per-issue",
        "1",
        "--attachment-min-bytes",
        "256",
        "--attachment-max-bytes",
        "2048",
    ]
    workdir = root / "scale" / str(issues)
    output_dir = workdir / "kb"
    with sample_jira_process(options, log_path=workdir / "sample_jira.log") as jira:
        first_day, last_day = sample_days(jira)
        print(f"  {issues:,} issues: backfill {first_day} .. {last_day} ...", flush=True)
        # A renderer edited between the runs (a long backfill in a working tree) re-renders every issue
        # of the next day: its files change wherever the new code writes other bytes.
        renderer_at_backfill = renderer_code_now()
        backfill = run_pipeline(
            "backfill",
            jira,
            workdir / "backfill",
            output_dir,
            first_day,
            first_day,
            last_day,
            memory_run=True,
            pss_interval=0.25,
        )
        renderer_changed = renderer_code_now() != renderer_at_backfill
        if renderer_changed:
            print(
                "    the renderer's code changed during the backfill: the next day's files are re-rendered", flush=True
            )
        unchanged = run_pipeline(
            "unchanged_day", jira, workdir / "unchanged", output_dir, first_day, last_day, last_day
        )
        changed_keys = sorted(
            path.name for path in output_dir.iterdir() if path.is_dir() and (path / f"{path.name}.md").is_file()
        )
        touch_issues(
            jira, changed_keys[:: max(1, len(changed_keys) // SCALE_CHANGED_ISSUES)][:SCALE_CHANGED_ISSUES], last_day
        )
        changed = run_pipeline("changed_day", jira, workdir / "changed", output_dir, first_day, last_day, last_day)
        # The same day searched whole, as its first run after 24 hours or with whole_window is.
        whole_day = run_pipeline(
            "whole_day",
            jira,
            workdir / "whole_day",
            output_dir,
            first_day,
            last_day,
            last_day,
            command=whole_window_command(workdir, last_day),
        )
        reconciliation = run_pipeline(
            "reconciliation",
            jira,
            workdir / "reconciliation",
            output_dir,
            first_day,
            last_day,
            last_day,
            command=reconciliation_command(),
        )
    result = {
        "issues": backfill.summary["issues"],
        "backfill_wall_seconds": backfill.wall_seconds,
        "backfill_issues_per_second": backfill.summary["issues"] / backfill.wall_seconds,
        "backfill_peak_tree_pss_bytes": backfill.peak_tree_pss_bytes,
        "backfill_peak_tree_rss_bytes": backfill.peak_tree_rss_bytes,
        "unchanged_day_wall_seconds": unchanged.wall_seconds,
        "unchanged_day_files_changed": unchanged.files_changed,
        "unchanged_day_changed_paths": unchanged.changed_paths,
        "renderer_changed_after_backfill": renderer_changed,
        "changed_day_changed_paths": changed.changed_paths,
        "changed_day_wall_seconds": changed.wall_seconds,
        "changed_day_files_changed": changed.files_changed,
        "whole_day_wall_seconds": whole_day.wall_seconds,
        "whole_day_files_changed": whole_day.files_changed,
        "whole_day_changed_paths": whole_day.changed_paths,
        "whole_day_issues": window_issues(Path(whole_day.log_path)),
        "reconciliation_wall_seconds": reconciliation.wall_seconds,
        "reconciliation_api_requests": reconciliation.api_requests,
        "step_seconds": {
            "backfill": backfill.step_seconds,
            "unchanged_day": unchanged.step_seconds,
            "changed_day": changed.step_seconds,
            "whole_day": whole_day.step_seconds,
            "reconciliation": reconciliation.step_seconds,
        },
    }
    print(
        f"    backfill {backfill.wall_seconds:.1f} s ({result['backfill_issues_per_second']:.0f} issues/s, "
        f"{backfill.peak_tree_pss_bytes / MIB:.0f} MiB PSS); unchanged day {unchanged.wall_seconds:.1f} s; "
        f"10 changed {changed.wall_seconds:.1f} s; searched whole {whole_day.wall_seconds:.1f} s; reconciliation {reconciliation.wall_seconds:.1f} s; files changed by "
        f"the unchanged day {unchanged.files_changed} {unchanged.changed_paths[:5]}, by the 10 changed "
        f"{changed.files_changed}",
        flush=True,
    )
    return result


def bench_scale(root: Path, sizes: tuple[int, ...] = SCALE_SIZES, keep: bool = False) -> dict[str, Any]:
    results = {}
    for issues in sizes:
        results[str(issues)] = bench_scale_size(root, issues)
        if not keep:
            shutil.rmtree(root / "scale" / str(issues) / "kb", ignore_errors=True)
    return results


def _scale_rows(scale: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for size, s in scale.items():
        peak = s["backfill_peak_tree_pss_bytes"] / MIB
        rows += [
            (
                f"Scale {int(size):,}: backfill in one run, wall time / issues per second",
                f"{s['backfill_wall_seconds']:.1f} s / {s['backfill_issues_per_second']:.0f}",
                "",
            ),
            (
                f"Scale {int(size):,}: backfill peak memory, all processes (summed PSS / RSS)",
                f"{peak:.0f} / {s['backfill_peak_tree_rss_bytes'] / MIB:.0f} MiB",
                f"< {SCALE_MEMORY_GOAL_MIB} MiB {'met' if peak < SCALE_MEMORY_GOAL_MIB else 'MISSED'}",
            ),
            (
                f"Scale {int(size):,}: run of an unchanged day / of a day with 10 changed issues (changes since "
                "the last complete run) / that day searched whole (issues)",
                f"{s['unchanged_day_wall_seconds']:.1f} s / {s['changed_day_wall_seconds']:.1f} s / "
                f"{s.get('whole_day_wall_seconds', float('nan')):.1f} s ({s.get('whole_day_issues')})",
                "",
            ),
            (
                f"Scale {int(size):,}: reconciliation pass (wall time / API requests)",
                f"{s['reconciliation_wall_seconds']:.1f} s / {s['reconciliation_api_requests']}",
                "",
            ),
        ]
    sizes = sorted(scale, key=int)
    if len(sizes) > 1:
        small, big = scale[sizes[0]], scale[sizes[-1]]
        ratio = big["changed_day_wall_seconds"] / small["changed_day_wall_seconds"]
        rows.append(
            (
                f"Scale: incremental run (10 changed issues) at {int(sizes[-1]):,} / at {int(sizes[0]):,} issues",
                f"{ratio:.2f}",
                f"<= {SCALE_INCREMENTAL_GOAL} {'met' if ratio <= SCALE_INCREMENTAL_GOAL else 'MISSED'}",
            )
        )
    return rows


def bench_rendering(throughput_output: Path | None) -> dict[str, Any]:
    from jarkdown_pipeline.bench_render import measure_render_throughput
    from jarkdown_pipeline.knowledge_base import KnowledgeBase
    from jarkdown_pipeline.markdown import render_issue

    rich = measure_render_throughput(3.0)
    result: dict[str, Any] = {
        "rich_issue_per_second_per_core": rich["issues_per_second_per_core"],
        "rich_issue_markdown_bytes": rich["markdown_bytes"],
    }
    if throughput_output is not None and throughput_output.is_dir():
        kb = KnowledgeBase(throughput_output)
        fields = kb.read_fields() or []
        keys = sorted(kb.raw_issue_keys())
        loaded = [(kb.read_raw_issue(key), kb.read_attachment_manifest(key)) for key in keys]
        known = frozenset(keys)
        passes = []
        for _ in range(RENDER_PASSES):  # the best pass: the one least disturbed by the rest of the machine
            started = time.process_time()
            for issue, manifest in loaded:
                render_issue(
                    issue,
                    field_definitions=fields,
                    attachments=manifest,
                    base_url="http://127.0.0.1",
                    known_issue_keys=known,
                )
            passes.append(time.process_time() - started)
        cpu = min(passes)
        result.update(
            {
                "sample_issues": len(loaded),
                "sample_issues_per_second_per_core": len(loaded) / cpu if cpu else 0.0,
                "sample_render_pass_cpu_seconds": passes,
            }
        )
    return result


def hosts_in_use(figures: dict[str, Any]) -> str:
    """Each host's connections in use, mean over its span ("-" for a host not asked), API then media."""
    parts = []
    for host in ("api", "media"):
        span = figures.get(f"{host}_span_seconds") or 0.0
        mean = figures.get(f"{host}_mean_in_flight") or 0.0
        parts.append(f"{mean:.2f} of {CONNECTIONS_PER_HOST} over {span:.1f} s" if span else "-")
    return " / ".join(parts)


def ratio_text(ratio: float) -> str:
    """A ratio to the floor as the table shows it: two decimals, three within 0.005 of the goal (where
    two would read as the goal while the verdict beside it says otherwise)."""
    return f"{ratio:.3f}" if abs(ratio - RATIO_GOAL) < 0.005 else f"{ratio:.2f}"


def ratio_verdict(ratio: float) -> str:
    """The goal column beside a ratio to the floor."""
    return f"<= {RATIO_GOAL} {'met' if ratio <= RATIO_GOAL else 'MISSED'}"


def rounds_median_ratio(figures: dict[str, Any]) -> float | None:
    """The median of the rounds' own ratios (each near-empty day against the run right after it)."""
    ratios = [r["ratio_to_floor"] for r in figures.get("rounds", [])]
    return statistics.median(ratios) if ratios else None


def goal_ratio(figures: dict[str, Any]) -> float:
    """The ratio the goal is judged by: the median runs' ratio, or the median of the rounds' own
    ratios where that is higher. The median runs can come from different rounds, and a near-empty
    day slowed by the machine then flatters the first beyond what any round gave."""
    median = rounds_median_ratio(figures)
    return figures["ratio_to_floor"] if median is None else max(figures["ratio_to_floor"], median)


def ratio_row(label: str, figures: dict[str, Any]) -> tuple[str, str, str]:
    """A table row: the ratios (``ratio_cell``) and the goal's verdict on ``goal_ratio``."""
    return label, ratio_cell(figures), ratio_verdict(goal_ratio(figures))


def ratio_cell(figures: dict[str, Any]) -> str:
    """The median runs' ratio, and the median of the rounds' own ratios where they differ."""
    shown, median = ratio_text(figures["ratio_to_floor"]), rounds_median_ratio(figures)
    if median is None or ratio_text(median) == shown:
        return shown
    return f"{shown} (rounds' median {ratio_text(median)})"


def _first_download_row(label: str, t: dict[str, Any]) -> tuple[str, str, str]:
    seconds = t.get("first_download_seconds")
    each = ", ".join(
        f"{r['first_download_seconds']:.2f}" for r in t.get("rounds", []) if r.get("first_download_seconds") is not None
    )
    met = seconds is not None and seconds <= FIRST_DOWNLOAD_GOAL_SECONDS
    return (
        f"{label}: first download, after the window's first search request (median run; each round)",
        f"{seconds or 0:.2f} s ({each})",
        f"<= {FIRST_DOWNLOAD_GOAL_SECONDS} s {'met' if met else 'MISSED'}",
    )


def _variant_rows(t: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The first download of the main scenario, then the rows of the other page size and of the rate-limited run."""
    rows = [_first_download_row(f"Throughput at {t.get('page_size', PAGE_SIZES[0])} per search page", t)]
    for name, v in t.get("variants", {}).items():
        rounds = ", ".join(f"{r['ratio_to_floor']:.2f}" for r in v["rounds"])
        label = (
            "Rate limited (100 requests, +50/s)"
            if name == "rate_limited"
            else f"Throughput at {name.split('_')[1]} per search page"
        )
        ratio_goal = "" if name == "rate_limited" else ratio_verdict(goal_ratio(v))
        rows += [
            (
                f"{label}: wall time / near-empty day / (difference) / floor of {v['floor_seconds']:.1f} s (each round)",
                f"{v['wall_seconds']:.1f} s / {v['empty_day_wall_seconds']:.1f} s / {ratio_cell(v)} ({rounds})",
                ratio_goal,
            ),
            (
                f"{label}: search requests, requests (API / media), peak in flight (API / media)",
                f"{v['search_requests']}, {v['api_requests']} / {v['media_requests']}, {v['peak_in_flight_api']} / {v['peak_in_flight_media']}",
                "",
            ),
            _first_download_row(label, v),
        ]
        bare = v.get("bare_client")
        if bare:
            rows.append(
                (
                    f"{label}: calibration, bare aiohttp's {bare['downloads']} downloads / its ratio to their floor",
                    f"{bare['wall_seconds']:.1f} s / {bare['wall_seconds'] / bare['floor_seconds']:.2f}",
                    "",
                )
            )
        if name == "rate_limited":
            bursts = ", ".join(str(r["rate_limit_bursts"]) for r in v["rounds"])
            rows += [
                (
                    f"{label}: (difference) / the budget's floor of {v['rate_limit_floor_seconds']:.1f} s",
                    f"{v['ratio_to_rate_limit_floor']:.2f}",
                    "",
                ),
                (
                    f"{label}: 429s served / in bursts (each round's bursts)",
                    f"{v['rate_limited']} / {v['rate_limit_bursts']} ({bursts})",
                    f"1 burst {'met' if v['rate_limit_bursts'] <= 1 else 'MISSED'}",
                ),
            ]
    return rows


def format_table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    t = results.get("throughput")
    if t:
        rows += [
            (
                "Throughput: wall time, 1,000 issues + 1,000 attachments, 50 ms/request (median run)",
                f"{t['wall_seconds']:.1f} s",
                "",
            ),
            (
                "Throughput: wall time, near-empty day (Dagster start-up; median run)",
                f"{t['empty_day_wall_seconds']:.1f} s",
                "",
            ),
            ratio_row("Throughput: (difference) / floor of {:.1f} s".format(t["floor_seconds"]), t),
            (
                "Throughput: the floor's changelog, comment and worklog pages (beyond bulk pages and attachments) / "
                "its search pages beyond the near-empty day's",
                f"{t.get('extra_pages', 0)} / {t.get('further_search_pages', 0)}",
                "",
            ),
            (
                "Throughput: requests history adds per 1,000 issues (changelog pages Jira did not inline)",
                f"{t.get('history_requests_per_1000_issues', 0.0):.1f}",
                "",
            ),
            (
                "Throughput: each round's own ratio (a near-empty day, then the 1,000 issues)",
                ", ".join(f"{r['ratio_to_floor']:.2f}" for r in t.get("rounds", [])),
                "",
            ),
            (
                "Throughput: peak requests in flight (API / media host)",
                f"{t['peak_in_flight_api']} / {t['peak_in_flight_media']}",
                "",
            ),
            (
                "Throughput: connections in use, mean from the host's first request to its last answer (API / media)",
                hosts_in_use(t),
                "",
            ),
            (
                "Throughput: issues per second (whole run / net of start-up)",
                f"{t['issues_per_second']:.1f} / {t['issues_per_second_net']:.1f}",
                "",
            ),
            ("Throughput: requests made (API / media)", f"{t['api_requests']} / {t['media_requests']}", ""),
        ]
        bare = t.get("bare_client")
        if bare:
            rows.append(
                (
                    f"Calibration: the same {bare['downloads']} downloads by a bare aiohttp session (5 connections/host), "
                    f"its ratio to their {bare['floor_seconds']:.1f} s floor",
                    f"{bare['wall_seconds']:.1f} s / {bare['wall_seconds'] / bare['floor_seconds']:.2f}",
                    "",
                )
            )
            rows.append(
                (
                    "Calibration: connections in use by it, mean over each host's span (API / media)",
                    hosts_in_use(bare),
                    "",
                )
            )
        rows += _variant_rows(t)
        i = t["incremental"]
        rows += [
            (
                "Incremental: same range again, requests (API / media)",
                f"{i['api_requests']} / {i['media_requests']}",
                "",
            ),
            (
                "Incremental: files rewritten",
                str(i["files_rewritten"]),
                f"0 {'met' if i['files_rewritten'] == 0 else 'MISSED'}",
            ),
            (
                "Incremental: bytes downloaded",
                str(i["bytes_downloaded"]),
                f"0 {'met' if i['bytes_downloaded'] == 0 else 'MISSED'}",
            ),
            ("Incremental: wall time", f"{i['wall_seconds']:.1f} s", ""),
        ]
    d = results.get("datacenter")
    if d:
        rows += [
            (
                f"Data Center: wall time, {d['issues']:,} issues + {d['attachments']:,} attachments, 50 ms/request",
                f"{d['wall_seconds']:.1f} s",
                "",
            ),
            ratio_row(
                "Data Center: (difference to a near-empty day) / floor of {:.1f} s".format(d["floor_seconds"]), d
            ),
            ("Data Center: requests made (one host: API and attachments)", str(d["api_requests"]), ""),
        ]
        w = d.get("whole_issue_fetches")
        if w:
            rows.append(
                (
                    "Data Center: whole issues, search pages / one GET each: issues/s (requests)",
                    f"{w['search_pages']['issues_per_second']:.0f} ({w['search_pages']['requests']}) / "
                    f"{w['per_issue_get']['issues_per_second']:.0f} ({w['per_issue_get']['requests']})",
                    "",
                )
            )
    m = results.get("memory")
    if m:
        peak = m["peak_tree_pss_bytes"] / MIB
        rows += [
            (
                "Memory: peak memory of the run, all processes (summed PSS), 1 GiB attachment",
                f"{peak:.0f} MiB",
                f"< {MEMORY_GOAL_MIB} MiB {'met' if peak < MEMORY_GOAL_MIB else 'MISSED'}",
            ),
            (
                "Memory: the same as summed RSS (counts forked, shared pages twice)",
                f"{m['peak_tree_rss_bytes'] / MIB:.0f} MiB",
                "",
            ),
            ("Memory: largest single process (max RSS)", f"{m['largest_process_max_rss_bytes'] / MIB:.0f} MiB", ""),
            (
                "Memory: run wall time / download rate",
                f"{m['wall_seconds']:.1f} s / {m['throughput_mib_per_second']:.0f} MiB/s",
                "",
            ),
        ]
    if results.get("scale"):
        rows += _scale_rows(results["scale"])
    r = results.get("rendering")
    if r:
        rows.append(
            (
                "Rendering: rich issue (40 comments, 20 worklogs), issues/s/core",
                f"{r['rich_issue_per_second_per_core']:.0f}",
                "",
            )
        )
        if "sample_issues" in r:
            rows.append(
                (
                    f"Rendering: the {r['sample_issues']} sample issues, issues/s/core",
                    f"{r['sample_issues_per_second_per_core']:.0f}",
                    "",
                )
            )
    lines = ["| Measure | Result | Goal |", "| --- | --- | --- |"]
    lines += [f"| {name} | {value} | {goal} |" for name, value, goal in rows]
    return "\n".join(lines)


SCENARIOS = ("memory", "throughput", "datacenter", "rendering", "scale")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default="memory,throughput,rendering,scale", help="comma-separated scenarios (default: all)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the knowledge bases under .bench/ (the 1 GiB file is always removed)"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--rounds",
        type=int,
        default=THROUGHPUT_ROUNDS,
        help="throughput: pairs of runs (near-empty day, 1,000 issues); the medians count (default %(default)s)",
    )
    parser.add_argument(
        "--scale-sizes",
        default=",".join(map(str, SCALE_SIZES)),
        help="scale: knowledge base sizes in issues (default: %(default)s)",
    )
    parser.add_argument(
        "--datacenter-issues", type=int, default=THROUGHPUT_ISSUES, help="datacenter: issues (default %(default)s)"
    )
    return parser


def _chosen_scenarios(parser: argparse.ArgumentParser, args: argparse.Namespace) -> set[str]:
    chosen = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = chosen - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return chosen


def _run_scenarios(root: Path, chosen: set[str], args: argparse.Namespace, results: dict[str, Any]) -> None:
    # Memory first: getrusage's children maximum then covers that run only.
    if "memory" in chosen:
        print("memory: one 1 GiB attachment ...", flush=True)
        results["memory"] = bench_memory(root)
        shutil.rmtree(root / "memory" / "kb", ignore_errors=True)
    if "throughput" in chosen:
        print("throughput: 1,000 issues, 50 ms per request ...", flush=True)
        results["throughput"] = bench_throughput(root, rounds=args.rounds)
    if "datacenter" in chosen:
        print(f"datacenter: {args.datacenter_issues:,} issues, Data Center mode, 50 ms per request ...", flush=True)
        results["datacenter"] = bench_datacenter(root, args.datacenter_issues, rounds=args.rounds)
    if "rendering" in chosen:
        print("rendering ...", flush=True)
        output = Path(results["throughput"]["output_dir"]) if "throughput" in results else None
        results["rendering"] = bench_rendering(output)
    if "scale" in chosen:
        sizes = tuple(int(size) for size in args.scale_sizes.split(",") if size.strip())
        print(f"scale: knowledge bases of {', '.join(f'{size:,}' for size in sizes)} issues ...", flush=True)
        results["scale"] = bench_scale(root, sizes, keep=args.keep)


def _remove_knowledge_bases(root: Path) -> None:
    for scenario in ("memory", "throughput", "datacenter"):
        for kb in (root / scenario).rglob("kb"):
            shutil.rmtree(kb, ignore_errors=True)


def step_lines(throughput: dict[str, Any]) -> str:
    """Seconds per step of the median 1,000-issue run, and what each costs beyond the near-empty day's."""
    steps, empty = throughput["step_seconds"], throughput.get("empty_day_step_seconds", {})
    return (
        "Where the 1,000-issue run spends its time (seconds per step): "
        + ", ".join(f"{k} {v:g}" for k, v in steps.items())
        + "\nThe same beyond the near-empty day's (the issues' own cost in each step): "
        + ", ".join(f"{k} {v - empty[k]:+.2f}" for k, v in steps.items() if k in empty)
    )


def phase_lines(throughput: dict[str, Any]) -> str:
    """The median 1,000-issue run and near-empty day in phases (``run_phases``); the network phase's
    difference to the floor apart from what comes before and after it."""
    full, empty = throughput.get("phases"), throughput.get("empty_day_phases")
    if not full or not empty:
        return ""
    network = full["network"] - empty["network"]
    return (
        "The same run in phases, 1,000 issues / near-empty day: to the window's first search "
        f"{full['to_first_search']:.2f} / {empty['to_first_search']:.2f} s; from it to the last answer "
        f"{full['network']:.2f} / {empty['network']:.2f} s (difference / floor: "
        f"{network / throughput['floor_seconds']:.2f}); after the last answer "
        f"{full['after_last_answer']:.2f} / {empty['after_last_answer']:.2f} s"
    )


def budget_lines(throughput: dict[str, Any]) -> str:
    """The median 1,000-issue run's network phase, and the bare session's downloads, connection by
    connection (``connection_budget``), beside the floor."""
    lines = []
    for host, budget in throughput.get("budget", {}).items():
        lines.append(
            f"The window's network phase on the {host} host (seconds of wall time: connection-seconds / "
            f"{CONNECTIONS_PER_HOST}; the floor {throughput['floor_seconds']:.2f} s): {budget_text(budget)}"
        )
    for host, budget in throughput.get("bare_client", {}).get("budget", {}).items():
        lines.append(f"The bare session's downloads on the {host} host: {budget_text(budget)}")
    return "\n".join(lines)


def _print_results(root: Path, results: dict[str, Any]) -> None:
    print()
    print(format_table(results))
    if "throughput" in results:
        print("\n" + step_lines(results["throughput"]))
        if phases := phase_lines(results["throughput"]):
            print(phases)
        if budgets := budget_lines(results["throughput"]):
            print(budgets)
    print(f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"\nRaw figures and run logs: {root}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    chosen = _chosen_scenarios(parser, args)
    root = (BENCH_DIR / datetime.now().strftime("%Y%m%d-%H%M%S")).resolve()
    root.mkdir(parents=True)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "started": datetime.now(UTC).isoformat(),
    }
    try:
        with terminate_on_sigterm():
            _run_scenarios(root, chosen, args, results)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        (root / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        if not args.keep:
            _remove_knowledge_bases(root)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _print_results(root, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
