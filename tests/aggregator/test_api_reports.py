"""The read API of a real serve: daily and members reports, the CSV download, the Admin-API-shaped endpoint and
its pagination, re-aggregation, the report and aggregate commands, and 400s for bad parameters."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.support.admin_api_shape import page_shape_problems
from tests.support.claude_records import DAY, MODEL, NEXT_DAY, at, event, identity, lines, point
from tests.support.paths import REPO
from tests.support.otlp_messages import export_request
from tests.support.exports import assert_stored
from tests.support.read_api import api, ok

pytestmark = pytest.mark.slow

USERS_PER_ORG = {"org-a": 26, "org-b": 19}


def member(org: str, number: int) -> str:
    return f"dev{number:02d}@{org}.example.com"


def feed_fleet(serve) -> dict[tuple[str, str], int]:
    """Users of two orgs, each accepting a distinct number of lines on DAY; returns lines per (org, email)."""
    expected = {}
    for org, count in USERS_PER_ORG.items():
        metrics, events = [], []
        for number in range(count):
            email = member(org, number)
            who = dict(email=email, session=f"{org}-s{number}", org=org)
            accepted = 10 + number * 3 + (7 if org == "org-b" else 0)
            expected[(org, email)] = accepted
            metrics.append(lines(accepted, at(DAY, 9), at(DAY, 8), **who))
            metrics.append(point("code_edit_tool.decision", 2, at(DAY, 9), at(DAY, 8), **identity(**who),
                                 tool_name="Write", decision="accept", source="config", language="Python"))
            metrics.append(point("token.usage", 100 + number, at(DAY, 9), at(DAY, 8), **identity(**who),
                                 type="input", model=MODEL))
            metrics.append(point("cost.usage", 0.25, at(DAY, 9), at(DAY, 8), **identity(**who), model=MODEL))
            events.append(event("user_prompt", at(DAY, 9), **identity(**who)))
        team = {"team": "payments" if org == "org-a" else "search"}
        assert_stored(serve, export_request(ExportMetricsServiceRequest, metrics, team))
        assert_stored(serve, export_request(ExportLogsServiceRequest, events, team))
    # an API-key user (no email, no account): listed under its install id
    assert_stored(serve, export_request(ExportLogsServiceRequest,
                                        [event("user_prompt", at(NEXT_DAY, 3), **identity("", "k-1", "org-a"))]))
    return expected


@pytest.fixture(scope="module")
def fed_serve(tmp_path_factory):
    from tests.support.serve_process import ServeProcess

    serve = ServeProcess(tmp_path_factory.mktemp("api") / "data", ("--aggregate-interval", "0")).start()
    try:
        expected = feed_fleet(serve)
        assert serve.scalar("SELECT count() AS n FROM events FINAL") == sum(USERS_PER_ORG.values()) + 1
        ok(serve, "/api/v1/aggregate", "POST", **{"from": str(DAY), "to": str(NEXT_DAY)})
        yield serve, expected
    finally:
        serve.stop()


def test_daily_rows_per_org_and_team(fed_serve):
    serve, expected = fed_serve
    body = ok(serve, "/api/v1/daily", **{"from": str(DAY), "to": str(NEXT_DAY)})
    rows = {(row["date"], row["org_id"]): row for row in body["data"]}
    assert list(rows) == [(str(DAY), "org-a"), (str(DAY), "org-b"), (str(NEXT_DAY), "org-a")]
    for org, count in USERS_PER_ORG.items():
        row = rows[(str(DAY), org)]
        assert row["lines_accepted"] == sum(v for (o, _), v in expected.items() if o == org)
        assert (row["active_users"], row["sessions"], row["prompts"]) == (count, count, count)
        assert (row["edits_accepted"], row["edits_rejected"], row["accept_rate"]) == (2 * count, 0, 1.0)
        assert row["cost_usd"] == 0.25 * count
        assert row["share_without_email"] == 0
    assert rows[(str(NEXT_DAY), "org-a")]["share_without_email"] == 1
    assert rows[(str(NEXT_DAY), "org-a")]["accept_rate"] is None

    team = ok(serve, "/api/v1/daily", **{"from": str(DAY), "to": str(DAY), "team": "search"})["data"]
    assert [(row["org_id"], row["active_users"]) for row in team] == [("org-b", USERS_PER_ORG["org-b"])]
    only_b = ok(serve, "/api/v1/daily", **{"from": str(DAY), "to": str(NEXT_DAY), "org": "org-b"})["data"]
    assert [row["org_id"] for row in only_b] == ["org-b"]


def test_members_report_sorted_searchable_and_as_csv(fed_serve):
    serve, expected = fed_serve
    month = f"{DAY:%Y-%m}"
    users = ok(serve, "/api/v1/users", month=month)["data"]
    assert len(users) == len(expected) + 1
    assert [u["lines_accepted"] for u in users] == sorted((u["lines_accepted"] for u in users), reverse=True)
    by_key = {(u["org_id"], u["user_key"]): u for u in users}
    for (org, email), accepted in expected.items():
        assert (by_key[(org, email)]["lines_accepted"], by_key[(org, email)]["email"]) == (accepted, email)
        assert by_key[(org, email)]["team"] == ("payments" if org == "org-a" else "search")

    found = ok(serve, "/api/v1/users", month=month, q="DEV03@ORG-B")["data"]
    assert [u["user_key"] for u in found] == [member("org-b", 3)]

    status, body, headers = api(serve, "/api/v1/users", month=month, format="csv", org="org-a")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"] == f'attachment; filename="cc-analytics-users-{month}.csv"'
    table = list(csv.reader(io.StringIO(body.decode())))
    assert table[0][:2] == ["email", "lines_accepted"]
    assert {row[0]: int(row[1]) for row in table[1:]} == {
        **{email: v for (org, email), v in expected.items() if org == "org-a"}, "f" * 64: 0}


def test_admin_api_pages_return_every_record_once_in_the_documented_shape(fed_serve):
    serve, expected = fed_serve
    seen, page, pages = [], None, 0
    while True:
        parameters = {"starting_at": str(DAY), "limit": 7, **({"page": page} if page else {})}
        body = ok(serve, "/v1/organizations/usage_report/claude_code", **parameters)
        assert page_shape_problems(body) == []
        pages += 1
        assert len(body["data"]) <= 7
        seen += body["data"]
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        page = body["next_page"]
    assert pages == -(-len(expected) // 7)
    keys = [(r["organization_id"], r["actor"]["email_address"]) for r in seen]
    assert sorted(keys) == sorted(expected) and len(set(keys)) == len(keys)
    for record in seen:
        key = (record["organization_id"], record["actor"]["email_address"])
        number = int(key[1][3:5])
        assert record["core_metrics"]["lines_of_code"] == {"added": expected[key], "removed": 0}
        assert record["core_metrics"]["num_sessions"] == 1
        assert record["tool_actions"]["write_tool"] == {"accepted": 2, "rejected": 0}
        assert record["model_breakdown"] == [{"model": MODEL, "tokens": {"input": 100 + number, "output": 0,
                                                                         "cache_read": 0, "cache_creation": 0},
                                              "estimated_cost": {"currency": "USD", "amount": 25.0}}]
        assert record["customer_type"] == "subscription"
        assert (record["is_remote"], record["subscription_type"]) == (False, None)

    api_key = ok(serve, "/v1/organizations/usage_report/claude_code", starting_at=str(NEXT_DAY))["data"]
    assert [r["actor"] for r in api_key] == [{"type": "api_actor", "api_key_name": "f" * 64}]
    assert api_key[0]["customer_type"] == "api"
    assert ok(serve, "/v1/organizations/usage_report/claude_code", starting_at="2026-10-01") == {
        "data": [], "has_more": False, "next_page": None}


def test_re_aggregating_changes_nothing(fed_serve):
    serve, _ = fed_serve
    span = {"from": str(DAY), "to": str(NEXT_DAY)}
    before = (ok(serve, "/api/v1/daily", **span), ok(serve, "/api/v1/users", month=f"{DAY:%Y-%m}"))
    for _ in range(2):
        ok(serve, "/api/v1/aggregate", "POST", **span)
    assert (ok(serve, "/api/v1/daily", **span), ok(serve, "/api/v1/users", month=f"{DAY:%Y-%m}")) == before


@pytest.mark.parametrize("path,method,parameters,reason", [
    ("/api/v1/daily", "GET", {"from": "2026-11-31", "to": "2026-12-01"}, "not a calendar date"),
    ("/api/v1/daily", "GET", {"from": "11/02/2026", "to": "2026-12-01"}, "YYYY-MM-DD"),
    ("/api/v1/daily", "GET", {"to": "2026-12-01"}, "from is required"),
    ("/api/v1/daily", "GET", {"from": "2026-12-02", "to": "2026-12-01"}, "before"),
    ("/api/v1/users", "GET", {"month": "2026-13"}, "01 to 12"),
    ("/api/v1/users", "GET", {"month": "November"}, "YYYY-MM"),
    ("/api/v1/users", "GET", {}, "month is required"),
    ("/api/v1/users", "GET", {"month": "2026-11", "format": "xlsx"}, "format='xlsx'"),
    ("/v1/organizations/usage_report/claude_code", "GET", {"starting_at": "2026-11-02", "limit": "0"}, "1..1000"),
    ("/v1/organizations/usage_report/claude_code", "GET", {"starting_at": "2026-11-02", "limit": "5000"}, "1..1000"),
    ("/v1/organizations/usage_report/claude_code", "GET", {"starting_at": "2026-11-02", "limit": "ten"}, "whole"),
    ("/v1/organizations/usage_report/claude_code", "GET", {}, "starting_at is required"),
    ("/v1/organizations/usage_report/claude_code", "GET", {"starting_at": "2026-11-02", "page": "%%%"}, "cursor"),
    ("/api/v1/aggregate", "POST", {"from": "2026-02-30", "to": "2026-03-01"}, "not a calendar date"),
])
def test_bad_parameters_get_400_with_a_message(fed_serve, path, method, parameters, reason):
    serve, _ = fed_serve
    status, body, _ = api(serve, path, method, **parameters)
    assert status == 400
    assert reason in body["error"], body


def test_a_cursor_of_another_day_is_refused(fed_serve):
    serve, _ = fed_serve
    first = ok(serve, "/v1/organizations/usage_report/claude_code", starting_at=str(DAY), limit=1)
    status, body, _ = api(serve, "/v1/organizations/usage_report/claude_code", starting_at=str(NEXT_DAY),
                          page=first["next_page"])
    assert status == 400 and "not for starting_at" in body["error"]


def cc_analytics(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cc_analytics", *arguments], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_report_and_aggregate_commands_through_a_running_serve(fed_serve):
    serve, expected = fed_serve
    ports = ("--api-port", str(serve.api_port))
    top_org, top_email = max(expected, key=expected.get)
    table = cc_analytics("report", "users", "--month", f"{DAY:%Y-%m}", *ports)
    assert table.returncode == 0, table.stderr
    header, first = table.stdout.splitlines()[:2]
    assert header.split()[:3] == ["member", "org", "team"]
    team = "payments" if top_org == "org-a" else "search"
    assert first.split()[:4] == [top_email, top_org, team, str(expected[(top_org, top_email)])]

    daily = cc_analytics("report", "daily", "--from", str(DAY), "--to", str(DAY), "--format", "json", *ports)
    assert [row["org_id"] for row in json.loads(daily.stdout)] == ["org-a", "org-b"]

    aggregated = cc_analytics("aggregate", "--from", str(DAY), "--to", str(NEXT_DAY), *ports)
    assert aggregated.returncode == 0, aggregated.stderr
    assert aggregated.stderr.count("] 1/2 days") == 1 and "] 2/2 days" in aggregated.stderr
    assert "through the running serve" in aggregated.stdout

    bad = cc_analytics("report", "users", "--month", "2026-13", *ports)
    assert bad.returncode == 2 and "01 to 12" in bad.stderr


def test_report_and_aggregate_commands_open_the_store_when_no_serve_runs(tmp_path, serve_factory):
    data_dir = tmp_path / "own"
    serve = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    assert_stored(serve, export_request(ExportMetricsServiceRequest, [lines(42, at(DAY, 9), at(DAY, 8))]))
    serve.stop()
    store = ("--data-dir", str(data_dir), "--api-port", "1")  # nothing listens on port 1
    aggregated = cc_analytics("aggregate", "--from", str(DAY), "--to", str(DAY), *store)
    assert aggregated.returncode == 0, aggregated.stderr
    assert "1 records" in aggregated.stdout and "embedded chDB store" in aggregated.stdout
    report = cc_analytics("report", "users", "--month", f"{DAY:%Y-%m}", "--format", "csv", *store)
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[1].startswith("ada@example.com,42,org-a,")
