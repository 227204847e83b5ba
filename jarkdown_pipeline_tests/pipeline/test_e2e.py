"""End to end: the pipeline through Dagster against the sample Jira with its faults on, checked
against the sample's own data (the generator, in process), and the `make demo` command itself.

Faults: 429 with Retry-After, a 503 burst, attachment downloads cut half-way, an issue deleted
between search and fetch, and a bulk fetch reporting an issue in issueErrors. The server records
when each API request arrived and left, so "Retry-After honoured" is read from the server's side.
"""

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import yaml
from aiohttp import web

from jarkdown_pipeline import jira_api_client
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.app import SampleJira
from jarkdown_pipeline.sample_jira.config import FaultConfig, SampleJiraConfig
from jarkdown_pipeline.sample_jira.runner import SampleJiraThread
from jarkdown_pipeline.tools.pipeline_cli import backfill_command
from jarkdown_pipeline_tests.plugins.pipeline import (
    PARTITION,
    build_pipeline,
    issues_updated_on,
    pipeline_environment,
    run_demo,
    sample_config,
    snapshot,
)

RETRY_AFTER_SECONDS = 1.0
# Request numbers (API host, from 1) that answer 429 / 503: early ones, so both runs' first
# requests (credentials check, search, bulk fetch) meet them.
RATE_LIMITED_REQUESTS = frozenset({2, 7, 12})
UNAVAILABLE_BURST = (4, 2)
# Above what the client asks Jira for directly: streamed from the media host, as Cloud redirects.
LARGE_ATTACHMENT_BYTES = jira_api_client.DIRECT_DOWNLOAD_MAX_BYTES + 4096


@dataclass
class RecordedRequest:
    arrived: float
    answered: float
    method: str
    target: str
    body_digest: str
    body: bytes
    status: int
    retry_after: str | None

    @property
    def identity(self) -> tuple[str, str, str]:
        """Same method, URL and body: a retry of the same call."""
        return self.method, self.target, self.body_digest


class RecordingSampleJira(SampleJira):
    """The sample Jira, plus a log of every API request with its arrival and answer times."""

    def __init__(self, config: SampleJiraConfig) -> None:
        super().__init__(config)
        self.request_log: list[RecordedRequest] = []

    def _build_api_app(self) -> web.Application:
        app = super()._build_api_app()
        app.middlewares.insert(0, self._record)  # outermost: sees the faults the inner one injects
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler) -> web.StreamResponse:
        if not request.path.startswith("/rest/"):
            return await handler(request)
        arrived = time.monotonic()
        body = await request.read()  # cached by aiohttp: the handler still reads it
        response = await handler(request)
        self.request_log.append(
            RecordedRequest(
                arrived,
                time.monotonic(),
                request.method,
                request.path_qs,
                hashlib.sha256(body).hexdigest(),
                body,
                response.status,
                response.headers.get("Retry-After"),
            )
        )
        return response


@pytest.fixture
def start_recording_jira() -> Iterator:
    started: list[SampleJiraThread] = []

    def start(config: SampleJiraConfig) -> SampleJiraThread:
        runner = SampleJiraThread(config)
        runner.server = RecordingSampleJira(config)
        started.append(runner.start())
        return runner

    yield start
    for runner in started:
        runner.stop()


def faulty_config(days: list[date]) -> tuple[SampleJiraConfig, list[str]]:
    """Faults aimed at the days' issues: one vanishes, one errs in bulk fetch once, half the downloads
    are cut; and the keys updated on those days (read from the generator, before any fault). One
    issue has an attachment too large to ask Jira for directly: it comes from the media host."""
    with SampleJiraThread(sample_config()) as probe:
        keys = sorted(set().union(*(issues_updated_on(probe, day) for day in days)))
        with_attachments = [key for key in keys if probe.dataset.issues[key].attachments]
    faults = FaultConfig(
        rate_limit_requests=RATE_LIMITED_REQUESTS,
        retry_after_seconds=RETRY_AFTER_SECONDS,
        unavailable_bursts=(UNAVAILABLE_BURST,),
        cut_download_rate=0.5,
        vanished_issue_keys=frozenset({keys[0]}),
        bulkfetch_error_keys=frozenset({with_attachments[-1]}),
    )
    large = next(key for key in keys if key not in (keys[0], with_attachments[-1]))
    return sample_config(faults=faults, huge_attachment_bytes=LARGE_ATTACHMENT_BYTES, huge_attachment_issue=large), keys


def section(markdown: str, title: str) -> list[str]:
    """The lines of the `## title` section (up to the next second-level heading)."""
    lines = markdown.splitlines()
    if f"## {title}" not in lines:
        return []
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


COMMENT_HEADING = re.compile(r"^### (.+) · \d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def unescape(markdown_text: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown_text)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def assert_knowledge_base_matches_sample(kb: KnowledgeBase, jira: SampleJiraThread, expected: set[str]) -> None:
    """Every issue of the window and nothing else; every comment, worklog and attachment, byte-exact."""
    assert set(kb.markdown_issue_keys()) == expected
    assert kb.raw_issue_keys() == expected
    root = kb.root.resolve()
    for key in sorted(expected):
        sample = jira.dataset.issues[key]
        markdown = kb.markdown_path(key).read_text(encoding="utf-8")
        frontmatter = yaml.safe_load(markdown.split("---\n")[1])
        assert frontmatter["key"] == key
        assert (frontmatter["comment_count"], frontmatter["worklog_count"]) == (
            len(sample.comments),
            len(sample.worklogs),
        ), key

        # Comments: all of them, paged past Jira's inline 20, each under its author's heading.
        raw = kb.read_raw_issue(key)
        assert [c["id"] for c in raw["fields"]["comment"]["comments"]] == [c.id for c in sample.comments], key
        headings = [
            unescape(m.group(1)) for line in section(markdown, "Comments") if (m := COMMENT_HEADING.match(line))
        ]
        assert sorted(headings) == sorted(c.author.display_name for c in sample.comments), key

        # Worklogs: one table row each (header and separator rows aside).
        assert [w["id"] for w in raw["fields"]["worklog"]["worklogs"]] == [w.id for w in sample.worklogs], key
        rows = [line for line in section(markdown, "Worklogs") if line.startswith("| ")]
        assert len(rows) == (len(sample.worklogs) + 2 if sample.worklogs else 0), key

        # Attachments: exactly Jira's, byte for byte, inside the issue's folder, linked from the file.
        manifest = {entry["attachment_id"]: entry for entry in kb.read_attachment_manifest(key)}
        assert set(manifest) == {str(a.id) for a in sample.attachments}, key
        on_disk = {p.name for p in kb.attachments_dir(key).iterdir()} if kb.attachments_dir(key).exists() else set()
        assert on_disk == {entry["filename"] for entry in manifest.values()}, key  # no temp or stray files
        for attachment in sample.attachments:
            entry = manifest[str(attachment.id)]
            path = (kb.issue_dir(key) / entry["path"]).resolve()
            assert path.is_relative_to(root) and path.parent == kb.attachments_dir(key).resolve(), (key, entry)
            assert path.read_bytes() == b"".join(jira.expected_attachment_bytes(attachment.id)), (
                key,
                attachment.filename,
            )
    assert kb.issues_listed_in(kb.index_files()) == expected
    # Readable as any new file would be (0666 less the umask), not owner-only temp-file modes.
    new_file_mode = 0o666 & ~current_umask()
    written = [kb.index_path] + [
        p for key in expected for p in (kb.markdown_path(key), *kb.attachments_dir(key).glob("*"))
    ]
    assert {oct(path.stat().st_mode & 0o777) for path in written} == {oct(new_file_mode)}


def assert_retries_honoured_retry_after(log: list[RecordedRequest]) -> None:
    """Each 429 is retried (same call), and not before its Retry-After had passed; each 503 is retried."""
    limited = [r for r in log if r.status == 429]
    unavailable = [r for r in log if r.status == 503]
    assert limited and unavailable, "the faults should have hit some requests"
    for failed in limited + unavailable:
        retry = next((r for r in log if r.identity == failed.identity and r.arrived >= failed.answered), None)
        assert retry is not None, f"{failed.method} {failed.target} ({failed.status}) was never retried"
        if failed.status == 429:
            assert failed.retry_after == "1"
            # The server answered before the client could start waiting, so this gap is at least the wait.
            assert retry.arrived - failed.answered >= RETRY_AFTER_SECONDS - 0.02, (failed, retry)
    # Every distinct call eventually succeeded (or was a 404 of the vanished issue).
    final_status: dict[tuple, int] = {}
    for request in log:
        final_status[request.identity] = request.status
    assert {status for status in final_status.values()} <= {200, 303, 404}


def assert_fetched_only(log: list[RecordedRequest], allowed: set[str]) -> None:
    """Bulk fetches and single-issue GETs of this part of the log asked for `allowed` ids/keys only."""
    for request in log:
        if request.method == "POST" and request.target.endswith("/issue/bulkfetch"):
            assert {str(k) for k in json.loads(request.body)["issueIdsOrKeys"]} <= allowed, request
        elif request.method == "GET" and re.fullmatch(r"/rest/api/3/issue/[^/?]+(\?.*)?", request.target):
            assert request.target.split("/")[5].split("?")[0] in allowed, request


def without_run_records(files: dict) -> dict:
    return {path: stat for path, stat in files.items() if not path.startswith(".jarkdown/runs/")}


def test_one_partition_through_dagster_with_every_fault_then_a_rerun_that_does_nothing(tmp_path, start_recording_jira):
    config, keys = faulty_config([date.fromisoformat(PARTITION)])
    jira = start_recording_jira(config)
    vanished = next(iter(config.faults.vanished_issue_keys))
    expected = set(keys) - {vanished}
    assert len(expected) >= 4 and any(jira.dataset.issues[k].attachments for k in expected)
    assert any(len(jira.dataset.issues[k].comments) > config.inline_comment_limit for k in expected), (
        "paging must be exercised"
    )

    pipeline = build_pipeline(jira, tmp_path / "kb")
    result = pipeline.run()
    assert result.success, "\n".join(
        str(e.step_failure_data.error.to_string()) for e in result.all_events if e.is_step_failure
    )

    assert_knowledge_base_matches_sample(pipeline.kb, jira, expected)
    assert not pipeline.kb.issue_dir(vanished).exists()
    stats = jira.stats
    assert stats["rate_limited"] >= 1 and stats["unavailable"] >= 1 and stats["cut_downloads"] >= 1
    assert stats["media"]["requests"] >= 1  # the large attachment, by the redirect
    assert stats["media_requests_with_authorization"] == 0 and stats["media_requests_with_cookie"] == 0
    assert stats["media_token_rejections"] == 0
    assert_retries_honoured_retry_after(jira.server.request_log)

    # Nothing changed in Jira: the re-run downloads nothing, rewrites no file, and fetches only the
    # issue it could not get last time (search still lists it; it is still gone).
    before = without_run_records(snapshot(pipeline.kb.root))
    jira.reset_stats()
    first_run_requests = len(jira.server.request_log)
    result = pipeline.run()
    assert result.success
    stats = jira.stats
    assert stats["media"]["requests"] == 0 and stats["media"]["bytes_served"] == 0
    routes = stats["api"]["by_route"]
    assert routes.get("GET /rest/api/3/attachment/content/{id}", 0) == 0
    assert routes.get("GET /rest/api/3/issue/{key}/comment", 0) == 0
    assert_fetched_only(jira.server.request_log[first_run_requests:], {vanished, str(jira.dataset.issues[vanished].id)})
    assert without_run_records(snapshot(pipeline.kb.root)) == before


def test_demo_against_a_jira_with_faults_mirrors_a_range_in_one_cli_run_then_reruns_for_nothing(
    tmp_path, start_recording_jira
):
    """`make demo` with JIRA_BASE_URL set: the dagster CLI, one run over three days, faults on."""
    days = [date.fromisoformat(PARTITION) - timedelta(days=n) for n in (2, 1, 0)]
    config, keys = faulty_config(days)
    jira = start_recording_jira(config)
    expected = set(keys) - config.faults.vanished_issue_keys
    output_dir = tmp_path / "kb"
    environment = {**pipeline_environment(jira, output_dir), "JARKDOWN_START_DATE": days[0].isoformat()}
    arguments = ["--until", days[-1].isoformat(), "--dagster-home", str(tmp_path / "dagster_home")]

    done = run_demo(arguments, environment, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Mirroring {jira.base_url}" in done.stdout and f"{days[0]} .. {days[-1]}" in done.stdout
    assert "Sample Jira" not in done.stdout  # a Jira was configured: no sample server started
    kb = KnowledgeBase(output_dir)
    assert_knowledge_base_matches_sample(kb, jira, expected)
    assert f"{len(expected)} issues" in done.stdout
    assert jira.api_token not in done.stdout + done.stderr
    assert jira.stats["media"]["requests"] >= 1 and jira.stats["media_requests_with_authorization"] == 0
    assert_retries_honoured_retry_after(jira.server.request_log)
    # Nowhere in Dagster's storage or the output either: run and event-log databases, compute logs, the demo's log.
    stored = [path for path in (tmp_path / "dagster_home").rglob("*") if path.is_file()]
    stored += [path for path in output_dir.rglob("*") if path.is_file()]  # and not in the knowledge base
    assert any(path.suffix == ".db" for path in stored) and any(path.name.startswith("demo-") for path in stored)
    for path in stored:
        assert jira.api_token.encode() not in path.read_bytes(), path
    assert (
        json.loads(backfill_command(days[0], days[-1])[-1])["dagster/asset_partition_range_start"]
        == days[0].isoformat()
    )

    before = without_run_records(snapshot(output_dir))
    jira.reset_stats()
    first_run_requests = len(jira.server.request_log)
    done = run_demo(arguments, environment, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert jira.stats["media"]["requests"] == 0
    vanished = next(iter(config.faults.vanished_issue_keys))
    assert_fetched_only(jira.server.request_log[first_run_requests:], {vanished, str(jira.dataset.issues[vanished].id)})
    assert without_run_records(snapshot(output_dir)) == before
