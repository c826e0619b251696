"""serve keeps the rollups current on its own: today, yesterday, late records for earlier days, and what arrived
before it (re)started; --timezone and --team-attribute reach the rollups. A backlog of late days is worked off a
bounded number of days a run, fairly between orgs, also across a restart (the Refresher on the real engine)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from aggregator.refresh import Refresher
from aggregator.rollup import Rollup
from exporters.metrics_endpoint import RollupHealthCollector
from tests.support.claude_records import at, event, identity, lines
from tests.support.paths import REPO
from tests.support.polling import wait_until
from tests.support.otlp_messages import export_request
from tests.support.exports import assert_stored
from tests.support.raw_rows import store_rows
from tests.support.read_api import ok



def prompts_on(serve, day: date, **filters) -> int | None:
    rows = ok(serve, "/api/v1/daily", **{"from": str(day), "to": str(day), **filters})["data"]
    return rows[0]["prompts"] if rows else None


def send_prompts(serve, day: date, count: int, hour: int = 12, resource: dict | None = None) -> None:
    records = [event("user_prompt", at(day, hour, minute), **identity(session=f"s-{day}-{minute}"))
               for minute in range(count)]
    assert_stored(serve, export_request(ExportLogsServiceRequest, records, resource))


@pytest.mark.slow
def test_today_and_late_data_for_an_earlier_day_are_rolled_up_without_asking(serve_factory):
    serve = serve_factory("--aggregate-interval", "1")
    today = datetime.now(timezone.utc).date()
    send_prompts(serve, today, 3, hour=0)
    assert wait_until(lambda: prompts_on(serve, today) == 3, timeout=30)

    ten_days_ago = today - timedelta(days=10)
    send_prompts(serve, ten_days_ago, 2)
    assert wait_until(lambda: prompts_on(serve, ten_days_ago) == 2, timeout=30)
    send_prompts(serve, ten_days_ago, 5, hour=13)  # later still: the day is rebuilt again
    assert wait_until(lambda: prompts_on(serve, ten_days_ago) == 7, timeout=30)


@pytest.mark.slow
def test_a_restarted_serve_rolls_up_what_arrived_before_it(tmp_path, serve_factory):
    data_dir = tmp_path / "data"
    quiet = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    long_ago = datetime.now(timezone.utc).date() - timedelta(days=40)
    send_prompts(quiet, long_ago, 4)
    assert prompts_on(quiet, long_ago) is None  # the timer is off: nothing rolled up yet
    quiet.stop()

    serve = serve_factory("--aggregate-interval", "60", data_dir=data_dir)
    assert wait_until(lambda: prompts_on(serve, long_ago) == 4, timeout=30)


@pytest.mark.slow
def test_timezone_and_team_attribute_options_shape_the_rollups(serve_factory):
    serve = serve_factory("--aggregate-interval", "0", "--timezone", "Asia/Tokyo", "--team-attribute", "squad")
    day = date(2026, 11, 2)
    # 20:00 UTC on Nov 2 is 05:00 on Nov 3 in Tokyo
    send_prompts(serve, day, 2, hour=20, resource={"squad": "red", "team": "ignored"})
    ok(serve, "/api/v1/aggregate", "POST", **{"from": "2026-11-01", "to": "2026-11-04"})
    assert prompts_on(serve, day) is None
    assert prompts_on(serve, day + timedelta(days=1), team="red") == 2


@pytest.mark.slow
def test_an_unknown_time_zone_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "cc_analytics", "serve", "--timezone", "Mars/Olympus_Mons"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown time zone 'Mars/Olympus_Mons'" in result.stderr



def send_late_lines(store, org_days: dict[tuple[str, date], int], received_at_ns: int | None = None) -> None:
    """One point of lines accepted on each (org, day), all in one export per org: late data for many days."""
    for org in {org for org, _ in org_days}:
        store_rows(store, metrics=[lines(count, at(day, 12), at(day, 11), org=org, email=f"dev@{org}.example.com")
                                   for (point_org, day), count in org_days.items() if point_org == org],
                   received_at_ns=received_at_ns)


def lines_by_org_day(store) -> dict[tuple[str, date], int]:
    return {(org, day): count for org, day, count in store.rows(
        "SELECT org_id, day, lines_accepted FROM {db}.daily_org FINAL WHERE lines_accepted > 0")}


def refresh_until_caught_up(refresher: Refresher, max_days: int, most_runs: int) -> int:
    """Timer runs until the backlog is empty; each rebuilds at most max_days days. Returns the runs taken."""
    for run in range(1, most_runs + 1):
        assert len(refresher.refresh()) <= max_days
        if not refresher.backlog_days:
            return run
    raise AssertionError(f"{refresher.backlog_days} late days still waiting after {most_runs} runs")


def late_fleet(today: date) -> dict[tuple[str, date], int]:
    """org-big: a point on each of 40 past days (an export replaying weeks); org-small: one late day."""
    truth = {("org-big", today - timedelta(days=offset)): offset for offset in range(2, 42)}
    truth[("org-small", today - timedelta(days=20))] = 100
    return truth


def test_a_backlog_of_late_days_is_bounded_per_run_and_fair_between_orgs(store):
    rollup = Rollup(store.client, store.database)
    today = rollup.today()
    truth = late_fleet(today)
    send_late_lines(store, truth)
    refresher = Refresher(rollup, max_days_per_run=5)

    first_run = {rebuilt.day for rebuilt in refresher.refresh()}
    assert len(first_run) <= 5
    # today and yesterday always, and the other org's one late day does not wait behind org-big's 40
    assert {today, today - timedelta(days=1), today - timedelta(days=20)} <= first_run
    assert refresher.backlog_days == 40 - 3  # 40 distinct late days (org-small's is one of org-big's), 3 done
    [backlog] = [family for family in RollupHealthCollector(refresher).collect()
                 if family.name == "cc_analytics_rollup_backlog"]
    assert backlog.samples[0].value == 37

    refresh_until_caught_up(refresher, 5, most_runs=20)
    assert lines_by_org_day(store) == truth


def test_a_backlog_left_by_a_stopped_serve_is_worked_off_after_a_restart(store):
    rollup = Rollup(store.client, store.database)
    truth = late_fleet(rollup.today())
    # received an hour ago, so only the saved cursor (not the receive margin) can find them again
    send_late_lines(store, truth, received_at_ns=time.time_ns() - 3600 * 10**9)
    stopped = Refresher(rollup, max_days_per_run=4)
    stopped.refresh()
    assert stopped.backlog_days > 30

    restarted = Refresher(Rollup(store.client, store.database), max_days_per_run=4)
    refresh_until_caught_up(restarted, 4, most_runs=25)
    assert lines_by_org_day(store) == truth
