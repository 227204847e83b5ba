"""`make dev` on a fresh clone: the UI starts without warnings, the automation sensor runs by default,
so a partition materialized while it runs brings index.md up to date by itself; Ctrl-C stops all."""

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.config import DEMO_API_TOKEN, DEMO_EMAIL
from jarkdown_pipeline.tools.dev import DAGSTER_DEV_STOP_GRACE_SECONDS
from jarkdown_pipeline.tools.pipeline_cli import LOCAL_INSTANCE_YAML, ensure_instance_file
from jarkdown_pipeline_tests.plugins.processes import as_from_a_terminal, drain, free_port, read_until, stop, ui_answers

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
DG = str(Path(sys.executable).with_name("dg"))
SAMPLE = re.compile(
    r"Sample Jira at (http://127\.0\.0\.1:\d+) \((\d+) issues updated since ([\d-]+), time zone ([^)]+)\)"
)
NOISE = ("No dagster instance configuration file", "Use 'dg dev' instead", "virtual environment does not match")


def test_make_dev_quiet_then_a_materialized_partition_brings_the_index_up_to_date(tmp_path):
    port = free_port()
    home, output_dir = tmp_path / "home", tmp_path / "kb"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    dev = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jarkdown_pipeline.tools.dev",
            "--issues",
            "24",
            "--days",
            "3",
            "--dagster-home",
            str(home),
            "--output-dir",
            str(output_dir),
            "--port",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )
    seen: list[str] = []
    reader = None
    running_at_kill: list[str] = []
    try:
        base_url, _, first_day, zone = SAMPLE.search(read_until(dev, "Sample Jira at", seen, 60)).groups()
        read_until(dev, "Serving dagster-webserver", seen, 240)
        reader = drain(dev, seen)  # from here on, as a terminal would: a full pipe would block its shutdown
        assert ui_answers(f"http://127.0.0.1:{port}/server_info", timeout=60)
        # A partition materialized from outside the UI, in the same instance (as the UI's button does).
        cli_env = {
            **env,
            "DAGSTER_HOME": str(home),
            "JIRA_BASE_URL": base_url,
            "JIRA_EMAIL": DEMO_EMAIL,
            "JIRA_API_TOKEN": DEMO_API_TOKEN,
            "JARKDOWN_START_DATE": first_day,
            "JARKDOWN_TIMEZONE": zone,
            "JARKDOWN_OUTPUT_DIR": str(output_dir),
        }
        last_day = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import datetime, zoneinfo; print(datetime.datetime.now(zoneinfo.ZoneInfo({zone!r})).date())",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        done = subprocess.run(
            [
                DAGSTER,
                "asset",
                "materialize",
                "-m",
                "jarkdown_pipeline",
                "--select",
                "jira_fields,jira_issues,jira_attachments,jira_markdown",
                "--partition-range",
                f"{first_day}...{last_day}",
            ],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        kb = KnowledgeBase(output_dir)
        written = set(kb.markdown_issue_keys())
        assert len(written) == 24 and not kb.index_path.exists()
        # No second click: the sensor (on by default) sees the materialization and runs jira_index.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (
            kb.index_path.exists() and kb.issues_listed_in(kb.index_files()) == written
        ):
            time.sleep(2)
        assert kb.index_path.exists() and kb.issues_listed_in(kb.index_files()) == written
    finally:
        children = psutil.Process(dev.pid).children(recursive=True) if dev.poll() is None else []
        # `make dev` gives `dg dev` DAGSTER_DEV_STOP_GRACE_SECONDS to shut down, then stops the sample
        # Jira: a loaded machine takes most of that, so the test waits longer before it kills.
        running_at_kill = stop(dev, timeout=DAGSTER_DEV_STOP_GRACE_SECONDS + 60)
        gone, alive = psutil.wait_procs(children, timeout=30)
        left = [process.cmdline() for process in alive if process.is_running()]
        for process in alive:  # else they hold the output pipe open, and reading it would never end
            with contextlib.suppress(psutil.Error):
                process.kill()
        if reader is not None:
            reader.join(30)
        rest = "" if reader is not None else dev.stdout.read()
        dev.stdout.close()  # else the pipe is left to the garbage collector (a ResourceWarning in a later test)
    output = "".join(seen) + rest
    assert dev.returncode == 0, "\n".join(["still running when killed:", *running_at_kill, output[-3000:]])
    assert not [line for line in output.splitlines() if any(noise in line for noise in NOISE)]
    assert not left, left
    # The UI's run history holds the sensor's run of the index.
    runs = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import dagster as dg, json; i = dg.DagsterInstance.get(); "
                "print(json.dumps([sorted(k.to_user_string() for k in (r.asset_selection or [])) for r in i.get_runs()]))",
            ],
            env={**env, "DAGSTER_HOME": str(home)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert ["jira_index"] in runs, runs


def test_the_local_instance_file_is_the_one_the_tools_write_and_a_users_own_is_kept(tmp_path):
    assert (REPO_ROOT / ".dagster_home" / "dagster.yaml").read_text(encoding="utf-8") == LOCAL_INSTANCE_YAML
    assert ensure_instance_file(tmp_path / "new").read_text(encoding="utf-8") == LOCAL_INSTANCE_YAML
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("run_coordinator: {}\n", encoding="utf-8")
    assert ensure_instance_file(own).read_text(encoding="utf-8") == "run_coordinator: {}\n"


def test_dg_check_defs_loads_the_code_location_quietly(tmp_path):
    """The README's `.venv/bin/dg check defs`: [tool.dg] in pyproject.toml finds `defs`."""
    home = tmp_path / "home"
    ensure_instance_file(home)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(home),
        "JIRA_BASE_URL": "https://acme.example.com",
        "JIRA_EMAIL": "me@example.com",
        "JIRA_API_TOKEN": "not-used-by-the-check",
        "JARKDOWN_START_DATE": "2026-11-01",
        "JARKDOWN_OUTPUT_DIR": str(tmp_path / "kb"),
    }
    done = subprocess.run([DG, "check", "defs"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "All definitions loaded successfully" in output
    assert not [line for line in output.splitlines() if any(noise in line for noise in NOISE)], output
    # A missing setting fails the check, naming the variable.
    env.pop("JARKDOWN_START_DATE")
    done = subprocess.run([DG, "check", "defs"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode != 0 and "JARKDOWN_START_DATE is not set" in done.stdout + done.stderr
