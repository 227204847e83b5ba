"""The incremental index: after any series of changes, the files on disk are exactly ``index_pages``
of all the rows, and an update re-renders only the pages of what changed."""

import random
from pathlib import Path

import pytest

import jarkdown_pipeline.markdown.index as index_module
from jarkdown_pipeline.index_update import read_state, state_path
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.markdown.index import index_pages

OPTIONS = {"field_definitions": [], "base_url": "https://x.example"}


@pytest.fixture
def kb(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "INDEX_PAGE_MAX_ROWS", 3)  # small projects cross the threshold
    monkeypatch.setattr(index_module, "RECENT_ROWS", 4)
    kb = KnowledgeBase(tmp_path / "kb")
    yield kb
    kb.close()


def store_issue(kb: KnowledgeBase, key: str, summary: str, minute: int) -> None:
    updated = f"2026-11-20T10:{minute:02d}:00.000+0000"
    kb.write_raw_issue({"id": key.rpartition("-")[2], "key": key, "fields": {"summary": summary, "updated": updated}})
    kb.render_issue_file(key, known_issue_keys=[key], **OPTIONS)


def on_disk(kb: KnowledgeBase) -> dict[str, str]:
    return {kb.relative(path): path.read_text(encoding="utf-8") for path in kb.index_files()}


def expected(kb: KnowledgeBase) -> dict[str, str]:
    rows, problems = kb.index_rows()
    assert problems == []
    return index_pages(rows)


@pytest.mark.parametrize("seed", range(4))
def test_after_incremental_updates_the_index_is_what_a_full_rebuild_writes(kb, seed):
    chance = random.Random(seed)
    keys = [f"{project}-{number}" for project in ("ABC", "XY") for number in range(1, 9)]
    live: set[str] = set()
    removed: set[str] = set()
    kinds = []
    for step in range(40):
        for _ in range(chance.randint(1, 3)):
            key = chance.choice(keys)
            action = chance.random()
            if key in live and action < 0.25:
                kb.move_to_removed(key)
                live.discard(key)
                removed.add(key)
            elif key in removed and action < 0.5:
                kb.restore_from_removed(key)
                removed.discard(key)
                live.add(key)
            elif key not in removed:
                # A new or edited issue; now and then older than before (it may leave "Recently updated").
                store_issue(kb, key, f"{key} at step {step}", chance.randint(0, 59))
                live.add(key)
        update = kb.rebuild_index()
        kinds.append(update.full)
        assert on_disk(kb) == expected(kb), f"step {step}: the index differs from a full rebuild's"
        assert len(update[0]) == len(live)
    assert kinds[0] is True and kinds.count(False) >= 20, "most updates are incremental"


def test_an_update_renders_only_the_changed_pages_and_index_md(kb):
    for key in ("ABC-1", "ABC-2", "ABC-3", "ABC-4", "ABC-5", "XY-1", "XY-2"):
        store_issue(kb, key, f"About {key}", 1)
    first = kb.rebuild_index()
    assert first.full and set(first.rendered) == {"index.md", "_index/ABC/1-3.md", "_index/ABC/4-6.md", "_index/XY.md"}
    mtimes = {path: (kb.root / path).stat().st_mtime_ns for path in first.rendered}
    store_issue(kb, "ABC-5", "Edited", 2)
    update = kb.rebuild_index()
    assert not update.full and update.rendered == ["_index/ABC/4-6.md", "index.md"]
    assert (kb.root / "_index/ABC/1-3.md").stat().st_mtime_ns == mtimes["_index/ABC/1-3.md"]
    assert (kb.root / "_index/XY.md").stat().st_mtime_ns == mtimes["_index/XY.md"]
    assert kb.rebuild_index().rendered == ["index.md"], "nothing changed: index.md is rendered, and not written"
    assert on_disk(kb) == expected(kb)


def test_an_update_of_a_big_project_reads_the_rows_of_its_touched_blocks_only(kb, monkeypatch):
    for number in range(1, 10):  # three blocks of 3
        store_issue(kb, f"ABC-{number}", f"About ABC-{number}", 1)
    assert kb.rebuild_index().full
    store_issue(kb, "ABC-5", "Edited", 2)
    asked: list[str] = []
    listed: list[str | None] = []
    get_issues, issue_keys = kb.store.get_issues, kb.store.issue_keys

    def counted_get_issues(keys):
        keys = list(keys)
        asked.extend(keys)
        return get_issues(keys)

    def counted_issue_keys(**options):
        listed.append(options.get("project"))
        return issue_keys(**options)

    monkeypatch.setattr(kb.store, "get_issues", counted_get_issues)
    monkeypatch.setattr(kb.store, "issue_keys", counted_issue_keys)
    update = kb.rebuild_index()
    assert not update.full and update.rendered == ["_index/ABC/4-6.md", "index.md"]
    assert listed == [], "the project's key list is not read"
    assert sorted(asked) == ["ABC-4", "ABC-5", "ABC-6"]
    assert on_disk(kb) == expected(kb)


def test_a_full_rebuild_when_the_state_is_missing_damaged_or_from_other_code(kb, monkeypatch):
    store_issue(kb, "ABC-1", "One", 1)
    assert kb.rebuild_index().full
    assert not kb.rebuild_index().full
    state_path(kb).write_text("{not json")
    assert read_state(kb) is None and kb.rebuild_index().full
    monkeypatch.setattr("jarkdown_pipeline.index_update.index_fingerprint", lambda: "other code")
    assert kb.rebuild_index().full and not kb.rebuild_index().full
    state_path(kb).unlink()
    assert kb.rebuild_index().full
    kb.index_path.unlink()
    assert kb.rebuild_index().full and kb.index_path.is_file()
    assert on_disk(kb) == expected(kb)


def test_a_rebuilt_store_means_a_full_index_rebuild(kb):
    from jarkdown_pipeline.state_store import rebuild_from_files

    store_issue(kb, "ABC-1", "One", 1)
    kb.rebuild_index()
    rebuild_from_files(kb.store, kb.root)
    assert kb.rebuild_index().full


def test_a_deleted_and_rebuilt_store_means_a_full_index_rebuild_even_once_its_revisions_pass_the_saved_one(kb):
    from jarkdown_pipeline.state_store import sqlite_path

    for number in range(1, 6):
        store_issue(kb, f"ABC-{number}", f"ABC-{number} first", number)
    kb.rebuild_index()
    kb.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_path(kb.root)}{suffix}").unlink(missing_ok=True)
    again = KnowledgeBase(kb.root)  # rebuilt from the files: its revisions count from 1 again
    for number in range(1, 9):
        store_issue(again, f"ABC-{number}", f"ABC-{number} second", number + 10)
    assert again.rebuild_index().full
    assert on_disk(again) == expected(again)
    again.close()
