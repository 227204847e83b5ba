"""A move between two projects in scope, through the whole job (Dagster): run, move, run again."""

from jarkdown_pipeline.knowledge_base import parse_frontmatter_block
from jarkdown_pipeline.knowledge_base.moves import read_note_target
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline_tests.plugins.pipeline import (
    build_pipeline,
    check_results,
    materialization_metadata,
    partition_of,
    sample_config,
    snapshot,
)


def issues_of_day(jira, partition: str) -> list[str]:
    return [key for key in jira.dataset.issues if partition_of(jira, key) == partition]


def linked_issue_of_another_day(jira) -> tuple[str, str]:
    """(an ALPHA issue with attachments, an issue updated on another day that links to it)."""
    issues = jira.dataset.issues
    for key, issue in sorted(issues.items()):
        for link in issue.links:
            target = issues[link.other_key]
            if (
                target.project.key == "ALPHA"
                and target.attachments
                and target.issue_type != "Sub-task"
                and partition_of(jira, link.other_key) != partition_of(jira, key)
            ):
                return link.other_key, key
    raise AssertionError("no ALPHA issue with attachments linked from another day's issue in the sample data")


def test_a_moved_issue_takes_its_folder_to_its_new_key_and_every_link_still_resolves(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        old, linker = linked_issue_of_another_day(jira)
        pipeline = build_pipeline(jira, tmp_path / "kb")
        for partition in sorted({partition_of(jira, old), partition_of(jira, linker)}):
            first = pipeline.run(partition)
            assert first.success and all(check_results(first).values())
        kb = pipeline.kb
        assert f"(../{old}/{old}.md)" in kb.markdown_path(linker).read_text("utf-8")
        attachments = sorted(path.name for path in kb.attachments_dir(old).iterdir())
        assert attachments

        stored_before = set(kb.markdown_issue_keys())
        moved = jira.call(lambda: jira.server.move_issue(old, "BETA"))
        new = moved["key"]
        assert new.startswith("BETA-")
        result = pipeline.run(partition_of(jira, new))
        assert result.success
        checks = check_results(result)
        assert checks and all(checks.values()), checks

        # The run says what moved.
        issues = materialization_metadata(result, "jira_issues")
        assert issues["moved_keys"] == 1 and f"**{old}**: moved to {new}" in issues["moved"]
        # The moved issue's attachments came along with its folder: only the window's other new issues downloaded.
        others = [key for key in issues_of_day(jira, partition_of(jira, new)) if key != new]
        expected = sum(len(jira.dataset.issues[key].attachments) for key in others if key not in stored_before)
        assert materialization_metadata(result, "jira_attachments")["downloaded"] == expected

        # The folder is the new key's; its frontmatter names the old key; a note stays at the old path.
        assert sorted(path.name for path in kb.attachments_dir(new).iterdir()) == attachments
        front = parse_frontmatter_block(kb.markdown_path(new).read_text("utf-8"))
        assert front["key"] == new and front["previous_keys"] == [old] and front["id"] == moved["id"]
        assert read_note_target(kb.markdown_path(old)) == new
        assert sorted(path.name for path in kb.issue_dir(old).iterdir()) == [f"{old}.md"]

        # Links from other files resolve (rewritten, or through the note); the index lists live keys only.
        assert kb.broken_links([kb.markdown_path(key) for key in kb.markdown_issue_keys()]) == []
        linker_text = kb.markdown_path(linker).read_text("utf-8")
        assert f"(../{new}/{new}.md)" in linker_text or f"(../{old}/{old}.md)" in linker_text
        listed = kb.issues_listed_in(kb.index_files())
        assert new in listed and old not in listed
        assert old not in kb.issue_file_keys()

        # Nothing changed since: the same run writes nothing.
        before = snapshot(kb.root)
        again = pipeline.run(partition_of(jira, new))
        assert again.success and all(check_results(again).values())
        assert materialization_metadata(again, "jira_issues")["moved_keys"] == 0
        assert {path: stamp for path, stamp in snapshot(kb.root).items() if not path.startswith(".jarkdown/runs/")} == {
            path: stamp for path, stamp in before.items() if not path.startswith(".jarkdown/runs/")
        }
        kb.close()
