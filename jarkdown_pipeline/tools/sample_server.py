"""Run the sample Jira as a child process that never outlives its caller.

The server runs in its own session (process group), so stopping it reaches every process it may
have started, and a Ctrl-C meant for the caller's foreground job does not kill it half-way through
a run. `sample_jira_process` stops it on every way out: normal exit, an exception, Ctrl-C, and
SIGTERM (turned into SystemExit by `terminate_on_sigterm` so `finally` blocks run).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from jarkdown_pipeline.sample_jira.config import DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PERSONAL_ACCESS_TOKEN

STARTUP_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 10.0


class SampleServerError(RuntimeError):
    """The sample Jira did not start (its output is in the message)."""


@dataclass(frozen=True)
class RunningSampleJira:
    info: dict[str, Any]
    process: subprocess.Popen
    email: str = DEMO_EMAIL
    api_token: str = DEMO_API_TOKEN

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def time_zone(self) -> str:
        return self.info["time_zone"]

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call a /_sample/ control endpoint (stats, reset-stats, info...) and return its JSON."""
        data = None if body is None else json.dumps(body).encode()
        request = Request(f"{self.base_url}/_sample/{path}", data=data, method="GET" if data is None else "POST")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urlopen(request, timeout=30) as response:
            return json.load(response)

    def stats(self, trace: bool = False) -> dict[str, Any]:
        """The server's stats; ``trace``: with each host's answered requests (``HostStats.trace``)."""
        return self.control("stats?trace=1" if trace else "stats")

    def reset_stats(self) -> dict[str, Any]:
        return self.control("reset-stats", {})

    def pipeline_environment(self) -> dict[str, str]:
        """The variables that point the pipeline at this server (its fake demo credentials)."""
        if self.info.get("flavour") == "datacenter":
            credentials = {"JIRA_PAT": DEMO_PERSONAL_ACCESS_TOKEN}
        else:
            credentials = {"JIRA_EMAIL": self.email, "JIRA_API_TOKEN": self.api_token}
        return {"JIRA_BASE_URL": self.base_url, **credentials, "JARKDOWN_TIMEZONE": self.time_zone}


def _default_interrupt_signals() -> None:
    # A child inherits ignored signals (e.g. SIGINT when started from a background job), and Dagster
    # maps SIGTERM to its SIGINT handler: restore both so the child can be asked to stop.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def popen_in_own_group(command: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """Start `command` as the leader of a new session/process group that `stop_process_group` can end.

    Ctrl-C in the terminal reaches only the caller, which then stops the child in order.
    """
    return subprocess.Popen(list(command), start_new_session=True, preexec_fn=_default_interrupt_signals, **kwargs)


def stop_process_group(
    process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS, first_signal: int = signal.SIGTERM
) -> None:
    """Ask the child to stop (`first_signal` to it alone, so it can shut its own children down),
    then SIGKILL its whole process group if anything of it is left after `grace` seconds."""
    impatient = None
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, first_signal)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        except KeyboardInterrupt as second_interrupt:  # Ctrl-C again while waiting: stop waiting
            impatient = second_interrupt
    # Whatever the leader left behind in its group (it may have exited already): gone now.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(grace)
    if impatient is not None:
        raise impatient


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into SystemExit while inside, so cleanup code runs."""

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, exit_now) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# The sample Jira's usual ports. The demo prefers them so its URLs, which end up in the Markdown,
# stay the same from one `make demo` to the next (and a re-run rewrites nothing).
PREFERRED_PORTS = (8089, 8090)
_CANNOT_LISTEN = b"cannot listen on"


@contextlib.contextmanager
def sample_jira_process(
    arguments: Sequence[str] = (),
    *,
    log_path: Path | None = None,
    python: str = sys.executable,
    preferred_ports: tuple[int, int] | None = None,
) -> Iterator[RunningSampleJira]:
    """Start `python -m jarkdown_pipeline.sample_jira` on loopback ports; stop it on exit.

    The ports are `preferred_ports` when both are free, else any free ones. `arguments` are the
    server's own options (data set size, latency, faults). Its output goes to `log_path` (default:
    a temporary file, shown if it fails to start).
    """
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sample-jira-")))
        ready_file = workdir / "ready.json"
        log_path = log_path or workdir / "sample_jira.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        environment = {
            name: value
            for name, value in os.environ.items()
            if name not in ("SAMPLE_JIRA_API_TOKEN", "SAMPLE_JIRA_PAT")
        }
        candidates = ([preferred_ports] if preferred_ports else []) + [(0, 0)]
        for attempt, (port, media_port) in enumerate(candidates, start=1):
            log = stack.enter_context(open(log_path, "wb"))
            command = [
                python,
                "-m",
                "jarkdown_pipeline.sample_jira",
                "--port",
                str(port),
                "--media-port",
                str(media_port),
                "--ready-file",
                str(ready_file),
                *arguments,
            ]
            process = popen_in_own_group(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment
            )
            stack.callback(stop_process_group, process)
            deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while not ready_file.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if ready_file.exists():
                break
            log.flush()
            output = log_path.read_bytes()
            if process.returncode is not None and _CANNOT_LISTEN in output and attempt < len(candidates):
                continue  # a preferred port is taken: any free ones will do
            reason = (
                f"exited with status {process.returncode}"
                if process.returncode is not None
                else "did not become ready in time"
            )
            raise SampleServerError(f"The sample Jira {reason}:\n{output.decode(errors='replace')[-3000:]}")
        info = json.loads(ready_file.read_text(encoding="utf-8"))
        yield RunningSampleJira(info=info, process=process)
