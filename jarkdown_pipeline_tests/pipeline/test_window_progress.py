"""A window says how far it is while it runs (the run's log, `make demo`)."""

import re
from datetime import date

from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.sync import mirror_window
from jarkdown_pipeline.window_search import window_jql
from jarkdown_pipeline_tests.plugins.pipeline import issues_updated_on, sample_config

DAY = date(2026, 11, 20)


async def test_progress_lines_count_up_to_the_whole_window(tmp_path):
    lines: list[str] = []
    # 20 ms per request: the window lasts long enough for several reports at a 10 ms interval.
    with run_sample_jira_in_thread(sample_config(latency_seconds=0.02)) as jira:
        expected = issues_updated_on(jira, DAY)
        kb = KnowledgeBase(tmp_path)
        async with JiraApiClient(jira.base_url, jira.email, jira.api_token) as client:
            window = await mirror_window(
                client,
                kb,
                window_jql(None, DAY, date(2026, 11, 21)),
                field_definitions=[],
                base_url=jira.base_url,
                on_progress=lines.append,
                progress_interval=0.01,
            )
    assert sorted(window.markdown.written) == sorted(expected)
    assert len(lines) >= 2, lines
    # While the search still pages (it streams), a line counts the issues found so far; then the total.
    paging = re.compile(r"(\d+) issues of (\d+) found so far \(search still paging\)")
    counted = re.compile(rf"(\d+) of {len(expected)} issues")
    matches = [paging.match(line) or counted.match(line) for line in lines]
    assert all(matches), lines
    done = [int(match.group(1)) for match in matches]
    assert counted.match(lines[-1]), lines
    assert done == sorted(done), "issues done never go down"
    assert all(" attachments (" in line for line in lines)
