"""Command line: python -m jarkdown_pipeline.sample_jira --port 8089 --media-port 8090 [knobs]."""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from jarkdown_pipeline._files import write_atomically
from jarkdown_pipeline.sample_jira.app import SampleJira
from jarkdown_pipeline.sample_jira.config import (
    DEMO_API_TOKEN,
    DEMO_EMAIL,
    EAGER_ISSUE_LIMIT,
    FLAVOURS,
    GENERATIONS,
    FaultConfig,
    SampleJiraConfig,
)


def _int_set(text: str) -> frozenset[int]:
    try:
        return frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _key_set(text: str) -> frozenset[str]:
    return frozenset(part.strip().upper() for part in text.split(",") if part.strip())


def _burst(text: str) -> tuple[int, int]:
    start, sep, count = text.partition(":")
    try:
        return int(start), int(count) if sep else 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:COUNT (e.g. 10:3), got {text!r}") from None


def _range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        return (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO-8601 timestamp with offset, got {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--now needs a UTC offset, e.g. {text}+00:00")
    return moment


def build_parser() -> argparse.ArgumentParser:
    defaults = SampleJiraConfig()
    p = argparse.ArgumentParser(
        prog="python -m jarkdown_pipeline.sample_jira", description="Run the bundled sample Jira (loopback only)."
    )
    net = p.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=8089, help="REST API port (0: any free port; default 8089)")
    net.add_argument("--media-port", type=int, default=8090, help="media host port (0: any free port; default 8090)")
    net.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request, both hosts")
    net.add_argument(
        "--media-latency-ms", type=float, default=None, help="latency per media request (default: --latency-ms)"
    )
    net.add_argument("--prerender", action="store_true", help="serialise all issues at start-up (for benchmarks)")
    net.add_argument("--ready-file", type=Path, help="write the URLs as JSON here once serving (for scripts)")
    data = p.add_argument_group("data set")
    data.add_argument("--seed", type=int, default=defaults.seed)
    data.add_argument("--issues", type=int, default=defaults.issue_count, help="number of issues")
    data.add_argument("--generation", choices=GENERATIONS, default=defaults.generation,
                      help=f"eager: every issue at start-up (the data set as it always was); lazy: each issue when asked for "
                           f"(100,000+ issues in seconds); auto (default): eager up to {EAGER_ISSUE_LIMIT} issues")  # fmt: skip
    data.add_argument("--projects", default=",".join(defaults.projects), help="comma-separated project keys")
    data.add_argument("--days", type=int, default=defaults.days, help="issues are updated over this many days")
    data.add_argument("--now", type=_instant, help="fixed 'now' (ISO-8601 with offset); default: the real time")
    data.add_argument("--time-zone", default=defaults.time_zone, help="the user's time zone (/myself timeZone)")
    data.add_argument(
        "--attachments-per-issue",
        type=_range,
        default=(defaults.min_attachments_per_issue, defaults.max_attachments_per_issue),
        help="N or MIN-MAX",
    )
    data.add_argument("--attachment-min-bytes", type=int, default=defaults.attachment_min_bytes)
    data.add_argument("--attachment-max-bytes", type=int, default=defaults.attachment_max_bytes)
    data.add_argument(
        "--huge-attachment-bytes", type=int, help="add one attachment of this size (streamed, e.g. 1073741824)"
    )
    data.add_argument("--huge-attachment-issue", help="issue key for it (default: the most recently updated issue)")
    data.add_argument("--inline-comment-limit", type=int, default=defaults.inline_comment_limit)
    data.add_argument("--inline-worklog-limit", type=int, default=defaults.inline_worklog_limit)
    data.add_argument("--comment-page-max", type=int, default=defaults.comment_page_max)
    data.add_argument("--worklog-page-max", type=int, default=defaults.worklog_page_max)
    data.add_argument("--bulkfetch-page-max", type=int, default=defaults.bulkfetch_page_max)
    data.add_argument("--search-page-max-ids", type=int, default=defaults.search_page_max_ids,
                      help="largest /search/jql page for id/key-only searches")  # fmt: skip
    data.add_argument("--search-page-max-fields", type=int, default=defaults.search_page_max_fields,
                      help="largest /search/jql page when fields are asked for")  # fmt: skip
    data.add_argument("--search-page-max", type=int, help="both search caps at once")
    auth = p.add_argument_group("auth")
    auth.add_argument("--email", default=DEMO_EMAIL)
    auth.add_argument(
        "--api-token",
        default=os.environ.get("SAMPLE_JIRA_API_TOKEN", DEMO_API_TOKEN),
        help="(env SAMPLE_JIRA_API_TOKEN)",
    )
    auth.add_argument(
        "--personal-access-token",
        default=os.environ.get("SAMPLE_JIRA_PAT"),
        help="Bearer token accepted (env SAMPLE_JIRA_PAT; Data Center mode's default: a fake demo PAT)",
    )
    auth.add_argument("--anonymous-access", action="store_true", help="let anonymous users browse issues")
    auth.add_argument(
        "--media-token-ttl",
        type=float,
        default=defaults.media_token_ttl_seconds,
        help="seconds a media URL stays valid",
    )
    faults = p.add_argument_group("fault injection (request numbers count API requests under /rest/ from 1)")
    faults.add_argument(
        "--rate-limit-requests",
        type=_int_set,
        default=frozenset(),
        help="answer 429 to these request numbers, e.g. 3,7",
    )
    faults.add_argument(
        "--rate-limit-rate", type=float, default=0.0, help="answer 429 to this fraction of requests (seeded)"
    )
    faults.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429s")
    faults.add_argument("--rate-limit-burst", type=int, help="API-token rate limit: a bucket of this many requests")
    faults.add_argument("--rate-limit-per-second", type=float, default=defaults.rate_limit_per_second,
                        help="... refilled at this rate (default %(default)s)")  # fmt: skip
    faults.add_argument(
        "--unavailable-burst",
        type=_burst,
        action="append",
        default=[],
        help="START:COUNT requests answer 503 (repeatable)",
    )
    faults.add_argument(
        "--cut-downloads", type=_int_set, default=frozenset(), help="attachment ids whose first download is cut"
    )
    faults.add_argument(
        "--cut-download-rate", type=float, default=0.0, help="fraction of attachments whose first download is cut"
    )
    faults.add_argument("--cut-download-attempts", type=int, default=1, help="how many attempts per attachment are cut")
    faults.add_argument("--cut-after-fraction", type=float, default=0.5, help="cut after this fraction of the bytes")
    faults.add_argument(
        "--vanish", type=_key_set, default=frozenset(), help="issue keys found by search but gone when fetched"
    )
    faults.add_argument(
        "--bulkfetch-error", type=_key_set, default=frozenset(), help="issue keys reported in issueErrors once"
    )
    p.add_argument(
        "--flavour", choices=FLAVOURS, default="cloud",
        help="cloud: REST v3, ADF, media host; datacenter: REST v2 only, wiki markup, Bearer PAT, attachments on the Jira host",
    )  # fmt: skip
    p.add_argument(
        "--move", type=_move, action="append", default=[], metavar="KEY=PROJECT",
        help="move this issue to another project at start-up (new key, same id; repeatable)",
    )  # fmt: skip
    p.add_argument("--log-level", default="WARNING")
    return p


def _move(text: str) -> tuple[str, str]:
    key, equals, project = text.partition("=")
    if not equals or not key.strip() or not project.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=PROJECT, got {text!r}")
    return key.strip().upper(), project.strip().upper()


def config_from_args(args: argparse.Namespace) -> SampleJiraConfig:
    fault_config = FaultConfig(
        rate_limit_requests=args.rate_limit_requests, rate_limit_rate=args.rate_limit_rate, retry_after_seconds=args.retry_after,
        unavailable_bursts=tuple(args.unavailable_burst), cut_download_attachment_ids=args.cut_downloads,
        cut_download_rate=args.cut_download_rate, cut_download_attempts=args.cut_download_attempts,
        cut_after_fraction=args.cut_after_fraction, vanished_issue_keys=args.vanish, bulkfetch_error_keys=args.bulkfetch_error,
    )  # fmt: skip
    return SampleJiraConfig(
        seed=args.seed, issue_count=args.issues, generation=args.generation, projects=tuple(p for p in args.projects.split(",") if p.strip()),
        days=args.days, now=args.now, host=args.host, port=args.port, media_port=args.media_port,
        latency_seconds=args.latency_ms / 1000,
        media_latency_seconds=None if args.media_latency_ms is None else args.media_latency_ms / 1000,
        email=args.email, api_token=args.api_token, anonymous_access=args.anonymous_access, time_zone=args.time_zone,
        min_attachments_per_issue=args.attachments_per_issue[0], max_attachments_per_issue=args.attachments_per_issue[1],
        attachment_min_bytes=args.attachment_min_bytes, attachment_max_bytes=args.attachment_max_bytes,
        huge_attachment_bytes=args.huge_attachment_bytes, huge_attachment_issue=args.huge_attachment_issue,
        inline_comment_limit=args.inline_comment_limit, inline_worklog_limit=args.inline_worklog_limit,
        comment_page_max=args.comment_page_max, worklog_page_max=args.worklog_page_max, bulkfetch_page_max=args.bulkfetch_page_max,
        search_page_max_ids=args.search_page_max or args.search_page_max_ids,
        search_page_max_fields=args.search_page_max or args.search_page_max_fields,
        rate_limit_burst=args.rate_limit_burst, rate_limit_per_second=args.rate_limit_per_second,
        media_token_ttl_seconds=args.media_token_ttl, prerender=args.prerender, faults=fault_config,
        flavour=args.flavour, personal_access_token=args.personal_access_token, moved_issues=tuple(args.move),
    )  # fmt: skip


async def serve(config: SampleJiraConfig, ready_file: Path | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SampleJira(config) as jira:
        info = jira.info()
        print(f"Sample Jira:  {jira.base_url}   (media host {jira.media_url})", flush=True)
        print(f"  JIRA_BASE_URL={jira.base_url}", flush=True)
        if config.is_datacenter:
            print(
                f"  JIRA_PAT={config.personal_access_token}   (fake demo credentials; Jira Data Center mode)",
                flush=True,
            )
        else:
            print(f"  JIRA_EMAIL={config.email}", flush=True)
            print(f"  JIRA_API_TOKEN={config.api_token}   (fake demo credentials)", flush=True)
        print(f"  {info['issue_count']} issues in {', '.join(info['projects'])} (generated {'lazily' if info['generation'] == 'lazy' else 'eagerly'}); "
              f"time zone {config.time_zone}; now {info['now']}", flush=True)  # fmt: skip
        if info["huge_attachment"]:
            huge = info["huge_attachment"]
            print(
                f"  huge attachment {huge['attachment_id']} ({huge['size']} bytes) on {huge['issue_key']}", flush=True
            )
        print("  stats: GET /_sample/stats   stop: Ctrl-C", flush=True)
        if ready_file is not None:
            write_atomically(ready_file, (json.dumps(info, indent=2) + "\n").encode("utf-8"))
        await stop.wait()
    if ready_file is not None:
        ready_file.unlink(missing_ok=True)
    print("Sample Jira stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(serve(config, args.ready_file))
    except OSError as exc:
        print(f"sample Jira: cannot listen on {args.host}:{args.port}/{args.media_port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
