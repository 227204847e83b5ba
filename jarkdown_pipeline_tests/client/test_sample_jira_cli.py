"""`python -m jarkdown_pipeline.sample_jira`: prints how to connect, serves, stops cleanly."""

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from jarkdown_pipeline_tests.plugins.sample_jira import basic_auth_headers


def start_cli(tmp_path, *extra: str) -> tuple[subprocess.Popen, dict]:
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jarkdown_pipeline.sample_jira",
            "--port",
            "0",
            "--media-port",
            "0",
            "--issues",
            "25",
            "--now",
            "2026-11-20T11:30:00+00:00",
            "--ready-file",
            str(ready),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if process.poll() is not None:
            _, errors = process.communicate()  # read to the end and closed, not left to the garbage collector
            raise AssertionError(f"the sample Jira exited early: {errors}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            raise AssertionError("the sample Jira did not become ready")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_prints_its_urls_and_stops_on_a_signal(tmp_path, stop_signal):
    process, info = start_cli(
        tmp_path, "--time-zone", "Asia/Tokyo", "--email", "me@example.com", "--api-token", "t0ken"
    )
    try:
        assert info["issue_count"] == 25 and info["time_zone"] == "Asia/Tokyo"
        assert info["base_url"].startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            info["base_url"] + "/rest/api/3/myself", headers=basic_auth_headers("me@example.com", "t0ken")
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["timeZone"] == "Asia/Tokyo"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(info["base_url"] + "/rest/api/3/myself", timeout=10)
        assert caught.value.code == 401
        caught.value.close()
    finally:
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"JIRA_BASE_URL={info['base_url']}" in stdout
    assert "JIRA_EMAIL=me@example.com" in stdout and "JIRA_API_TOKEN=t0ken" in stdout
    assert "Sample Jira stopped." in stdout
    assert not (tmp_path / "ready.json").exists()
    assert "Traceback" not in stderr


def test_cli_fault_flags_reach_the_server(tmp_path):
    process, info = start_cli(
        tmp_path, "--rate-limit-requests", "1", "--retry-after", "2", "--unavailable-burst", "2:1"
    )
    try:
        codes = []
        for _ in range(3):
            try:
                with urllib.request.urlopen(info["base_url"] + "/rest/api/3/field", timeout=10) as response:
                    codes.append(response.status)
            except urllib.error.HTTPError as exc:
                codes.append((exc.code, exc.headers.get("Retry-After")))
                exc.close()
        assert codes == [(429, "2"), (503, None), 200]
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-zone", "Mars/Olympus"], "unknown time zone"),
        (["--host", "0.0.0.0"], "loopback only"),
        (["--unavailable-burst", "x"], "START:COUNT"),
        (["--now", "2026-11-20T11:30:00"], "UTC offset"),
        (["--move", "ALPHA-1"], "KEY=PROJECT"),
    ],
)
def test_cli_rejects_bad_settings_with_a_clear_message(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "jarkdown_pipeline.sample_jira", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_cli_move_flag_moves_the_issue_at_start_up():
    from jarkdown_pipeline.sample_jira.__main__ import build_parser, config_from_args
    from jarkdown_pipeline.sample_jira.data import Dataset

    config = config_from_args(build_parser().parse_args(["--issues", "30", "--move", "alpha-2=beta"]))
    assert config.moved_issues == (("ALPHA-2", "BETA"),)
    dataset = Dataset(config, "http://127.0.0.1:1")
    moved = dataset.find_issue("ALPHA-2")  # the old key still finds it, under its new key
    assert moved.key.startswith("BETA-") and moved.project.key == "BETA" and "ALPHA-2" not in dataset.issues
    items = [(item.field, item.from_string, item.to_string) for item in dataset.changes_of(moved)[-1].items]
    assert items[0] == ("Key", "ALPHA-2", moved.key) and items[1][0] == "project"
