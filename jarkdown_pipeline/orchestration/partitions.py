"""Daily partitions on Jira's ``updated`` field.

A partition ``2026-11-20`` is the window ``updated >= "2026-11-20 00:00" AND updated < "2026-11-21
00:00"``. Jira reads these literals in the Jira user's own time zone, which is exactly the day the
user means, so no conversion happens here. ``end_offset=1`` makes today's partition exist, for the
hourly refresh. ``timezone`` (JARKDOWN_TIMEZONE) only decides when a day starts for the schedules;
set it to the Jira user's zone.
"""

from datetime import date

import dagster as dg

from jarkdown_pipeline.settings import Settings


def build_daily_partitions(start_date: date, timezone: str = "UTC") -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start_date.isoformat(), timezone=timezone, end_offset=1)


def daily_partitions_from_settings(settings: Settings) -> dg.DailyPartitionsDefinition:
    return build_daily_partitions(settings.start_date, settings.timezone)


def partition_window(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """``[first day, day after the last)`` of the run's partition, or of a single-run backfill's range."""
    window = context.partition_time_window
    return window.start.date(), window.end.date()
