"""The link lookup starts from the links' target index, whatever SQLite's planner would prefer.

With a plain JOIN, SQLite walked every live issue for each chunk of keys: at 100,000 issues the
window's last relink pass took minutes. The plan is checked, not the time.
"""

from jarkdown_pipeline.state_store import IssueRecord, SqliteStateStore


def test_files_linking_to_searches_the_links_by_target_first(tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    records = [
        IssueRecord(
            f"ABC-{n}", issue_id=str(n), jira_links=frozenset({f"ABC-{n + 1}"}), local_links=frozenset({f"ABC-{n + 2}"})
        )
        for n in range(1, 301)
    ]
    store.replace_all(records)
    statements: list[str] = []
    store._connection.set_trace_callback(statements.append)
    assert store.files_linking_to(["ABC-5", "ABC-9"], kind="jira") == ["ABC-4", "ABC-8"]
    store._connection.set_trace_callback(None)
    [lookup] = [statement for statement in statements if "FROM links" in statement]
    plan = [row[3] for row in store._connection.execute("EXPLAIN QUERY PLAN " + lookup)]
    assert plan[0].startswith("SEARCH l USING INDEX links_target"), plan
    assert any(step.startswith("SEARCH i USING INDEX") for step in plan), plan
    store.close()


def test_children_and_changed_parents_are_found_by_their_indexes(tmp_path):
    # A window's renders and last pass ask these for every issue: never a walk of the mirror.
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    store.replace_all(IssueRecord(f"ABC-{n}", parent_key=f"ABC-{n % 7 + 300}") for n in range(1, 301))
    statements: list[str] = []
    store._connection.set_trace_callback(statements.append)
    assert [key for key, _ in store.children_of(["ABC-300"])["ABC-300"]][:2] == ["ABC-7", "ABC-14"]
    assert store.parents_with_children_changed_since(store.current_revision()) == []
    store._connection.set_trace_callback(None)
    for marker, index in (
        ("WHERE parent_key IN", "issues_parent"),
        ("children_revision >", "issues_children_revision"),
    ):
        [lookup] = [statement for statement in statements if marker in statement]
        plan = [row[3] for row in store._connection.execute("EXPLAIN QUERY PLAN " + lookup)]
        assert any(step.startswith(f"SEARCH issues USING INDEX {index}") for step in plan), plan
    store.close()
