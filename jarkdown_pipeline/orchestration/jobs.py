"""The jobs: the window run (one partition, or a range as one run) and the reconciliation run.

Reconciliation scans every key in scope (a light search request per thousand issues), so it has a
job and a daily schedule of its own instead of being a step of every hourly window run.
"""

import dagster as dg

from jarkdown_pipeline.orchestration import names


def build_jira_markdown_job() -> dg.JobDefinition:
    # Partitioning is inferred from the selected assets (daily).
    return dg.define_asset_job(
        name=names.JIRA_MARKDOWN_JOB,
        selection=dg.AssetSelection.groups(names.GROUP) - dg.AssetSelection.assets(names.RECONCILIATION),
        # In process: the steps are I/O-bound and async; one process starts once where a process per
        # step costs a start-up each, and all steps share one client and its connection pool. Ad-hoc
        # materializations (UI, `dagster asset materialize`) keep Dagster's multiprocess default.
        executor_def=dg.in_process_executor,
        description=(
            "Mirror the issues updated in the partition's day (or range) into the Markdown knowledge base, "
            "refresh field definitions and update the index. Reconciliation has its own job."
        ),
    )


def build_jira_reconciliation_job() -> dg.JobDefinition:
    return dg.define_asset_job(
        name=names.JIRA_RECONCILIATION_JOB,
        selection=dg.AssetSelection.assets(names.RECONCILIATION, names.INDEX),
        executor_def=dg.in_process_executor,
        description=(
            "Find issues deleted in Jira or moved out of scope (a scan of every key in scope), move them to "
            "_removed/, re-render the files that link to them and update the index."
        ),
    )
