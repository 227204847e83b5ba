"""The store rebuilt from the files: migration from today's layout (fixtures/kb_v1), a deleted store, a damaged file."""

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest

from jarkdown_pipeline._json import dump_json, load_json
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.state_store import (
    DEFAULT_SCHEMA,
    IssueRecord,
    StateStoreDamaged,
    StateStoreError,
    StateStoreOfAnotherKnowledgeBase,
    open_state_store,
    rebuild_from_files,
    sqlite_path,
)
from jarkdown_pipeline_tests.plugins.state_store import KB_V1


def file_snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under ``root``."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            found[path.relative_to(root).as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def open_for(spec, root: Path, **options):
    return open_state_store(root, dsn=spec.dsn, schema=spec.schema or DEFAULT_SCHEMA, **options)


def all_records(store) -> dict[str, IssueRecord]:
    return store.get_issues(store.issue_keys() + store.issue_keys(state="removed") + store.issue_keys(state="moved"))


def assert_holds_the_knowledge_base(store, root: Path) -> None:
    """Everything the sidecar files and issue files say, as today's KnowledgeBase reads it."""
    kb, removed = KnowledgeBase(root), KnowledgeBase(root / "_removed")
    live_keys = kb.markdown_issue_keys()
    assert store.issue_keys() == live_keys
    assert store.issue_keys(state="removed") == removed.markdown_issue_keys()
    records = all_records(store)
    for folder, keys in ((kb, live_keys), (removed, removed.markdown_issue_keys())):
        for key in keys:
            raw, record = folder.read_raw_issue(key), records[key]
            assert (record.issue_id, record.updated) == (raw["id"], raw["fields"]["updated"])
            assert list(record.attachments) == folder.read_attachment_manifest(key)
            rendered = load_json(folder.rendered_record_path(key).read_bytes())
            assert (record.render_inputs, record.markdown_size, record.markdown_mtime_ns) == (
                rendered["inputs"],
                rendered["markdown_size"],
                rendered["markdown_mtime_ns"],
            )
            assert list(record.link_targets) == rendered["link_targets"]
    rows, problems = kb.index_rows()
    assert problems == [] and [records[key].index_row for key in live_keys] == rows
    for key in live_keys + removed.markdown_issue_keys():
        assert store.files_linking_to([key]) == kb.files_linking_to([key])
        assert store.files_linking_to([key], kind="jira") == kb.files_linking_to_jira([key], skip=[key])


def test_first_open_migrates_todays_layout_and_changes_no_file(kb_v1, store_spec):
    before = file_snapshot(kb_v1)
    with open_for(store_spec, kb_v1) as store:
        assert store.is_built()
        assert_holds_the_knowledge_base(store, kb_v1)
        # The fixture has what the test must see: both kinds of links, a removed issue linked in Jira.
        assert store.files_linking_to(["ALPHA-15"]) == ["ALPHA-1"]
        assert store.files_linking_to(["ALPHA-11"], kind="jira") == ["ALPHA-5"]
        assert store.issue_keys(state="removed") == ["ALPHA-11"]
        assert store.project_counts() == {"ALPHA": 10, "BETA": 11}
    after = file_snapshot(kb_v1)
    assert {name: after[name] for name in before} == before  # bytes and mtimes
    new_files = set(after) - set(before)
    assert new_files <= {
        ".jarkdown/knowledge_base_id",  # the knowledge base's id, which the store records as its owner
        ".jarkdown/lock",
        ".jarkdown/state.sqlite3",
        ".jarkdown/state.sqlite3-wal",
        ".jarkdown/state.sqlite3-shm",
    }


def test_files_changed_since_their_render_records_are_read_themselves(tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(KB_V1, root)  # mtimes are the checkout's, not the records': every record is stale
    edited = root / "BETA-4" / "BETA-4.md"
    edited.write_text(edited.read_text().replace("summary: ", "summary: Edited ", 1) + "\n[x](../ALPHA-1/ALPHA-1.md)\n")
    with open_state_store(root) as store:
        kb = KnowledgeBase(root)
        records = all_records(store)
        rows, problems = kb.index_rows()
        assert problems == [] and [records[key].index_row for key in kb.markdown_issue_keys()] == rows
        assert records["BETA-4"].index_row["summary"].startswith("Edited ")
        assert "../ALPHA-1/ALPHA-1.md" in records["BETA-4"].link_targets
        assert "BETA-4" in store.files_linking_to(["ALPHA-1"])


def delete_store(spec, root: Path) -> None:
    if spec.backend == "sqlite":
        sqlite_path(root).unlink()
    else:
        with spec.open() as store, store._write() as cursor:
            cursor.execute(f'DROP SCHEMA "{spec.schema}" CASCADE')


def test_a_deleted_store_is_rebuilt_the_same(kb_v1, store_spec):
    with open_for(store_spec, kb_v1) as store:
        first = all_records(store)
        store.upsert_issues([IssueRecord("ALPHA-1", issue_id="wrong")], fields={"issue_id"})
    delete_store(store_spec, kb_v1)
    with open_for(store_spec, kb_v1) as store:
        assert all_records(store) == first
        assert_holds_the_knowledge_base(store, kb_v1)


def test_an_open_store_is_not_rebuilt_again(kb_v1, store_spec):
    with open_for(store_spec, kb_v1) as store:
        built_at = store.current_revision()
        store.upsert_issues([IssueRecord("ALPHA-1", issue_id="kept")], fields={"issue_id"})
    with open_for(store_spec, kb_v1) as store:
        assert store.current_revision() == built_at + 1
        assert store.get_issues(["ALPHA-1"])["ALPHA-1"].issue_id == "kept"


def test_a_file_that_is_not_a_database_is_moved_aside_and_rebuilt(kb_v1):
    with open_state_store(kb_v1) as store:
        first = all_records(store)
    path = sqlite_path(kb_v1)
    damaged = b"this is no SQLite file" + path.read_bytes()[22:]
    path.write_bytes(damaged)
    with open_state_store(kb_v1) as store:
        assert all_records(store) == first
    [aside] = [p for p in path.parent.iterdir() if p.name.startswith("state.sqlite3.damaged-")]
    assert aside.read_bytes() == damaged  # kept for a post-mortem, not deleted


def test_damaged_pages_are_found_by_the_full_check(kb_v1):
    with open_state_store(kb_v1) as store:
        first = all_records(store)
    path = sqlite_path(kb_v1)
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    assert len(data) >= 4 * page_size  # a few pages: the first holds the schema, the last table rows
    data[-page_size:] = b"\xa5" * page_size
    path.write_bytes(bytes(data))
    with open_state_store(kb_v1) as store:  # the cheap check on open reads the schema, not every page
        with pytest.raises(StateStoreDamaged, match="state.sqlite3 is damaged"):
            all_records(store)
    with open_state_store(kb_v1, full_check=True) as store:
        assert all_records(store) == first
    assert any(p.name.startswith("state.sqlite3.damaged-") for p in path.parent.iterdir())


def write_issue(root: Path, key: str, issue_id: str, *, text: str | None = None) -> None:
    kb = KnowledgeBase(root)
    kb.write_raw_issue({"id": issue_id, "key": key, "fields": {"updated": "2026-11-20T10:00:00.000+0000"}})
    kb.write_markdown(key, text if text is not None else f"---\nkey: {key}\nsummary: s\n---\n# {key}\n")


def test_an_issue_removed_under_one_key_and_live_under_another_has_moved(tmp_path, store_spec):
    write_issue(tmp_path, "NEW-7", "100")
    write_issue(tmp_path / "_removed", "OLD-1", "100")
    write_issue(tmp_path / "_removed", "OLD-2", "200")
    with open_for(store_spec, tmp_path) as store:
        records = all_records(store)
    assert (records["OLD-1"].state, records["OLD-1"].moved_to) == ("moved", "NEW-7")
    assert (records["OLD-2"].state, records["NEW-7"].state) == ("removed", "live")


def test_unreadable_files_are_named_and_the_rest_is_kept(tmp_path, store):
    write_issue(tmp_path, "ABC-1", "1", text="no frontmatter\n[x](../ABC-2/ABC-2.md)\n")
    write_issue(tmp_path, "ABC-2", "2")
    (tmp_path / ".jarkdown" / "raw" / "ABC-2.json").write_bytes(b"{not json")
    (tmp_path / ".jarkdown" / "attachments").mkdir()
    (tmp_path / ".jarkdown" / "attachments" / "ABC-2.json").write_bytes(dump_json({"not": "a list"}))
    kb = KnowledgeBase(tmp_path)
    with kb.lock():  # as a caller would rebuild it: with the knowledge base's lock held
        result = rebuild_from_files(store, tmp_path)
        records = all_records(store)
    assert sorted(records) == ["ABC-1", "ABC-2"] and (result.live, result.removed, result.moved) == (2, 0, 0)
    assert records["ABC-1"].index_row is None and records["ABC-1"].local_links == {"ABC-2"}
    assert records["ABC-2"].issue_id is None and records["ABC-2"].index_row["summary"] == "s"
    assert [problem.split(": ", 1)[1][:30] for problem in result.problems] == [
        "no frontmatter: the file does ",
        "not readable JSON (Expecting p",
        "expected a JSON list, found di",
    ]
    assert [Path(problem.split(": ", 1)[0]).name for problem in result.problems] == [
        "ABC-1.md",
        "ABC-2.json",
        "ABC-2.json",
    ]


def test_open_state_store_takes_a_lock_the_caller_already_holds(tmp_path):
    write_issue(tmp_path, "ABC-1", "1")
    kb = KnowledgeBase(tmp_path)
    started = time.monotonic()
    with kb.lock(), open_state_store(tmp_path, lock=contextlib.nullcontext) as store:
        assert store.issue_keys() == ["ABC-1"]
    assert time.monotonic() - started < 120  # it did not wait for its own caller's lock


def test_a_store_of_another_knowledge_base_is_refused_and_this_ones_opens_again(tmp_path, store_spec):
    # Two knowledge bases pointed at one PostgreSQL schema would list, link and remove each other's
    # issues. The first to open the store owns it; the other is refused, naming what to do.
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(KB_V1, first)
    shutil.copytree(KB_V1, second)
    if store_spec.dsn is None:  # a SQLite store lives in its knowledge base: share it by copying the file
        with open_for(store_spec, first):
            pass
        shutil.copy(sqlite_path(first), sqlite_path(second))
    with open_for(store_spec, first) as store:
        assert store.project_counts() == {"ALPHA": 10, "BETA": 11}
    with pytest.raises(StateStoreOfAnotherKnowledgeBase, match="another knowledge base's state") as refused:
        open_for(store_spec, second)
    assert str(second) in str(refused.value) and "JARKDOWN_STATE_DSN" in str(refused.value)
    with open_for(store_spec, first) as store:  # its owner still opens it, and nothing was lost
        assert store.project_counts() == {"ALPHA": 10, "BETA": 11}


def test_a_damaged_knowledge_base_id_is_named(tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(KB_V1, root)
    (root / ".jarkdown" / "knowledge_base_id").write_text("not a number\n")
    with pytest.raises(StateStoreError, match="knowledge_base_id is damaged"):
        open_state_store(root)
