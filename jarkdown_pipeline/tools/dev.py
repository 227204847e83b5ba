"""`make dev`: the Dagster UI (`dg dev`, or `dagster dev -w workspace.yaml` without dg) on the pipeline.

Without Jira settings the bundled sample Jira runs beside it (free loopback ports) and stops with
it; with JIRA_BASE_URL (or JIRA_DOMAIN) and credentials set, the UI works on that Jira. Options
this script does not know are passed to `dg dev` (e.g. `--port 3001`).
"""

import argparse
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.settings import load_settings
from jarkdown_pipeline.tools.demo import (
    DEMO_DAYS,
    DEMO_ISSUES,
    SAMPLE_ONLY_VARIABLES,
    resolve_paths,
    sample_jira_options,
    uses_real_jira,
)
from jarkdown_pipeline.tools.pipeline_cli import dagster_executable, executable
from jarkdown_pipeline.tools.sample_server import (
    PREFERRED_PORTS,
    SampleServerError,
    popen_in_own_group,
    sample_jira_process,
    stop_process_group,
    terminate_on_sigterm,
)

DAGSTER_DEV_STOP_GRACE_SECONDS = 60.0
WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def dev_command(extra_args: list[str]) -> list[str]:
    """`dg dev` (the project's [tool.dg] in pyproject.toml) where dg is installed (`make install`
    installs it); `dagster dev -w workspace.yaml` otherwise, which Dagster 1.13 marks as superseded."""
    dg = executable("dg")
    if dg is not None:
        return [dg, "dev", *extra_args]
    return [dagster_executable(), "dev", "-w", str(WORKSPACE), *extra_args]


def run_dagster_dev(environment: dict[str, str], extra_args: list[str]) -> int:
    command = dev_command(extra_args)
    # Its own process group: on Ctrl-C (or SIGTERM) here, dagster dev gets SIGINT and shuts its web
    # server, daemon and code server down in order; anything left after the grace period is killed.
    process = popen_in_own_group(command, env=environment, cwd=WORKSPACE.parent)
    try:
        return process.wait()
    finally:
        stop_process_group(process, grace=DAGSTER_DEV_STOP_GRACE_SECONDS, first_signal=signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output-dir", type=Path, help="knowledge base folder (default: $JARKDOWN_OUTPUT_DIR or ./jira_markdown)"
    )
    parser.add_argument(
        "--dagster-home", type=Path, help="Dagster's instance folder (default: $DAGSTER_HOME or ./.dagster_home)"
    )
    parser.add_argument("--issues", type=int, default=DEMO_ISSUES, help="sample Jira only: number of issues")
    parser.add_argument(
        "--days", type=int, default=DEMO_DAYS, help="sample Jira only: issues are updated over this many days"
    )
    parser.add_argument(
        "--flavour",
        choices=("cloud", "datacenter"),
        default="cloud",
        help="sample Jira only: Jira Cloud or Data Center",
    )
    args, dagster_args = parser.parse_known_args(argv)
    environ = {name: value for name, value in os.environ.items() if name not in SAMPLE_ONLY_VARIABLES}
    output_dir, dagster_home = resolve_paths(args, environ)
    environment = {**environ, "JARKDOWN_OUTPUT_DIR": str(output_dir), "DAGSTER_HOME": str(dagster_home)}
    try:
        with terminate_on_sigterm():
            if uses_real_jira(environ):
                try:
                    load_settings(environment)  # a missing or malformed variable, named, before the UI starts
                except ConfigurationError as error:
                    print(f"Configuration error: {error}", file=sys.stderr)
                    return 2
                return run_dagster_dev(environment, dagster_args)
            options = sample_jira_options(args)
            with sample_jira_process(
                options, log_path=dagster_home / "logs" / "sample_jira.log", preferred_ports=PREFERRED_PORTS
            ) as jira:
                now = datetime.fromisoformat(jira.info["now"]).astimezone(ZoneInfo(jira.time_zone))
                first_day = (now - timedelta(days=jira.info["days"])).date()
                for name in (
                    "JIRA_DOMAIN",
                    "JIRA_PAT",
                    "JIRA_EMAIL",
                    "JIRA_API_TOKEN",
                    "JARKDOWN_JQL",
                    "JARKDOWN_JIRA_FLAVOUR",
                ):
                    environment.pop(name, None)  # the sample's own credentials and data, whatever the shell holds
                environment.update(jira.pipeline_environment())
                environment["JARKDOWN_START_DATE"] = first_day.isoformat()
                print(
                    f"Sample Jira at {jira.base_url} ({jira.info['issue_count']} issues updated since {first_day}, "
                    f"time zone {jira.time_zone}); it stops when you stop the UI (Ctrl-C).",
                    flush=True,
                )
                print(f"Knowledge base: {output_dir}   Dagster home: {dagster_home}", flush=True)
                print(
                    "In the UI: Assets > jira_markdown > Materialize (jira_index follows by itself), or "
                    "Jobs > jira_markdown_job; schedules and the index's sensor under Automation.",
                    flush=True,
                )
                return run_dagster_dev(environment, dagster_args)
    except SampleServerError as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped (the sample Jira too).", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main())
