"""Writes the fixture jarkdown_pipeline_tests/fixtures/kb_v1/: a knowledge base as the sidecar-file version wrote it.

Run once with the code of that version (before the state store was wired in), then commit the result:

    .venv/bin/python -m jarkdown_pipeline_tests.state_store.make_kb_v1 [OUTPUT]

It mirrors two days of a small sample Jira (tiny attachments, few comments) with ``sync.mirror_window``, so
files link locally to each other and to Jira for issues outside those days, writes ``index.md``, then
deletes one issue from the sample Jira and reconciles, so ``_removed/`` holds it and its linkers were
re-rendered. The data set is generated around a fixed instant: the same files every time, but for the
render records' digests and mtimes (they depend on the renderer's environment and the clock).
"""

import asyncio
import os
import shutil
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jarkdown_pipeline import sync
from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.config import SampleJiraConfig
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "kb_v1"
CONFIG = SampleJiraConfig(
    seed=12,
    issue_count=30,
    projects=("ALPHA", "BETA"),
    days=4,
    now=datetime(2026, 11, 21, 9, 0, tzinfo=ZoneInfo("UTC")),
    min_attachments_per_issue=0,
    max_attachments_per_issue=2,
    attachment_min_bytes=20,
    attachment_max_bytes=300,
    max_comments_per_issue=2,
    max_worklogs_per_issue=2,
    inline_comment_limit=2,
    inline_worklog_limit=2,
    time_zone="UTC",
    port=18089,  # fixed: the base URL is in the files' Jira links
    media_port=18090,
)
FIRST_DAY, END_DAY = date(2026, 11, 18), date(2026, 11, 21)  # three of the four days: some links stay in Jira


async def write_knowledge_base(root: Path) -> None:
    kb = KnowledgeBase(root)
    with run_sample_jira_in_thread(CONFIG) as jira:
        async with JiraApiClient(jira.base_url, jira.email, jira.api_token) as client:
            fields = await client.fetch_fields()
            kb.write_fields(fields)
            options = sync.render_issue_options(fields, jira.base_url, None, ())
            result = await sync.mirror_window(client, kb, sync.window_jql(None, FIRST_DAY, END_DAY), **options)
            assert not (result.issues.failed or result.attachments.failed or result.markdown.failed), result
            kb.rebuild_index()
            linked_to = [key for key in sorted(kb.raw_issue_keys()) if kb.files_linking_to([key])]
            gone = linked_to[0]
            jira.delete_issue(gone)
            long_ago = time.time() - 3600  # reconciliation keeps what was stored while its search ran
            for path in (kb.raw_path(gone), kb.markdown_path(gone)):
                os.utime(path, (long_ago, long_ago))

            def rerender(key: str) -> bool:
                return kb.render_issue_file(key, known_issue_keys=kb.raw_issue_keys(), **options)

            reconciled = await sync.reconcile(client, kb, sync.scope_jql_since(None, FIRST_DAY), rerender=rerender)
            assert reconciled.moved == [gone], reconciled
            kb.rebuild_index()
            assert kb.files_linking_to(kb.raw_issue_keys()), "the fixture needs local links between issues"
    (kb.state_dir / "lock").unlink(missing_ok=True)


def main(argv: list[str]) -> None:
    root = Path(argv[1]) if len(argv) > 1 else FIXTURE
    shutil.rmtree(root, ignore_errors=True)
    asyncio.run(write_knowledge_base(root))
    print(f"wrote {root}")


if __name__ == "__main__":
    main(sys.argv)
