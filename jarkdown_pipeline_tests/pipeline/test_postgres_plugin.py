"""The PostgreSQL test plugin itself: a throwaway database that is really dropped, a clear skip
without a server, and a failure instead of a skip under CI (so CI never passes by skipping)."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

INNER_TEST = textwrap.dedent(
    """
    import os

    def test_uses_the_database(postgres_database):
        assert postgres_database.query("SELECT current_database()") == [(postgres_database.name,)]
        with open(os.environ["DATABASE_NAME_FILE"], "w") as sink:
            sink.write(postgres_database.name)
    """
)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_inner_session(tmp_path: Path, **environment: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DATABASE_NAME_FILE": str(tmp_path / "database_name")}
    for name, value in environment.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "jarkdown_pipeline_tests.plugins.postgres",
            "-rs",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_session_database_is_dropped_afterwards(tmp_path, postgres_database):
    done = run_inner_session(tmp_path, CI=None)
    assert done.returncode == 0, done.stdout + done.stderr
    name = (tmp_path / "database_name").read_text()
    assert name.startswith("jarkdown_test_")
    assert postgres_database.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,)) == []


def test_without_a_server_the_tests_are_skipped_with_the_reason(tmp_path):
    done = run_inner_session(tmp_path, CI=None, PGHOST="127.0.0.1", PGPORT=str(free_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "PostgreSQL is not reachable at postgres@127.0.0.1:" in done.stdout
    assert "set PGHOST/PGPORT/PGUSER/PGPASSWORD" in done.stdout


def test_under_ci_an_unreachable_server_fails_the_tests(tmp_path):
    done = run_inner_session(tmp_path, CI="true", PGHOST="127.0.0.1", PGPORT=str(free_port()))
    assert done.returncode != 0
    assert "skipped" not in done.stdout
    assert "CI is set, so the PostgreSQL tests must run" in done.stdout


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("yes", True), ("", False), ("0", False), ("false", False), (None, False)],
)
def test_ci_is_recognised_as_ci_tools_set_it(value, expected):
    from jarkdown_pipeline_tests.plugins.postgres import running_in_ci

    assert running_in_ci({} if value is None else {"CI": value}) is expected
