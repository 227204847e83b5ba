"""Long-running commands under test (the Dagster UI, the daemon): ports, their output, their stop."""

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_from_a_terminal() -> None:
    """``preexec_fn`` of a command a test stops with Ctrl-C (``stop``): SIGINT and SIGTERM as a
    terminal's shell gives them. A child inherits the signals its parent ignores or blocks, and the
    test process has run Dagster in-process before (which handles them); ``make dev`` started from
    such a process ignored Ctrl-C until it was killed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


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


def drain(process: subprocess.Popen, seen: list[str]) -> threading.Thread:
    """Read the rest of ``process``'s output into ``seen`` in a thread, as a terminal would: a pipe
    nobody reads fills (64 KiB of a daemon's log) and then blocks the process writing to it, its
    shutdown included. ``join`` the thread once the process has ended."""

    def read_all() -> None:
        for line in process.stdout:
            seen.append(line)

    thread = threading.Thread(target=read_all, name="drain-output", daemon=True)
    thread.start()
    return thread


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


def stop(process: subprocess.Popen, timeout: float = 90) -> list[str]:
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group (started with start_new_session);
    SIGKILL to it after ``timeout`` seconds. Returns what was still running then (pid, state, command
    line of the process and its descendants), for the failure message; empty when it stopped."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            running = process_tree(process.pid)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            return running
    return []


def process_tree(pid: int) -> list[str]:
    """``pid`` and its descendants: pid, state, the threads' count and the command line of each."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    described = []
    for each in processes:
        try:
            described.append(
                f"{each.pid} {each.status()} {each.num_threads()} threads: {' '.join(each.cmdline())[:200]}"
            )
        except psutil.Error:
            continue
    return described
