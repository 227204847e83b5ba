"""The knowledge base and its state store: a reentrant lock, the first open of an older knowledge base,
render records and link lookups in the store instead of sidecar files and file scans."""

import os
import threading
from pathlib import Path

import pytest

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.knowledge_base.render_cache import RenderOptions
from jarkdown_pipeline.state_store import sqlite_path
from jarkdown_pipeline_tests.plugins.knowledge_base import linked_issue as issue

OPTIONS = {"field_definitions": [], "base_url": "https://example.atlassian.net"}


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside ``.jarkdown/``: its bytes and mtime."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".jarkdown" not in path.relative_to(root).parts
    }


def test_the_lock_is_reentrant_in_its_thread_and_excludes_other_threads(tmp_path):
    kb = KnowledgeBase(tmp_path)
    events = []

    def take_it_in_another_thread() -> None:
        with kb.lock():
            events.append("other")

    with kb.lock():
        with kb.lock():  # a no-op: the same thread holds it
            events.append("inner")
        other = threading.Thread(target=take_it_in_another_thread)
        other.start()
        other.join(0.3)
        assert events == ["inner"], "another thread waits while this one holds the lock"
        events.append("released")
    other.join(5)
    assert events == ["inner", "released", "other"]


def test_the_store_can_be_opened_while_the_lock_is_held(tmp_path):
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(issue("ABC-1"))
    with kb.lock():  # the store is built under the lock the thread already holds: no deadlock
        assert kb.store.issue_keys() == ["ABC-1"]
    assert sqlite_path(tmp_path).is_file()
    kb.close()


def test_first_open_of_a_sidecar_file_knowledge_base_migrates_it_without_rewriting_anything(kb_v1, monkeypatch):
    before = snapshot(kb_v1)
    kb = KnowledgeBase(kb_v1)
    keys = kb.markdown_issue_keys()
    assert keys and not sqlite_path(kb_v1).exists()
    reads = []
    original = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self.name) or original(self, *a, **k))
    kb.store  # built from the files (each Markdown file read once for its links)
    reads.clear()
    rows, problems = kb.index_rows()
    assert problems == [] and [row["key"] for row in rows] == keys
    assert reads == [], "every index row comes from the migrated render records, no file is parsed"
    assert kb.verify_issue_files(keys) == ([], []) and reads == []
    assert snapshot(kb_v1) == before, "no Markdown or attachment file was written or touched"
    kb.close()


def test_rendering_records_in_the_store_and_writes_no_sidecar_file(tmp_path):
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(issue("ABC-1", linked="ABC-2"))
    kb.write_raw_issue(issue("ABC-3"))
    assert kb.render_issue_file("ABC-1", known_issue_keys=["ABC-1"], **OPTIONS)
    assert kb.render_issue_file("ABC-3", known_issue_keys=["ABC-1", "ABC-3"], **OPTIONS)
    record = kb.store.get_issues(["ABC-1"])["ABC-1"]
    stat = kb.markdown_path("ABC-1").stat()
    assert (record.markdown_size, record.markdown_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert record.issue_id == "1" and record.updated == "2026-11-20T10:00:00.000+0000" and record.state == "live"
    assert record.index_row["summary"] == "Summary of ABC-1" and record.jira_links == frozenset({"ABC-2"})
    assert not kb.rendered_dir.exists()
    assert kb.files_linking_to_jira(["ABC-2"]) == ["ABC-1"]
    assert kb.files_linking_to_jira(["ABC-2"], skip=["ABC-1"]) == []
    assert kb.files_linking_to(["ABC-2"]) == [] and kb.files_linking_to_jira(["ABC-3"]) == []
    # Once ABC-2 is known, ABC-1 links to its file: the store's link table says so.
    kb.write_raw_issue(issue("ABC-2"))
    assert kb.render_issue_file("ABC-1", known_issue_keys=["ABC-1", "ABC-2"], **OPTIONS)
    assert kb.files_linking_to(["ABC-2"]) == ["ABC-1"] and kb.files_linking_to_jira(["ABC-2"]) == []
    # A removed issue links to nothing any more.
    assert kb.move_to_removed("ABC-1") and kb.files_linking_to(["ABC-2"]) == []
    kb.close()


def test_the_store_file_is_never_written_through_a_symbolic_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    kb = KnowledgeBase(tmp_path / "kb")
    kb.state_dir.mkdir(parents=True)
    os.symlink(outside / "state.sqlite3", sqlite_path(kb.root))
    with pytest.raises(Exception, match="symbolic link"):
        kb.store
    assert list(outside.iterdir()) == []


def test_a_render_process_records_in_the_same_store(tmp_path):
    import asyncio

    from jarkdown_pipeline.render_worker import RenderWorker

    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(issue("ABC-1"))

    async def render() -> None:
        async with await RenderWorker.start(kb, ["ABC-1"], OPTIONS) as worker:
            assert (await worker.render("ABC-1")).written is True

    asyncio.run(render())
    assert kb.store.get_issues(["ABC-1"])["ABC-1"].render_inputs is not None
    kb.close()


def test_an_epics_file_follows_its_children_in_the_store(tmp_path):
    kb = KnowledgeBase(tmp_path)
    epic = issue("ABC-1")
    story = issue("ABC-2")
    story["fields"]["parent"] = {"id": "1", "key": "ABC-1", "fields": {"issuetype": {"name": "Epic"}}}
    for raw in (epic, story):
        kb.write_raw_issue(raw)
    known = frozenset({"ABC-1", "ABC-2"})
    assert kb.render_issue_file("ABC-1", known_issue_keys=known, **OPTIONS)
    options = RenderOptions.of(**OPTIONS)  # the render worker asks which files are current
    assert kb.current_issue_files(["ABC-1"], options, known_issue_keys=known) == {"ABC-1"}
    assert kb.store.parents_with_children_changed_since(0) == []

    # The story is rendered: the store names its parent, the epic is marked and no longer current.
    revision = kb.store.current_revision()
    assert kb.render_issue_file("ABC-2", known_issue_keys=known, **OPTIONS)
    assert kb.store.parents_with_children_changed_since(revision) == ["ABC-1"]
    assert kb.current_issue_files(["ABC-1"], options, known_issue_keys=known) == set()
    assert kb.render_issue_file("ABC-1", known_issue_keys=known, **OPTIONS)
    text = kb.markdown_path("ABC-1").read_text("utf-8")
    assert "## Children\n\n- [ABC-2](../ABC-2/ABC-2.md): Summary of ABC-2\n" in text
    assert kb.current_issue_files(["ABC-1"], options, known_issue_keys=known) == {"ABC-1"}
    assert not kb.render_issue_file("ABC-1", known_issue_keys=known, **OPTIONS)  # decided from the record
    kb.close()
