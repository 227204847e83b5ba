"""A run's cost follows what it changed, not the size of the knowledge base (issue 12).

Two knowledge bases, one about five times the other, are mirrored from the sample Jira through the
real job; then one issue is edited in Jira and the day of its edit is run. That run opens the same
few Markdown files whatever the size: the edited issue's file, the index page listing it and
``index.md`` (written only if their bytes change, checked by the run's checks). Counted, not timed.
"""

import builtins
import io
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline_tests.plugins.pipeline import build_pipeline, materialization_metadata, sample_config

BACKFILL_DAYS = ("2026-11-20", "2026-11-21")  # the sample's issues are all updated in these two days
EDIT_DAY = "2026-11-22"
EDITED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("UTC"))


class FileOpens:
    """Files under ``root`` opened for reading by this process, relative to the root."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())
        self.opened: list[str] = []

    def wrap(self, real_open):
        def counting_open(file, mode="r", *args, **kwargs):
            name = os.fspath(file) if isinstance(file, (str, bytes, os.PathLike)) else ""
            if isinstance(name, str) and name.startswith(self.root) and "r" in mode and "+" not in mode:
                self.opened.append(os.path.relpath(name, self.root))
            return real_open(file, mode, *args, **kwargs)

        return counting_open


def incremental_run_opens(tmp_path: Path, issue_count: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], dict]:
    config = sample_config(issue_count=issue_count, days=1, max_attachments_per_issue=0, max_comments_per_issue=2)
    with run_sample_jira_in_thread(config) as jira:
        pipeline = build_pipeline(jira, tmp_path / f"kb-{issue_count}")
        for day in BACKFILL_DAYS:
            assert pipeline.run(day).success
        kb = pipeline.kb
        stored = kb.markdown_issue_keys()
        assert len(stored) >= issue_count * 0.9, "the backfill mirrored the knowledge base"
        edited = stored[len(stored) // 2]
        jira.touch_issue(edited, updated=EDITED_AT)
        counter = FileOpens(kb.root)
        with monkeypatch.context() as patch:
            patch.setattr(builtins, "open", counter.wrap(builtins.open))
            patch.setattr(io, "open", counter.wrap(io.open))
            result = pipeline.run(EDIT_DAY)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 5 and all(evaluation.passed for evaluation in checks)
        assert materialization_metadata(result, "jira_markdown")["written"] == 1
        text = kb.markdown_path(edited).read_text(encoding="utf-8")
        assert "(edit 1)" in text, "the edit reached the issue file"
        assert "(edit 1)" in kb.index_path.read_text(encoding="utf-8"), "and the index's recent updates"
        markdown_opened = [path for path in counter.opened if path.endswith(".md")]
        return markdown_opened, {"edited": edited, "issues": len(stored)}


def test_an_incremental_run_opens_the_same_few_files_whatever_the_size(tmp_path, monkeypatch):
    small, small_facts = incremental_run_opens(tmp_path, 60, monkeypatch)
    big, big_facts = incremental_run_opens(tmp_path, 300, monkeypatch)
    assert big_facts["issues"] >= 4 * small_facts["issues"]
    assert len(big) == len(small) <= 8, (small, big)
    for opened, facts in ((small, small_facts), (big, big_facts)):
        key = facts["edited"]
        issue_files = {path for path in opened if not path.startswith("_index/") and path != "index.md"}
        assert issue_files <= {f"{key}/{key}.md"}, opened


def files_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file but the run records and the state store's own files."""
    found = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith((".jarkdown/runs/", ".jarkdown/state.sqlite3")):
            stat = path.stat()
            found[relative] = (stat.st_ino, stat.st_mtime_ns)
    return found


def test_an_unchanged_day_reads_no_issue_json_and_rewrites_nothing(tmp_path, monkeypatch):
    """Searched whole again right after its backfill, a day whose issues are all unchanged in Jira
    decides so from the search and the state store: no raw JSON is read, no issue file but the one the
    asset shows as its preview, and no file of the knowledge base is written (the rendering happens in
    this process: under 100 issues a window)."""
    config = sample_config(issue_count=120, days=1, max_attachments_per_issue=1, max_comments_per_issue=2)
    with run_sample_jira_in_thread(config) as jira:
        pipeline = build_pipeline(jira, tmp_path / "kb")
        for day in BACKFILL_DAYS:
            assert pipeline.run(day).success
        kb = pipeline.kb
        in_day = materialization_metadata(pipeline.run(BACKFILL_DAYS[1]), "jira_markdown")
        assert in_day["written"] == 0
        before = files_snapshot(kb.root)
        counter = FileOpens(kb.root)
        with monkeypatch.context() as patch:
            patch.setattr(builtins, "open", counter.wrap(builtins.open))
            patch.setattr(io, "open", counter.wrap(io.open))
            result = pipeline.run(BACKFILL_DAYS[1], whole_window=True)
        assert result.success
        assert materialization_metadata(result, "jira_issues")["search"].startswith("the whole window: asked for")
        metadata = materialization_metadata(result, "jira_markdown")
        assert metadata["written"] == 0 and metadata["unchanged"] >= 20, metadata
    raw_read = [path for path in counter.opened if path.startswith(".jarkdown/raw/")]
    assert raw_read == [], raw_read
    # Markdown read: index.md (the index and its check) and the one issue file the asset previews.
    issue_files_read = {path for path in counter.opened if path.endswith(".md") and path != "index.md"}
    assert len(issue_files_read) <= 1 and not any(path.startswith("_index/") for path in issue_files_read), (
        counter.opened
    )
    after = files_snapshot(kb.root)
    assert sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path)) == []
