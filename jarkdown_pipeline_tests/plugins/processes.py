"""Long-running commands under test (the Dagster UI, the daemon): ports, their output, their stop."""

import os
import signal
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(process: subprocess.Popen, pattern: str, seen: list[str], timeout: float) -> str:
    """The first line of ``process``'s output holding ``pattern``; every line read goes to ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if pattern in line:
            return line
    raise AssertionError(f"{pattern!r} never came:\n" + "".join(seen[-60:]))


def ui_answers(url: str, timeout: float) -> bool:
    """The web server logs that it serves a moment before it accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.status == 200
        except OSError:
            time.sleep(1)
    return False


def stop(process: subprocess.Popen, timeout: float = 90) -> None:
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group (started with start_new_session);
    SIGKILL to it after ``timeout`` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
