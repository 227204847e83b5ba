"""Which part of a window a run searches: the whole window, or only what changed since the last
complete search of it.

A refresh of a day that was mirrored completely (every issue stored, every file written) searches the
window AND ``updated >=`` the latest ``updated`` that search saw, less a margin: Jira sets ``updated``
from its own clock on every edit, so what changed since shows there, and an hourly refresh of a busy
day lists the day's changes, not the whole day. The whole window is searched again when there is no
such record for every day of the window, when the files would be rendered otherwise (renderer or
options changed), when the last whole search is older than FULL_SEARCH_EVERY (a sweep for what a
changes-only search cannot see: an issue back in scope with an old ``updated``, a file deleted by
hand), or when the run asks for it. A run with any failure records nothing, so the next run retries.

Records live in the state store (``window_searches``), one per day and scope; a rebuilt store has none.
"""

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jarkdown_pipeline.knowledge_base import parse_jira_timestamp
from jarkdown_pipeline.state_store import StateStore, WindowSearchRecord

# Jira's search index trails its writes: an edit just before the last search may have been missing
# from it although later edits were in. Issues found again inside the margin are unchanged (not fetched).
CHANGES_MARGIN = timedelta(minutes=15)
FULL_SEARCH_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class WindowSearch:
    """The JQL a run of the window ``[start, end)`` searches, and why."""

    scope_jql: str | None
    start: date
    end: date
    context_digest: str
    window_jql: str
    jql: str
    since: datetime | None
    """The search's lower bound on ``updated`` (None: the whole window)."""
    reason: str
    """Why the whole window, or since when: for the run's log and metadata."""


def jql_date_literal(day: date) -> str:
    """A JQL date-time literal at midnight. Jira reads it in the user's time zone, at minute precision."""
    return f'"{day:%Y-%m-%d} 00:00"'


def within_scope(scope_jql: str | None, condition: str) -> str:
    """``condition`` AND-ed with the scope JQL; the scope is parenthesised so its ORs stay inside."""
    return f"({scope_jql}) AND {condition}" if scope_jql else condition


def window_jql(scope_jql: str | None, start: date, end: date) -> str:
    """Issues in scope updated in ``[start 00:00, end 00:00)`` (the Jira user's time zone)."""
    return within_scope(scope_jql, f"updated >= {jql_date_literal(start)} AND updated < {jql_date_literal(end)}")


def jql_moment_literal(moment: datetime, zone: ZoneInfo) -> str:
    """A JQL literal at or before ``moment``, as Jira reads it: wall time in ``zone``, to the minute.

    A wall time the zone has twice (autumn) or never (spring) could be read an hour late: the
    literal steps back until it names one instant, so the search never starts after ``moment``.
    """
    wall = moment.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
    while not names_one_instant(wall, zone):
        wall -= timedelta(hours=1)
    return f'"{wall:%Y-%m-%d %H:%M}"'


def names_one_instant(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive wall time is one instant in ``zone`` (not skipped, not repeated)."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() == second.utcoffset()


def scope_digest(scope_jql: str | None) -> str:
    """The store's name for a scope: records of another scope JQL never apply."""
    return hashlib.blake2b((scope_jql or "").encode("utf-8"), digest_size=16).hexdigest()


def window_days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def plan_window_search(
    store: StateStore,
    scope_jql: str | None,
    start: date,
    end: date,
    *,
    context_digest: str,
    time_zone: str | None,
    whole: bool = False,
    now: float | None = None,
) -> WindowSearch:
    """What to search for the window ``[start, end)``: see the module's docstring."""
    whole_window = window_jql(scope_jql, start, end)
    days = [day.isoformat() for day in window_days(start, end)]
    records = store.window_searches(scope_digest(scope_jql), days)
    zone = jira_zone(time_zone)
    if whole:
        reason: str | None = "asked for (whole_window)"
    elif zone is None:
        reason = f"the Jira user's time zone {time_zone!r} is not known here"
    else:
        reason = whole_search_reason(records, days, context_digest, time.time() if now is None else now)
    if reason is not None or zone is None:
        return WindowSearch(
            scope_jql, start, end, context_digest, whole_window, whole_window, None, f"the whole window: {reason}"
        )
    since = min(record.watermark for record in records.values() if record.watermark is not None) - CHANGES_MARGIN
    literal = jql_moment_literal(since, zone)
    return WindowSearch(
        scope_jql,
        start,
        end,
        context_digest,
        whole_window,
        f"{whole_window} AND updated >= {literal}",
        since,
        f"changes since {literal.strip(chr(34))} ({time_zone}): the last complete search's latest update "
        f"less {CHANGES_MARGIN.total_seconds() / 60:.0f} minutes",
    )


def jira_zone(time_zone: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(time_zone) if time_zone else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def whole_search_reason(
    records: Mapping[str, WindowSearchRecord], days: Sequence[str], context_digest: str, now: float
) -> str | None:
    """Why the whole window must be searched (None: its changes are enough)."""
    if not days or any(day not in records for day in days):
        return "no complete run of it is on record"
    if any(record.context_digest != context_digest for record in records.values()):
        return "its files would be rendered otherwise (the renderer or its options changed)"
    if any(record.watermark is None for record in records.values()):
        return "its last complete search found no issue"
    if any(now - record.full_search_at > FULL_SEARCH_EVERY.total_seconds() for record in records.values()):
        return f"last searched whole more than {FULL_SEARCH_EVERY.total_seconds() / 3600:.0f} hours ago"
    return None


def record_window_search(
    store: StateStore, search: WindowSearch, latest_updated: datetime | None, *, now: float | None = None
) -> None:
    """After a run without failures: what it saw, for the next run of any of its days."""
    scope = scope_digest(search.scope_jql)
    days = [day.isoformat() for day in window_days(search.start, search.end)]
    digest, now = search.context_digest, time.time() if now is None else now
    if search.since is None:  # it saw the whole window
        records = [WindowSearchRecord(day, latest_updated, digest, now) for day in days]
    else:  # what changed since, on top of what the earlier ones saw (a day whose record went stays without)
        records = [
            WindowSearchRecord(day, later_of(latest_updated, before.watermark), digest, before.full_search_at)
            for day, before in store.window_searches(scope, days).items()
        ]
    store.record_window_searches(scope, records)


def later_of(first: datetime | None, second: datetime | None) -> datetime | None:
    return second if first is None else first if second is None else max(first, second)


def latest_of(updated: object, latest: datetime | None) -> datetime | None:
    """The later of Jira's ``updated`` value (when it is one) and ``latest``."""
    return later_of(parse_jira_timestamp(updated), latest)
