"""The one line a window's run logs (and `make demo` prints): what was searched and what it did."""

from datetime import UTC, date, datetime

from jarkdown_pipeline.orchestration.metadata import window_summary
from jarkdown_pipeline.sync import AttachmentsStageResult, IssuesStageResult, MarkdownStageResult, WindowResult
from jarkdown_pipeline.window_search import WindowSearch


def window(keys: list[str], since: datetime | None) -> WindowResult:
    search = WindowSearch(None, date(2026, 11, 20), date(2026, 11, 21), "d", "window", "jql", since, "why")
    issues = IssuesStageResult(jql="jql", keys=keys, unchanged=list(keys))
    markdown = MarkdownStageResult(unchanged=list(keys))
    return WindowResult(issues, AttachmentsStageResult(), markdown, search=search)


def test_the_summary_says_whether_the_whole_window_or_its_changes_were_searched():
    assert window_summary(window(["A-1", "A-2"], None)).startswith(
        "2 issues in the window: 0 files written, 2 unchanged, 0 failed; 0 fetched;"
    )
    changes = window_summary(window(["A-1"], datetime(2026, 11, 20, 17, 32, tzinfo=UTC)), {"requests": 1}, 0.1)
    assert changes.startswith("1 issue changed in the window: 0 files written, 1 unchanged, 0 failed;")
    assert changes.endswith("; 1 requests (API and attachments), 0 retried; 0.1 s")
