"""``defs``: the code location. Settings are read and validated when it loads (a missing or
malformed variable fails here, naming it); secrets stay ``dg.EnvVar`` and are read in each step.

``build_definitions`` takes explicit settings and resources, for tests and for embedding; ``defs``
is built from the environment on first access, so importing this module never needs the settings.
"""

import functools

import dagster as dg

from jarkdown_pipeline.orchestration import names
from jarkdown_pipeline.orchestration.assets import build_assets
from jarkdown_pipeline.orchestration.checks import CHECKS
from jarkdown_pipeline.orchestration.jobs import build_jira_markdown_job, build_jira_reconciliation_job
from jarkdown_pipeline.orchestration.partitions import daily_partitions_from_settings
from jarkdown_pipeline.orchestration.resources import JiraResource, KnowledgeBaseResource, MirrorScope
from jarkdown_pipeline.orchestration.schedules import build_reconciliation_schedule, build_schedules
from jarkdown_pipeline.settings import Settings, load_settings

# Evaluates jira_index's automation condition (it follows the issue assets). Running by default:
# a user who materializes partitions in the UI gets an up-to-date index.md without turning it on.
# It needs the daemon, which `make dev` (dagster dev) starts.
INDEX_AUTOMATION_SENSOR = dg.AutomationConditionSensorDefinition(
    names.AUTOMATION_SENSOR,
    target=dg.AssetSelection.assets(names.INDEX),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Materializes jira_index after any materialization of jira_markdown or jira_reconciliation "
    "that did not include it (partitions materialized from the UI, a backfill).",
)


def build_definitions(
    settings: Settings,
    *,
    jira: JiraResource | None = None,
    knowledge_base: KnowledgeBaseResource | None = None,
) -> dg.Definitions:
    job = build_jira_markdown_job()
    reconciliation_job = build_jira_reconciliation_job()
    return dg.Definitions(
        assets=build_assets(daily_partitions_from_settings(settings)),
        asset_checks=CHECKS,
        jobs=[job, reconciliation_job],
        schedules=[
            *build_schedules(job, settings.start_date, settings.timezone),
            build_reconciliation_schedule(reconciliation_job, settings.timezone),
        ],
        sensors=[INDEX_AUTOMATION_SENSOR],
        resources={
            "jira": jira or JiraResource.from_settings(settings),
            "knowledge_base": knowledge_base or KnowledgeBaseResource.from_settings(settings),
            "mirror": MirrorScope.from_settings(settings),
        },
    )


@functools.cache
def definitions_from_environment() -> dg.Definitions:
    return build_definitions(load_settings())


def __getattr__(name: str):
    if name == "defs":
        return definitions_from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"defs"})
