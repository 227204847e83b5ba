"""`make demo`: the whole pipeline in one command, through the real `dagster` CLI.

Without Jira settings it starts the bundled sample Jira on loopback (ports 8089/8090 when free), mirrors every day of
its data into the knowledge base as one run (a single-run backfill of jira_markdown_job), prints
what it wrote, and stops the server whatever happens. With JIRA_BASE_URL (or JIRA_DOMAIN) and
credentials set, the same run goes to that Jira instead: JARKDOWN_START_DATE .. today.

    python -m jarkdown_pipeline.tools.demo [--output-dir DIR] [--issues N] [--days N] [--verbose]
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.settings import DEFAULT_OUTPUT_DIR, DEFAULT_TIMEZONE, load_settings
from jarkdown_pipeline.tools.pipeline_cli import (
    backfill_command,
    ensure_instance_file,
    explain_failure,
    run_dagster,
    summarize_knowledge_base,
)
from jarkdown_pipeline.tools.sample_server import (
    PREFERRED_PORTS,
    SampleServerError,
    sample_jira_process,
    terminate_on_sigterm,
)

# Sized so the demo takes well under a minute or two on a 2-core laptop, Dagster's start-up included.
DEMO_ISSUES = 300
DEMO_DAYS = 30
DEMO_ATTACHMENT_MAX_BYTES = 96 * 1024
DEMO_SEED = 42
PROJECT_DAGSTER_HOME = ".dagster_home"
# Never handed to the pipeline's environment from the caller's: the demo sets its own.
SAMPLE_ONLY_VARIABLES = ("SAMPLE_JIRA_API_TOKEN",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output-dir", type=Path, help=f"knowledge base folder (default: $JARKDOWN_OUTPUT_DIR or {DEFAULT_OUTPUT_DIR})"
    )
    parser.add_argument(
        "--dagster-home",
        type=Path,
        help=f"Dagster's instance folder (default: $DAGSTER_HOME or ./{PROJECT_DAGSTER_HOME})",
    )
    parser.add_argument("--issues", type=int, default=DEMO_ISSUES, help="sample Jira only: number of issues")
    parser.add_argument(
        "--days", type=int, default=DEMO_DAYS, help="sample Jira only: issues are updated over this many days"
    )
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="sample Jira only: data set seed")
    parser.add_argument(
        "--flavour",
        choices=("cloud", "datacenter"),
        default="cloud",
        help="sample Jira only: Jira Cloud or Data Center",
    )
    parser.add_argument("--until", type=date.fromisoformat, help="real Jira only: last day to mirror (default: today)")
    parser.add_argument(
        "--verbose", action="store_true", help="show Dagster's whole log (it is always kept in the Dagster home)"
    )
    return parser


def uses_real_jira(environ: dict[str, str]) -> bool:
    return bool((environ.get("JIRA_BASE_URL") or "").strip() or (environ.get("JIRA_DOMAIN") or "").strip())


def sample_jira_options(args: argparse.Namespace) -> list[str]:
    """The sample Jira's command line for `make demo` and `make dev` (one place for what both pass)."""
    return [
        *("--issues", str(args.issues), "--days", str(args.days), "--seed", str(getattr(args, "seed", DEMO_SEED))),
        *("--now", sample_now(), "--attachment-max-bytes", str(DEMO_ATTACHMENT_MAX_BYTES)),
        *("--flavour", getattr(args, "flavour", "cloud")),
    ]


def sample_now() -> str:
    """Midnight UTC today: the sample's data set is generated around it, so it stays the same all day
    and a second `make demo` finds nothing changed (as a real Jira would)."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def resolve_paths(args: argparse.Namespace, environ: dict[str, str]) -> tuple[Path, Path]:
    output_dir = (
        (args.output_dir or Path(environ.get("JARKDOWN_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR)).expanduser().resolve()
    )
    dagster_home = (
        (args.dagster_home or Path(environ.get("DAGSTER_HOME") or PROJECT_DAGSTER_HOME)).expanduser().resolve()
    )
    ensure_instance_file(dagster_home)
    return output_dir, dagster_home


def run_pipeline(
    environment: dict[str, str], first_day: date, last_day: date, dagster_home: Path, args: argparse.Namespace
) -> int:
    log_path = dagster_home / "logs" / f"demo-{datetime.now():%Y%m%d-%H%M%S}.log"
    days = (last_day - first_day).days + 1
    print(
        f"Running jira_markdown_job for {first_day} .. {last_day} ({days} daily partitions, one run) with the dagster CLI ...",
        flush=True,
    )
    started = time.monotonic()
    status = run_dagster(
        backfill_command(first_day, last_day),
        environment,
        log_path=log_path,
        echo=args.verbose,
        on_report=lambda text: print(f"  {text}", flush=True),
    )
    elapsed = time.monotonic() - started
    if status != 0:
        print(f"\nThe run failed after {elapsed:.0f} s (exit status {status}).", file=sys.stderr)
        print(explain_failure(log_path), file=sys.stderr)
        print(f"Dagster's whole log: {log_path}", file=sys.stderr)
        return status
    print(f"Done in {elapsed:.0f} s. Dagster's log: {log_path}")
    return 0


def report(output_dir: Path) -> None:
    summary = summarize_knowledge_base(output_dir)
    print(f"\nThe Markdown knowledge base is in {output_dir}")
    print(f"  {summary.describe()}")
    if summary.has_index:
        print(f"  start with {output_dir / 'index.md'}")


def demo_with_sample_jira(
    args: argparse.Namespace, environ: dict[str, str], output_dir: Path, dagster_home: Path
) -> int:
    server_options = sample_jira_options(args)
    print("No JIRA_BASE_URL set: starting the bundled sample Jira (fake data, loopback only) ...", flush=True)
    with sample_jira_process(
        server_options, log_path=dagster_home / "logs" / "sample_jira.log", preferred_ports=PREFERRED_PORTS
    ) as jira:
        info = jira.info
        now = datetime.fromisoformat(info["now"]).astimezone(ZoneInfo(jira.time_zone))
        # The sample's issues were updated over the last `days` days: mirror every one of those days.
        first_day, last_day = (now - timedelta(days=info["days"])).date(), now.date()
        print(
            f"Sample Jira at {jira.base_url}: {info['issue_count']} issues in {', '.join(info['projects'])}, time zone {jira.time_zone}"
        )
        # The sample's data, whole, whatever the caller's shell holds (credentials: the sample's own).
        ignored = ("JIRA_DOMAIN", "JIRA_PAT", "JIRA_EMAIL", "JIRA_API_TOKEN", "JARKDOWN_JQL", "JARKDOWN_JIRA_FLAVOUR")
        environment = {
            **{name: value for name, value in environ.items() if name not in ignored},
            **jira.pipeline_environment(),
            "JARKDOWN_OUTPUT_DIR": str(output_dir),
            "JARKDOWN_START_DATE": first_day.isoformat(),
            "DAGSTER_HOME": str(dagster_home),
        }
        status = run_pipeline(environment, first_day, last_day, dagster_home, args)
        stats = jira.stats()
    print("Sample Jira stopped.")
    if status == 0:
        print(
            f"The sample Jira answered {stats['api']['requests']} API requests and served {stats['downloads']} attachment downloads."
        )
        report(output_dir)
    return status


def demo_with_real_jira(args: argparse.Namespace, environ: dict[str, str], output_dir: Path, dagster_home: Path) -> int:
    environment = {**environ, "JARKDOWN_OUTPUT_DIR": str(output_dir), "DAGSTER_HOME": str(dagster_home)}
    try:
        settings = load_settings(environment)  # every problem named before anything runs, as in `make dev` and the CLI
    except ConfigurationError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        if "JARKDOWN_START_DATE is not set" in str(error):
            zone = environment.get("JARKDOWN_TIMEZONE") or DEFAULT_TIMEZONE
            week_ago = today_in(zone) - timedelta(days=6)
            print(
                f"For a first look at the last seven days: export JARKDOWN_START_DATE={week_ago.isoformat()}",
                file=sys.stderr,
            )
        return 2
    first_day = settings.start_date
    last_day = args.until or today_in(settings.timezone)
    if last_day < first_day:
        print(f"--until {last_day} is before JARKDOWN_START_DATE {first_day}", file=sys.stderr)
        return 2
    scope = f" within `{settings.scope_jql}`" if settings.scope_jql else ""
    print(f"Mirroring {settings.jira_base_url}{scope} (issues updated {first_day} .. {last_day}, {settings.timezone}).")
    status = run_pipeline(environment, first_day, last_day, dagster_home, args)
    if status == 0:
        report(output_dir)
    return status


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    environ = {name: value for name, value in os.environ.items() if name not in SAMPLE_ONLY_VARIABLES}
    if args.issues < 1 or args.days < 1:
        print("--issues and --days must be at least 1", file=sys.stderr)
        return 2
    output_dir, dagster_home = resolve_paths(args, environ)
    try:
        with terminate_on_sigterm():
            if uses_real_jira(environ):
                return demo_with_real_jira(args, environ, output_dir, dagster_home)
            return demo_with_sample_jira(args, environ, output_dir, dagster_home)
    except SampleServerError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted; the run and the sample Jira (if any) are stopped.", file=sys.stderr)
        return 130
    except SystemExit as stop:
        if isinstance(stop.code, int) and stop.code > 128:  # from terminate_on_sigterm
            print("\nStopped by a signal; the run and the sample Jira (if any) are stopped.", file=sys.stderr)
        raise


if __name__ == "__main__":
    sys.exit(main())
