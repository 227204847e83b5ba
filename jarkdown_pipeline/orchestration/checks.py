"""Asset checks: the knowledge base is complete and consistent after each run.

They read which issues the run covered from the run's ``issues`` and ``markdown`` records and check
those files, the files linking to them (their link targets changed) and the index pages listing
them: a cost that follows what the run changed. Run on their own (no record), they check every
issue file of the knowledge base and every index file, in linear time.
"""

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from jarkdown_pipeline.index_update import index_pages_listing
from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.orchestration import names
from jarkdown_pipeline.orchestration.metadata import check_result, listing, run_record_id
from jarkdown_pipeline.orchestration.resources import KnowledgeBaseResource


def _written_of(record: Mapping[str, Any]) -> tuple[list[str], IssueKeySet]:
    """The record's written and relinked keys, each once in their order, and as a set (a bitmap: a
    backfill's run writes tens of thousands)."""
    seen, written = IssueKeySet(), []
    for key in itertools.chain(record["written"], record.get("relinked", [])):
        if key not in seen:
            seen.add(key)
            written.append(key)
    return written, seen


def _keys_of_run(context: dg.AssetCheckExecutionContext, kb: KnowledgeBase) -> tuple[list[str], str]:
    """The issues of the run's window; without a record (check run alone), every issue file."""
    record = kb.read_run_record(run_record_id(context), "issues")
    if record is None:
        return kb.issue_file_keys(), "every issue file of the knowledge base"
    return list(
        record["keys"]
    ), f"the {len(record['keys'])} issues of {record['first_day']}..{record['end_day']} (end excluded)"


def _files_written_by_run(context: dg.AssetCheckExecutionContext, kb: KnowledgeBase) -> tuple[list[str], str]:
    """Keys of the issue files this run wrote that exist (unchanged ones were checked when they were
    written); without a record (check run alone), every issue file."""
    record = kb.read_run_record(run_record_id(context), "markdown")
    if record is None:
        return kb.issue_file_keys(), "every issue file of the knowledge base"
    written, already = _written_of(record)
    # Files linking to a written file: a link target of theirs changed (the state store's link table).
    linking = [key for key in kb.files_linking_to(already) if key not in already]
    keys = [key for key in itertools.chain(written, linking) if kb.has_issue_file(key)]
    return keys, f"the {len(written)} files written in this run and {len(linking)} files linking to them"


def _files_rendered_by_run(context: dg.AssetCheckExecutionContext, kb: KnowledgeBase) -> tuple[list[str], str]:
    """Keys of the issue files this run wrote (an unchanged file was checked when it was written, and
    its counts come from the same JSON); without a record (check run alone), every issue file."""
    record = kb.read_run_record(run_record_id(context), "markdown")
    if record is None:
        return kb.issue_file_keys(), "every issue file of the knowledge base"
    written, _ = _written_of(record)
    return written, f"the {len(written)} files written in this run"


def _index_scope(context: dg.AssetCheckExecutionContext, kb: KnowledgeBase) -> tuple[list[str], list[Path], str]:
    """(issue keys that must be listed, index files to check, what that is): the files the run wrote
    and the index pages that list them (with ``index.md``); without a record, everything."""
    record = kb.read_run_record(run_record_id(context), "markdown")
    if record is None:
        return kb.issue_file_keys(), kb.index_files(), "every issue file of the knowledge base"
    written = [key for key in _written_of(record)[0] if kb.has_issue_file(key)]
    pages = [kb.root / page for page in index_pages_listing(kb, written)]
    return written, [page for page in [kb.index_path, *pages] if page.is_file()], "the files written in this run"


# The three checks of jira_markdown are one step: each file is read once for both its
# frontmatter and its links, and a run pays one step's overhead, not three.
@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            names.EVERY_ISSUE_HAS_ITS_FILE,
            asset=names.MARKDOWN,
            description="Every issue of the partition has its KEY/KEY.md.",
        ),
        dg.AssetCheckSpec(
            names.RELATIVE_LINKS_RESOLVE,
            asset=names.MARKDOWN,
            description="Every relative link in the issue files written by the run resolves.",
        ),
        dg.AssetCheckSpec(
            names.FRONTMATTER_PARSES,
            asset=names.MARKDOWN,
            description="Every issue file written by the run has frontmatter that parses as YAML, with the file's key.",
        ),
        dg.AssetCheckSpec(
            names.SECTIONS_COMPLETE,
            asset=names.MARKDOWN,
            description="Every issue file written by the run holds as many comments, worklogs, changes and attachments as Jira counts.",
        ),
    ],
    can_subset=True,
)
def jira_markdown_checks(context: dg.AssetCheckExecutionContext, knowledge_base: KnowledgeBaseResource):
    kb = knowledge_base.open()
    selected = {key.name for key in context.selected_asset_check_keys}
    if names.EVERY_ISSUE_HAS_ITS_FILE in selected:
        keys, scope = _keys_of_run(context, kb)
        missing = kb.missing_issue_files(keys)
        yield check_result(
            missing,
            f"Checked {scope}: {len(missing)} missing.",
            {"checked": len(keys), "missing": len(missing), "missing_files": listing(missing)},
            names.EVERY_ISSUE_HAS_ITS_FILE,
            names.MARKDOWN,
        )
    if names.SECTIONS_COMPLETE in selected:
        keys, scope = _files_rendered_by_run(context, kb)
        incomplete = kb.incomplete_issue_files(keys)
        yield check_result(
            incomplete,
            f"Checked {scope}: {len(incomplete)} sections hold fewer items than Jira counts.",
            {"checked": len(keys), "incomplete": len(incomplete), "incomplete_sections": listing(incomplete)},
            names.SECTIONS_COMPLETE,
            names.MARKDOWN,
        )
    if not selected & {names.RELATIVE_LINKS_RESOLVE, names.FRONTMATTER_PARSES}:
        return
    present, scope = _files_written_by_run(context, kb)
    problems, broken = kb.verify_issue_files(present)
    if names.RELATIVE_LINKS_RESOLVE in selected:
        yield check_result(
            broken,
            f"Checked the links of {len(present)} files ({scope}): {len(broken)} broken.",
            {"files": len(present), "broken": len(broken), "broken_links": listing(broken)},
            names.RELATIVE_LINKS_RESOLVE,
            names.MARKDOWN,
        )
    if names.FRONTMATTER_PARSES in selected:
        yield check_result(
            problems,
            f"Checked {len(present)} files ({scope}): {len(problems)} with bad frontmatter.",
            {"files": len(present), "problems": len(problems), "bad_files": listing(problems)},
            names.FRONTMATTER_PARSES,
            names.MARKDOWN,
        )


@dg.asset_check(
    asset=names.INDEX,
    name=names.INDEX_IS_COMPLETE,
    # Runs with the index wherever the index runs, the automation sensor's runs included.
    automation_condition=dg.AutomationCondition.eager(),
    description="Every issue file is listed on a page of the index, and all the index's links resolve.",
)
def index_is_complete(
    context: dg.AssetCheckExecutionContext, knowledge_base: KnowledgeBaseResource
) -> dg.AssetCheckResult:
    kb = knowledge_base.open()
    keys, index_files, scope = _index_scope(context, kb)
    broken = kb.broken_links(index_files)
    listed = kb.issues_listed_in(index_files)
    unlisted = [key for key in keys if key not in listed]
    return check_result(
        [*unlisted, *broken],
        f"{len(keys)} issue files ({scope}); {len(unlisted)} not in the index ({len(index_files)} files checked); "
        f"{len(broken)} broken links.",
        {
            "issue_files": len(keys),
            "index_files": len(index_files),
            "unlisted": listing(unlisted),
            "broken_links": listing(broken),
        },
    )


CHECKS = [jira_markdown_checks, index_is_complete]
