"""Schedules: yesterday's partition once a day (it is complete by then), today's every hour, and
the reconciliation once a day after the daily run.

Both evaluate in JARKDOWN_TIMEZONE, the zone the partitions' days start in. ``run_key`` makes a
re-evaluated tick never launch a second run.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from jarkdown_pipeline.orchestration.assets import whole_window_run_config
from jarkdown_pipeline.orchestration.names import DAILY_SCHEDULE, HOURLY_SCHEDULE, RECONCILIATION_SCHEDULE

DAILY_CRON = "30 0 * * *"  # 00:30: yesterday is over, and late edits have landed
HOURLY_CRON = "15 * * * *"
RECONCILIATION_CRON = "45 2 * * *"  # well after the daily run, and off the hourly run's minute


def _scheduled_time(context: dg.ScheduleEvaluationContext, timezone: str) -> datetime:
    """The tick's time in the partitions' zone (now, when evaluated outside a tick)."""
    zone = ZoneInfo(timezone)
    return (context.scheduled_execution_time or datetime.now(zone)).astimezone(zone)


def build_schedules(job: dg.JobDefinition, start_date: date, timezone: str) -> list[dg.ScheduleDefinition]:
    def partition_run(day: date, run_key: str, whole_window: bool = False) -> dg.RunRequest | dg.SkipReason:
        if day < start_date:
            return dg.SkipReason(f"{day} is before JARKDOWN_START_DATE ({start_date})")
        run_config = whole_window_run_config() if whole_window else None
        return dg.RunRequest(run_key=run_key, partition_key=day.isoformat(), run_config=run_config)

    @dg.schedule(
        name=DAILY_SCHEDULE,
        cron_schedule=DAILY_CRON,
        job=job,
        execution_timezone=timezone,
        description="Every day at 00:30: the whole of yesterday's partition, searched whole (whole_window): "
        "what the hourly runs' searches of its changes could not see (an edit Jira's index showed late) arrives.",
    )
    def jira_daily_schedule(context: dg.ScheduleEvaluationContext):
        yesterday = _scheduled_time(context, timezone).date() - timedelta(days=1)
        return partition_run(yesterday, f"daily-{yesterday.isoformat()}", whole_window=True)

    @dg.schedule(
        name=HOURLY_SCHEDULE,
        cron_schedule=HOURLY_CRON,
        job=job,
        execution_timezone=timezone,
        description="Every hour at :15: today's partition, so the knowledge base lags Jira by an hour at most.",
    )
    def jira_hourly_schedule(context: dg.ScheduleEvaluationContext):
        local = _scheduled_time(context, timezone)
        return partition_run(local.date(), f"hourly-{local:%Y-%m-%dT%H}")

    return [jira_daily_schedule, jira_hourly_schedule]


def build_reconciliation_schedule(job: dg.JobDefinition, timezone: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=RECONCILIATION_SCHEDULE,
        cron_schedule=RECONCILIATION_CRON,
        job=job,
        execution_timezone=timezone,
        description="Every day at 02:45: move issues deleted in Jira or out of scope to _removed/.",
    )
    def jira_reconciliation_schedule(context: dg.ScheduleEvaluationContext):
        local = _scheduled_time(context, timezone)
        return dg.RunRequest(run_key=f"reconciliation-{local.date().isoformat()}")

    return jira_reconciliation_schedule
