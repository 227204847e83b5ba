"""Render a window's issue files in a child process, beside the event loop that downloads.

Rendering is CPU work (a few ms an issue). On the step's event loop it delays every response the
downloads wait for; in a process of its own it runs on another core while the loop keeps the
connections busy, at a lower CPU priority (``RENDER_NICENESS``) so that where cores are few the
loop is not the one kept waiting. The child is a plain ``python -m jarkdown_pipeline.render_worker`` fed over its
standard input, one line per message (no pickling, and no re-import of the parent's ``__main__``
as multiprocessing's spawn would do):

- parent -> child, first line: ``{"root": ..., "state_dsn": ..., "arriving": {...}, "options": {...}}``
  (the window's keys, as ``IssueKeySet.as_data()``: a bitmap per project, a few bytes however many
  keys; the child looks the others up as a KnownKeys; or ``"known_issue_keys"``, a fixed list; the
  window's RenderOptions as JSON);
- parent -> child, then one issue key per line, or ``=`` and unchanged issues' keys separated by
  spaces (asked for in the same turn of the event loop: decided with one lock and one store query,
  as most are files to leave as they are); end of input ends the child;
- child -> parent, one line per key, in order: ``{"key", "written", "error", "details"}``.

Each render holds the knowledge base's lock (``KnowledgeBase.lock``, a file lock: it excludes the
parent's stages and other runs as before). If the child cannot start or dies, ``RenderWorkerGone``
is raised for what it had not answered, and the caller renders those issues itself.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jarkdown_pipeline._memory import release_free_memory
from jarkdown_pipeline.exceptions import IssueError, describe_error
from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.knowledge_base import KnowledgeBase, KnownKeys, RenderOptions

logger = logging.getLogger(__name__)

# Longest reason kept for one issue's failure (metadata and log lines stay readable).
REASON_MAX_CHARS = 500
# Longest answer line the parent reads: a failed render's answer carries its traceback, which can
# pass asyncio's default of 64 KiB (the setup line goes the other way, unbounded).
_LINE_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class RenderOutcome:
    """What rendering one issue file did: written (True), unchanged (False), or failed (None)."""

    key: str
    written: bool | None
    error: str | None = None
    """One line naming the problem (``describe_error``) when the render failed."""
    details: str | None = None
    """The traceback of a failed render, for the log."""


class RenderWorkerGone(RuntimeError):
    """The render child could not start, or exited before answering."""


def issue_error_reason(error: BaseException) -> str:
    """One line saying why one issue failed: an IssueError's own reason (its key is said elsewhere),
    else ``describe_error``; newlines folded, cut at REASON_MAX_CHARS."""
    reason = error.reason if isinstance(error, IssueError) else describe_error(error)
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_MAX_CHARS else reason[: REASON_MAX_CHARS - 3] + "..."


def failed_outcome(key: str, error: BaseException) -> RenderOutcome:
    """A failed render as an outcome (the traceback for the log, if it can be formatted at all)."""
    try:
        details = traceback.format_exc()
    except Exception:  # e.g. MemoryError: the reason alone still names the problem
        details = None
    return RenderOutcome(key, None, issue_error_reason(error), details)


def render_issue_outcome(
    kb: KnowledgeBase,
    key: str,
    known_issue_keys: frozenset[str] | KnownKeys,
    options: RenderOptions | Mapping[str, Any],
) -> RenderOutcome:
    """Render one issue file (the caller holds the knowledge base's lock); a failure is returned, not raised.

    Any Exception is this issue's failure: bad data (RecursionError, MemoryError, a malformed shape),
    a refused symbolic link, a file that cannot be written.
    """
    try:
        written = kb.render_issue_file(key, RenderOptions.coerce(options), known_issue_keys=known_issue_keys)
        return RenderOutcome(key, written)
    except Exception as error:  # one issue's bad data must not stop the others
        return failed_outcome(key, error)


def render_locked(
    kb: KnowledgeBase,
    key: str,
    known_issue_keys: frozenset[str] | KnownKeys,
    options: RenderOptions | Mapping[str, Any],
) -> RenderOutcome:
    """``render_issue_outcome`` under the knowledge base's lock; a lock that fails is this key's failure too."""
    try:
        with kb.lock():
            return render_issue_outcome(kb, key, known_issue_keys, options)
    except Exception as error:
        return failed_outcome(key, error)


# How much lower the child's CPU priority is than the step's (``os.nice``): where cores are few, the
# event loop that keeps the connections busy gets the CPU first and rendering takes what is left.
RENDER_NICENESS = 10

# The child gives its C heap's free pages back every so many renders (see _memory).
RELEASE_EVERY_RENDERS = 500


def render_unchanged_locked(
    kb: KnowledgeBase, keys: list[str], known_issue_keys: KnownKeys | frozenset[str], options: RenderOptions
) -> list[RenderOutcome]:
    """``render_locked`` for each of ``keys`` (unchanged issues), under one lock: those the store's
    records show current are decided by one query, the others rendered one by one."""
    try:
        with kb.lock():
            current = kb.current_issue_files(keys, options, known_issue_keys=known_issue_keys)
            return [
                RenderOutcome(key, False)
                if key in current
                else render_issue_outcome(kb, key, known_issue_keys, options)
                for key in keys
            ]
    except Exception:  # e.g. the lock or the query failed: each key says what is wrong with it
        return [render_locked(kb, key, known_issue_keys, options) for key in keys]


# Before keys on the child's input: render them as unchanged issues (never part of a valid key).
UNCHANGED_MARK = "="
# Unchanged issues sent on one line, at most.
UNCHANGED_BATCH = 200


class RenderWorker:
    """One child process that renders issue files for one window; ``render`` may be awaited concurrently.

    Use ``async with await RenderWorker.start(kb, known, options) as worker:``.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._waiting: deque[asyncio.Future[RenderOutcome]] = deque()
        self._reader = asyncio.create_task(self._read_answers())
        self._gone: str | None = None
        self._unchanged: list[str] = []  # asked for in this turn of the event loop, sent at its end

    @classmethod
    async def start(
        cls, kb: KnowledgeBase, known_issue_keys: Iterable[str] | KnownKeys, options: RenderOptions | Mapping[str, Any]
    ) -> "RenderWorker":
        worker = await cls.spawn()
        await worker.begin(kb, known_issue_keys, options)
        return worker

    @classmethod
    async def spawn(cls) -> "RenderWorker":
        """The child started, before its window is known: it imports the renderer (most of its start)
        while the window's search runs, and waits for ``begin``."""
        # The child imports this package from where the parent did, installed or not.
        package_parent = str(Path(__file__).resolve().parent.parent)
        python_path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
                env={**os.environ, "PYTHONPATH": python_path},
            )
        except OSError as error:
            raise RenderWorkerGone(f"could not start the render process: {describe_error(error)}") from error
        return cls(process)

    async def begin(
        self, kb: KnowledgeBase, known_issue_keys: Iterable[str] | KnownKeys, options: RenderOptions | Mapping[str, Any]
    ) -> None:
        """Send the window's setup (its knowledge base, keys and render options): once, before any ``render``."""
        setup = {
            "root": str(kb.root),
            "state_dsn": kb.state_dsn,
            "options": RenderOptions.coerce(options).as_json(),
        }
        if isinstance(known_issue_keys, KnownKeys):
            setup["arriving"] = known_issue_keys.arriving.as_data()
        else:
            setup["known_issue_keys"] = sorted(known_issue_keys)
        await self._send(json.dumps(setup, ensure_ascii=False))

    async def __aenter__(self) -> "RenderWorker":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def pid(self) -> int:
        return self._process.pid

    async def render(self, key: str, *, unchanged: bool = False) -> RenderOutcome:
        """Render ``key`` in the child; raises RenderWorkerGone if the child is (or goes) away.

        ``unchanged``: Jira did not change the issue, so its links are judged by the stored keys
        alone, not the window's arriving ones (see ``mirror_window``)."""
        if self._gone is not None:
            raise RenderWorkerGone(self._gone)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[RenderOutcome] = loop.create_future()
        self._waiting.append(answer)
        if unchanged:
            self._unchanged.append(key)
            if len(self._unchanged) == 1:
                loop.call_soon(self._send_unchanged)
            elif len(self._unchanged) >= UNCHANGED_BATCH:
                self._send_unchanged()
        else:
            self._send_unchanged()  # first: the answers come in the order asked
            await self._send(key)
        return await answer

    def _send_unchanged(self) -> None:
        """The unchanged keys asked for so far, on one line (small: not waited on to drain)."""
        keys, self._unchanged = self._unchanged, []
        stdin = self._process.stdin
        if keys and self._gone is None and stdin is not None and not stdin.is_closing():
            stdin.write((UNCHANGED_MARK + " ".join(keys) + "\n").encode("utf-8"))

    async def close(self, abandon: bool = False) -> None:
        """End the child's input and wait for it; a child that does not end in time is killed.

        ``abandon`` (the window failed): the child finishes the file it is writing and stops,
        leaving the keys still queued.
        """
        self._send_unchanged()
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        if abandon and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
        try:
            await asyncio.wait_for(self._process.wait(), timeout=30)
        except TimeoutError:
            logger.warning("The render process (pid %d) did not end in 30 s: killing it", self._process.pid)
        finally:
            if self._process.returncode is None:  # timed out, or the run is being cancelled
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._fail("the render process was closed")  # whatever it had not answered

    async def _send(self, line: str) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(line.encode("utf-8") + b"\n")
            await stdin.drain()
        except (ConnectionError, OSError) as error:
            self._fail(f"the render process stopped reading: {describe_error(error)}")
            raise RenderWorkerGone(self._gone or "the render process is gone") from error

    async def _read_answers(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while line := await stdout.readline():
                answer = json.loads(line)
                outcome = RenderOutcome(answer["key"], answer["written"], answer.get("error"), answer.get("details"))
                if self._waiting:
                    future = self._waiting.popleft()
                    if not future.done():
                        future.set_result(outcome)
        except (ValueError, KeyError, asyncio.LimitOverrunError) as error:
            self._fail(f"the render process sent a malformed answer: {describe_error(error)}")
            return
        code = await self._process.wait()
        self._fail(f"the render process exited with status {code}")

    def _fail(self, reason: str) -> None:
        if self._gone is None:
            self._gone = reason
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(RenderWorkerGone(self._gone))


def serve(lines: Iterable[bytes], write: Any, stopping: Any = lambda: False) -> None:
    """The child's loop: the setup line, then one answer line per key line, until ``stopping()``."""
    iterator = iter(lines)
    setup = json.loads(next(iterator))
    kb = KnowledgeBase(setup["root"], state_dsn=setup.get("state_dsn"))
    if "arriving" in setup:
        known: KnownKeys | frozenset[str] = KnownKeys(kb, IssueKeySet.from_data(setup["arriving"]))
    else:
        known = frozenset(setup["known_issue_keys"])
    stored_only = KnownKeys(kb) if "arriving" in setup else known
    options = RenderOptions.of(**setup["options"])
    try:
        _serve_keys(kb, iterator, write, stopping, known, stored_only, options)
    finally:
        kb.close()  # the state store's connection, before the process ends


def _serve_keys(
    kb: KnowledgeBase,
    iterator: Iterator[bytes],
    write: Any,
    stopping: Any,
    known: "KnownKeys | frozenset[str]",
    stored_only: "KnownKeys | frozenset[str]",
    options: RenderOptions,
) -> None:
    rendered = 0
    for line in iterator:
        if stopping():
            return
        key = line.decode("utf-8", errors="replace").strip()
        if not key:
            continue
        if key.startswith(UNCHANGED_MARK):
            outcomes = render_unchanged_locked(kb, key[len(UNCHANGED_MARK) :].split(), stored_only, options)
        else:
            outcomes = [render_locked(kb, key, known, options)]  # never raises: one issue never ends the child
        rendered += len(outcomes)
        if rendered >= RELEASE_EVERY_RENDERS:
            rendered = 0
            release_free_memory()
        write(
            "".join(
                json.dumps({"key": o.key, "written": o.written, "error": o.error, "details": o.details}) + "\n"
                for o in outcomes
            )
        )


def lower_priority(increment: int = RENDER_NICENESS) -> None:
    """Lower this process's CPU priority by ``increment`` (where the platform has ``os.nice``; never fatal)."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(increment)


def main() -> int:
    lower_priority()
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr  # anything else printed must not corrupt the answers
    stop = threading.Event()
    # SIGTERM from RenderWorker.close(abandon=True): finish the file being written (it is written
    # atomically anyway), then stop; SIGINT (Ctrl-C in a terminal) the same.
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    try:
        serve(sys.stdin.buffer, stdout.write, stop.is_set)
        stdout.flush()
    except (BrokenPipeError, KeyboardInterrupt, StopIteration):
        return 1
    # Every answer is sent and the store closed: skip the interpreter's teardown (tens of
    # milliseconds of module cleanup) that the window's end would wait for.
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
