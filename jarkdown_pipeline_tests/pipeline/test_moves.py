"""An issue that moves to another project between two runs: its files follow its id to the new key."""

from datetime import date

from jarkdown_pipeline.jira_api_client import JiraApiClient, RetryPolicy
from jarkdown_pipeline.knowledge_base import KnowledgeBase, parse_frontmatter_block
from jarkdown_pipeline.knowledge_base.moves import read_note_target
from jarkdown_pipeline.sample_jira.runner import run_sample_jira_in_thread
from jarkdown_pipeline.state_store import rebuild_from_files
from jarkdown_pipeline.sync import (
    linking_file_rerender,
    mirror_window,
    reconcile,
    render_issue_options,
    scope_jql_since,
)
from jarkdown_pipeline.window_search import window_jql
from jarkdown_pipeline_tests.plugins.pipeline import sample_config

FAST_RETRIES = RetryPolicy(max_attempts=3, base_backoff=0.001, max_backoff=0.01)
START, END = date(2026, 11, 1), date(2026, 11, 23)


def moving_issue(dataset) -> tuple[str, str]:
    """(an ALPHA issue with attachments that another issue links to, that issue)."""
    for key, issue in sorted(dataset.issues.items()):
        for link in issue.links:
            target = dataset.issues[link.other_key]
            if target.project.key == "ALPHA" and target.attachments and target.issue_type != "Sub-task":
                return link.other_key, key
    raise AssertionError("no linked ALPHA issue with attachments in the sample data")


async def scope_mirror(client: JiraApiClient, kb: KnowledgeBase, jira, scope: str | None = None):
    """(the field definitions, a function that mirrors the window START .. END of ``scope`` as a run does)."""
    fields = await client.fetch_fields()

    async def mirror():
        return await mirror_window(
            client,
            kb,
            window_jql(scope, START, END),
            field_definitions=fields,
            base_url=jira.base_url,
            max_concurrent_downloads=3,
        )

    return fields, mirror


def issue_files(kb: KnowledgeBase) -> dict[str, int]:
    return {key: kb.markdown_path(key).stat().st_mtime_ns for key in kb.issue_file_keys()}


async def test_an_issue_moved_between_two_runs_keeps_its_files_and_links(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        old, linker = moving_issue(jira.dataset)
        kb = KnowledgeBase(tmp_path)
        async with JiraApiClient(jira.base_url, jira.email, jira.api_token, retry_policy=FAST_RETRIES) as client:
            _, mirror = await scope_mirror(client, kb, jira)

            first = await mirror()
            assert first.issues.failed == {} and old in first.markdown.written
            assert f"(../{old}/{old}.md)" in kb.markdown_path(linker).read_text(encoding="utf-8")
            attachments = sorted(p.name for p in kb.attachments_dir(old).iterdir())
            assert attachments
            moved = jira.call(lambda: jira.server.move_issue(old, "BETA"))
            new = moved["key"]
            assert new.startswith("BETA-") and moved["old_key"] == old

            second = await mirror()
            assert second.issues.failed == {} and second.attachments.failed == {} and second.markdown.failed == {}
            assert second.issues.moved == {old: new}
            assert second.attachments.downloaded == 0  # the attachments came with the folder
            assert sorted(p.name for p in kb.attachments_dir(new).iterdir()) == attachments
            front = parse_frontmatter_block(kb.markdown_path(new).read_text(encoding="utf-8"))
            assert front["key"] == new and front["previous_keys"] == [old] and front["id"] == moved["id"]
            assert read_note_target(kb.markdown_path(old)) == new
            assert sorted(p.name for p in kb.issue_dir(old).iterdir()) == [f"{old}.md"]
            assert not kb.raw_path(old).exists()
            assert kb.store.get_issues([old])[old].moved_to == new
            # Other files' links to the old path resolve (through the note); the index lists live keys only.
            keys = kb.issue_file_keys()
            assert new in keys and old not in keys
            assert kb.broken_links([kb.markdown_path(key) for key in keys] + [kb.markdown_path(old)]) == []
            problems, broken = kb.verify_issue_files(keys)
            assert problems == [] and broken == []
            listed, index_problems, _ = kb.rebuild_index()
            assert index_problems == [] and new in kb.issues_listed_in(kb.index_files())
            assert old not in kb.issues_listed_in(kb.index_files())

            before = issue_files(kb)
            third = await mirror()
            assert third.markdown.written == [] and third.markdown.relinked == [] and third.issues.fetched == []
            assert issue_files(kb) == before

            # Reconciliation neither moves the note to _removed/ nor counts it as a removal.
            reconciled = await reconcile(client, kb, scope_jql_since(None, START))
            assert reconciled.moved == [] and reconciled.failed == {}
            assert kb.markdown_path(old).is_file() and not (kb.removed_dir / old).exists()

    # A store rebuilt from the files knows the note for what it is.
    kb.close()
    rebuilt_kb = KnowledgeBase(tmp_path)
    result = rebuild_from_files(rebuilt_kb.store, tmp_path)
    assert result.moved == 1
    record = rebuilt_kb.store.get_issues([old, new])
    assert record[old].state == "moved" and record[old].moved_to == new and record[new].state == "live"
    assert old not in rebuilt_kb.issue_file_keys()
    rebuilt_kb.close()


async def test_a_fetch_by_the_old_key_follows_the_issue_to_its_new_key(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as jira:
        old, _ = moving_issue(jira.dataset)
        kb = KnowledgeBase(tmp_path)
        async with JiraApiClient(jira.base_url, jira.email, jira.api_token, retry_policy=FAST_RETRIES) as client:
            fields = await client.fetch_fields()
            await mirror_window(
                client, kb, window_jql(None, START, END), field_definitions=fields, base_url=jira.base_url
            )
            new = jira.call(lambda: jira.server.move_issue(old, "BETA"))["key"]
            # Jira answers the old key with the issue under its new one.
            issue = await client.fetch_issue(old)
            assert issue["key"] == new
            result = await mirror_window(
                client, kb, f"key in ({old}, {new})", field_definitions=fields, base_url=jira.base_url
            )
            assert result.issues.failed == {} and result.issues.moved == {old: new}
            assert read_note_target(kb.markdown_path(old)) == new and kb.markdown_path(new).is_file()
    kb.close()


async def test_a_move_out_of_scope_is_a_removal(tmp_path):
    scope = "project = ALPHA"
    with run_sample_jira_in_thread(sample_config()) as jira:
        old, _ = moving_issue(jira.dataset)
        kb = KnowledgeBase(tmp_path)
        async with JiraApiClient(jira.base_url, jira.email, jira.api_token, retry_policy=FAST_RETRIES) as client:
            fields, mirror = await scope_mirror(client, kb, jira, scope)

            first = await mirror()
            assert old in first.markdown.written and not first.issues.failed
            new = jira.call(lambda: jira.server.move_issue(old, "BETA"))["key"]  # BETA is out of this scope
            second = await mirror()
            assert new not in second.issues.keys and not second.issues.moved
            options = render_issue_options(fields, jira.base_url, None, (), "inline")
            rerender = linking_file_rerender(kb, options)  # as the reconciliation asset does
            reconciled = await reconcile(client, kb, scope_jql_since(scope, START), rerender=rerender)
            assert reconciled.moved == [old] and reconciled.failed == {}
            assert (kb.removed_dir / old / f"{old}.md").is_file() and not kb.issue_dir(old).exists()
            assert read_note_target(kb.removed_dir / old / f"{old}.md") is None  # a removal, not a move note
            keys = kb.issue_file_keys()
            assert old not in keys and new not in keys
            assert kb.broken_links([kb.markdown_path(key) for key in keys]) == []
