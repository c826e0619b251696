"""The value report of a real serve against the fleet's ground truth: the fleet (tests/support/fleet.py) sends a
month of three orgs' Claude Code telemetry through the official OpenTelemetry exporters, merged PRs with Claude
Code are written into the contribution rollup beforehand, and every value figure of GET /api/v1/value (JSON and
CSV, per org and per team) and /api/v1/value/forecast equals what the fleet's own records add up to. An org token
reads its own org only; bad parameters get 400 with the reason; `cc-analytics report value` prints the same
through the serve as on the store once it stopped."""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
from collections import defaultdict
from datetime import date, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.value import TEAM_WINDOWS
from tests.support.command_line import run
from tests.support.contribution_rows import Seed, seed_data_dir
from tests.support.fleet import Fleet
from tests.support.fleet_reports import utc_today
from tests.support.fleet_truth import GroundTruth
from tests.support.read_api import call_with_token as call, json_with_token as json_of
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.slow

ORGS = ("org-acme", "org-globex", "org-initech")


def merged_prs(fleet: Fleet) -> Seed:
    """Merged PRs with Claude Code of the fleet's members, written as the contribution rollup would; initech has
    none (its cost per merged PR is null)."""
    rng, seed = random.Random(16), Seed()
    for member in fleet.members:
        if member.org_id == "org-initech":
            continue
        for day in fleet.days:
            merged = rng.randint(0, 2)
            if merged:
                seed.add_daily(day, member.org_id, member.team, member.user_key, member.user_key[:5],
                               f"{member.org_id}/widgets", merged=merged + 1, with_cc=merged, assisted=merged)
    return seed


@pytest.fixture(scope="module")
def fleet_serve(tmp_path_factory):
    work = tmp_path_factory.mktemp("value")
    fleet = Fleet(today=utc_today())
    seed = merged_prs(fleet)
    seed_data_dir(work / "data", seed)
    tokens = {org: secrets.token_hex(16) for org in (*ORGS, "*")}
    (work / "tokens").write_text("".join(f"{org} {token}\n" for org, token in tokens.items()))
    serve = ServeProcess(work / "data", ("--aggregate-interval", "0", "--auth-tokens", str(work / "tokens"))).start()
    try:
        admin = serve.with_token(tokens["*"])
        for phase in Fleet.PHASES:
            fleet.send(phase, admin)
        admin.api("POST", "/api/v1/aggregate", **{"from": f"{fleet.days[0]}", "to": f"{utc_today()}"})
        yield serve, fleet, seed, tokens
    finally:
        serve.stop()


def expected_value(truth: GroundTruth, seed: Seed, first: date, last: date, team: str | None) -> dict[str, dict]:
    """Per org, from the fleet's records (GroundTruth.value) and the PRs written: the sums, each ratio,
    concentration, top spenders."""
    merged: dict[str, int] = defaultdict(int)
    for row in seed.daily:
        if first <= row["day"] <= last and team in (None, row["team"]):
            merged[row["org_id"]] += row["prs_merged_with_claude_code"]
    return truth.in_days(first, last, team).value(merged)


def assert_same(actual, expected, where: str) -> None:
    if expected is None or isinstance(expected, int):
        assert actual == expected and (expected is None or type(actual) is int), (where, actual, expected)
    else:
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), (where, actual, expected)


def assert_value_equals_truth(answer: dict, expected: dict[str, dict]) -> None:
    assert [row["org_id"] for row in answer["data"]] == sorted(expected)
    for row in answer["data"]:
        want = expected[row["org_id"]]
        for name, value in want.items():
            if name not in ("org_id", "top_spenders"):
                assert_same(row[name], value, f"{row['org_id']} {name}")
        assert [spender["user_key"] for spender in row["top_spenders"]] == [key for key, _ in want["top_spenders"]]
        for spender, (_, share) in zip(row["top_spenders"], want["top_spenders"]):
            assert spender["share"] == pytest.approx(share, rel=1e-9)


def test_every_value_figure_equals_what_the_fleet_sent(fleet_serve):
    serve, fleet, seed, tokens = fleet_serve
    week = (fleet.days[-7], fleet.days[-1])
    for first, last in ((fleet.days[0], fleet.days[-1]), week):
        for team in (None, "payments", "mobile"):
            answer = json_of(serve, tokens["*"], "/api/v1/value", **{"from": f"{first}", "to": f"{last}"},
                             **({"team": team} if team else {}))
            assert_value_equals_truth(answer, expected_value(fleet.truth, seed, first, last, team))
    whole = json_of(serve, tokens["*"], "/api/v1/value", **{"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"})
    rows = {row["org_id"]: row for row in whole["data"]}
    assert rows["org-initech"]["cost_per_merged_pr_with_cc"] is None and rows["org-acme"]["prs_merged_with_cc"] > 0
    assert all(row["cost_usd"] > 0 and row["commits"] > 0 for row in rows.values()), rows
    assert len(json_of(serve, tokens["*"], "/api/v1/value", limit=1, **{"from": f"{fleet.days[0]}",
                                                                           "to": f"{fleet.days[-1]}"}
                       )["data"][0]["top_spenders"]) == 1


def test_the_csv_is_the_json_rows(fleet_serve):
    serve, fleet, _, tokens = fleet_serve
    span = {"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"}
    answer = json_of(serve, tokens["*"], "/api/v1/value", **span)
    status, body = call(serve, tokens["*"], "/api/v1/value", format="csv", **span)
    assert status == 200
    parsed = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["org_id"] for row in parsed] == [row["org_id"] for row in answer["data"]]
    for text, row in zip(parsed, answer["data"]):
        assert float(text["cost_per_session"]) == row["cost_per_session"]
        assert text["cost_per_merged_pr_with_cc"] == ("" if row["cost_per_merged_pr_with_cc"] is None
                                                      else repr(row["cost_per_merged_pr_with_cc"]))


def expected_forecast(truth: GroundTruth, month: date, today: date, org: str,
                      team: str | None = None) -> tuple[float, float]:
    """(month to date, forecast): each day after today gets the mean of the same weekday's spend over the 28 days
    before today, counted straight from the fleet's cost records."""
    spend: dict[date, float] = defaultdict(float)
    for record in truth.records:
        if record.member.org_id == org and record.figure == "cost_usd" and team in (None, record.member.team):
            spend[record.day] += record.amount
    days = [month + timedelta(days=n) for n in range(32) if (month + timedelta(days=n)).month == month.month]
    to_date = sum(spend[day] for day in days if day <= today)
    rest = 0.0
    for day in days:
        if day > today:
            same_weekday = [today - timedelta(days=n) for n in range(1, 29)
                            if (today - timedelta(days=n)).weekday() == day.weekday()]
            assert len(same_weekday) == 4
            rest += sum(spend[d] for d in same_weekday) / 4
    return to_date, to_date + rest


def test_the_forecast_equals_the_fleets_spend_and_its_weekday_averages(fleet_serve):
    serve, fleet, _, tokens = fleet_serve
    today = utc_today()
    for month in (today.replace(day=1), fleet.days[0].replace(day=1)):
        answer = json_of(serve, tokens["*"], "/api/v1/value/forecast", month=f"{month:%Y-%m}")
        assert "same weekday over the previous four weeks" in answer["forecast_method"]
        assert answer["today"] == f"{today}"
        assert [row["org_id"] for row in answer["data"]] == list(ORGS)
        for row in answer["data"]:
            to_date, forecast = expected_forecast(fleet.truth, month, today, row["org_id"])
            assert row["month_to_date_usd"] == pytest.approx(to_date, rel=1e-9)
            assert row["forecast_usd"] == pytest.approx(forecast, rel=1e-9)
            assert forecast > 0
    payments = json_of(serve, tokens["*"], "/api/v1/value/forecast", month=f"{today:%Y-%m}", team="payments")
    assert [row["org_id"] for row in payments["data"]] == ["org-acme", "org-globex"]
    for row in payments["data"]:
        to_date, forecast = expected_forecast(fleet.truth, today.replace(day=1), today, row["org_id"], "payments")
        assert (row["month_to_date_usd"], row["forecast_usd"]) == (pytest.approx(to_date, rel=1e-9),
                                                                   pytest.approx(forecast, rel=1e-9))
    status, body = call(serve, tokens["*"], "/api/v1/value/forecast", month=f"{today:%Y-%m}", format="csv")
    assert status == 200 and body.startswith(b"org_id,month,today,month_to_date_usd,remaining_days,forecast_usd")


def test_an_org_token_reads_its_own_org_only(fleet_serve):
    serve, fleet, seed, tokens = fleet_serve
    span = {"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"}
    for org in ORGS:
        other = next(o for o in ORGS if o != org)
        month = {"month": f"{utc_today():%Y-%m}"}
        for path, parameters in (("/api/v1/value", span), ("/api/v1/value/forecast", month)):
            answer = json_of(serve, tokens[org], path, **parameters)
            assert [row["org_id"] for row in answer["data"]] == [org]
            status, body = call(serve, tokens[org], path, org=other, **parameters)
            assert status == 403 and b"reads org" in body
            assert call(serve, "not-a-token", path, **parameters)[0] == 401
        mine = json_of(serve, tokens[org], "/api/v1/value", **span)
        assert_value_equals_truth(mine, expected_value(fleet.truth.of_org(org), seed, fleet.days[0], fleet.days[-1],
                                                       None))


@pytest.mark.parametrize("path, parameters, reason", [
    ("/api/v1/value", {"to": "2026-11-20"}, "from is required"),
    ("/api/v1/value", {"from": "2026-11-20", "to": "2026-11-01"}, "is before from"),
    ("/api/v1/value", {"from": "2026-11-01", "to": "2026-11-20", "format": "xlsx"}, "format='xlsx' is not one of"),
    ("/api/v1/value", {"from": "2026-11-01", "to": "2026-11-20", "limit": "0"}, "limit=0 is outside 1..1000"),
    ("/api/v1/value/forecast", {}, "month is required"),
    ("/api/v1/value/forecast", {"month": "2026-13"}, "the month must be 01 to 12"),
    ("/api/v1/value/forecast", {"month": "9999-01"}, "outside 1970-01..2149-06"),
])
def test_bad_parameters_get_400_with_the_reason(fleet_serve, path, parameters, reason):
    serve, _, _, tokens = fleet_serve
    status, body = call(serve, tokens["*"], path, **parameters)
    assert status == 400 and reason in body.decode(), body


def metric_samples(serve, token: str) -> dict[str, dict[tuple, float]]:
    status, text = call(serve, token, "/metrics")
    assert status == 200, text
    samples: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            assert labels not in samples[sample.name], f"two {sample.name} series with {labels}"
            samples[sample.name][labels] = sample.value
    return samples


def test_the_value_families_of_metrics_equal_the_fleets_figures(fleet_serve):
    serve, fleet, seed, tokens = fleet_serve
    samples = metric_samples(serve, tokens["*"])
    today = utc_today()
    units = {"cost_per_session": "session", "cost_per_commit": "commit", "cost_per_pull_request": "pull_request",
             "cost_per_line": "line", "cost_per_member": "member",
             "cost_per_merged_pr_with_cc": "merged_pr_with_claude_code"}
    for window, first in (("7d", today - timedelta(days=6)), ("28d", today - timedelta(days=27)),
                          ("month", today.replace(day=1))):
        expected = expected_value(fleet.truth, seed, first, today, None)
        for ratio, unit in units.items():
            published = {dict(labels)["org"]: value
                         for labels, value in samples[f"cc_analytics_value_cost_per_{unit}_usd"].items()
                         if dict(labels)["window"] == window}
            wanted = {org: row[ratio] for org, row in expected.items() if row[ratio] is not None}
            assert published == pytest.approx(wanted, rel=1e-9), (window, ratio)
        for team in ("payments", "mobile", "platform", "search"):
            by_team = expected_value(fleet.truth, seed, first, today, team)
            published = {dict(labels)["org"]: value
                         for labels, value in samples["cc_analytics_value_team_cost_per_commit_usd"].items()
                         if dict(labels)["window"] == window and dict(labels)["team"] == team}
            wanted = {org: row["cost_per_commit"] for org, row in by_team.items()
                      if row["cost_per_commit"] is not None and window in TEAM_WINDOWS}
            assert published == pytest.approx(wanted, rel=1e-9), (window, team)
        shares = {dict(labels)["org"]: value for labels, value in samples["cc_analytics_value_top_decile_spend_share"
                                                                          ].items() if dict(labels)["window"] == window}
        assert shares == pytest.approx({org: row["top_decile_share"] for org, row in expected.items()}, rel=1e-9)
    month = today.replace(day=1)
    for org in ORGS:
        to_date, forecast = expected_forecast(fleet.truth, month, today, org)
        assert samples["cc_analytics_value_month_to_date_spend_usd"][(("org", org),)] == pytest.approx(to_date)
        assert samples["cc_analytics_value_month_forecast_usd"][(("org", org),)] == pytest.approx(forecast)
    # an org token's /metrics: refused (admin), so nothing of another org leaks there either
    assert call(serve, tokens["org-acme"], "/metrics")[0] == 403


def test_the_report_command_prints_the_same_through_serve_and_on_the_store(fleet_serve):
    serve, fleet, seed, tokens = fleet_serve
    span = ("--from", f"{fleet.days[0]}", "--to", f"{fleet.days[-1]}")
    commands = [("--format", output_format, *filters) for output_format in ("table", "csv", "json")
                for filters in ((), ("--team", "payments"), ("--org", "org-globex"), ("--top", "2"))]
    through_serve = [run("report", "value", *span, *command, "--api-port", str(serve.api_port),
                         "--api-token", tokens["*"], timeout=120) for command in commands]
    serve.stop()
    on_store = [run("report", "value", *span, *command, "--data-dir", str(serve.data_dir), "--api-port", "1",
                    timeout=120) for command in commands]
    for command, served, stored in zip(commands, through_serve, on_store):
        assert served.returncode == 0, served.stderr
        assert (served.stdout, served.stderr) == (stored.stdout, stored.stderr), command
    table = through_serve[0].stdout
    assert "per session" in table and "top spenders" in table and "org-initech" in table
    answer = json.loads(through_serve[8].stdout)
    assert_value_equals_truth(answer, expected_value(fleet.truth, seed, fleet.days[0], fleet.days[-1], None))
    refused = run("report", "value", *span, "--top", "0", "--data-dir", str(serve.data_dir), "--api-port", "1")
    assert refused.returncode == 2 and "limit=0 is outside" in refused.stderr
    today = utc_today()
    forecasts = [("--format", output_format, *filters) for output_format in ("table", "csv", "json")
                 for filters in ((), ("--team", "payments"), ("--month", f"{fleet.days[0]:%Y-%m}"))]
    on_store = [run("report", "forecast", *command, "--data-dir", str(serve.data_dir), "--api-port", "1",
                    timeout=120) for command in forecasts]
    serve.start()
    through_serve = [run("report", "forecast", *command, "--api-port", str(serve.api_port),
                         "--api-token", tokens["*"], timeout=120) for command in forecasts]
    for command, served, stored in zip(forecasts, through_serve, on_store):
        assert served.returncode == 0, served.stderr
        assert (served.stdout, served.stderr) == (stored.stdout, stored.stderr), command
    assert "forecast USD" in through_serve[0].stdout and "same weekday" in through_serve[0].stdout
    for row in json.loads(through_serve[6].stdout)["data"]:
        to_date, forecast = expected_forecast(fleet.truth, today.replace(day=1), today, row["org_id"])
        assert (row["month_to_date_usd"], row["forecast_usd"]) == (pytest.approx(to_date, rel=1e-9),
                                                                   pytest.approx(forecast, rel=1e-9))
    bad = run("report", "forecast", "--month", "2026-13", "--data-dir", str(serve.data_dir), "--api-port", "1")
    assert bad.returncode == 2 and "--month" in bad.stderr
