"""Measure concurrent partition runs against a PostgreSQL-backed instance (figures in docs/DEPLOY.md).

Starts the sample Jira (with latency), then for each scenario a fresh output folder and a fresh
PostgreSQL database, and times the real ``dagster`` CLI:

- ``concurrent``: three daily partitions launched at once, three processes;
- ``one-process``: the same three days as one run (single-run backfill) in one process;
- ``sequential``: the three partitions one after another;

with the ``jira_api`` pool at the limits given, reading the sample Jira's peak requests in flight.

    .venv/bin/python deploy/measure_concurrency.py --limits 1,2,none
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
DAYS = ["2026-11-18", "2026-11-19", "2026-11-20"]


def http_json(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@contextlib.contextmanager
def sample_jira(workdir: Path, issues: int, days: int, latency_ms: int):
    ready = workdir / "jira.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "jarkdown_pipeline.sample_jira", "--port", "0", "--media-port", "0",
         "--issues", str(issues), "--days", str(days), "--seed", "7", "--now", "2026-11-21T09:00:00+00:00",
         "--latency-ms", str(latency_ms), "--attachment-max-bytes", "65536", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(600):
            if ready.exists() and ready.stat().st_size:
                break
            time.sleep(0.1)
        yield json.loads(ready.read_text())
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def throwaway_database(name: str):
    admin = psycopg2.connect(host="127.0.0.1", user=os.environ.get("PGUSER", "postgres"), dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def dagster_home(workdir: Path, limit: int | None) -> Path:
    home = workdir / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    if limit is None:
        config["concurrency"].pop("pools")
    else:
        config["concurrency"]["pools"]["default_limit"] = limit
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def execute(tags: dict[str, str]) -> list[str]:
    return [DAGSTER, "job", "execute", "-m", "jarkdown_pipeline", "-j", "jira_markdown_job", "--tags", json.dumps(tags)]


def run_all(commands: list[list[str]], env: dict[str, str], workdir: Path, at_once: bool) -> float:
    logs = [workdir / f"run-{number}.log" for number in range(len(commands))]
    started = time.perf_counter()
    if at_once:
        processes = [
            subprocess.Popen(c, env=env, cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            for c, log in zip(commands, logs)
        ]
        codes = [p.wait() for p in processes]
    else:
        codes = [
            subprocess.run(c, env=env, cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT).returncode
            for c, log in zip(commands, logs)
        ]
    seconds = time.perf_counter() - started
    for code, log in zip(codes, logs):
        if code:
            raise SystemExit(f"a run failed (exit {code}); its log:\n" + log.read_text(errors="replace")[-6000:])
    return seconds


def scenario(name: str, limit: int | None, jira: dict, root: Path) -> dict:
    workdir = Path(tempfile.mkdtemp(dir=root, prefix=f"{name}-"))
    home = dagster_home(workdir, limit)
    with throwaway_database(f"jarkdown_measure_{os.getpid()}_{workdir.name.replace('-', '_').lower()}") as database:
        env = {
            "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(workdir)), "DAGSTER_HOME": str(home),
            "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": os.environ.get("PGUSER", "postgres"),
            "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": database,
            "JIRA_BASE_URL": jira["base_url"], "JIRA_EMAIL": "demo@example.com", "JIRA_API_TOKEN": "sample-jira-demo-token",
            "JARKDOWN_OUTPUT_DIR": str(workdir / "kb"), "JARKDOWN_START_DATE": "2026-11-01", "JARKDOWN_TIMEZONE": jira["time_zone"],
        }  # fmt: skip
        # Deployment steps (docs/DEPLOY.md), outside the timing: schema, then the pool's limit.
        subprocess.run([DAGSTER, "instance", "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
        if limit is not None:
            subprocess.run(
                [DAGSTER, "instance", "concurrency", "set", "jira_api", str(limit)],
                env=env,
                cwd=workdir,
                check=True,
                capture_output=True,
            )
        http_json(jira["base_url"] + "/_sample/reset-stats", "POST")
        if name == "concurrent":
            seconds = run_all([execute({"dagster/partition": day}) for day in DAYS], env, workdir, at_once=True)
        elif name == "sequential":
            seconds = run_all([execute({"dagster/partition": day}) for day in DAYS], env, workdir, at_once=False)
        else:
            tags = {"dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]}
            seconds = run_all([execute(tags)], env, workdir, at_once=False)
        stats = http_json(jira["base_url"] + "/_sample/stats")
    files = len(list((workdir / "kb").glob("*/*.md")))
    shutil.rmtree(workdir)
    return {
        "scenario": name, "jira_api_limit": "none" if limit is None else limit, "wall_seconds": round(seconds, 1),
        "issue_files": files, "api_requests": stats["api"]["requests"], "api_peak_in_flight": stats["api"]["peak_in_flight"],
        "media_peak_in_flight": stats["media"]["peak_in_flight"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--limits", default="2", help="jira_api limits to try, e.g. 1,2,none")
    parser.add_argument("--scenarios", default="concurrent,one-process,sequential")
    parser.add_argument("--repeat", type=int, default=1, help="measure each scenario this many times")
    args = parser.parse_args()
    limits = [None if item == "none" else int(item) for item in args.limits.split(",")]
    with tempfile.TemporaryDirectory(prefix="jarkdown-measure-") as root:
        with sample_jira(Path(root), args.issues, args.days, args.latency_ms) as jira:
            for _ in range(args.repeat):
                for limit in limits:
                    for name in args.scenarios.split(","):
                        print(json.dumps(scenario(name, limit, jira, Path(root))), flush=True)


if __name__ == "__main__":
    main()
