"""End to end through the aggregator: real Claude Code CLI sessions (../shared/claude-code-harness, offline against a
fake model) over each protocol into one serve, then the daily rollup, the users report (JSON and CSV) and the
Admin-API-shaped usage report must show per user and per day what the CLI itself reported, counted once.

Every harness run starts from a fresh HOME, so each session is a new install id (user.id) and thus a new user: here
four users with one session each, each writing a file of a different length (so the users report has a strict order).
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from tests.support.paths import HARNESS

from tests.support.polling import wait_until

from tests.support.serve_process import ServeProcess
from tests.support.claude_cli import run_claude

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness installs the CLI with npm"),
]

# (protocol, lines written, team): every protocol at least once, distinct line counts, two teams to tell apart.
RUNS = [("grpc", 7, "payments"), ("http/protobuf", 12, "payments"), ("http/json", 3, "payments"),
        ("grpc", 20, "platform")]
ORG = "default"  # API-key sessions carry no organization.id: serve's default org
TOKEN_TYPES = {"input": "input", "output": "output", "cacheRead": "cache_read", "cacheCreation": "cache_creation"}
EDIT_TOOLS = {"Edit": "edit_tool", "MultiEdit": "multi_edit_tool", "Write": "write_tool",
              "NotebookEdit": "notebook_edit_tool"}


@dataclass
class Session:
    protocol: str
    lines: int
    team: str
    truth: dict
    session_id: str = ""
    user_key: str = ""


@dataclass
class Stack:
    serve: ServeProcess
    day: str
    sessions: list[Session]
    raw: dict[str, dict] = field(default_factory=dict)  # user_key -> figures read from the raw tables
    models: dict[str, dict] = field(default_factory=dict)  # user_key -> {model: {token kind: n, "cost": usd}}

    def get(self, path: str, **params) -> bytes:
        return self.serve.api("GET", path, **params)

    def get_json(self, path: str, **params):
        return json.loads(self.get(path, **params))

    def session_of(self, user_key: str) -> Session:
        return next(s for s in self.sessions if s.user_key == user_key)


def _new_session(serve: ServeProcess, known: set[str], truth: dict) -> tuple[str, str] | None:
    """The one session not seen before, once all of its metric points and events are stored."""
    rows = serve.query("SELECT DISTINCT session_id, user_key FROM metric_points FINAL "
                       "WHERE metric_name = 'claude_code.lines_of_code.count'")
    new = [(row["session_id"], row["user_key"]) for row in rows if row["session_id"] not in known]
    if len(new) != 1:
        return None
    session_id = new[0][0]
    events = Counter({row["event_name"]: int(row["n"]) for row in serve.query(
        f"SELECT event_name, count() AS n FROM events FINAL WHERE session_id = '{session_id}' GROUP BY event_name")})
    if events["api_request"] < truth["api_requests"] or events["user_prompt"] < 1:
        return None
    return new[0]


def _raw_figures(serve: ServeProcess) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per user, the figures as the CLI itself sent them: metric sums, and event counts and token sums beside them."""
    tokens = ",\n".join(f"sumIf(value, metric_name = 'claude_code.token.usage' AND type = '{sent}') AS {kind}_tokens"
                         for sent, kind in TOKEN_TYPES.items())
    metrics = serve.query(f"""
        SELECT user_key,
               sumIf(value, metric_name = 'claude_code.lines_of_code.count' AND type = 'added') AS lines_added,
               sumIf(value, metric_name = 'claude_code.lines_of_code.count' AND type = 'removed') AS lines_removed,
               sumIf(value, metric_name = 'claude_code.session.count') AS session_count,
               sumIf(value, metric_name = 'claude_code.code_edit_tool.decision'
                            AND tool_name = 'Write' AND decision = 'accept') AS write_accepted,
               sumIf(value, metric_name = 'claude_code.code_edit_tool.decision' AND decision = 'accept') AS accepted,
               sumIf(value, metric_name = 'claude_code.code_edit_tool.decision' AND decision = 'reject') AS rejected,
               {tokens},
               sumIf(value, metric_name = 'claude_code.cost.usage') AS cost_usd,
               sumIf(value, metric_name = 'claude_code.active_time.total' AND type = 'user') AS active_time_user,
               sumIf(value, metric_name = 'claude_code.active_time.total' AND type = 'cli') AS active_time_cli,
               sumIf(value, metric_name = 'claude_code.commit.count') AS commits,
               sumIf(value, metric_name = 'claude_code.pull_request.count') AS pull_requests,
               uniqExact(session_id) AS metric_sessions,
               groupUniqArray(resource_attributes['team']) AS teams,
               groupUniqArray(terminal_type) AS terminal_types,
               count() AS metric_rows
        FROM metric_points FINAL GROUP BY user_key""")
    events = serve.query("""
        SELECT user_key,
               countIf(event_name = 'user_prompt') AS prompts,
               countIf(event_name = 'api_request') AS api_requests,
               countIf(event_name = 'api_error') AS api_errors,
               sumIf(toFloat64OrZero(attributes['input_tokens']), event_name = 'api_request') AS event_input_tokens,
               sumIf(toFloat64OrZero(attributes['output_tokens']), event_name = 'api_request') AS event_output_tokens,
               sumIf(toFloat64OrZero(attributes['cost_usd']), event_name = 'api_request') AS event_cost_usd,
               uniqExact(session_id) AS event_sessions,
               groupUniqArray(resource_attributes['team']) AS event_teams,
               count() AS event_rows
        FROM events FINAL GROUP BY user_key""")
    raw = {row["user_key"]: dict(row) for row in metrics}
    for row in events:
        raw.setdefault(row["user_key"], {}).update(row)
    models: dict[str, dict] = {}
    for row in serve.query("""
            SELECT user_key, model, metric_name, type, sum(value) AS v FROM metric_points FINAL
            WHERE metric_name IN ('claude_code.token.usage', 'claude_code.cost.usage')
            GROUP BY user_key, model, metric_name, type"""):
        per_model = models.setdefault(row["user_key"], {}).setdefault(
            row["model"], {"input": 0, "output": 0, "cache_read": 0, "cache_creation": 0, "cost": 0.0})
        if row["metric_name"] == "claude_code.cost.usage":
            per_model["cost"] += row["v"]
        else:
            per_model[TOKEN_TYPES[row["type"]]] += row["v"]
    return raw, models


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One serve; the CLI sessions run against it one after another; then one synchronous re-aggregation."""
    # A long timer: every figure read below comes from the explicit POST /api/v1/aggregate.
    serve = ServeProcess(tmp_path_factory.mktemp("aggregate-cli"), ("--aggregate-interval", "3600")).start()
    try:
        started_on = datetime.now(timezone.utc).date()
        sessions: list[Session] = []
        for protocol, lines, team in RUNS:
            endpoint = f"http://{serve.grpc_endpoint}" if protocol == "grpc" else serve.http_url
            truth = run_claude(endpoint, protocol, lines, f"team={team},cost_center=42")
            session = Session(protocol, lines, team, truth)
            found = wait_until(lambda: _new_session(serve, {s.session_id for s in sessions}, truth), timeout=30)
            assert found, f"the {protocol} session's rows did not arrive:\n{serve.log_text()}"
            session.session_id, session.user_key = found
            sessions.append(session)

        days = {row["d"] for table in ("metric_points", "events")
                for row in serve.query(f"SELECT DISTINCT toString(toDate(timestamp)) AS d FROM {table} FINAL")}
        if len(days) != 1:
            pytest.skip(f"the sessions straddled midnight UTC ({sorted(days)}); the per-day figures would split")
        (day,) = days
        assert day in {started_on.isoformat(), datetime.now(timezone.utc).date().isoformat()}

        result = json.loads(serve.api("POST", "/api/v1/aggregate", **{"from": day, "to": day}))
        assert isinstance(result, dict)
        built = Stack(serve, day, sessions)
        built.raw, built.models = _raw_figures(serve)
        yield built
    finally:
        serve.stop()


def _cents_match(amount, usd: float) -> bool:
    """Estimated cost in cents: exact, or rounded to whole cents."""
    cents = usd * 100
    return math.isclose(amount, cents, rel_tol=1e-6, abs_tol=1e-9) or amount == round(cents)


def test_the_harness_sessions_are_four_users_with_the_cli_ground_truth(stack):
    assert len({s.user_key for s in stack.sessions}) == len({s.session_id for s in stack.sessions}) == len(RUNS)
    assert set(stack.raw) == {s.user_key for s in stack.sessions}
    for session in stack.sessions:
        raw = stack.raw[session.user_key]
        assert session.truth["file_lines"] == session.lines and session.truth["sessions"] == 1
        assert len(session.user_key) == 64  # API key: no email, no account, the user key is user.id
        # Claude Code 2.1.197 counts the empty string after a file's last newline: N lines report N+1.
        assert raw["lines_added"] == session.truth["file_lines"] + 1
        assert raw["write_accepted"] == session.truth["write_tool_accepted"]
        assert raw["api_requests"] == session.truth["api_requests"]
        assert raw["metric_sessions"] == raw["event_sessions"] == raw["session_count"] == 1
        assert raw["teams"] == raw["event_teams"] == [session.team]
        # The api_request events carry the same tokens as the metrics: adding both would count them twice.
        assert raw["event_input_tokens"] == raw["input_tokens"] > 0
        assert raw["event_output_tokens"] == raw["output_tokens"] > 0


def test_daily_rollup_equals_the_cli_metrics_counted_once(stack):
    rows = stack.get_json("/api/v1/daily", **{"from": stack.day, "to": stack.day})["data"]
    assert [(row["date"], row["org_id"]) for row in rows] == [(stack.day, ORG)], rows
    daily = rows[0]
    raw = list(stack.raw.values())

    def total(key: str) -> float:
        return sum(row[key] for row in raw)

    assert daily["active_users"] == len(RUNS)
    assert daily["sessions"] == sum(s.truth["sessions"] for s in stack.sessions)
    assert daily["lines_accepted"] == total("lines_added") == sum(s.truth["file_lines"] + 1 for s in stack.sessions)
    assert daily["lines_removed"] == total("lines_removed") == 0
    assert daily["edits_accepted"] == total("accepted") == sum(s.truth["write_tool_accepted"] for s in stack.sessions)
    assert daily["edits_rejected"] == 0
    assert daily["accept_rate"] == pytest.approx(1.0)
    assert daily["commits"] == total("commits") and daily["pull_requests"] == total("pull_requests")
    for kind in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"):
        assert daily[kind] == total(kind), kind
    assert daily["input_tokens"] != total("input_tokens") + total("event_input_tokens")  # no metrics + events
    assert daily["cost_usd"] == pytest.approx(total("cost_usd"), rel=1e-9)
    assert daily["cost_usd"] != pytest.approx(total("cost_usd") + total("event_cost_usd"), rel=1e-9)
    assert daily["active_time_user_seconds"] == pytest.approx(total("active_time_user"), abs=1e-6)
    assert daily["active_time_cli_seconds"] == pytest.approx(total("active_time_cli"), abs=1e-6)
    assert daily["prompts"] == total("prompts") == len(RUNS)
    assert daily["api_requests"] == sum(s.truth["api_requests"] for s in stack.sessions)
    assert daily["api_errors"] == 0
    # API-key sessions carry no email: every record is one without.
    assert daily["records"] == total("metric_rows") + total("event_rows")  # every stored row read once
    assert daily["records_without_email"] == daily["records"]
    assert daily["share_without_email"] == pytest.approx(1.0)


def test_daily_rollup_filters_by_team(stack):
    for team in ("payments", "platform"):
        mine = [s for s in stack.sessions if s.team == team]
        rows = stack.get_json("/api/v1/daily", **{"from": stack.day, "to": stack.day, "team": team})["data"]
        assert len(rows) == 1, (team, rows)
        daily = rows[0]
        assert daily["active_users"] == len(mine), team
        assert daily["sessions"] == len(mine), team
        assert daily["lines_accepted"] == sum(s.truth["file_lines"] + 1 for s in mine), team
        assert daily["input_tokens"] == sum(stack.raw[s.user_key]["input_tokens"] for s in mine), team
    assert stack.get_json("/api/v1/daily", **{"from": stack.day, "to": stack.day, "team": "nobody"})["data"] == []
    assert stack.get_json("/api/v1/daily", **{"from": stack.day, "to": stack.day, "org": "elsewhere"})["data"] == []


def test_users_report_has_each_cli_user_with_its_team(stack):
    month = stack.day[:7]
    reply = stack.get_json("/api/v1/users", month=month)
    assert reply["month"] == month
    rows = reply["data"]
    assert [row["user_key"] for row in rows] == [s.user_key for s in sorted(stack.sessions, key=lambda s: -s.lines)]
    for row in rows:
        session, raw = stack.session_of(row["user_key"]), stack.raw[row["user_key"]]
        assert row["org_id"] == ORG and row["email"] == ""
        assert row["team"] == session.team
        assert row["days_active"] == 1
        assert row["sessions"] == session.truth["sessions"]
        assert row["lines_accepted"] == raw["lines_added"] == session.truth["file_lines"] + 1
        assert row["edits_accepted"] == session.truth["write_tool_accepted"] and row["edits_rejected"] == 0
        assert row["accept_rate"] == pytest.approx(1.0)
        for kind in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"):
            assert row[kind] == raw[kind], kind
        assert row["cost_usd"] == pytest.approx(raw["cost_usd"], rel=1e-9)
        assert row["prompts"] == raw["prompts"] == 1
        assert row["api_requests"] == session.truth["api_requests"]

    one = stack.sessions[0]
    found = stack.get_json("/api/v1/users", month=month, q=one.user_key[:16])["data"]
    assert [row["user_key"] for row in found] == [one.user_key]
    assert stack.get_json("/api/v1/users", month=month, org="elsewhere")["data"] == []


def test_users_csv_names_each_user_by_its_key(stack):
    text = stack.get("/api/v1/users", month=stack.day[:7], format="csv").decode()
    assert text.startswith("email,lines_accepted")
    table = list(csv.DictReader(io.StringIO(text)))
    ordered = sorted(stack.sessions, key=lambda s: -s.lines)
    # No email with an API key: the email column holds the user key, so each row is still identifiable.
    assert [row["email"] for row in table] == [s.user_key for s in ordered]
    assert [int(float(row["lines_accepted"])) for row in table] == [s.truth["file_lines"] + 1 for s in ordered]


def test_admin_api_usage_report_has_one_record_per_cli_user(stack):
    records, page, pages = [], None, 0
    while True:  # one record a page: walks the cursor too
        reply = stack.get_json("/v1/organizations/usage_report/claude_code", starting_at=stack.day, limit=1,
                               page=page)
        records += reply["data"]
        pages += 1
        assert len(reply["data"]) <= 1
        if not reply["has_more"]:
            break
        page = reply["next_page"]
        assert page and pages < 20
    assert len(records) == len(RUNS)
    assert stack.get_json("/v1/organizations/usage_report/claude_code", starting_at=stack.day)["has_more"] is False

    by_key = {record["actor"]["api_key_name"]: record for record in records}
    assert set(by_key) == {s.user_key for s in stack.sessions}
    for user_key, record in by_key.items():
        session, raw = stack.session_of(user_key), stack.raw[user_key]
        assert record["date"].startswith(stack.day)
        assert record["actor"] == {"type": "api_actor", "api_key_name": user_key}
        assert record["organization_id"] == ORG
        assert record["customer_type"] in {"api", "subscription"}
        assert [record["terminal_type"]] == raw["terminal_types"]  # "non-interactive" for claude -p
        core = record["core_metrics"]
        assert core["num_sessions"] == session.truth["sessions"]
        assert core["lines_of_code"] == {"added": session.truth["file_lines"] + 1, "removed": 0}
        assert core["lines_of_code"]["added"] == raw["lines_added"]
        assert core["commits_by_claude_code"] == 0 and core["pull_requests_by_claude_code"] == 0
        tools = record["tool_actions"]
        assert set(tools) == set(EDIT_TOOLS.values())
        assert tools["write_tool"] == {"accepted": session.truth["write_tool_accepted"], "rejected": 0}
        assert all(tools[name] == {"accepted": 0, "rejected": 0} for name in tools if name != "write_tool")

        # Tokens and cost by the model the METRICS name (the events name another one): metrics only, once.
        breakdown = {entry["model"]: entry for entry in record["model_breakdown"]}
        assert set(breakdown) == set(stack.models[user_key]), record["model_breakdown"]
        for model, expected in stack.models[user_key].items():
            entry = breakdown[model]
            assert entry["tokens"] == {kind: expected[kind]
                                       for kind in ("input", "output", "cache_read", "cache_creation")}, model
            assert entry["estimated_cost"]["currency"] == "USD"
            assert _cents_match(entry["estimated_cost"]["amount"], expected["cost"]), (entry, expected["cost"])
        assert sum(e["tokens"]["input"] for e in breakdown.values()) == raw["input_tokens"]
