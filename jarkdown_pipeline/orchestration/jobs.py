"""The job that materializes one partition (or a range, as one run) of the whole group."""

import dagster as dg

from jarkdown_pipeline.orchestration.assets import GROUP

JIRA_MARKDOWN_JOB = "jira_markdown_job"



def build_jira_markdown_job() -> dg.JobDefinition:
    # Partitioning is inferred from the selected assets (daily).
    return dg.define_asset_job(
        name=JIRA_MARKDOWN_JOB,
        selection=dg.AssetSelection.groups(GROUP),
        # In process: the steps are I/O-bound and async; one process starts in ~3 s where a process
        # per step costs seconds each, and all steps share one client and its connection pool. Ad-hoc
        # materializations (UI, `dagster asset materialize`) keep Dagster's multiprocess default.
        executor_def=dg.in_process_executor,
        description=(
            "Mirror the issues updated in the partition's day (or range) into the Markdown knowledge base, "
            "refresh field definitions, reconcile removed issues and rebuild index.md."
        ),
    )
