"""serve keeps the rollups current on its own: today, yesterday, late records for earlier days, and what arrived
before it (re)started; --timezone and --team-attribute reach the rollups."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.support.claude_records import at, event, identity
from tests.support.paths import REPO
from tests.support.polling import wait_until
from tests.support.otlp_messages import export_request
from tests.support.exports import assert_stored
from tests.support.read_api import ok

pytestmark = pytest.mark.slow


def prompts_on(serve, day: date, **filters) -> int | None:
    rows = ok(serve, "/api/v1/daily", **{"from": str(day), "to": str(day), **filters})["data"]
    return rows[0]["prompts"] if rows else None


def send_prompts(serve, day: date, count: int, hour: int = 12, resource: dict | None = None) -> None:
    records = [event("user_prompt", at(day, hour, minute), **identity(session=f"s-{day}-{minute}"))
               for minute in range(count)]
    assert_stored(serve, export_request(ExportLogsServiceRequest, records, resource))


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


def test_a_restarted_serve_rolls_up_what_arrived_before_it(tmp_path, serve_factory):
    data_dir = tmp_path / "data"
    quiet = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    long_ago = datetime.now(timezone.utc).date() - timedelta(days=40)
    send_prompts(quiet, long_ago, 4)
    assert prompts_on(quiet, long_ago) is None  # the timer is off: nothing rolled up yet
    quiet.stop()

    serve = serve_factory("--aggregate-interval", "60", data_dir=data_dir)
    assert wait_until(lambda: prompts_on(serve, long_ago) == 4, timeout=30)


def test_timezone_and_team_attribute_options_shape_the_rollups(serve_factory):
    serve = serve_factory("--aggregate-interval", "0", "--timezone", "Asia/Tokyo", "--team-attribute", "squad")
    day = date(2026, 11, 2)
    # 20:00 UTC on Nov 2 is 05:00 on Nov 3 in Tokyo
    send_prompts(serve, day, 2, hour=20, resource={"squad": "red", "team": "ignored"})
    ok(serve, "/api/v1/aggregate", "POST", **{"from": "2026-11-01", "to": "2026-11-04"})
    assert prompts_on(serve, day) is None
    assert prompts_on(serve, day + timedelta(days=1), team="red") == 2


def test_an_unknown_time_zone_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "cc_analytics", "serve", "--timezone", "Mars/Olympus_Mons"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown time zone 'Mars/Olympus_Mons'" in result.stderr

