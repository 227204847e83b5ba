"""`make demo` on a fresh clone (no Jira settings): the sample Jira starts, the pipeline runs
through the dagster CLI, and the server is stopped however the demo ends: success, a failed run,
or SIGTERM in the middle of the run."""

import re
import signal
import subprocess
import sys
import time

import psutil

from jarkdown_pipeline.tools.pipeline_cli import summarize_knowledge_base
from jarkdown_pipeline_tests.plugins.pipeline import is_listening, run_demo

SAMPLE_URL = re.compile(r"Sample Jira at (http://127\.0\.0\.1:\d+)")


def test_demo_without_settings_starts_the_sample_jira_and_always_stops_it(tmp_path):
    output_dir = tmp_path / "jira_markdown"
    done = run_demo(["--issues", "24", "--days", "3", "--dagster-home", str(tmp_path / "dagster_home")], {}, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    base_url = SAMPLE_URL.search(done.stdout).group(1)
    assert "Sample Jira stopped." in done.stdout
    assert not is_listening(base_url)
    summary = summarize_knowledge_base(output_dir)  # the default ./jira_markdown, relative to where it ran
    assert summary.issues == 24 and summary.has_index and summary.attachments > 0
    assert str(output_dir) in done.stdout and summary.describe() in done.stdout
    # The run says what it did, in the terminal, without --verbose.
    assert "24 issues in the window: 24 files written, 0 unchanged, 0 failed" in done.stdout, done.stdout
    requests = int(re.search(r"; (\d+) requests \(API and attachments\), 0 retried; [\d.]+ s\n", done.stdout).group(1))
    assert requests > 24, "the search, the bulk fetch and a request per attachment at least"

    # A failing run still stops the server: an output path that is a file fails the settings check.
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    done = run_demo(
        [
            "--issues",
            "5",
            "--days",
            "2",
            "--output-dir",
            str(blocker),
            "--dagster-home",
            str(tmp_path / "dagster_home"),
        ],
        {},
        tmp_path,
    )
    assert done.returncode != 0
    assert "JARKDOWN_OUTPUT_DIR is not a directory" in done.stdout + done.stderr
    assert not is_listening(SAMPLE_URL.search(done.stdout).group(1))


def wait_for_running_dagster(pid: int, timeout: float = 90.0) -> list[psutil.Process]:
    """The demo's descendants once `dagster job execute` runs steps (it has children of its own then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = psutil.Process(pid).children(recursive=True)
            dagster = [p for p in children if "job execute" in " ".join(p.cmdline())]
            if dagster and dagster[0].children():
                return children
        except psutil.NoSuchProcess:  # a short-lived helper came and went: look again
            pass
        time.sleep(0.1)
    raise AssertionError("dagster job execute never started its run")


def test_demo_stopped_by_sigterm_mid_run_leaves_no_process_behind(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jarkdown_pipeline.tools.demo",
            "--issues",
            "200",
            "--days",
            "5",
            "--dagster-home",
            str(tmp_path / "home"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen, base_url = [], None
        for line in demo.stdout:
            seen.append(line)
            base_url = base_url or (m.group(1) if (m := SAMPLE_URL.search(line)) else None)
            if line.startswith("Running jira_markdown_job"):
                break
        assert base_url is not None, "".join(seen)
        children = wait_for_running_dagster(demo.pid)
        demo.send_signal(signal.SIGTERM)
        rest = demo.stdout.read()
        assert demo.wait(60) == 128 + signal.SIGTERM, rest
    finally:
        if demo.poll() is None:  # the test failed before the demo stopped: stop it, and what it started
            leftovers = psutil.Process(demo.pid).children(recursive=True)
            demo.terminate()
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                demo.kill()
            for process in psutil.wait_procs(leftovers, timeout=10)[1]:
                process.kill()
        demo.stdout.close()
    assert "Stopped by a signal" in rest
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    assert not is_listening(base_url)


def test_with_a_jira_configured_but_no_token_demo_and_dev_name_the_variable_and_start_nothing(tmp_path):
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "JIRA_BASE_URL": "https://acme.example.com",
        "JIRA_EMAIL": "me@example.com",
    }
    for tool in ("demo", "dev"):
        done = subprocess.run(
            [sys.executable, "-m", f"jarkdown_pipeline.tools.{tool}", "--dagster-home", str(tmp_path / "home")],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (tool, done.stdout, done.stderr)
        assert "JIRA_API_TOKEN is not set" in done.stderr
        assert "Sample Jira" not in done.stdout
    assert not (tmp_path / "jira_markdown").exists()


def test_demo_names_the_one_setting_that_is_wrong_and_hints_a_start_date_only_when_it_is_missing(tmp_path):
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "JIRA_EMAIL": "me@example.com", "JIRA_API_TOKEN": "t"}
    cases = {
        "https://acme.example.com": "JARKDOWN_START_DATE is not set",
        "acme.example.com/": "JIRA_BASE_URL must be a full URL",
    }
    for url, message in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "jarkdown_pipeline.tools.demo", "--dagster-home", str(tmp_path / "home")],
            cwd=tmp_path,
            env={**base, "JIRA_BASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert done.stderr.count("JIRA_BASE_URL") == (1 if url.endswith("/") else 0), done.stderr
        assert ("For a first look" in done.stderr) == (message == "JARKDOWN_START_DATE is not set"), done.stderr
