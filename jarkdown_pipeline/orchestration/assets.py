"""The assets of group ``jira``: fields, issues, attachments, Markdown, reconciliation, index.

Data passes between assets through the knowledge base on disk (raw JSON, attachment manifests and a
small record per stage under ``.jarkdown/runs/<root run id>/``), never through pickled outputs, so
any executor, process or re-execution sees the same thing. The work itself lives in
``jarkdown_pipeline.sync``; these functions open what it needs and report what it did.
"""

import functools
import warnings
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field

from jarkdown_pipeline.exceptions import BadRequestError
from jarkdown_pipeline.jira_api_client import normalise_base_url
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.markdown.issue import human_size
from jarkdown_pipeline.orchestration.partitions import partition_window
from jarkdown_pipeline.orchestration.resources import JiraResource, KnowledgeBaseResource
from jarkdown_pipeline.sync import (
    RECONCILE_ALWAYS_ALLOWED_REMOVALS,
    RECONCILE_MAX_REMOVED_SHARE,
    ReconciliationRefused,
    RemovalGuard,
    WindowResult,
    describe_error,
    mirror_window,
    reconcile,
    render_issue_options,
    scope_jql_since,
    window_jql,
)

GROUP = "jira"
JIRA_POOL = "jira_api"
RUN_RECORD_MAX_AGE_SECONDS = 14 * 24 * 3600
PREVIEW_MAX_CHARS = 6000
LISTED_KEYS_MAX = 50


class ReconciliationConfig(dg.Config):
    """Run config of ``jira_reconciliation``: how much one pass may move to ``_removed/``."""

    max_removed_share: float = Field(
        default=RECONCILE_MAX_REMOVED_SHARE,
        ge=0.0,
        le=1.0,
        description="A pass that would move more than this share of the stored issues (and more than "
        "always_allowed_removals) moves nothing and fails.",
    )
    always_allowed_removals: int = Field(
        default=RECONCILE_ALWAYS_ALLOWED_REMOVALS,
        ge=0,
        description="A pass moving at most this many issues is never stopped by the share.",
    )
    allow_removals: int = Field(
        default=0,
        ge=0,
        description="Go-ahead for one pass that was stopped: up to this many issues may move, whatever the share "
        "(an empty answer from Jira is still never acted on).",
    )


def how_to_allow(count: int) -> str:
    """The exact command (and UI equivalent) that lets one stopped reconciliation move ``count`` issues."""
    run_config = f'{{"ops": {{"jira_reconciliation": {{"config": {{"allow_removals": {count}}}}}}}}}'
    return (
        f"To allow it once: dagster asset materialize -m jarkdown_pipeline --select jira_reconciliation "
        f"--config-json '{run_config}' (or, in the UI, materialize jira_reconciliation with the config "
        f"allow_removals: {count}); to change the limit, set max_removed_share in the same config."
    )


def refused_failure(refused: ReconciliationRefused, jql: str) -> dg.Failure:
    """A stopped reconciliation as the step's failure: what it would have moved, and how to allow it."""
    count = len(refused.would_remove)
    return dg.Failure(
        description=str(refused) + ("" if refused.in_scope == 0 else " " + how_to_allow(count)),
        metadata={
            "jql": dg.MetadataValue.text(jql),
            "in_scope": dg.MetadataValue.int(refused.in_scope),
            "stored": dg.MetadataValue.int(refused.stored),
            "would_remove": dg.MetadataValue.int(count),
            "would_have_moved": listing(refused.would_remove),
        },
        allow_retries=False,
    )


def merged_failures(**stages: Mapping[str, str]) -> dict[str, str]:
    """``{key: "stage: reason; stage: reason"}``: every stage's reason for an issue, none overwritten."""
    merged: dict[str, str] = {}
    for stage, failed in stages.items():
        for key, reason in failed.items():
            merged[key] = f"{merged[key]}; {stage}: {reason}" if key in merged else f"{stage}: {reason}"
    return merged


def run_record_id(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """Re-executions share the root run's records, so a step re-run alone finds its inputs."""
    run = context.run
    return run.root_run_id or run.run_id


def stats_snapshot(jira: JiraResource) -> dict[str, int]:
    """The client's counters now (zeros before it opens). The in-process executor shares one client
    between the steps of a run, so each step reports the difference from its start."""
    client = jira.client_if_open
    return client.stats.as_dict() if client is not None else {}


def client_metadata(jira: JiraResource, started: dict[str, int]) -> dict[str, Any]:
    now = stats_snapshot(jira)
    return {
        name: dg.MetadataValue.int(now.get(name, 0) - started.get(name, 0))
        for name in ("requests", "retries", "bytes_downloaded")
    }


def listing(values: Mapping[str, str] | Sequence[object]) -> dg.MetadataValue:
    """A short Markdown list for metadata (the first LISTED_KEYS_MAX items, as ``str()``, then a count)."""
    items = (
        [f"- **{key}**: {reason}" for key, reason in values.items()]
        if isinstance(values, Mapping)
        else [f"- {key}" for key in values]
    )
    if len(items) > LISTED_KEYS_MAX:
        items = items[:LISTED_KEYS_MAX] + [f"- ... and {len(items) - LISTED_KEYS_MAX} more"]
    return dg.MetadataValue.md("\n".join(items) if items else "None")


def window_summary(window: WindowResult) -> str:
    """One line for the run's log (and `make demo`): what the window did."""
    issues, attachments, markdown = window.issues, window.attachments, window.markdown
    failed = len(set(issues.failed) | set(attachments.failed) | set(markdown.failed))
    return (
        f"{len(issues.keys)} issues in the window: {len(markdown.written)} files written, "
        f"{len(markdown.unchanged)} unchanged, {failed} failed; {len(issues.fetched)} fetched; "
        f"{attachments.downloaded} attachments downloaded ({human_size(attachments.bytes_downloaded)})"
        + (f"; {len(markdown.relinked)} other files relinked" if markdown.relinked else "")
    )


def markdown_preview(kb: KnowledgeBase, keys: list[str]) -> dg.MetadataValue:
    for key in keys:
        path = kb.markdown_path(key)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if len(text) > PREVIEW_MAX_CHARS:
                text = text[:PREVIEW_MAX_CHARS] + "\n\n*... preview truncated*"
            return dg.MetadataValue.md(text)
    return dg.MetadataValue.md("*No issue file in this partition.*")


def render_options(
    jira: JiraResource, knowledge_base: KnowledgeBaseResource, field_definitions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The keywords every issue render takes from the settings (the Markdown stage and reconciliation)."""
    return render_issue_options(
        field_definitions,
        str(normalise_base_url(jira.base_url)),
        knowledge_base.include_custom_fields,
        knowledge_base.exclude_custom_fields,
    )


def build_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    # backfill_policy is "beta" in Dagster 1.13 yet required for single-run backfills: say so once
    # here instead of six warnings on every load of the code location.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _build_assets(partitions_def)


def _build_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    def group_asset(*, kind: str, description: str, daily: bool, calls_jira: bool, deps=None):
        # Every asset of the group backfills a range in one run; the daily ones are partitioned, and
        # those that call Jira take a slot of the jira_api pool.
        return dg.asset(
            group_name=GROUP,
            pool=JIRA_POOL if calls_jira else None,
            partitions_def=partitions_def if daily else None,
            backfill_policy=dg.BackfillPolicy.single_run(),
            deps=deps,
            kinds={kind},
            description=description,
        )

    @group_asset(
        kind="jira",
        daily=False,
        calls_jira=True,
        description="Jira's field definitions (id, name, schema): custom fields get their display names from here.",
    )
    async def jira_fields(
        context: dg.AssetExecutionContext, jira: JiraResource, knowledge_base: KnowledgeBaseResource
    ) -> dg.MaterializeResult:
        started = stats_snapshot(jira)
        client = await jira.open_client()
        fields = await client.fetch_fields()
        kb = knowledge_base.open()
        written = kb.write_fields(fields)
        return dg.MaterializeResult(
            metadata={
                "fields": dg.MetadataValue.int(len(fields)),
                "custom_fields": dg.MetadataValue.int(sum(1 for field in fields if field.get("custom"))),
                "written": dg.MetadataValue.bool(written),
                "path": dg.MetadataValue.path(str(kb.fields_path)),
                **client_metadata(jira, started),
            }
        )

    # Issues, attachments and Markdown of the window are one step: a stream in which each bulk page's
    # issues start downloading their attachments at once and each issue is rendered as soon as its
    # own attachments are in (jarkdown_pipeline.sync.mirror_window). Three assets, so the UI, the
    # checks and downstream assets see the same keys as when they were three steps.
    @dg.multi_asset(
        name="jira_window",
        specs=[
            dg.AssetSpec(
                "jira_issues",
                group_name=GROUP,
                kinds={"jira"},
                description=(
                    "Issues updated in the partition's day (in the Jira user's time zone) within the scope JQL: "
                    "found by JQL search, fetched complete by bulk fetch, kept as raw JSON in .jarkdown/raw/."
                ),
            ),
            dg.AssetSpec(
                "jira_attachments",
                group_name=GROUP,
                kinds={"jira"},
                deps=["jira_issues"],
                description=(
                    "Every attachment of the partition's issues, downloaded concurrently under one bound into "
                    "KEY/attachments/ as soon as each bulk page is stored; already-present files (same size) are "
                    "not downloaded again."
                ),
            ),
            dg.AssetSpec(
                "jira_markdown",
                group_name=GROUP,
                kinds={"markdown"},
                deps=["jira_attachments", jira_fields],
                description=(
                    "One KEY/KEY.md per issue of the partition, rendered from the stored JSON as soon as its "
                    "attachments are in; a file is rewritten only when its content changed. Fails (after writing "
                    "all others) if any issue failed in this run."
                ),
            ),
        ],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=JIRA_POOL,
        can_subset=False,
    )
    async def jira_window(context: dg.AssetExecutionContext, jira: JiraResource, knowledge_base: KnowledgeBaseResource):
        started = stats_snapshot(jira)
        first_day, end_day = partition_window(context)
        jql = window_jql(knowledge_base.scope_jql, first_day, end_day)
        client = await jira.open_client()  # checks the credentials before anything is written
        jira_time_zone = (await client.myself()).get("timeZone")
        if jira_time_zone and jira_time_zone != knowledge_base.timezone:
            # The window itself is right either way (Jira reads the dates in the user's zone); only
            # the schedules' idea of "today" and "yesterday" would be off by the zones' difference.
            context.log.warning(
                f"The Jira user's time zone is {jira_time_zone} but JARKDOWN_TIMEZONE is "
                f"{knowledge_base.timezone}: set JARKDOWN_TIMEZONE={jira_time_zone} so the schedules' days match Jira's"
            )
        kb = knowledge_base.open()
        field_definitions = kb.read_fields()
        if field_definitions is None:
            raise dg.Failure(description=f"No field definitions in {kb.fields_path}: materialize jira_fields first.")
        try:
            window = await mirror_window(
                client,
                kb,
                jql,
                **render_options(jira, knowledge_base, field_definitions),
                max_concurrent_downloads=jira.max_concurrent_downloads,
                on_progress=lambda line: context.log.info(f"Progress: {line}"),
            )
        except BadRequestError as error:
            raise dg.Failure(
                description=f"Jira rejected the search JQL: {describe_error(error)}",
                metadata={"jql": dg.MetadataValue.text(jql)},
                allow_retries=False,
            ) from None
        issues, attachments, markdown = window.issues, window.attachments, window.markdown
        run_id = run_record_id(context)
        kb.prune_run_records(RUN_RECORD_MAX_AGE_SECONDS)
        kb.write_run_record(
            run_id, "issues", {**issues.as_record(), "first_day": first_day.isoformat(), "end_day": end_day.isoformat()}
        )
        kb.write_run_record(run_id, "attachments", attachments.as_record())
        kb.write_run_record(run_id, "markdown", markdown.as_record())
        for key, reason in issues.vanished.items():
            context.log.warning(f"Skipped {key}: {reason}")
        for key, reason in issues.failed.items():
            context.log.error(f"Could not fetch {key}: {reason}")
        for key, reason in attachments.failed.items():
            context.log.error(f"Attachments of {key}: {reason}")
        for key, reason in markdown.failed.items():
            context.log.error(f"Could not render {key}: {reason}")
        context.log.info(f"Summary: {window_summary(window)}")
        # Search, fetch and downloads overlap in this step: the client's counters are the step's.
        step_client = client_metadata(jira, started)
        yield dg.MaterializeResult(
            asset_key="jira_issues",
            metadata={
                "jql": dg.MetadataValue.text(jql),
                "jira_time_zone": dg.MetadataValue.text(str(jira_time_zone)),
                "issues_in_window": dg.MetadataValue.int(len(issues.keys)),
                "fetched": dg.MetadataValue.int(len(issues.fetched)),
                "unchanged": dg.MetadataValue.int(len(issues.unchanged)),
                "raw_written": dg.MetadataValue.int(issues.raw_written),
                "skipped_vanished": dg.MetadataValue.int(len(issues.vanished)),
                "failed": dg.MetadataValue.int(len(issues.failed)),
                "failures": listing(issues.failed),
                "skipped": listing(issues.vanished),
                "restored_from_removed": listing(issues.restored),
                "path": dg.MetadataValue.path(str(kb.raw_dir)),
                **step_client,
            },
        )
        yield dg.MaterializeResult(
            asset_key="jira_attachments",
            metadata={
                "issues": dg.MetadataValue.int(attachments.issues),
                "downloaded": dg.MetadataValue.int(attachments.downloaded),
                "already_present": dg.MetadataValue.int(attachments.present),
                "attachment_bytes_downloaded": dg.MetadataValue.int(attachments.bytes_downloaded),
                "manifests_written": dg.MetadataValue.int(attachments.manifests_written),
                "removed_from_disk": dg.MetadataValue.int(sum(len(names) for names in attachments.pruned.values())),
                "failed": dg.MetadataValue.int(len(attachments.failed)),
                "failures": listing(attachments.failed),
                "path": dg.MetadataValue.path(str(kb.root)),
                **step_client,
            },
        )
        failures = merged_failures(fetch=issues.failed, attachments=attachments.failed, render=markdown.failed)
        metadata = {
            "issues": dg.MetadataValue.int(len(issues.keys)),
            "written": dg.MetadataValue.int(len(markdown.written)),
            "unchanged": dg.MetadataValue.int(len(markdown.unchanged)),
            "relinked_elsewhere": dg.MetadataValue.int(len(markdown.relinked)),
            "failed": dg.MetadataValue.int(len(failures)),
            "failures": listing(failures),
            "output_dir": dg.MetadataValue.path(str(kb.root)),
            "preview": markdown_preview(kb, markdown.written + markdown.unchanged),
        }
        if failures:
            raise dg.Failure(
                description=(
                    f"{len(failures)} of {len(issues.keys)} issues failed in this run (all others "
                    "were written). Run the partition again (a new run, not a re-execution from failure: "
                    "the search and fetch must run again) to retry exactly these: "
                    + "; ".join(f"{key}: {reason}" for key, reason in list(failures.items())[:10])
                ),
                metadata=metadata,
            )
        yield dg.MaterializeResult(asset_key="jira_markdown", metadata=metadata)

    @group_asset(
        kind="jira",
        daily=False,
        calls_jira=True,
        deps=["jira_markdown", jira_fields],
        description=(
            "Compares the keys in scope (scope JQL, updated since the start date) with the knowledge base "
            "and moves issues Jira no longer has in scope to _removed/; files linking to them are re-rendered."
        ),
    )
    async def jira_reconciliation(
        context: dg.AssetExecutionContext,
        config: ReconciliationConfig,
        jira: JiraResource,
        knowledge_base: KnowledgeBaseResource,
    ) -> dg.MaterializeResult:
        started = stats_snapshot(jira)
        kb = knowledge_base.open()
        jql = scope_jql_since(knowledge_base.scope_jql, date.fromisoformat(knowledge_base.start_date))
        client = await jira.open_client()
        options = render_options(jira, knowledge_base, kb.read_fields() or [])
        # Listed once, at the first re-render: reconcile calls back after all its moves, under the
        # knowledge base's lock, so the stored keys cannot change between re-renders.
        known_issue_keys = functools.cache(lambda: frozenset(kb.raw_issue_keys()))

        def rerender(key: str) -> bool:
            return kb.render_issue_file(key, known_issue_keys=known_issue_keys(), **options)

        guard = RemovalGuard(config.max_removed_share, config.always_allowed_removals, config.allow_removals)
        try:
            result = await reconcile(client, kb, jql, rerender=rerender, guard=guard)
        except ReconciliationRefused as refused:
            raise refused_failure(refused, jql) from None
        for key in result.moved:
            context.log.info(f"{key} is no longer in scope: moved to {kb.removed_dir}")
        metadata = {
            "jql": dg.MetadataValue.text(jql),
            "in_scope": dg.MetadataValue.int(result.in_scope),
            "moved_to_removed": dg.MetadataValue.int(len(result.moved)),
            "moved": listing(result.moved),
            "kept_stored_during_search": listing(result.kept_recent),
            "rerendered": dg.MetadataValue.int(len(result.rerendered)),
            "path": dg.MetadataValue.path(str(kb.removed_dir)),
            **client_metadata(jira, started),
        }
        if result.failed:
            raise dg.Failure(
                description=f"Could not move or re-render {len(result.failed)} issues: "
                + "; ".join(f"{key}: {reason}" for key, reason in list(result.failed.items())[:10]),
                metadata={**metadata, "failures": listing(result.failed)},
            )
        return dg.MaterializeResult(metadata=metadata)

    @group_asset(
        kind="markdown",
        daily=False,
        calls_jira=False,
        deps=["jira_markdown", jira_reconciliation],
        description="index.md: one row per issue of the whole knowledge base, sorted by key.",
    )
    def jira_index(context: dg.AssetExecutionContext, knowledge_base: KnowledgeBaseResource) -> dg.MaterializeResult:
        kb = knowledge_base.open()
        update = kb.rebuild_index()
        for problem in update.problems:
            context.log.warning(f"Left out of the index: {problem}")
        text = kb.index_path.read_text(encoding="utf-8")
        return dg.MaterializeResult(
            metadata={
                "issues": dg.MetadataValue.int(update.issues),
                "written": dg.MetadataValue.bool(update.written),
                "full_rebuild": dg.MetadataValue.bool(update.full),
                "files_rendered": dg.MetadataValue.int(len(update.rendered)),
                "unreadable_files": listing(update.problems),
                "path": dg.MetadataValue.path(str(kb.index_path)),
                "preview": dg.MetadataValue.md(text[:PREVIEW_MAX_CHARS]),
            }
        )

    return [jira_fields, jira_window, jira_reconciliation, jira_index]
