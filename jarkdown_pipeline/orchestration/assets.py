"""The assets of group ``jira``: fields, issues, attachments, Markdown, reconciliation, index.

Data passes between assets through the knowledge base on disk (raw JSON, attachment manifests and a
small record per stage under ``.jarkdown/runs/<root run id>/``), never through pickled outputs, so
any executor, process or re-execution sees the same thing. The work itself lives in
``jarkdown_pipeline.sync``; each asset opens what the stage needs, calls it, and reports what it did
through ``metadata``. Only the window's partitions depend on the settings (its first day), so only
``jira_window`` is decorated in ``build_window_asset``; the others are plain module-level assets.
"""

import asyncio
import time
import warnings
from typing import Any

import dagster as dg
from pydantic import Field

from jarkdown_pipeline.base_url import normalise_base_url
from jarkdown_pipeline.exceptions import BadRequestError
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.orchestration import metadata, names
from jarkdown_pipeline.orchestration.partitions import partition_window
from jarkdown_pipeline.orchestration.resources import JiraResource, KnowledgeBaseResource, MirrorScope
from jarkdown_pipeline.sync import (
    RECONCILE_ALWAYS_ALLOWED_REMOVALS,
    RECONCILE_MAX_REMOVED_SHARE,
    ReconciliationRefused,
    RemovalGuard,
    describe_error,
    linking_file_rerender,
    reconcile,
    refresh_window,
    render_issue_options,
    scope_jql_since,
)
from jarkdown_pipeline.window_search import plan_window_search


def group_asset(decorator=dg.asset, **kwargs):
    """``decorator`` (dg.asset or dg.multi_asset) with the group and a single-run backfill policy.

    Every asset of the group backfills a range in one run. The policy is beta in Dagster 1.13 yet
    required for that: its warning is silenced once here, not shown on every load of the code location.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        if decorator is dg.asset:
            kwargs["group_name"] = names.GROUP
        return decorator(backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)


# jira_index follows the issue assets: materializing any partition from the UI (or a backfill)
# brings index.md up to date, through the automation sensor (definitions.py), without a second
# click. Runs that already include jira_index (the jobs) do not trigger it again. A partition that
# was never materialized, or a reconciliation that never ran, does not hold the index back.
INDEX_FOLLOWS_ISSUES = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("after any partition of jira_markdown or a reconciliation")
)


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


def render_options(
    jira: JiraResource, knowledge_base: KnowledgeBaseResource, field_definitions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The keywords every issue render takes from the settings (the Markdown stage and reconciliation)."""
    return render_issue_options(
        field_definitions,
        str(normalise_base_url(jira.base_url)),
        knowledge_base.include_custom_fields,
        knowledge_base.exclude_custom_fields,
        knowledge_base.history,
    )


@group_asset(
    pool=names.JIRA_POOL,
    kinds={"jira"},
    description="Jira's field definitions (id, name, schema): custom fields get their display names from here.",
)
async def jira_fields(jira: JiraResource, knowledge_base: KnowledgeBaseResource) -> dg.MaterializeResult:
    started = metadata.client_counters(jira.client_if_open)
    client = await jira.open_client()
    fields = await client.fetch_fields()
    kb = knowledge_base.open()
    written = kb.write_fields(fields)
    return dg.MaterializeResult(
        metadata={
            **metadata.fields_metadata(fields, written, kb.fields_path),
            **metadata.client_metadata(metadata.client_counters(client), started),
        }
    )


def warn_on_other_time_zone(context: dg.AssetExecutionContext, jira_time_zone: str | None, timezone: str) -> None:
    # The window itself is right either way (Jira reads the dates in the user's zone); only the
    # schedules' idea of "today" and "yesterday" would be off by the zones' difference.
    if jira_time_zone and jira_time_zone != timezone:
        context.log.warning(
            f"The Jira user's time zone is {jira_time_zone} but JARKDOWN_TIMEZONE is "
            f"{timezone}: set JARKDOWN_TIMEZONE={jira_time_zone} so the schedules' days match Jira's"
        )


def field_definitions_of(kb: KnowledgeBase) -> list[dict[str, Any]]:
    field_definitions = kb.read_fields()
    if field_definitions is None:
        raise dg.Failure(
            description=f"No field definitions in {kb.fields_path}: materialize {names.FIELDS.to_user_string()} first."
        )
    return field_definitions


class WindowConfig(dg.Config):
    """Run config of ``jira_window``."""

    whole_window: bool = Field(
        default=False,
        description="Search the partition's whole day even when a complete run of it is on record (by default "
        "such a run searches only what changed since; see docs/ARCHITECTURE.md): restores files deleted by hand "
        "and issues back in scope with an old update.",
    )


def whole_window_run_config() -> dict[str, Any]:
    """The run config with which a run of jira_markdown_job searches its partition's whole day."""
    return {"ops": {names.WINDOW_OP: {"config": {"whole_window": True}}}}


async def mirror_partition(
    context: dg.AssetExecutionContext,
    config: WindowConfig,
    jira: JiraResource,
    knowledge_base: KnowledgeBaseResource,
    mirror: dg.ResourceParam[MirrorScope],
):
    """``jira_window``: search, fetch, download and render the partition's issues as one stream."""
    started, started_at = metadata.client_counters(jira.client_if_open), time.monotonic()
    first_day, end_day = partition_window(context)
    client = await jira.open_client()  # checks the credentials before anything is written
    jira_time_zone = (await client.myself()).get("timeZone")
    warn_on_other_time_zone(context, jira_time_zone, mirror.timezone)
    kb = knowledge_base.open()
    options = render_options(jira, knowledge_base, field_definitions_of(kb))
    search = await asyncio.to_thread(
        plan_window_search,
        kb.store,
        mirror.scope_jql,
        first_day,
        end_day,
        context_digest=options.context_digest,
        time_zone=jira_time_zone,
        whole=config.whole_window,
    )
    context.log.info(f"Searching {search.reason}")
    jql = search.jql
    try:
        window = await refresh_window(
            client,
            kb,
            search,
            **options,
            max_concurrent_downloads=jira.max_concurrent_downloads,
            on_progress=lambda line: context.log.info(f"Progress: {line}"),
        )
    except BadRequestError as error:
        raise metadata.rejected_jql_failure(describe_error(error), jql) from None
    run_id = metadata.run_record_id(context)
    kb.prune_run_records(names.RUN_RECORD_MAX_AGE_SECONDS)
    days = {"first_day": first_day.isoformat(), "end_day": end_day.isoformat()}
    kb.write_run_record(run_id, "issues", {**window.issues.as_record(), **days})
    kb.write_run_record(run_id, "attachments", window.attachments.as_record())
    kb.write_run_record(run_id, "markdown", window.markdown.as_record())
    for level, line in metadata.window_problems(window):
        getattr(context.log, level)(line)
    # Search, fetch and downloads overlap in this step: the client's counters are the step's.
    step_client = metadata.client_metadata(metadata.client_counters(client), started)
    counters = {name: value.value for name, value in step_client.items()}
    context.log.info(f"Summary: {metadata.window_summary(window, counters, time.monotonic() - started_at)}")
    yield dg.MaterializeResult(
        asset_key=names.ISSUES, metadata={**metadata.issues_metadata(window, jql, jira_time_zone, kb), **step_client}
    )
    yield dg.MaterializeResult(
        asset_key=names.ATTACHMENTS, metadata={**metadata.attachments_metadata(window, kb), **step_client}
    )
    markdown_metadata = metadata.markdown_metadata(window, kb, str(normalise_base_url(jira.base_url)))
    if metadata.window_failures(window):
        raise metadata.window_failure(window, markdown_metadata)
    yield dg.MaterializeResult(asset_key=names.MARKDOWN, metadata=markdown_metadata)


# Issues, attachments and Markdown of the window are one step: a stream in which each bulk page's
# issues start downloading their attachments at once and each issue is rendered as soon as its own
# attachments are in (jarkdown_pipeline.sync.mirror_window). Three assets, so the UI, the checks
# and downstream assets see the same keys as when they were three steps.
WINDOW_SPECS = [
    dg.AssetSpec(
        names.ISSUES,
        group_name=names.GROUP,
        kinds={"jira"},
        description=(
            "Issues updated in the partition's day (in the Jira user's time zone) within the scope JQL: "
            "found by JQL search, fetched complete by bulk fetch, kept as raw JSON in .jarkdown/raw/."
        ),
    ),
    dg.AssetSpec(
        names.ATTACHMENTS,
        group_name=names.GROUP,
        kinds={"jira"},
        deps=[names.ISSUES],
        description=(
            "Every attachment of the partition's issues, downloaded concurrently under one bound into "
            "KEY/attachments/ as soon as each bulk page is stored; already-present files (same size) are "
            "not downloaded again."
        ),
    ),
    dg.AssetSpec(
        names.MARKDOWN,
        group_name=names.GROUP,
        kinds={"markdown"},
        deps=[names.ATTACHMENTS, names.FIELDS],
        description=(
            "One KEY/KEY.md per issue of the partition, rendered from the stored JSON as soon as its "
            "attachments are in; a file is rewritten only when its content changed. Fails (after writing "
            "all others) if any issue failed in this run."
        ),
    ),
]


def build_window_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """``jira_window``, partitioned by day from the settings' first day."""
    return group_asset(
        dg.multi_asset,
        name=names.WINDOW_OP,
        specs=WINDOW_SPECS,
        partitions_def=partitions_def,
        pool=names.JIRA_POOL,
        can_subset=False,
    )(mirror_partition)


@group_asset(
    pool=names.JIRA_POOL,
    deps=[names.MARKDOWN, names.FIELDS],
    kinds={"jira"},
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
    mirror: dg.ResourceParam[MirrorScope],
) -> dg.MaterializeResult:
    started = metadata.client_counters(jira.client_if_open)
    kb = knowledge_base.open()
    jql = scope_jql_since(mirror.scope_jql, mirror.start_date)
    client = await jira.open_client()
    rerender = linking_file_rerender(kb, render_options(jira, knowledge_base, kb.read_fields() or []))
    guard = RemovalGuard(config.max_removed_share, config.always_allowed_removals, config.allow_removals)
    try:
        result = await reconcile(client, kb, jql, rerender=rerender, guard=guard)
    except ReconciliationRefused as refused:
        raise metadata.refused_failure(refused, jql) from None
    for key in result.moved:
        context.log.info(f"{key} is no longer in scope: moved to {kb.removed_dir}")
    step_client = metadata.client_metadata(metadata.client_counters(client), started)
    counters = {name: value.value for name, value in step_client.items()}
    context.log.info(f"Summary: {metadata.reconciliation_summary(result, counters)}")
    result_metadata = {**metadata.reconciliation_metadata(result, kb), **step_client}
    if result.failed:
        raise metadata.reconciliation_failure(result, result_metadata)
    return dg.MaterializeResult(metadata=result_metadata)


@group_asset(
    deps=[names.MARKDOWN, names.RECONCILIATION],
    kinds={"markdown"},
    automation_condition=INDEX_FOLLOWS_ISSUES,
    description=(
        "index.md: one row per issue of the whole knowledge base, sorted by key. Follows any "
        "materialization of jira_markdown or jira_reconciliation (declarative automation)."
    ),
)
def jira_index(context: dg.AssetExecutionContext, knowledge_base: KnowledgeBaseResource) -> dg.MaterializeResult:
    kb = knowledge_base.open()
    update = kb.rebuild_index()
    for problem in update.problems:
        context.log.warning(f"Left out of the index: {problem}")
    return dg.MaterializeResult(metadata=metadata.index_metadata(update, kb))


def build_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [jira_fields, build_window_asset(partitions_def), jira_reconciliation, jira_index]
