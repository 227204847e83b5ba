"""docs/DEPLOY.md's commands, run as written on a PostgreSQL instance of the deployment's own
``deploy/dagster.yaml``: the once-per-database steps, then the daemon and the webserver of its table."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jarkdown_pipeline.orchestration.names import JIRA_POOL
from jarkdown_pipeline_tests.plugins.pipeline import pipeline_environment
from jarkdown_pipeline_tests.plugins.postgres import DEPLOY_DAGSTER_YAML, DagsterPostgresHome
from jarkdown_pipeline_tests.plugins.processes import as_from_a_terminal, free_port, read_until, stop, ui_answers

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_MD = REPO_ROOT / "docs" / "DEPLOY.md"
BIN = Path(sys.executable).parent


def once_per_database_commands() -> list[list[str]]:
    """The commands of DEPLOY.md's first code block (comments dropped), as argument lists."""
    block = re.search(r"```\n(.*?)```", DEPLOY_MD.read_text(encoding="utf-8"), re.DOTALL)
    assert block, "docs/DEPLOY.md lost its block of deployment commands"
    return [shlex.split(line.split("#", 1)[0]) for line in block.group(1).splitlines() if line.strip()]


def service_command(name: str) -> list[str]:
    """The command the table of services gives for ``name`` (``dagster-daemon``, ``dagster-webserver``)."""
    found = re.search(rf"`({re.escape(name)} [^`]+)`", DEPLOY_MD.read_text(encoding="utf-8"))
    assert found, f"docs/DEPLOY.md no longer names a {name} command"
    return shlex.split(found.group(1))


def installed(command: list[str]) -> list[str]:
    """``dagster ...`` as run from a clone: the virtual environment's own executable."""
    return [str(BIN / command[0]), *command[1:]]


@pytest.fixture
def deployed_home(tmp_path: Path, own_postgres_database) -> DagsterPostgresHome:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_DAGSTER_YAML, home / "dagster.yaml")
    return DagsterPostgresHome(home, own_postgres_database)


def test_the_deployment_steps_and_services_work_as_docs_deploy_says(tmp_path, sample_jira, deployed_home):
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env.update(pipeline_environment(sample_jira, tmp_path / "kb"))
    env.update(deployed_home.environment)

    commands = once_per_database_commands()
    assert [command[:3] for command in commands] == [
        ["dagster", "instance", "migrate"],
        ["dagster", "instance", "concurrency"],
        ["dagster", "schedule", "start"],
    ]
    for command in commands:
        done = subprocess.run(installed(command), env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, (command, done.stdout[-3000:] + done.stderr[-3000:])
    limit = int(commands[1][-1])
    with deployed_home.instance() as instance:
        assert instance.event_log_storage.get_concurrency_info(JIRA_POOL).slot_count == limit
        states = {state.name: state.status.value for state in instance.all_instigator_state()}
    assert {name: status for name, status in states.items() if name.endswith("_schedule")} == {
        "jira_daily_schedule": "RUNNING",
        "jira_hourly_schedule": "RUNNING",
        "jira_reconciliation_schedule": "RUNNING",
    }

    # The daemon: up until `dagster-daemon liveness-check` finds its heartbeats in PostgreSQL.
    with subprocess.Popen(  # closes its output pipe on the way out
        installed(service_command("dagster-daemon")),
        env=env,
        cwd=REPO_ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    ) as daemon:
        try:
            assert daemon_is_live(env, daemon, timeout=180)
        finally:
            stop(daemon)
    assert daemon.returncode is not None

    # The webserver, on a free loopback port rather than the table's 0.0.0.0:3000.
    command = installed(service_command("dagster-webserver"))
    port = free_port()
    command[command.index("-h") + 1], command[command.index("-p") + 1] = "127.0.0.1", str(port)
    seen: list[str] = []
    with subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    ) as webserver:
        try:
            read_until(webserver, "Serving dagster-webserver", seen, 240)
            assert ui_answers(f"http://127.0.0.1:{port}/server_info", timeout=60), "".join(seen[-40:])
        finally:
            stop(webserver)


def daemon_is_live(env: dict[str, str], daemon: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    check = [str(BIN / "dagster-daemon"), "liveness-check"]
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise AssertionError("the daemon stopped:\n" + daemon.stdout.read()[-3000:])
        if subprocess.run(check, env=env, cwd=REPO_ROOT, capture_output=True, timeout=120).returncode == 0:
            return True
        time.sleep(2)
    return False
