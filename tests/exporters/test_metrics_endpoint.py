"""/metrics of a real serve fed Claude Code records: valid exposition (promtool check metrics), the
options that change it, and `cc-analytics export openmetrics` on the store directly (no serve running)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.claude_records import event, identity, lines
from tests.support.exports import assert_stored
from tests.support.paths import REPO
from tests.support.polling import wait_until
from tests.support.otlp_messages import export_request
from tests.support.prometheus_server import prometheus_tool

pytestmark = pytest.mark.slow


MEMBERS = ("ada@example.com", "grace@example.com", "")  # the last signed in with an API key: no email


def feed_today(serve) -> None:
    """Lines accepted and a prompt for each member, now, over OTLP/HTTP protobuf; then today's rollups."""
    now = time.time_ns()
    for number, email in enumerate(MEMBERS):
        who = {"email": email, "session": f"s-{number}", "org": "org-a"}
        for request in (export_request(ExportMetricsServiceRequest, [lines(3 + number, now, now - 60 * 10**9, **who)],
                                       {"team": "payments"}),
                        export_request(ExportLogsServiceRequest, [event("user_prompt", now, **identity(**who))])):
            assert_stored(serve, request)
    today = f"{datetime.now(timezone.utc).date()}"
    serve.api("POST", "/api/v1/aggregate", **{"from": today, "to": today})


def scrape(serve) -> str:
    with urllib.request.urlopen(f"http://{serve.host}:{serve.api_port}/metrics", timeout=30) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return reply.read().decode()


def scrape_until(serve, condition, expected="") -> str:
    """Scrapes until condition(text) holds: after a rebuild through the API, scrapes get the previous text (right
    as of the previous rollups) until the new one is rendered."""
    texts = []
    assert wait_until(lambda: texts.append(scrape(serve)) or condition(texts[-1])), f"expected {expected}\n{texts[-1]}"
    return texts[-1]


def member_labels(text: str) -> set[str]:
    return {key.split('user="')[1].split('"')[0] for key in samples(text, "cc_analytics_user_month_lines_accepted")}


def samples(text: str, family: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(family + "{") or line.startswith(family + " ")}


def test_metrics_is_valid_exposition_with_usage_and_health(serve_factory):
    serve = serve_factory()
    feed_today(serve)
    users = {row["user_key"] for row in serve.query("SELECT DISTINCT user_key FROM events")}
    # The first text to show every member can be a render of the start-up rollup that ran between two of the
    # exports, with none of the lines yet: wait for the text of the rebuild that came after all of them.
    text = scrape_until(serve, lambda text: member_labels(text) == users
                        and sum(samples(text, "cc_analytics_lines_accepted_total").values()) == 3 + 4 + 5)
    check = subprocess.run([prometheus_tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    stored = serve.scalar("SELECT count() FROM events")
    assert samples(text, "cc_analytics_collector_records_received_total")[
        'cc_analytics_collector_records_received_total{signal="logs",transport="http"}'] == stored
    assert "_created" not in text

    # The text is kept between scrapes only while the rollups stay the same: new data shows once re-rendered (the
    # first scrape after a rebuild through the API may still get the previous text while that runs).
    before = samples(text, "cc_analytics_lines_accepted_total")
    feed_today(serve)
    doubled = {series: 2 * lines for series, lines in before.items()}
    scrape_until(serve, lambda text: samples(text, "cc_analytics_lines_accepted_total") == doubled, doubled)
    assert sum(before.values()) == 3 + 4 + 5


def test_hashed_user_labels_and_usage_metrics_off(serve_factory, tmp_path):
    hashed = serve_factory("--hash-user-labels", data_dir=tmp_path / "hashed")
    feed_today(hashed)
    users = {row["user_key"] for row in hashed.query("SELECT DISTINCT user_key FROM events")}
    expected = {f"user-{hashlib.sha256(user.encode()).hexdigest()[:16]}" for user in users}
    text = scrape_until(hashed, lambda text: member_labels(text) == expected)
    assert not any(user in text for user in users)

    replica = serve_factory("--usage-metrics", "no", "--aggregate-interval", "0", data_dir=tmp_path / "replica")
    feed_today(replica)
    text = scrape(replica)
    assert "cc_analytics_collector_records_received_total" in text
    assert "cc_analytics_window_" not in text and "cc_analytics_lines_accepted_total" not in text
    assert "cc_analytics_rollup_last_success" not in text  # this replica does not aggregate


def test_export_openmetrics_reads_the_store_when_no_serve_runs(serve_factory, tmp_path):
    data_dir = tmp_path / "data"
    serve = serve_factory(data_dir=data_dir)
    feed_today(serve)
    [day] = {row["day"] for row in serve.query("SELECT DISTINCT toString(toDate(timestamp)) AS day FROM events")}
    lines = serve.scalar("SELECT sum(lines_accepted) FROM daily_user FINAL")
    assert serve.stop() == 0
    history = tmp_path / "history.om"
    started = time.time()
    export = subprocess.run([sys.executable, "-m", "cc_analytics", "export", "openmetrics", "--from", day, "--to", day,
                             "--step", "1h", "-o", str(history), "--data-dir", str(data_dir), "--api-port", "1"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert export.returncode == 0, export.stderr
    text = history.read_text()
    assert text.endswith("# EOF\n")
    start = int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp())
    totals = [line for line in text.splitlines() if line.startswith("cc_analytics_lines_accepted_total{")]
    # Hourly samples of each (org, team) series through the day, up to now (today is not over), adding up to the
    # stored total at every hour.
    hours = {int(line.rsplit(" ", 1)[1]) for line in totals}
    assert {start + 3600 * hour for hour in range(24) if start + 3600 * hour < started} <= hours
    assert all(start <= moment <= time.time() for moment in hours)
    assert sum(float(line.split()[-2]) for line in totals) == len(hours) * lines
    blocks = subprocess.run([prometheus_tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(history),
                             str(tmp_path / "tsdb")], capture_output=True, text=True, timeout=120)
    assert blocks.returncode == 0, blocks.stderr

    bad = subprocess.run([sys.executable, "-m", "cc_analytics", "export", "openmetrics", "--from", day, "--to",
                          "2020-01-01", "--data-dir", str(data_dir)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "is before" in bad.stderr


# One export per transport naming TEAMS_PER_EXPORT teams across ORGS_PER_EXPORT orgs, one member and session each.
TEAMS_PER_EXPORT = 20_000
ORGS_PER_EXPORT = 300
MAX_LABEL_VALUES = 200  # the default of --max-label-values
MAX_USER_SERIES = 500
# What /metrics may weigh with these caps, whatever the export names: at most 2 x 200 + 1 (org, team) pairs
# (the kept ones, an "other" team per kept org, and other/other) and 500 members plus an "other" per pair, in
# every family. Measured: 5.92 MB with the repository, value and usage families (4.83 MB before them; without the
# caps: the 40,000 teams in every family); each new family adds series per kept pair, never per team sent.
METRICS_BYTE_BOUND = 6_500_000


def many_teams_export(transport: str, now: int) -> ExportMetricsServiceRequest:
    points = [lines(1 + number % 7, now, now - 60 * 10**9, email=f"m{number}-{transport}@example.com",
                    session=f"s-{number}-{transport}", org=f"org-{number % ORGS_PER_EXPORT}-{transport}",
                    team=f"team-{number}-{transport}")
              for number in range(TEAMS_PER_EXPORT)]
    return export_request(ExportMetricsServiceRequest, points)


def test_every_label_is_capped_with_the_rest_summed_into_other(serve_factory):
    serve = serve_factory("--max-user-series", str(MAX_USER_SERIES), "--aggregate-interval", "0")
    now = time.time_ns()
    sent = 0
    for transport in ("http", "grpc"):
        request = many_teams_export(transport, now)
        assert_stored(serve, request, transport, timeout=120)
        sent += sum(point.sum.data_points[0].as_int
                    for point in request.resource_metrics[0].scope_metrics[0].metrics)
    today = f"{datetime.now(timezone.utc).date()}"
    serve.api("POST", "/api/v1/aggregate", **{"from": today, "to": today})
    text = scrape_until(serve, lambda text: sum(samples(text, "cc_analytics_lines_accepted_total").values()) == sent,
                        f"{sent} lines")
    assert len(text.encode()) < METRICS_BYTE_BOUND, len(text.encode())
    families = {family.name: family for family in text_string_to_metric_families(text)}

    def values(family: str, label: str) -> set[str]:
        return {sample.labels[label] for sample in families[family].samples}

    # Every total is exact: the values left out are in "other".
    for family, figure in (("cc_analytics_lines_accepted", 1), ("cc_analytics_sessions", 0)):
        total = sum(sample.value for sample in families[family].samples)
        assert total == (sent if figure else 2 * TEAMS_PER_EXPORT)
    month = sum(sample.value for sample in families["cc_analytics_user_month_lines_accepted"].samples)
    assert month == sent
    assert "other" in values("cc_analytics_lines_accepted", "team")
    assert "other" in values("cc_analytics_lines_accepted", "org")
    assert len(values("cc_analytics_lines_accepted", "org")) <= MAX_LABEL_VALUES + 1
    pairs = {(s.labels["org"], s.labels["team"]) for s in families["cc_analytics_lines_accepted"].samples}
    assert len(pairs) <= 2 * MAX_LABEL_VALUES + 1
    assert len(families["cc_analytics_user_month_lines_accepted"].samples) <= MAX_USER_SERIES + len(pairs)
    folded = {sample.labels["dimension"]: sample.value for sample in families["cc_analytics_label_values_folded"].samples}
    assert folded["user"] == 2 * TEAMS_PER_EXPORT - MAX_USER_SERIES
    assert folded["org"] == 2 * ORGS_PER_EXPORT - MAX_LABEL_VALUES
    assert folded["team"] == 2 * TEAMS_PER_EXPORT - MAX_LABEL_VALUES
    # The collector's per-org staleness gauge keeps the orgs that sent last, and counts the ones it dropped.
    assert len(families["cc_analytics_org_last_record_timestamp_seconds"].samples) == MAX_LABEL_VALUES
    assert samples(text, "cc_analytics_org_last_record_evicted_total") == {
        "cc_analytics_org_last_record_evicted_total": 2 * ORGS_PER_EXPORT - MAX_LABEL_VALUES}
