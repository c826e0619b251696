"""The whole monitoring path with real parts: a fleet sent through the official OpenTelemetry SDK into a real serve,
its history exported with `cc-analytics export openmetrics` and backfilled with promtool, a real Prometheus scraping
/metrics with the bundled alert rules loaded, and every query of every bundled dashboard panel run through
Prometheus's HTTP API. Figures must equal what the fleet sent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest

from aggregator.snapshot import window_bounds
from tests.support.paths import REPO
from tests.support.polling import wait_until
from tests.support.serve_process import ServeProcess
from tests.support.dashboard_queries import FAMILIES, all_panels, substitute
from tests.support.contribution_rows import Seed, generated_seed, seed_data_dir
from tests.support.fleet import Fleet
from tests.support.exports import post_export
from tests.support.fleet_truth import SentRecord
from tests.support.prometheus_server import PrometheusServer

pytestmark = pytest.mark.slow

DASHBOARDS = sorted((REPO / "grafana-dashboards").glob("*.json"))
ALERT_RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
HISTORY_STEP_SECONDS = 6 * 3600  # coarse, so promtool is quick (~2 s a MB); the lookback is set to match


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


class Stack:
    def __init__(self, serve: ServeProcess, fleet: Fleet, prometheus: PrometheusServer, today: date,
                 contributions: Seed):
        self.serve, self.fleet, self.prometheus, self.today = serve, fleet, prometheus, today
        self.contributions = contributions

    def by(self, expr: str, *labels: str, at: float | None = None) -> dict:
        """An instant query's result keyed by the label values (one label: the value itself)."""
        result = self.prometheus.instant(expr, at)
        keyed = {tuple(series["metric"].get(label, "") for label in labels): float(series["value"][1])
                 for series in result}
        return {key[0] if len(labels) == 1 else key: value for key, value in keyed.items()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("monitoring")
    today = utc_today()
    fleet = Fleet(today=today)
    # PRs of the fleet's members, as the contribution rollup would write them (the members' sessions are the
    # fleet's own); the rollup runs leave these rows be (tests/support/contribution_rows.py SEEDED_VERSION).
    contributions = generated_seed([(m.org_id, m.team, m.user_key, m.email) for m in fleet.members],
                                   [*fleet.days[-12:], today], with_sessions=False)
    for member in fleet.members:  # every team merges with and without Claude Code today, whatever the seed drew
        contributions.add_daily(today, member.org_id, member.team, member.user_key, "dev", f"{member.org_id}/docs",
                                opened=1, merged=2, with_cc=1, assisted=1, lines=20, lines_with_cc=8)
    seed_data_dir(work / "data", contributions)
    serve = ServeProcess(work / "data", ("--aggregate-interval", "1")).start()
    prometheus = None
    try:
        for phase in Fleet.PHASES:
            fleet.send(phase, serve)
        fleet.send_today(serve)
        send_bad_requests(serve)
        serve.api("POST", "/api/v1/aggregate", **{"from": f"{fleet.days[0]}", "to": f"{today}"})

        history = work / "history.om"
        export = subprocess.run(
            [sys.executable, "-m", "cc_analytics", "export", "openmetrics", "--from", f"{fleet.days[0]}",
             "--to", f"{fleet.days[-1]}", "--step", f"{HISTORY_STEP_SECONDS}", "--output", str(history),
             "--api-port", str(serve.api_port)], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert export.returncode == 0, export.stderr
        assert f"{len(fleet.days)}/{len(fleet.days)} days" in export.stderr, export.stderr

        prometheus = PrometheusServer(work, f"127.0.0.1:{serve.api_port}", rule_files=[ALERT_RULES],
                                      lookback=f"{HISTORY_STEP_SECONDS}s")
        prometheus.backfill(history)
        prometheus.start()
        # Enough scrapes for rate() and increase() over the live part.
        assert wait_until(lambda: len(prometheus.range('up{job="cc-analytics"}', time.time() - 60, time.time(), 1)
                                      [0]["values"]) >= 5 if prometheus.instant('up') else False, timeout=60)
        yield Stack(serve, fleet, prometheus, today, contributions)
    finally:
        if prometheus:
            prometheus.stop()
        serve.stop()


def send_bad_requests(serve) -> None:
    """Two malformed OTLP/HTTP bodies and one of an unsupported type, for the collector's health figures."""
    for body, content_type, status in ((b"\xff\x00garbage", "application/x-protobuf", 400),
                                       (b"{not json", "application/json", 400),
                                       (b"text", "text/plain", 415)):
        assert post_export(serve, body, signal="logs", content_type=content_type).status == status


# Ground truth: what the fleet sent, summed as the metric families define it.

def records_between(fleet: Fleet, first: date, last: date) -> list[SentRecord]:
    return [record for record in fleet.truth.records if first <= record.day <= last]


def summed(records, key, figure: str) -> dict:
    totals = defaultdict(float)
    for record in records:
        if record.figure == figure:
            totals[key(record)] += record.amount
    return dict(totals)


def distinct(records, key, what) -> dict:
    groups = defaultdict(set)
    for record in records:
        groups[key(record)].add(what(record))
    return {group: len(members) for group, members in groups.items()}


def added_up(values: dict, key) -> dict:
    totals = defaultdict(float)
    for group, value in values.items():
        totals[key(group)] += value
    return dict(totals)


def org(record: SentRecord):
    return record.member.org_id


def same_numbers(actual: dict, expected: dict) -> bool:
    expected = {key: value for key, value in expected.items() if value}
    actual = {key: value for key, value in actual.items() if value}
    return actual.keys() == expected.keys() and all(actual[k] == pytest.approx(v, rel=1e-9) for k, v in
                                                    expected.items())


# The figures as Prometheus has them.

def test_live_figures_equal_what_the_fleet_sent(stack):
    fleet, today = stack.fleet, stack.today
    everything = records_between(fleet, date.min, today)
    for figure in ("lines_accepted", "lines_removed", "edits_accepted", "commits", "pull_requests"):
        assert same_numbers(stack.by(f"sum by (org) (cc_analytics_{figure}_total)", "org"),
                            summed(everything, org, figure)), figure
    assert same_numbers(stack.by("sum by (org) (cc_analytics_cost_usd_total)", "org"),
                        summed(everything, org, "cost_usd"))
    assert same_numbers(stack.by('sum by (model) (cc_analytics_tokens_total{type="cacheRead"})', "model"),
                        summed(everything, lambda r: r.model, "cache_read_tokens"))
    for window in ("today", "yesterday", "7d", "28d", "month"):
        records = records_between(fleet, *window_bounds(window, today))
        assert same_numbers(stack.by(f'cc_analytics_active_users{{window="{window}"}}', "org"),
                            distinct(records, org, lambda r: r.member.user_key)), window
        # Sessions are distinct per (org, team); the org figure adds its teams up.
        sessions = distinct(records, lambda r: (r.member.org_id, r.member.team), lambda r: r.session_id)
        assert same_numbers(stack.by(f'sum by (org) (cc_analytics_window_sessions{{window="{window}"}})', "org"),
                            added_up(sessions, lambda key: key[0])), window
        assert same_numbers(stack.by(f'sum by (model) (cc_analytics_window_model_cost_usd{{window="{window}"}})',
                                     "model"), summed(records, lambda r: r.model, "cost_usd")), window
        assert same_numbers(stack.by(f'sum by (model) (cc_analytics_window_model_tokens{{window="{window}",'
                                     f'type="output"}})', "model"),
                            summed(records, lambda r: r.model, "output_tokens")), window
        assert same_numbers(stack.by(f'sum by (org, team) (cc_analytics_window_lines_accepted{{window="{window}"}})',
                                     "org", "team"),
                            summed(records, lambda r: (r.member.org_id, r.member.team), "lines_accepted")), window


def test_members_this_month_equal_what_the_fleet_sent(stack):
    fleet, today = stack.fleet, stack.today
    month = records_between(fleet, today.replace(day=1), today)
    label = {(r.member.org_id, r.member.user_key): r.member.email or r.member.user_key for r in fleet.truth.records}
    expected = {label[key]: value for key, value in
                summed(month, lambda r: (r.member.org_id, r.member.user_key), "lines_accepted").items()}
    assert same_numbers(stack.by("cc_analytics_user_month_lines_accepted", "user"), expected)
    recent = records_between(fleet, today - timedelta(days=27), today)
    last_active = {}
    for record in recent:
        user = label[(record.member.org_id, record.member.user_key)]
        last_active[user] = max(last_active.get(user, 0), day_start(record.day))
    assert stack.by("cc_analytics_user_last_active_timestamp_seconds", "user") == last_active


def test_backfilled_history_holds_each_past_day(stack):
    """At noon of a past day, Prometheus answers from the promtool blocks with that day's figures."""
    fleet = stack.fleet
    for day in (fleet.days[2], fleet.days[-5], fleet.days[-1]):
        noon = day_start(day) + 12 * 3600
        yesterday = records_between(fleet, day - timedelta(days=1), day - timedelta(days=1))
        assert same_numbers(stack.by('sum by (org) (cc_analytics_window_lines_accepted{window="yesterday"})', "org",
                                     at=noon), summed(yesterday, org, "lines_accepted")), day
        assert same_numbers(stack.by('cc_analytics_active_users{window="today"}', "org", at=noon),
                            distinct(records_between(fleet, day, day), org, lambda r: r.member.user_key)), day
        assert same_numbers(stack.by("sum by (org) (cc_analytics_lines_accepted_total)", "org", at=noon),
                            summed(records_between(fleet, date.min, day), org, "lines_accepted")), day


def test_the_bundled_alert_rules_load_and_evaluate_on_real_data(stack):
    groups = stack.prometheus.api("/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules, "no rules loaded"
    assert wait_until(lambda: all(rule.get("lastEvaluation", "").startswith("2") for rule in
                                  (r for g in stack.prometheus.api("/api/v1/rules")["groups"] for r in g["rules"])),
                      timeout=150, interval=2)  # the groups evaluate once a minute, the first time at some offset
    unhealthy = [(rule["name"], rule.get("lastError")) for group in stack.prometheus.api("/api/v1/rules")["groups"]
                 for rule in group["rules"] if rule["health"] != "ok"]
    assert unhealthy == []


# Every bundled dashboard panel, as Grafana would run it.

def duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(text[:-1]) * units[text[-1]]


def run_panel_query(stack, dashboard: dict, panel: dict, expr: str, instant: bool, **variables) -> list[dict]:
    """The query with the variables substituted, instant or over the dashboard's default range at Grafana's step."""
    span = duration_seconds(dashboard["time"]["from"].removeprefix("now-"))
    interval = panel.get("interval") or "1m"
    query = substitute(expr, interval=interval, rate_interval="1m", range_=f"{span}s", **variables)
    if instant:
        return stack.prometheus.instant(query)
    step = max(duration_seconds(interval), span // 300)
    end = time.time()
    return stack.prometheus.range(query, end - span, end, step)


def every_panel_query():
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                yield path.stem, dashboard, panel, target


def test_every_query_of_every_dashboard_panel_returns_data(stack):
    queries = list(every_panel_query())
    assert len(queries) > 40 and {name for name, *_ in queries} == {path.stem for path in DASHBOARDS}
    empty = []
    for variables in ({}, {"org": "org-acme", "team": "payments"}):
        for name, dashboard, panel, target in queries:
            if not run_panel_query(stack, dashboard, panel, target["expr"], bool(target.get("instant")), **variables):
                empty.append(f"{name} / {panel['title']} / {target['refId']} {variables}: {target['expr']}")
    assert empty == [], "queries without data:\n" + "\n".join(empty)


def usage_panel(title: str) -> tuple[dict, dict]:
    dashboard = json.loads((REPO / "grafana-dashboards" / "cc-analytics-usage.json").read_text())
    [panel] = [panel for panel in all_panels(dashboard) if panel["title"] == title]
    return dashboard, panel


def panel_value(stack, title: str, **variables) -> float:
    dashboard, panel = usage_panel(title)
    [series] = run_panel_query(stack, dashboard, panel, panel["targets"][0]["expr"], True, **variables)
    return float(series["value"][1])


@pytest.mark.parametrize("org, team", [(".*", ".*"), ("org-acme", ".*"), ("org-globex", "payments")])
def test_the_usage_dashboard_key_panels_show_the_ground_truth(stack, org, team):
    fleet, today = stack.fleet, stack.today

    def chosen(records):
        return [r for r in records if re.fullmatch(org, r.member.org_id) and re.fullmatch(team, r.member.team)]

    month = chosen(records_between(fleet, today.replace(day=1), today))
    today_records = chosen(records_between(fleet, today, today))
    variables = {"org": org, "team": team}
    whole = lambda records, figure: sum(r.amount for r in records if r.figure == figure)  # noqa: E731
    assert panel_value(stack, "Lines of code accepted", **variables) == whole(month, "lines_accepted")
    accepted, rejected = whole(month, "edits_accepted"), whole(month, "edits_rejected")
    assert panel_value(stack, "Suggestion accept rate", **variables) == pytest.approx(accepted / (accepted + rejected))
    assert panel_value(stack, "Sessions today", **variables) == sum(
        distinct(today_records, lambda r: (r.member.org_id, r.member.team), lambda r: r.session_id).values())
    if team == ".*":  # active users are counted per org, whatever the team
        assert panel_value(stack, "Daily active users", **variables) == len(
            {(r.member.org_id, r.member.user_key) for r in today_records})

    label = {(r.member.org_id, r.member.user_key): r.member.email or r.member.user_key for r in fleet.truth.records}
    lines = {label[key]: value for key, value in
             summed(month, lambda r: (r.member.org_id, r.member.user_key), "lines_accepted").items()}
    dashboard, members = usage_panel("Members")
    [lines_target] = [t for t in members["targets"] if "user_month_lines_accepted" in t["expr"]]
    table = {series["metric"]["user"]: float(series["value"][1])
             for series in run_panel_query(stack, dashboard, members, lines_target["expr"], True, **variables)}
    assert same_numbers(table, lines)
    dashboard, top = usage_panel("Top 10 by lines accepted")
    leaders = run_panel_query(stack, dashboard, top, top["targets"][0]["expr"], True, **variables)
    assert [float(series["value"][1]) for series in leaders] == sorted(table.values(), reverse=True)[:10]
    assert {series["metric"]["user"]: float(series["value"][1]) for series in leaders} == {
        series_user: value for series_user, value in table.items() if series_user in
        {series["metric"]["user"] for series in leaders}}


def test_metrics_publishes_exactly_the_documented_families(stack):
    """Every family on /metrics is in the catalogue the dashboards are checked against, and every one of those is
    published (histogram and counter samples by their family's sample names)."""
    published = set(stack.prometheus.api("/api/v1/label/__name__/values"))
    published = {name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
                 if name.startswith("cc_analytics_collector_insert_duration") else name for name in published}
    published -= {"scrape_duration_seconds", "scrape_samples_post_metric_relabeling", "scrape_samples_scraped",
                  "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE"}
    published = {name for name in published if ":" not in name}  # the alert rules' recording rules
    assert published == set(FAMILIES)


def test_collector_health_counts_what_happened(stack):
    rejected = stack.by("cc_analytics_collector_requests_rejected_total", "transport", "signal", "reason")
    assert {key: value for key, value in rejected.items() if value} == {
        ("http", "logs", "malformed"): 2, ("http", "logs", "unsupported"): 1}
    received = stack.by("sum by (signal) (cc_analytics_collector_records_received_total)", "signal")
    sent = {"metrics": 0, "logs": 0}
    for record in stack.fleet.truth.records:
        sent["metrics" if record.signal == "metric" else "logs"] += 1
    # Duplicated exports are stored twice (and counted once by the rollups), so at least what the fleet sent.
    assert received["logs"] >= sent["logs"] > 0 and received["metrics"] >= sent["metrics"] > 0
    assert stack.by("sum(cc_analytics_collector_insert_rows_total)") == {(): sum(received.values())}
    assert stack.by("sum(cc_analytics_store_errors_total)") == {(): 0}
    last = stack.by("cc_analytics_org_last_record_timestamp_seconds", "org")
    assert set(last) == {member.org_id for member in stack.fleet.members}
    assert all(time.time() - 600 < seconds <= time.time() for seconds in last.values())


def contribution_panel(title: str) -> tuple[dict, dict]:
    dashboard = json.loads((REPO / "grafana-dashboards" / "cc-analytics-contribution.json").read_text())
    [panel] = [panel for panel in all_panels(dashboard) if panel["title"] == title]
    return dashboard, panel


@pytest.mark.parametrize("org, team", [(".*", ".*"), ("org-acme", ".*"), ("org-globex", "payments")])
def test_the_contribution_dashboard_shows_the_merged_prs_written(stack, org, team):
    today, variables = stack.today, {"org": org, "team": team}
    month = [row for row in stack.contributions.daily if row["day"] >= today.replace(day=1)
             and re.fullmatch(org, row["org_id"]) and re.fullmatch(team, row["team"])]

    def value(title: str) -> float:
        dashboard, panel = contribution_panel(title)
        [series] = run_panel_query(stack, dashboard, panel, panel["targets"][0]["expr"], True, **variables)
        return float(series["value"][1])

    merged = sum(row["prs_merged"] for row in month)
    with_cc = sum(row["prs_merged_with_claude_code"] for row in month)
    assert value("PRs merged this month") == merged
    assert value("PRs merged with Claude Code") == with_cc
    assert value("Share with Claude Code") == pytest.approx(with_cc / merged)
    assert value("Lines merged with Claude Code") == sum(row["lines_merged_with_claude_code"] for row in month)
    members = defaultdict(float)
    for row in month:
        members[row["member"]] += row["prs_merged_with_claude_code"]
    label = {(m.org_id, m.user_key): m.email or m.user_key for m in stack.fleet.members}
    dashboard, top = contribution_panel("Top 10 by PRs with Claude Code")
    leaders = run_panel_query(stack, dashboard, top, top["targets"][0]["expr"], True, **variables)
    assert [float(series["value"][1]) for series in leaders] == sorted(
        (value for value in members.values()), reverse=True)[:10]
    assert {series["metric"]["user"] for series in leaders} <= {*label.values(), "github:octocat"}
