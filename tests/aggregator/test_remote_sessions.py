"""Remote sessions (Claude Code on the web: ccr.session.id) and subscription tiers (anthropic.plan) through a real
serve: the Admin-API-shaped endpoint has one record per actor, day and is_remote with each figure split as sent,
and subscription_type team / enterprise / null; every per-member report still counts a member once."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.support.admin_api_shape import page_shape_problems
from tests.support.claude_records import MODEL, event, identity, point
from tests.support.exports import assert_stored
from tests.support.otlp_messages import export_request
from tests.support.polling import wait_until
from tests.support.read_api import api, ok

pytestmark = pytest.mark.slow

REPORT = "/v1/organizations/usage_report/claude_code"
OTHER_MODEL = "claude-opus-4-1-20250805"
ADA, BOB = "ada@example.com", "bob@example.com"


def _base_ns() -> int:
    """Ten minutes ago, but not before today began (UTC): every record falls on today, for /metrics."""
    now = time.time_ns()
    midnight = int(datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()) * 10**9
    return max(now - 600 * 10**9, midnight + 10**9)


def _session(who: dict, at: int, *, lines=(0, 0), edits=(), commits=0, pull_requests=0, tokens=(), cost=None,
             prompts=0, api_requests=0) -> tuple[list, list]:
    """One session's metric points (delta) and events, all at `at` ns."""
    start = at - 60 * 10**9
    metrics = [point("lines_of_code.count", value, at, start, **who, type=kind, model=MODEL)
               for kind, value in zip(("added", "removed"), lines) if value]
    metrics += [point("code_edit_tool.decision", count, at, start, **who, tool_name=tool, decision=decision,
                      source="config", language="Python") for tool, decision, count in edits]
    metrics += [point(name, value, at, start, **who) for name, value in
                (("commit.count", commits), ("pull_request.count", pull_requests)) if value]
    metrics += [point("token.usage", value, at, start, **who, type=kind, model=model) for model, kind, value in tokens]
    if cost:
        metrics.append(point("cost.usage", cost[1], at, start, **who, model=cost[0]))
    events = [event("user_prompt", at + number, **who) for number in range(prompts)]
    events += [event("api_request", at + 100 + number, **who, model=MODEL) for number in range(api_requests)]
    return metrics, events


def _send(serve, records: tuple[list, list], team: str, transport: str) -> None:
    metrics, events = records
    assert_stored(serve, export_request(ExportMetricsServiceRequest, metrics, {"team": team}), transport)
    assert_stored(serve, export_request(ExportLogsServiceRequest, events, {"team": team}), transport)


def feed(serve) -> None:
    """Ada: a local session (vscode, plan max) and a remote one (ccr.session.id) today; Bob: a local session whose
    records name plan enterprise, then, later, team."""
    base = _base_ns()
    ada_local = identity(ADA, "s-ada-local", **{"anthropic.plan": "max", "anthropic.seat_type": "standard"})
    ada_remote = identity(ADA, "s-ada-web", **{"terminal.type": "non-interactive", "ccr.session.id": "cse_01",
                                               "anthropic.plan": "max"})
    _send(serve, _session(ada_local, base, lines=(10, 2), edits=(("Edit", "accept", 3), ("Write", "reject", 1)),
                          commits=1, tokens=((MODEL, "input", 100), (MODEL, "output", 50)), cost=(MODEL, 0.5),
                          prompts=2, api_requests=1), "payments", "http")
    _send(serve, _session(ada_remote, base + 5 * 10**9, lines=(7, 0),
                          edits=(("Edit", "accept", 1), ("MultiEdit", "accept", 2)), pull_requests=1,
                          tokens=((OTHER_MODEL, "input", 40), (OTHER_MODEL, "cacheRead", 30)),
                          cost=(OTHER_MODEL, 0.25), prompts=1), "payments", "grpc")
    _send(serve, _session(identity(BOB, "s-bob", **{"anthropic.plan": "enterprise"}), base + 10**9, lines=(5, 0),
                          prompts=1), "search", "http")
    _send(serve, _session(identity(BOB, "s-bob", **{"anthropic.plan": "team"}), base + 20 * 10**9, prompts=1),
          "search", "grpc")


@pytest.fixture(scope="module")
def remote_serve(tmp_path_factory):
    from tests.support.serve_process import ServeProcess

    serve = ServeProcess(tmp_path_factory.mktemp("remote") / "data", ("--aggregate-interval", "0")).start()
    try:
        feed(serve)
        today = f"{datetime.now(timezone.utc).date()}"
        ok(serve, "/api/v1/aggregate", "POST", **{"from": today, "to": today})
        yield serve, today
    finally:
        serve.stop()


def _no_tools(**actions) -> dict:
    return {tool: actions.get(tool, {"accepted": 0, "rejected": 0})
            for tool in ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")}


def _tokens(input=0, output=0, cache_read=0, cache_creation=0) -> dict:
    return {"input": input, "output": output, "cache_read": cache_read, "cache_creation": cache_creation}


def expected_records(today: str) -> list[dict]:
    common = {"date": f"{today}T00:00:00Z", "organization_id": "org-a", "customer_type": "subscription"}
    return [
        {**common, "actor": {"type": "user_actor", "email_address": ADA}, "terminal_type": "vscode",
         "subscription_type": None, "is_remote": False,
         "core_metrics": {"num_sessions": 1, "lines_of_code": {"added": 10, "removed": 2},
                          "commits_by_claude_code": 1, "pull_requests_by_claude_code": 0},
         "tool_actions": _no_tools(edit_tool={"accepted": 3, "rejected": 0},
                                   write_tool={"accepted": 0, "rejected": 1}),
         "model_breakdown": [{"model": MODEL, "tokens": _tokens(input=100, output=50),
                              "estimated_cost": {"currency": "USD", "amount": 50.0}}]},
        {**common, "actor": {"type": "user_actor", "email_address": ADA}, "terminal_type": "non-interactive",
         "subscription_type": None, "is_remote": True,
         "core_metrics": {"num_sessions": 1, "lines_of_code": {"added": 7, "removed": 0},
                          "commits_by_claude_code": 0, "pull_requests_by_claude_code": 1},
         "tool_actions": _no_tools(edit_tool={"accepted": 1, "rejected": 0},
                                   multi_edit_tool={"accepted": 2, "rejected": 0}),
         "model_breakdown": [{"model": OTHER_MODEL, "tokens": _tokens(input=40, cache_read=30),
                              "estimated_cost": {"currency": "USD", "amount": 25.0}}]},
        {**common, "actor": {"type": "user_actor", "email_address": BOB}, "terminal_type": "vscode",
         "subscription_type": "team", "is_remote": False,
         "core_metrics": {"num_sessions": 1, "lines_of_code": {"added": 5, "removed": 0},
                          "commits_by_claude_code": 0, "pull_requests_by_claude_code": 0},
         "tool_actions": _no_tools(), "model_breakdown": []},
    ]


def test_local_and_remote_sessions_are_separate_records_each_page_in_the_documented_shape(remote_serve):
    serve, today = remote_serve
    seen, page = [], None
    while True:
        body = ok(serve, REPORT, starting_at=today, limit=1, **({"page": page} if page else {}))
        assert page_shape_problems(body) == []
        seen += body["data"]
        if not body["has_more"]:
            break
        page = body["next_page"]
    assert seen == expected_records(today)
    assert ok(serve, REPORT, starting_at=today, limit=1000)["data"] == expected_records(today)


def test_a_cursor_without_is_remote_is_refused(remote_serve):
    serve, today = remote_serve
    old = base64.urlsafe_b64encode(json.dumps([today, "org-a", ADA]).encode()).decode().rstrip("=")
    status, body, _ = api(serve, REPORT, starting_at=today, page=old)
    assert status == 400 and "cursor" in body["error"]


def test_every_other_report_counts_the_member_once(remote_serve):
    serve, today = remote_serve
    users = {row["user_key"]: row for row in ok(serve, "/api/v1/users", month=today[:7])["data"]}
    assert list(users) == [ADA, BOB]  # lines accepted first
    ada = users[ADA]
    assert (ada["days_active"], ada["sessions"], ada["team"]) == (1, 2, "payments")
    assert {name: ada[name] for name in ("lines_accepted", "lines_removed", "edits_accepted", "edits_rejected",
                                         "commits", "pull_requests", "prompts", "api_requests", "input_tokens",
                                         "cache_read_tokens", "cost_usd")} == {
        "lines_accepted": 17, "lines_removed": 2, "edits_accepted": 6, "edits_rejected": 1, "commits": 1,
        "pull_requests": 1, "prompts": 3, "api_requests": 1, "input_tokens": 140, "cache_read_tokens": 30,
        "cost_usd": 0.75}
    assert (users[BOB]["days_active"], users[BOB]["sessions"], users[BOB]["lines_accepted"]) == (1, 1, 5)

    [org] = ok(serve, "/api/v1/daily", **{"from": today, "to": today})["data"]
    assert (org["active_users"], org["sessions"], org["lines_accepted"], org["prompts"]) == (2, 3, 22, 5)
    [payments] = ok(serve, "/api/v1/daily", **{"from": today, "to": today, "team": "payments"})["data"]
    assert (payments["active_users"], payments["sessions"], payments["lines_accepted"]) == (1, 2, 17)
    assert payments["accept_rate"] == 6 / 7


def _samples(text: str, family: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(family + "{")}


def test_metrics_per_member_families_count_the_member_once(remote_serve):
    serve, _ = remote_serve
    texts = []

    def scraped() -> bool:
        texts.append(serve.api("GET", "/metrics").decode())
        return sum(_samples(texts[-1], "cc_analytics_lines_accepted_total").values()) == 22

    assert wait_until(scraped), texts[-1]
    text = texts[-1]
    assert _samples(text, "cc_analytics_user_month_lines_accepted") == {
        'cc_analytics_user_month_lines_accepted{org="org-a",team="payments",user="ada@example.com"}': 17.0,
        'cc_analytics_user_month_lines_accepted{org="org-a",team="search",user="bob@example.com"}': 5.0}
    assert _samples(text, "cc_analytics_user_month_sessions")[
        'cc_analytics_user_month_sessions{org="org-a",team="payments",user="ada@example.com"}'] == 2.0
    assert _samples(text, "cc_analytics_sessions_total")[
        'cc_analytics_sessions_total{org="org-a",team="payments"}'] == 2.0
    assert _samples(text, "cc_analytics_team_active_users")[
        'cc_analytics_team_active_users{org="org-a",team="payments",window="today"}'] == 1.0
    assert _samples(text, "cc_analytics_active_users")[
        'cc_analytics_active_users{org="org-a",window="today"}'] == 2.0
    assert _samples(text, "cc_analytics_contribution_active_members")[
        'cc_analytics_contribution_active_members{org="org-a",team="payments",window="today"}'] == 1.0
