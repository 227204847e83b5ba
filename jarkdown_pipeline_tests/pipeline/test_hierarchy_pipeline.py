"""An epic's children through the whole job (Dagster): Cloud's epic JSON does not list its stories;
the mirror does, and the epic's file follows each child that arrives, changes, leaves or changes parent."""

from jarkdown_pipeline.knowledge_base import KnowledgeBase, parse_frontmatter_block
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.state_store import rebuild_from_files
from jarkdown_pipeline_tests.plugins.pipeline import (
    build_pipeline,
    check_results,
    materialization_metadata,
    partition_of,
    sample_config,
    snapshot,
)


def epic_with_a_story(jira) -> tuple[str, str, str]:
    """(an epic, a child of it that is not a sub-task, updated on another day, a story of no epic)."""
    issues = jira.dataset.issues
    for key, issue in sorted(issues.items()):
        parent = issues.get(issue.parent_key or "")
        if parent is not None and parent.issue_type == "Epic" and issue.issue_type != "Sub-task":
            if partition_of(jira, key) != partition_of(jira, parent.key):
                other = next(k for k, i in sorted(issues.items()) if i.issue_type == "Story" and i.parent_key is None)
                return parent.key, key, other
    raise AssertionError("no epic with a child of another day in the sample data")


def children_of(kb: KnowledgeBase, key: str) -> tuple[list[str], str]:
    text = kb.markdown_path(key).read_text("utf-8")
    section = text.partition("\n## Children\n\n")[2].partition("\n## ")[0]
    return parse_frontmatter_block(text)["children"], section


def run(pipeline, partition: str):
    result = pipeline.run(partition)
    checks = check_results(result)
    assert result.success and checks and all(checks.values()), checks
    return result


def test_an_epic_lists_the_mirrored_issues_that_name_it_as_parent(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        epic, story, other = epic_with_a_story(jira)
        assert story not in {sub["key"] for sub in jira.dataset.subtask_refs(jira.dataset.issues[epic])}
        pipeline = build_pipeline(jira, tmp_path / "kb")
        kb = pipeline.kb
        # The epic first, then (another day) its story: the epic's file, outside that window, follows.
        run(pipeline, partition_of(jira, epic))
        assert children_of(kb, epic)[0] == []
        result = run(pipeline, partition_of(jira, story))
        keys, section = children_of(kb, epic)
        assert keys == [story] and f"- [{story}](../{story}/{story}.md): " in section
        assert epic in kb.store.parents_with_children_changed_since(0)
        assert materialization_metadata(result, "jira_markdown")["relinked_elsewhere"] >= 1

        # Another story joins the epic and the first one is edited, in one later window.
        jira.call(lambda: jira.server.set_parent(other, epic))
        summary = jira.call(lambda: jira.server.touch_issue(story))["summary"]
        day = partition_of(jira, story)
        assert partition_of(jira, other) == day and partition_of(jira, epic) != day
        run(pipeline, day)
        keys, section = children_of(kb, epic)
        assert keys == sorted([story, other], key=lambda k: (k.split("-")[0], int(k.split("-")[1])))
        assert summary in section and f"(../{other}/{other}.md)" in section

        # The first story leaves the epic: gone from its file in the same run.
        jira.call(lambda: jira.server.set_parent(story, None))
        run(pipeline, partition_of(jira, story))
        keys, section = children_of(kb, epic)
        assert keys == [other] and story not in section
        assert parse_frontmatter_block(kb.markdown_path(story).read_text("utf-8"))["parent"] is None

        # Nothing changed: nothing written; a store rebuilt from the files knows the same children.
        before = snapshot(kb.root)
        run(pipeline, partition_of(jira, story))
        runs = ".jarkdown/runs/"
        assert {p: s for p, s in snapshot(kb.root).items() if not p.startswith(runs)} == {
            p: s for p, s in before.items() if not p.startswith(runs)
        }
        expected = kb.store.children_of([epic])
        kb.close()
    rebuilt = KnowledgeBase(tmp_path / "kb")
    rebuild_from_files(rebuilt.store, rebuilt.root)
    assert [key for key, _ in rebuilt.store.children_of([epic])[epic]] == [key for key, _ in expected[epic]]
    rebuilt.close()
