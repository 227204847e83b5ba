"""The knowledge base writes the split index: only pages whose bytes change, stale pages removed."""

import pytest

import jarkdown_pipeline.markdown.index as index_module
from jarkdown_pipeline.knowledge_base import KnowledgeBase


@pytest.fixture
def kb(tmp_path):
    return KnowledgeBase(tmp_path / "kb")


def _add_issue(kb: KnowledgeBase, key: str) -> None:
    kb.write_raw_issue(
        {
            "id": key.rpartition("-")[2],
            "key": key,
            "fields": {"summary": f"About {key}", "updated": "2026-11-20T10:00:00.000+0000"},
        }
    )
    assert kb.render_issue_file(key, field_definitions=[], base_url="https://x.example", known_issue_keys=[key])


def _index_on_disk(kb: KnowledgeBase) -> dict[str, int]:
    return {kb.relative(path): path.stat().st_mtime_ns for path in kb.index_files()}


def test_pages_follow_the_issues_and_only_changed_pages_are_written(kb, monkeypatch):
    monkeypatch.setattr(index_module, "INDEX_PAGE_MAX_ROWS", 2)
    for key in ("ABC-1", "ABC-2", "ABC-3", "XY-1"):
        _add_issue(kb, key)
    rows, problems, written = kb.rebuild_index()
    assert written and problems == [] and len(rows) == 4
    before = _index_on_disk(kb)
    assert set(before) == {"index.md", "_index/ABC/1-2.md", "_index/ABC/3-4.md", "_index/XY.md"}
    assert kb.issues_listed_in(kb.index_files()) == {"ABC-1", "ABC-2", "ABC-3", "XY-1"}
    assert kb.broken_links(kb.index_files()) == []

    assert kb.rebuild_index()[2] is False, "nothing changed, nothing written"
    assert _index_on_disk(kb) == before

    kb.move_to_removed("ABC-3")  # it left the scope: the state store says so
    assert kb.rebuild_index()[2]
    after = _index_on_disk(kb)
    assert set(after) == {"index.md", "_index/ABC.md", "_index/XY.md"}, "ABC fits one page again: its block pages go"
    assert not (kb.index_dir / "ABC").exists()
    assert after["_index/XY.md"] == before["_index/XY.md"], "an untouched project's page is not rewritten"
