"""The StateStore interface, the same tests against SQLite and the real PostgreSQL (``store`` is parametrised)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.state_store import (
    IndexChange,
    IssueRecord,
    RenderedFile,
    StateStoreError,
    WindowSearchRecord,
    _sql,
)
from jarkdown_pipeline.state_store._sql import SCHEMA_VERSION


def full_record(key: str = "ABC-1", **changes) -> IssueRecord:
    values = dict(
        key=key,
        issue_id="10001",
        updated="2026-11-20T10:30:00.000+0100",
        render_inputs="d1" * 20,
        markdown_size=4688,
        markdown_mtime_ns=1_796_230_671_831_323_972,  # beyond 32 bits: a real st_mtime_ns
        index_row={
            "key": key,
            "summary": 'Grüße, "quoted" | piped',
            "status": "Done",
            "type": "Bug",
            "assignee": None,
            "updated_at": "2026-11-20T09:30:00.000Z",
        },
        link_targets=("../ABC-2/ABC-2.md", "attachments/%C3%9Cberblick.pdf"),
        attachments=(
            {
                "attachment_id": "7",
                "filename": "Überblick.pdf",
                "original_filename": "Überblick.pdf",
                "mime_type": "application/pdf",
                "size": 1010,
                "path": "attachments/Überblick.pdf",
            },
        ),
        local_links=frozenset({"ABC-2"}),
        jira_links=frozenset({"XYZ-9", "ABC-10"}),
        parent_key="EPIC-1",
    )
    values.update(changes)
    return IssueRecord(**values)


def test_a_new_store_is_empty_and_not_built(store):
    assert store.current_revision() == 0
    assert not store.is_built()
    assert store.get_issues(["ABC-1"]) == {}
    assert store.issue_keys() == [] and store.project_counts() == {}
    assert store.files_linking_to(["ABC-1"]) == []
    changes = store.changes_since(0)
    assert changes.revision == 0 and changes.full and changes.rows == []


def test_every_field_round_trips(store):
    record = full_record()
    revision = store.upsert_issues([record])
    assert revision == 1 == store.current_revision()
    assert store.get_issues(["ABC-1", "ABC-404"]) == {"ABC-1": record}


def test_rendered_files_are_the_records_render_fields_in_any_state(store):
    store.upsert_issues([full_record("ABC-1"), full_record("ABC-2", state="removed"), IssueRecord("ABC-3")])
    got = store.rendered_files(["ABC-3", "ABC-1", "ABC-2", "ABC-404", "ABC-1"])
    assert sorted(got) == ["ABC-1", "ABC-2", "ABC-3"]  # ABC-404 has no record; removed ones keep theirs
    record = full_record("ABC-1")
    assert got["ABC-1"] == RenderedFile(
        record.markdown_size, record.markdown_mtime_ns, record.render_inputs, record.index_row, record.link_targets
    )
    assert got["ABC-3"] == RenderedFile(None, None, None, None, ())
    store.upsert_issues(
        [IssueRecord("ABC-1", markdown_size=1, link_targets=())], fields={"markdown_size", "link_targets"}
    )
    assert store.rendered_files(["ABC-1"])["ABC-1"].link_targets == ()
    assert store.rendered_files(["ABC-1"])["ABC-1"].markdown_size == 1
    with pytest.raises(ValueError, match="not a Jira issue key: '../etc'"):
        store.rendered_files(["../etc"])


def test_each_upsert_is_one_revision_and_updates_in_place(store):
    assert store.upsert_issues([full_record("ABC-1"), full_record("ABC-2", local_links=frozenset())]) == 1
    assert store.files_linking_to(["ABC-2"]) == ["ABC-1"]
    changed = full_record(
        "ABC-1", updated="2026-11-21T00:00:00.000Z", local_links=frozenset(), jira_links=frozenset({"ABC-2"})
    )
    assert store.upsert_issues([changed]) == 2
    assert store.get_issues(["ABC-1"])["ABC-1"] == changed
    assert store.files_linking_to(["ABC-2"]) == []  # the links were replaced, not added to
    assert store.files_linking_to(["ABC-2"], kind="jira") == ["ABC-1"]


def test_an_upsert_of_some_fields_keeps_the_others(store):
    store.upsert_issues([full_record()])
    store.upsert_issues([IssueRecord("ABC-1", attachments=())], fields={"attachments"})
    store.upsert_issues([IssueRecord("ABC-1", state="removed")], fields={"state"})
    expected = full_record(attachments=(), state="removed")
    assert store.get_issues(["ABC-1"])["ABC-1"] == expected
    # Links change only when named; a new key gets the record as given.
    store.upsert_issues(
        [IssueRecord("ABC-1", local_links=frozenset({"ABC-7"})), IssueRecord("ABC-3", issue_id="3")],
        fields={"local_links"},
    )
    got = store.get_issues(["ABC-1", "ABC-3"])
    assert got["ABC-1"].local_links == {"ABC-7"} and got["ABC-1"].jira_links == {"XYZ-9", "ABC-10"}
    assert got["ABC-3"] == IssueRecord("ABC-3", issue_id="3")


def test_moved_state_carries_the_new_key(store):
    store.upsert_issues([full_record("ABC-1")])
    store.upsert_issues([IssueRecord("ABC-1", state="moved", moved_to="XYZ-1")], fields={"state"})
    assert store.get_issues(["ABC-1"])["ABC-1"].moved_to == "XYZ-1"
    assert store.issue_keys(state="moved") == ["ABC-1"] and store.issue_keys() == []
    store.upsert_issues([IssueRecord("ABC-1")], fields={"state"})  # back: moved_to goes with the state
    assert store.get_issues(["ABC-1"])["ABC-1"].moved_to is None


def test_bad_input_is_refused_with_its_name(store):
    with pytest.raises(ValueError, match="unknown fields \\['colour'\\]"):
        store.upsert_issues([full_record()], fields={"colour"})
    with pytest.raises(ValueError, match="not a Jira issue key: '../etc'"):
        store.get_issues(["../etc"])
    with pytest.raises(ValueError, match="kind must be one of"):
        store.files_linking_to(["ABC-1"], kind="web")
    with pytest.raises(ValueError, match="aware datetime"):
        store.keys_updated_since(datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="moved_to is given exactly when"):
        IssueRecord("ABC-1", state="moved")
    with pytest.raises(ValueError, match="state must be one of"):
        IssueRecord("ABC-1", state="gone")
    assert store.current_revision() == 0  # nothing was written


def test_keys_come_in_issue_order_by_state_and_project(store):
    keys = ["ABC-10", "ABC-2", "XYZ-1", "AB-3", "ABC-1"]
    store.upsert_issues([IssueRecord(key) for key in keys] + [IssueRecord("ABC-5", state="removed")])
    assert store.issue_keys() == ["AB-3", "ABC-1", "ABC-2", "ABC-10", "XYZ-1"]
    assert store.issue_keys(project="ABC") == ["ABC-1", "ABC-2", "ABC-10"]
    assert store.issue_keys(state="removed") == ["ABC-5"]
    assert store.live_keys_among(["ABC-10", "ABC-5", "ABC-404", "XYZ-1"]) == {"ABC-10", "XYZ-1"}
    assert store.project_counts() == {"AB": 1, "ABC": 3, "XYZ": 1}


def test_updated_since_compares_instants_not_strings(store):
    store.upsert_issues(
        [
            IssueRecord("ABC-1", updated="2026-11-20T10:30:00.000+0100"),  # 09:30 UTC
            IssueRecord("ABC-2", updated="2026-11-20T09:00:00.000-0100"),  # 10:00 UTC: sorts before ABC-1 as text
            IssueRecord("ABC-3", updated="2026-11-19T23:59:59.999+0000"),
            IssueRecord("ABC-4", updated="2026-11-20T12:00:00.000+0000", state="removed"),
            IssueRecord("ABC-5"),  # no updated
        ]
    )
    assert store.keys_updated_since(datetime(2026, 11, 20, 9, 30, tzinfo=UTC)) == ["ABC-1", "ABC-2"]
    assert store.keys_updated_since(datetime(2026, 11, 20, 10, 45, tzinfo=timezone(timedelta(hours=1)))) == ["ABC-2"]
    assert store.keys_updated_since(datetime(2026, 11, 19, tzinfo=UTC)) == ["ABC-1", "ABC-2", "ABC-3"]


def test_changes_since_gives_only_what_changed_after_a_revision(store):
    first = store.upsert_issues([full_record("ABC-1"), full_record("ABC-2")])
    second = store.upsert_issues([IssueRecord("ABC-2", state="removed")], fields={"state"})
    third = store.upsert_issues([full_record("ABC-3", index_row={"key": "ABC-3", "summary": "new"})])
    changes = store.changes_since(first)
    assert (changes.revision, changes.full) == (third, False)
    assert changes.rows == [
        IndexChange("ABC-2", "removed", full_record("ABC-2").index_row),
        IndexChange("ABC-3", "live", {"key": "ABC-3", "summary": "new"}),
    ]
    assert [row.key for row in store.changes_since(second).rows] == ["ABC-3"]
    assert store.changes_since(third).rows == [] and not store.changes_since(third).full
    everything = store.changes_since(0)
    assert everything.full and [row.key for row in everything.rows] == ["ABC-1", "ABC-2", "ABC-3"]
    assert store.upsert_issues([]) == third  # nothing to write: no new revision
    store.upsert_issues([IssueRecord("XYZ-1")])
    assert [row.key for row in store.changes_since(0, project="XYZ").rows] == ["XYZ-1"]
    assert [row.key for row in store.changes_since(third, project="ABC").rows] == []


def test_keys_changed_since_leaves_out_the_keys_excluded(store):
    first = store.upsert_issues([full_record("ABC-1")])
    store.upsert_issues([full_record("ABC-2"), full_record("ABC-3"), full_record("XYZ-1")])
    store.upsert_issues([IssueRecord("ABC-1", state="removed")], fields={"state"})
    assert store.keys_changed_since(first) == {"ABC-1", "ABC-2", "ABC-3", "XYZ-1"}
    window = IssueKeySet(["ABC-2", "ABC-3", "ABC-9"])  # what a window passes: its own keys
    assert store.keys_changed_since(first, excluding=window) == {"ABC-1", "XYZ-1"}
    assert store.keys_changed_since(0, excluding={"XYZ-1"}) == {"ABC-1", "ABC-2", "ABC-3"}


def test_after_replace_all_older_revisions_get_everything(store):
    before = store.upsert_issues([full_record("ABC-1"), full_record("ABC-2")])
    assert not store.is_built()
    rebuilt = store.replace_all([full_record("ABC-2", local_links=frozenset()), full_record("XYZ-1")])
    assert rebuilt == before + 1 and store.is_built()
    assert store.issue_keys() == ["ABC-2", "XYZ-1"]  # ABC-1 and its links are gone
    assert store.files_linking_to(["ABC-2"]) == ["XYZ-1"]
    changes = store.changes_since(before)
    assert changes.full and [row.key for row in changes.rows] == ["ABC-2", "XYZ-1"]
    assert not store.changes_since(rebuilt).full


def test_files_linking_to_finds_live_linkers_by_kind(store):
    store.upsert_issues(
        [
            full_record("ABC-1", local_links=frozenset({"ABC-2"}), jira_links=frozenset({"XYZ-1"})),
            full_record("ABC-3", local_links=frozenset({"ABC-2", "ABC-4"}), jira_links=frozenset()),
            full_record("ABC-5", local_links=frozenset({"ABC-2"}), jira_links=frozenset({"XYZ-1"}), state="removed"),
        ]
    )
    assert store.files_linking_to(["ABC-2"]) == ["ABC-1", "ABC-3"]
    assert store.files_linking_to(["ABC-4", "XYZ-1"]) == ["ABC-3"]
    assert store.files_linking_to(["XYZ-1"], kind="jira") == ["ABC-1"]
    assert store.files_linking_to([]) == []


def test_batches_larger_than_one_statement_are_split(store):
    # 1,203 keys: more than two IN (...) lists and executemany batches of BATCH_SIZE.
    records = [IssueRecord(f"BIG-{n}", issue_id=str(n), jira_links=frozenset({"HUB-1"})) for n in range(1, 1204)]
    assert store.upsert_issues(records) == 1
    assert len(store.get_issues(record.key for record in records)) == 1203
    assert len(store.live_keys_among(record.key for record in records)) == 1203
    assert len(store.files_linking_to(["HUB-1"], kind="jira")) == 1203
    assert store.files_linking_to([f"NONE-{n}" for n in range(1, 1300)] + ["HUB-1"], kind="jira")[-1] == "BIG-1203"
    assert store.project_counts() == {"BIG": 1203}


def test_reopening_keeps_data_and_schema(store_spec, store):
    store.upsert_issues([full_record()])
    with store_spec.open() as again:
        assert again.schema_version() == SCHEMA_VERSION
        assert again.get_issues(["ABC-1"]) == {"ABC-1": full_record()} and again.current_revision() == 1


def test_a_schema_newer_than_the_code_is_refused(store_spec, store):
    with store._write() as cursor:
        cursor.execute(store._sql("UPDATE {t}schema_version SET version = ?"), (SCHEMA_VERSION + 1,))
    with pytest.raises(StateStoreError, match=f"schema is version {SCHEMA_VERSION + 1}, newer than this code's"):
        store_spec.open()


def test_a_moved_issue_is_found_by_its_id_under_its_live_key_only(store):
    store.upsert_issues(
        [
            IssueRecord("HOLD-60", issue_id="10060", state="moved", moved_to="NEWP-1"),
            IssueRecord("NEWP-1", issue_id="10060"),
            IssueRecord("ABC-2", issue_id="10002"),
            IssueRecord("ABC-3", issue_id="10003", state="removed"),
            IssueRecord("ABC-4"),  # no id known
        ]
    )
    assert store.live_keys_of_ids(["10060", "10002", "10003", "99999"]) == {"10060": "NEWP-1", "10002": "ABC-2"}
    assert store.live_keys_of_ids([]) == {}
    many = [IssueRecord(f"BIG-{n}", issue_id=str(50000 + n)) for n in range(1, 1203)]
    store.upsert_issues(many)
    assert len(store.live_keys_of_ids(str(50000 + n) for n in range(1, 1203))) == 1202


def child(key: str, parent: str | None, summary: str = "A story", status: str = "To Do", **changes) -> IssueRecord:
    row = {"key": key, "summary": summary, "status": status, "type": "Story", "assignee": None, "updated_at": None}
    return IssueRecord(key, index_row=row, parent_key=parent, **changes)


def test_children_are_the_live_issues_naming_a_parent_in_issue_order(store):
    store.upsert_issues(
        [
            IssueRecord("EPIC-1"),
            child("ABC-10", "EPIC-1"),
            child("ABC-9", "EPIC-1", status="Done"),
            child("ABC-11", "EPIC-1", state="removed"),
            child("ABC-12", "EPIC-2"),
            child("ABC-13", None),
        ]
    )
    children = store.children_of(["EPIC-1", "EPIC-2", "EPIC-3"])
    assert [key for key, _ in children["EPIC-1"]] == ["ABC-9", "ABC-10"]
    assert children["EPIC-1"][0][1]["status"] == "Done"
    assert [key for key, _ in children["EPIC-2"]] == ["ABC-12"] and "EPIC-3" not in children
    assert store.get_issues(["ABC-9"])["ABC-9"].parent_key == "EPIC-1"
    with pytest.raises(ValueError, match="its own parent"):
        IssueRecord("ABC-1", parent_key="ABC-1")


def test_a_parent_is_marked_when_its_children_change_and_only_then(store):
    store.upsert_issues([IssueRecord("EPIC-1"), IssueRecord("EPIC-2"), child("ABC-1", "EPIC-1")])
    start = store.current_revision()
    assert store.parents_with_children_changed_since(0) == ["EPIC-1"]  # a child added
    assert store.parents_with_children_changed_since(start) == []

    # What the Children section does not show (assignee, updated) changes nothing; links neither.
    row = {**store.get_issues(["ABC-1"])["ABC-1"].index_row, "assignee": "Ana", "updated_at": "2026-11-21"}
    store.upsert_issues([IssueRecord("ABC-1", index_row=row, jira_links=frozenset({"X-1"}))], fields={"index_row"})
    store.upsert_issues(
        [IssueRecord("ABC-1", issue_id="1", updated="2026-11-21T10:00:00.000+0000")],
        fields={"issue_id", "updated", "state"},
    )
    assert store.parents_with_children_changed_since(start) == []

    status = store.current_revision()
    store.upsert_issues([child("ABC-1", "EPIC-1", status="Done")], fields={"index_row", "parent_key"})
    assert store.parents_with_children_changed_since(status) == ["EPIC-1"]

    moved = store.current_revision()
    store.upsert_issues([child("ABC-1", "EPIC-2", status="Done")], fields={"index_row", "parent_key"})
    assert store.parents_with_children_changed_since(moved) == ["EPIC-1", "EPIC-2"]  # the old parent and the new

    removed = store.current_revision()
    store.upsert_issues([IssueRecord("ABC-1", state="removed")], fields={"state"})
    assert store.parents_with_children_changed_since(removed) == ["EPIC-2"]
    assert store.children_of(["EPIC-2"]) == {}

    restored = store.current_revision()
    store.upsert_issues([IssueRecord("ABC-1", state="live")], fields={"state"})
    assert store.parents_with_children_changed_since(restored) == ["EPIC-2"]

    # Many children in one write: every parent marked, none missed between batches.
    many = store.current_revision()
    store.upsert_issues([IssueRecord(f"EP-{n}") for n in range(1, 1203)])
    store.upsert_issues([child(f"KID-{n}", f"EP-{n}") for n in range(1, 1203)])
    assert len(store.parents_with_children_changed_since(many)) == 1202


def test_a_version_2_store_gains_parents_and_is_rebuilt_from_the_files(store_spec, monkeypatch):
    monkeypatch.setattr(_sql, "SCHEMA_VERSION", 2)
    with store_spec.open() as old, old._write() as cursor:  # a row and a build as version 2 wrote them
        insert = (
            "INSERT INTO {t}issues (issue_key, project, issue_id, state, link_targets, attachments, revision) "
            "VALUES ('ABC-1', 'ABC', '1', 'live', '[]', '[]', 1)"
        )
        cursor.execute(old._sql(insert))
        cursor.execute(old._sql("UPDATE {t}counters SET value = 1 WHERE name IN ('revision', 'rebuilt_revision')"))
    with store_spec.open() as old:
        assert old.schema_version() == 2 and old.is_built()
    monkeypatch.undo()
    with store_spec.open() as store:
        assert store.schema_version() == SCHEMA_VERSION
        # The parents are in the files only: the store is rebuilt from them when next opened for a knowledge base.
        assert not store.is_built()
        assert store.get_issues(["ABC-1"])["ABC-1"].parent_key is None
        store.upsert_issues([child("ABC-2", "ABC-1")])
        assert [key for key, _ in store.children_of(["ABC-1"])["ABC-1"]] == ["ABC-2"]


def test_window_searches_round_trip_per_scope_and_day_and_go_with_a_rebuild(store):
    seen = datetime(2026, 11, 20, 9, 30, 15, 123000, tzinfo=UTC)
    store.record_window_searches(
        "scope-a",
        [
            WindowSearchRecord(
                "2026-11-20", seen.astimezone(timezone(timedelta(hours=5))), "digest-1", 1_800_000_000.5
            ),
            WindowSearchRecord("2026-11-21", None, "digest-1", 1_800_000_001.0),
        ],
    )
    found = store.window_searches("scope-a", ["2026-11-20", "2026-11-21", "2026-11-22"])
    assert found == {
        "2026-11-20": WindowSearchRecord("2026-11-20", seen, "digest-1", 1_800_000_000.5),
        "2026-11-21": WindowSearchRecord("2026-11-21", None, "digest-1", 1_800_000_001.0),
    }
    assert store.window_searches("scope-b", ["2026-11-20"]) == {}
    later = WindowSearchRecord("2026-11-20", seen + timedelta(hours=1), "digest-2", 1_800_000_100.0)
    store.record_window_searches("scope-a", [later])  # replaces that day's record, keeps the other
    assert store.window_searches("scope-a", ["2026-11-20", "2026-11-21"])["2026-11-20"] == later
    assert len(store.window_searches("scope-a", ["2026-11-20", "2026-11-21"])) == 2
    store.replace_all([full_record()])  # a rebuilt store cannot vouch for what earlier searches saw
    assert store.window_searches("scope-a", ["2026-11-20", "2026-11-21"]) == {}
