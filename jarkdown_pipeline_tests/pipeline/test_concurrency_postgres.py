"""Several runs at once, in separate ``dagster`` processes, against one PostgreSQL-backed instance
(the deployment's own deploy/dagster.yaml) and one output folder.

Each test starts the real ``dagster`` CLI three times without waiting, so three run processes race
on the same knowledge base and claim ``jira_api`` pool slots from the same database. The first test
launches one of them as an ad-hoc ``dagster asset materialize``, which runs on Dagster's
multiprocess executor (every step its own process, with its own Jira client); the others run
``jira_markdown_job`` with the job's own executor. Runs, events and pool slots live in a throwaway
PostgreSQL database (plugins/postgres.py); without PostgreSQL these tests skip (fail under CI).
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from jarkdown_pipeline.knowledge_base import STATE_DIR, KnowledgeBase, parse_frontmatter_block
from jarkdown_pipeline.orchestration.assets import build_assets
from jarkdown_pipeline.orchestration.names import JIRA_MARKDOWN_JOB, JIRA_POOL
from jarkdown_pipeline.orchestration.partitions import build_daily_partitions
from jarkdown_pipeline.orchestration.resources import JiraResource
from jarkdown_pipeline.sample_jira.runner import SampleJiraThread, run_sample_jira_in_thread
from jarkdown_pipeline_tests.plugins.pipeline import (
    build_pipeline,
    issues_updated_on,
    pipeline_environment,
    sample_config,
)

if TYPE_CHECKING:
    from jarkdown_pipeline_tests.plugins.postgres import DagsterPostgresHome

DAGSTER = str(Path(sys.executable).with_name("dagster"))
DAYS = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
# A little latency per request, so requests of concurrent steps overlap and the peak in flight
# the sample Jira sees measures the bound rather than luck.
LATENCY_SECONDS = 0.01
RUN_TIMEOUT_SECONDS = 240
MULTIPROCESS_FORKSERVER = {
    "execution": {
        "config": {
            "multiprocess": {"start_method": {"forkserver": {"preload_modules": ["jarkdown_pipeline.definitions"]}}}
        }
    }
}
MOVED_COMMENT = "Moved to the 20th while three runs raced."


@pytest.fixture
def concurrent_jira() -> Iterator[SampleJiraThread]:
    with run_sample_jira_in_thread(sample_config(latency_seconds=LATENCY_SECONDS)) as jira:
        yield jira


def job_execute(tags: Mapping[str, str]) -> list[str]:
    return ["job", "execute", "-m", "jarkdown_pipeline", "-j", JIRA_MARKDOWN_JOB, "--tags", json.dumps(dict(tags))]


def partition_tags(day: date) -> dict[str, str]:
    return {"dagster/partition": day.isoformat()}


def range_tags(first: date, last: date) -> dict[str, str]:
    # A single-run backfill of several days (every asset has BackfillPolicy.single_run()).
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


@dataclass
class Launch:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def launch_all(commands: Mapping[str, list[str]], environment: dict[str, str], workdir: Path) -> None:
    """Start every ``dagster`` command without waiting, then wait for all; each must succeed."""
    # Only what the pipeline needs from the caller's environment.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "PYTHONPATH") if name in os.environ}
    env.update(environment)
    launches = []
    try:
        for name, args in commands.items():
            log = workdir / f"{name}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [DAGSTER, *args], env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
                )
            launches.append(Launch(name, process, log))
        for launch in launches:
            launch.process.wait(timeout=RUN_TIMEOUT_SECONDS)
    finally:
        for launch in launches:
            if launch.process.poll() is None:
                launch.process.kill()
                launch.process.wait()
    for launch in launches:
        assert launch.process.returncode == 0, f"{launch.name} failed:\n{launch.output()[-4000:]}"


def pool_limit(home: "DagsterPostgresHome") -> int:
    """The jira_api limit the deployment's dagster.yaml sets (its pools' default_limit)."""
    return int(yaml.safe_load(home.dagster_yaml.read_text())["concurrency"]["pools"]["default_limit"])


def jira_pool_steps() -> set[str]:
    """Step keys of the assets in the jira_api pool, from the definitions themselves."""
    return {
        asset.op.name for asset in build_assets(build_daily_partitions(date(2026, 11, 1))) if asset.op.pool == JIRA_POOL
    }


def run_ids(home: "DagsterPostgresHome") -> set[str]:
    with home.instance() as instance:
        return {run.run_id for run in instance.get_runs()}


def events(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType) -> list[dg.EventLogEntry]:
    return [record.event_log_entry for record in instance.get_records_for_run(run_id, of_type=event_type).records]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of [start, end] intervals that overlap at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


@dataclass
class RunFacts:
    run: dg.DagsterRun
    step_pids: dict[str, int]
    """Process of each step (STEP_START's pid)."""
    orchestrator_pid: int
    jira_steps: list[tuple[float, float]]
    """[STEP_START, STEP_SUCCESS] of each jira_api step, wall-clock seconds."""

    @property
    def jira_step_processes(self) -> int:
        return len({pid for step, pid in self.step_pids.items() if step in jira_pool_steps()})


def new_runs_in_postgres(home: "DagsterPostgresHome", known: set[str], expected: int) -> list[RunFacts]:
    """The runs the test launched, read back from the instance (PostgreSQL), all successful."""
    facts = []
    pool_steps = jira_pool_steps()
    with home.instance() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = [run for run in instance.get_runs() if run.run_id not in known]
        assert len(runs) == expected
        assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * expected
        for run in runs:
            [run_start] = events(instance, run.run_id, dg.DagsterEventType.RUN_START)
            starts = events(instance, run.run_id, dg.DagsterEventType.STEP_START)
            ends = {
                entry.step_key: entry.timestamp
                for entry in events(instance, run.run_id, dg.DagsterEventType.STEP_SUCCESS)
            }
            facts.append(
                RunFacts(
                    run=run,
                    step_pids={entry.step_key: entry.dagster_event.pid for entry in starts},
                    orchestrator_pid=run_start.dagster_event.pid,
                    jira_steps=[
                        (entry.timestamp, ends[entry.step_key]) for entry in starts if entry.step_key in pool_steps
                    ],
                )
            )
        pools = {pool.name: pool.limit for pool in instance.event_log_storage.get_pool_limits()}
    assert pools.get(JIRA_POOL) == pool_limit(home)
    # Stored in the throwaway PostgreSQL database; nothing went to SQLite in DAGSTER_HOME.
    stored = {row[0] for row in home.database.query("SELECT run_id FROM runs")}
    assert {fact.run.run_id for fact in facts} <= stored
    assert not list(home.path.rglob("*.db")), "a SQLite storage was created in DAGSTER_HOME"
    return facts


def assert_knowledge_base_consistent(kb: KnowledgeBase, expected_keys: set[str]) -> None:
    """One file per issue, nothing half-written left behind, index.md exactly what its files give."""
    from jarkdown_pipeline.markdown.index import INDEX_DIR, index_pages

    assert set(kb.markdown_issue_keys()) == expected_keys
    assert kb.raw_issue_keys() == expected_keys
    debris, stray_markdown = [], []
    for folder, subfolders, files in os.walk(kb.root):
        for name in files + subfolders:
            relative = (Path(folder) / name).relative_to(kb.root)
            if name.endswith((".tmp", ".part")) or (name.startswith(".") and relative.as_posix() != STATE_DIR):
                debris.append(relative.as_posix())
        for name in files:
            relative = (Path(folder) / name).relative_to(kb.root)
            if name.endswith(".md") and relative.parts[0] != STATE_DIR and "attachments" not in relative.parts:
                key = relative.stem
                if relative.parts[0] == INDEX_DIR:
                    continue  # the index's pages, compared with the files' rows below
                if relative.as_posix() not in ("index.md", f"{key}/{key}.md") or (
                    len(relative.parts) > 1 and key not in expected_keys
                ):
                    stray_markdown.append(relative.as_posix())
    assert debris == [], f"temporary files left in the knowledge base: {debris}"
    assert stray_markdown == []
    assert not kb.removed_dir.exists()
    assert kb.verify_issue_files(expected_keys) == ([], [])
    rows, problems = kb.index_rows()
    assert problems == []
    on_disk = {kb.relative(path): path.read_text(encoding="utf-8") for path in kb.index_files()}
    assert on_disk == index_pages(rows), "the index is not the index of the files"
    assert kb.broken_links([*kb.index_files(), *(kb.markdown_path(key) for key in expected_keys)]) == []


def markdown_files(kb: KnowledgeBase) -> dict[str, str]:
    """Every Markdown file of the knowledge base (issues and index), by relative path."""
    return {
        path.relative_to(kb.root).as_posix(): path.read_text(encoding="utf-8")
        for path in kb.root.rglob("*.md")
        if path.relative_to(kb.root).parts[0] != STATE_DIR
    }


def test_three_partitions_from_three_processes_share_one_postgres_instance(
    tmp_path, concurrent_jira, postgres_dagster_home
):
    jira, home = concurrent_jira, postgres_dagster_home
    kb = KnowledgeBase(tmp_path / "kb")
    environment = {**pipeline_environment(jira, kb.root), **home.environment}
    known = run_ids(home)

    launch_all(
        {
            # Ad hoc, as from the UI: Dagster's multiprocess executor, a process per step (forked from
            # a server that imported the code once: seconds less per step than a fresh interpreter).
            "multiprocess-18": [
                "asset",
                "materialize",
                "-m",
                "jarkdown_pipeline",
                "--select",
                "*",
                "--partition",
                DAYS[0].isoformat(),
                "--config-json",
                json.dumps(MULTIPROCESS_FORKSERVER),
            ],
            "job-19": job_execute(partition_tags(DAYS[1])),
            "job-20": job_execute(partition_tags(DAYS[2])),
        },
        environment,
        tmp_path,
    )

    runs = new_runs_in_postgres(home, known, expected=3)
    assert sorted(fact.run.tags.get("dagster/partition") for fact in runs) == [day.isoformat() for day in DAYS]
    expected = set().union(*(issues_updated_on(jira, day) for day in DAYS))
    assert len(expected) >= 10  # enough issues on those days for the races to mean something
    assert_knowledge_base_consistent(kb, expected)

    # The multiprocess run: every step in its own process, none in the run's orchestrator.
    [multiprocess] = [fact for fact in runs if fact.run.tags.get("dagster/partition") == DAYS[0].isoformat()]
    assert len(multiprocess.step_pids) == len(set(multiprocess.step_pids.values())) >= len(jira_pool_steps())
    assert multiprocess.orchestrator_pid not in multiprocess.step_pids.values()
    # Each process that ran Jira steps opened one client of its own (a client checks the credentials
    # once, with /myself): a process per step in the multiprocess run, one per in-process run.
    myself = jira.stats["api"]["by_route"].get("GET /rest/api/3/myself", 0)
    assert myself == sum(fact.jira_step_processes for fact in runs)
    assert multiprocess.jira_step_processes == len(jira_pool_steps())

    # The pool, enforced per step across all three processes: never more jira_api steps at once
    # than its limit, so never more requests in flight than limit x connections per step.
    limit = pool_limit(home)
    steps_at_once = most_at_once([interval for fact in runs for interval in fact.jira_steps])
    assert steps_at_once <= limit
    bound = limit * JiraResource.model_fields["max_connections_per_host"].default
    peak = jira.stats["api"]["peak_in_flight"]
    assert peak <= bound
    print(
        f"\njira_api limit {limit}: at most {steps_at_once} Jira steps at once; peak {peak} requests in flight (bound {bound})"
    )


def test_runs_overlapping_on_a_moved_issue_leave_one_correct_file(tmp_path, concurrent_jira, postgres_dagster_home):
    jira, home = concurrent_jira, postgres_dagster_home
    kb = KnowledgeBase(tmp_path / "kb")
    zone = ZoneInfo(jira.config.time_zone)

    # The 18th mirrored first (in this process), then one of its issues is edited on the 20th.
    assert build_pipeline(jira, kb.root).run(DAYS[0].isoformat()).success
    moved = sorted(issues_updated_on(jira, DAYS[0]))[0]
    before = kb.markdown_path(moved).read_text(encoding="utf-8")
    new_updated = datetime(2026, 11, 20, 10, 30, tzinfo=zone)
    jira.touch_issue(moved, updated=new_updated, comment=MOVED_COMMENT)
    assert moved in issues_updated_on(jira, DAYS[2]) and moved not in issues_updated_on(jira, DAYS[0])

    # At once: the 18th (the issue left its window), the 19th-20th as one run and the 20th alone,
    # so two runs fetch, download and render the moved issue (and all of the 20th) into the same files.
    known = run_ids(home)
    launch_all(
        {
            "day-18": job_execute(partition_tags(DAYS[0])),
            "days-19-20": job_execute(range_tags(DAYS[1], DAYS[2])),
            "day-20": job_execute(partition_tags(DAYS[2])),
        },
        {**pipeline_environment(jira, kb.root), **home.environment},
        tmp_path,
    )
    new_runs_in_postgres(home, known, expected=3)

    expected = set().union(*(issues_updated_on(jira, day) for day in DAYS))
    assert_knowledge_base_consistent(kb, expected)
    text = kb.markdown_path(moved).read_text(encoding="utf-8")
    assert text != before and MOVED_COMMENT in text
    assert parse_frontmatter_block(text)["key"] == moved
    raw_updated = kb.read_raw_issue(moved)["fields"]["updated"]
    assert datetime.strptime(raw_updated, "%Y-%m-%dT%H:%M:%S.%f%z") == new_updated

    # The same days mirrored from scratch by one process, one run, give the very same files.
    reference = KnowledgeBase(tmp_path / "reference")
    job = build_pipeline(jira, reference.root).defs.resolve_job_def(JIRA_MARKDOWN_JOB)
    assert job.execute_in_process(tags=range_tags(DAYS[0], DAYS[2]), raise_on_error=False).success
    assert markdown_files(kb) == markdown_files(reference)
