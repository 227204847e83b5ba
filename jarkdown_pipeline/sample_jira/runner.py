"""Run the sample Jira on its own event loop in a background thread, for synchronous callers.

Sync tests that call Dagster's materialize() in the same process need the server on another
loop; `run_sample_jira_in_thread` gives them one:

    with run_sample_jira_in_thread(SampleJiraConfig(issue_count=40)) as jira:
        jira.base_url, jira.email, jira.api_token, jira.stats
"""

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from jarkdown_pipeline.sample_jira.app import SampleJira
from jarkdown_pipeline.sample_jira.config import SampleJiraConfig
from jarkdown_pipeline.sample_jira.data import Dataset

T = TypeVar("T")


class SampleJiraThread:
    """A SampleJira running in a daemon thread; every method is safe to call from any thread."""

    def __init__(self, config: SampleJiraConfig | None = None) -> None:
        self.server = SampleJira(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 60.0) -> "SampleJiraThread":
        self._thread = threading.Thread(target=self._run, name="sample-jira", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the sample Jira did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the sample Jira failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn on the server's loop (where the data lives) and return its result."""
        if self._loop is None:
            raise RuntimeError("the sample Jira is not running")

        async def invoke() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(30)

    # The same surface as SampleJira, made thread-safe.
    @property
    def config(self) -> SampleJiraConfig:
        return self.server.config

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def media_url(self) -> str:
        return self.server.media_url

    @property
    def email(self) -> str:
        return self.server.email

    @property
    def api_token(self) -> str:
        return self.server.api_token

    @property
    def dataset(self) -> Dataset:
        """The live data set; read it while no requests run, or copy what you need via call()."""
        return self.server.dataset

    @property
    def stats(self) -> dict[str, Any]:
        return self.call(lambda: self.server.stats)

    def stats_with_trace(self) -> dict[str, Any]:
        return self.call(self.server.stats_with_trace)

    def reset_stats(self) -> None:
        self.call(self.server.reset_stats)

    def info(self) -> dict[str, Any]:
        return self.call(self.server.info)

    def touch_issue(self, key: str, updated: datetime | None = None, comment: str | None = None) -> dict[str, Any]:
        return self.call(self.server.touch_issue, key, updated=updated, comment=comment)

    def delete_issue(self, key: str) -> list[str]:
        return self.call(self.server.delete_issue, key)

    def expected_attachment_bytes(self, attachment_id: int | str) -> Iterator[bytes]:
        return self.server.expected_attachment_bytes(attachment_id)

    def __enter__(self) -> "SampleJiraThread":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def run_sample_jira_in_thread(config: SampleJiraConfig | None = None, **overrides: Any) -> Iterator[SampleJiraThread]:
    """Start a sample Jira in a background thread; stop it on exit. Overrides change the config."""
    config = config or SampleJiraConfig()
    if overrides:
        config = config.replace(**overrides)
    runner = SampleJiraThread(config).start()
    try:
        yield runner
    finally:
        runner.stop()
