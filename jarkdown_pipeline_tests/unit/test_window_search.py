"""Which part of a window a run searches (window_search), over a real SQLite state store."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jarkdown_pipeline.state_store import SqliteStateStore
from jarkdown_pipeline.window_search import (
    CHANGES_MARGIN,
    FULL_SEARCH_EVERY,
    jql_moment_literal,
    latest_of,
    plan_window_search,
    record_window_search,
    scope_digest,
)

DAY, NEXT = date(2026, 11, 20), date(2026, 11, 21)
BERLIN = "Europe/Berlin"
NOW = 1_800_000_000.0
SEEN = datetime(2026, 11, 20, 16, 47, 30, tzinfo=UTC)  # 17:47:30 in Berlin


@pytest.fixture
def store(tmp_path):
    with SqliteStateStore(tmp_path / "state.sqlite3") as opened:
        yield opened


def plan(store, start=DAY, end=NEXT, *, scope=None, digest="d1", zone=BERLIN, whole=False, now=NOW):
    return plan_window_search(store, scope, start, end, context_digest=digest, time_zone=zone, whole=whole, now=now)


def complete_run(store, search, latest, now=NOW):
    record_window_search(store, search, latest, now=now)


def test_literals_name_the_wall_time_in_the_users_zone_to_the_minute():
    assert jql_moment_literal(SEEN, ZoneInfo(BERLIN)) == '"2026-11-20 17:47"'
    assert jql_moment_literal(SEEN, ZoneInfo("America/Los_Angeles")) == '"2026-11-20 08:47"'


@pytest.mark.parametrize("fold_hour_utc", [0, 1])
def test_a_wall_time_read_twice_steps_back_an_hour_so_the_search_never_starts_late(fold_hour_utc):
    # 2026-10-25 in Berlin: 02:00-03:00 comes twice (00:xx and 01:xx UTC); Jira may read either.
    moment = datetime(2026, 10, 25, fold_hour_utc, 30, tzinfo=UTC)
    assert jql_moment_literal(moment, ZoneInfo(BERLIN)) == '"2026-10-25 01:30"'


def test_the_first_run_of_a_window_searches_all_of_it(store):
    search = plan(store)
    assert search.since is None and search.jql == search.window_jql
    assert search.jql == 'updated >= "2026-11-20 00:00" AND updated < "2026-11-21 00:00"'
    assert search.reason == "the whole window: no complete run of it is on record"


def test_after_a_complete_run_only_changes_since_its_latest_update_less_the_margin(store):
    complete_run(store, plan(store), SEEN)
    search = plan(store, now=NOW + 3600)
    assert search.since == SEEN - CHANGES_MARGIN
    assert search.jql == f'{search.window_jql} AND updated >= "2026-11-20 17:32"'
    assert search.reason.startswith("changes since 2026-11-20 17:32 (Europe/Berlin)")


def test_a_refresh_keeps_the_later_watermark_and_the_time_of_the_whole_search(store):
    complete_run(store, plan(store), SEEN)
    refresh = plan(store, now=NOW + 60)
    complete_run(store, refresh, SEEN + timedelta(hours=2), now=NOW + 60)
    assert plan(store, now=NOW + 120).since == SEEN + timedelta(hours=2) - CHANGES_MARGIN
    complete_run(store, plan(store, now=NOW + 180), None, now=NOW + 180)  # it found nothing new
    assert plan(store, now=NOW + 240).since == SEEN + timedelta(hours=2) - CHANGES_MARGIN
    # The whole search's time was kept: a day later the window is swept whole again.
    late = NOW + FULL_SEARCH_EVERY.total_seconds() + 1
    assert plan(store, now=late).reason == "the whole window: last searched whole more than 24 hours ago"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"digest": "d2"}, "its files would be rendered otherwise (the renderer or its options changed)"),
        ({"whole": True}, "asked for (whole_window)"),
        ({"zone": None}, "the Jira user's time zone None is not known here"),
        ({"zone": "Mars/Olympus_Mons"}, "the Jira user's time zone 'Mars/Olympus_Mons' is not known here"),
        ({"end": date(2026, 11, 22)}, "no complete run of it is on record"),  # the 21st never ran
        ({"scope": "project = OPS"}, "no complete run of it is on record"),
    ],
)
def test_the_whole_window_is_searched_again_when(store, change, reason):
    complete_run(store, plan(store), SEEN)
    search = plan(store, **change)
    assert search.since is None and search.jql == search.window_jql
    assert search.reason == f"the whole window: {reason}"


def test_a_complete_run_that_found_nothing_leaves_the_next_one_whole(store):
    complete_run(store, plan(store), None)
    assert plan(store).reason == "the whole window: its last complete search found no issue"


def test_a_range_run_vouches_for_each_of_its_days(store):
    complete_run(store, plan(store, DAY, date(2026, 11, 23)), SEEN)
    assert plan(store, date(2026, 11, 21), date(2026, 11, 22)).since == SEEN - CHANGES_MARGIN
    assert plan(store, DAY, date(2026, 11, 23)).since == SEEN - CHANGES_MARGIN


def test_a_refresh_records_nothing_for_a_day_whose_record_went_meanwhile(store):
    complete_run(store, plan(store), SEEN)
    refresh = plan(store)
    store.replace_all([])  # e.g. the store rebuilt from the files during the run
    complete_run(store, refresh, SEEN + timedelta(hours=1))
    assert store.window_searches(scope_digest(None), [DAY.isoformat()]) == {}


def test_latest_of_takes_jira_timestamps_in_any_offset_and_ignores_the_rest():
    latest = latest_of("2026-11-20T17:47:30.000+0100", None)
    assert latest == datetime(2026, 11, 20, 16, 47, 30, tzinfo=UTC)
    assert latest_of("2026-11-20T16:00:00.000+0000", latest) == latest
    assert latest_of("not a time", latest) == latest and latest_of(None, None) is None
