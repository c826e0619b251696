"""Issue 16's end to end check: the newest Claude Code CLI (2.1.332) with every logging and metrics flag on, a stdio
MCP server (tests/support/fake_mcp_server.py), a skill, a subagent, a slash command, an edit, a commit and a pull request in a
repository whose origin is github.com/acme/widgets, over gRPC and HTTP protobuf into one real serve, and once
more over HTTP JSON without OTEL_LOG_TOOL_DETAILS (the CLI then names no MCP server or tool). After the day's rollup, every figure of /api/v1/usage (per name and per member), /api/v1/usage/adoption,
/api/v1/repositories, /api/v1/value and the Admin-API records equals what the CLI itself sent: read from the
export requests the harness's tee recorded, by tests/support/cli_usage_truth.py (no code of ours), and the
harness's cli_reported where it has the figure. Each run is a fresh HOME, so its own member."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import pytest

from tests.support.claude_cli import run_claude
from tests.support.cli_usage_truth import (FIGURES, TOKEN_TYPES, cost_equal, events, load_requests, metric_points,
                                           metric_total, repositories_reported, session_ids, usage_reported)
from tests.support.mcp_scenario import mcp_scenario
from tests.support.paths import HARNESS
from tests.support.polling import wait_until
from tests.support.serve_process import ServeProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness installs the CLI with npm"),
]

VERSION = "2.1.332"
# (protocol, OTEL_LOG_TOOL_DETAILS on)
RUNS = (("grpc", True), ("http/protobuf", True), ("http/json", False))
REPOSITORY = "acme/widgets"
ADMIN_TOKENS = {"input": "input", "output": "output", "cacheRead": "cache_read", "cacheCreation": "cache_creation"}


@dataclass
class Run:
    protocol: str
    tool_details: bool
    truth: dict  # the harness's answer
    requests: list[dict]  # what the CLI sent, as recorded

    @property
    def member(self) -> str:
        return self.truth["user_id"]  # an API-key session's user key


@dataclass
class Stack:
    serve: ServeProcess
    day: str
    runs: list[Run]

    @property
    def requests(self) -> list[dict]:
        return [request for run in self.runs for request in run.requests]

    def read(self, path: str, **parameters) -> dict:
        return json.loads(self.serve.api("GET", path, **{"from": self.day, "to": self.day}, **parameters))


def _stored(serve: ServeProcess) -> tuple[int, int]:
    return (serve.scalar("SELECT count() AS n FROM events FINAL"),
            serve.scalar("SELECT count() AS n FROM metric_points FINAL"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("usage-claude-cli")
    serve = ServeProcess(root / "data", ("--aggregate-interval", "3600")).start()
    try:
        runs = []
        for protocol, tool_details in RUNS:
            endpoint = f"http://{serve.grpc_endpoint}" if protocol == "grpc" else serve.http_url
            record_dir = root / f"recorded-{protocol.replace('/', '-')}"
            scenario = mcp_scenario(root, tool_details=tool_details)
            truth = run_claude(endpoint, protocol, 7, "team=payments", scenario=str(scenario), version=VERSION,
                               record_dir=record_dir)
            runs.append(Run(protocol, tool_details, truth, load_requests(record_dir)))
        sent = (sum(len(events(run.requests)) for run in runs), sum(len(metric_points(run.requests)) for run in runs))
        assert wait_until(lambda: _stored(serve) == sent, timeout=30), (_stored(serve), sent)
        days = {row["d"] for table in ("metric_points", "events")
                for row in serve.query(f"SELECT DISTINCT toString(toDate(timestamp)) AS d FROM {table} FINAL")}
        if len(days) != 1:
            pytest.skip(f"the sessions straddled midnight UTC ({sorted(days)}); the per-day figures would split")
        (day,) = days
        serve.api("POST", "/api/v1/aggregate", **{"from": day, "to": day})
        yield Stack(serve, day, runs)
    finally:
        serve.stop()


def _differences(rows: list[dict], truth: dict[tuple[str, str], dict], key) -> list:
    """What differs between API rows and the truth: keys on one side only, and figures (cost by cost_equal)."""
    ours = {key(row): row for row in rows}
    wrong = [("only ours", k) for k in ours.keys() - truth.keys()] + [("only the CLI's", k)
                                                                      for k in truth.keys() - ours.keys()]
    for k in ours.keys() & truth.keys():
        for figure in FIGURES:
            got, expected = ours[k][figure], truth[k][figure]
            if not (cost_equal(got, expected) if figure == "cost_usd" else got == expected):
                wrong.append((k, figure, got, expected))
    return wrong


def test_the_runs_did_what_the_scenario_says(stack):
    for run in stack.runs:
        reported = run.truth["cli_reported"]
        assert (reported["commits"], reported["pull_requests"], reported["edits_accepted"]) == (1, 1, 2), run.protocol
        assert "mcp__probe__explode:error" in run.truth["tool_calls"], run.truth["tool_calls"]
        statuses = {(e.get("server_name"), e["status"]) for e in events(run.requests)
                    if e["event.name"] == "mcp_server_connection"}
        named = ("probe", "broken") if run.tool_details else (None, None)
        assert statuses == {(named[0], "connected"), (named[0], "disconnected"), (named[1], "failed")}, statuses
    assert len({run.member for run in stack.runs}) == len(RUNS)


def test_usage_per_name_equals_what_the_cli_sent(stack):
    truth = usage_reported(stack.requests)
    assert {kind for kind, _ in truth} >= {"skill", "mcp_server", "mcp_tool", "agent", "query_source", "tool",
                                          "command", "plugin", "permission_mode"}
    # without tool details a custom command reads `custom` and a project skill `custom_skill`
    named = sum(1 for _, tool_details in RUNS if tool_details)
    assert (truth[("command", "greet")]["uses"], truth[("command", "custom")]["uses"]) == (named, len(RUNS) - named)
    assert truth[("skill", "tidy")]["uses"] == named and ("skill", "custom_skill") in truth
    # named with tool details; without, the CLI's cost points say `custom` and the calls are counted so too
    assert {("mcp_tool", "mcp__probe__lookup"), ("mcp_server", "probe"), ("mcp_server", "broken"),
            ("mcp_server", "custom"), ("mcp_tool", "mcp__custom__custom")} <= truth.keys()
    # each of a run's three sessions tries the broken server once
    assert (truth[("mcp_server", "broken")]["failures"], truth[("mcp_server", "custom")]["failures"]) == (
        3 * named, 3 * (len(RUNS) - named))
    rows = stack.read("/api/v1/usage")["data"]
    assert not _differences(rows, truth, lambda row: (row["kind"], row["name"]))
    members = {(row["kind"], row["name"]): row["members"] for row in rows}
    assert members[("skill", "tidy")] == len(RUNS) and members[("mcp_server", "probe")] == 2


def test_usage_per_member_equals_what_the_cli_sent(stack):
    rows = stack.read("/api/v1/usage", group="user")["data"]
    truth = {(run.member, *name): figures for run in stack.runs
             for name, figures in usage_reported(run.requests).items()}
    assert not _differences(rows, truth, lambda row: (row["user_key"], row["kind"], row["name"]))
    # every cost attributed to a query source is the member's whole cost, as cli_reported has it
    for run in stack.runs:
        main_and_subagents = [row["cost_usd"] for row in rows
                              if row["user_key"] == run.member and row["kind"] == "query_source"]
        assert cost_equal(sum(main_and_subagents), run.truth["cli_reported"]["cost_usd"])


def test_adoption_counts_the_members_who_used_skills_mcp_and_subagents(stack):
    [row] = stack.read("/api/v1/usage/adoption")["data"]
    names = usage_reported(stack.requests)
    used = {"skills": any(kind == "skill" for kind, _ in names),
            "mcp": any(kind in ("mcp_server", "mcp_tool") for kind, _ in names),
            "subagents": any(kind == "agent" for kind, _ in names),
            "hooks": any(kind == "hook" for kind, _ in names),
            "plan_mode": ("permission_mode", "plan") in names}
    members = len(RUNS)
    assert row["active_members"] == members
    assert {feature: row[f"{feature}_members"] for feature in used} == {
        feature: members if was_used else 0 for feature, was_used in used.items()}
    assert used["skills"] and used["mcp"] and used["subagents"]


def test_repositories_equal_what_the_cli_sent(stack):
    truth = repositories_reported(stack.requests)
    rows = {row["repository"]: row for row in stack.read("/api/v1/repositories")["data"]}
    assert set(rows) == set(truth) == {REPOSITORY, ""}  # the first process ran before the origin existed
    for repository, expected in truth.items():
        row = rows[repository]
        assert cost_equal(row["cost_usd"], expected["cost_usd"]), (repository, row, expected)
        assert {figure: row[figure] for figure in expected if figure != "cost_usd"} == {
            figure: value for figure, value in expected.items() if figure != "cost_usd"}, repository
    widgets = rows[REPOSITORY]
    assert (widgets["lines_accepted"], widgets["commits"], widgets["pull_requests"]) == (
        sum(run.truth["cli_reported"]["lines_added"] for run in stack.runs), len(RUNS), len(RUNS))


def test_value_equals_what_the_cli_sent(stack):
    [row] = stack.read("/api/v1/value")["data"]
    requests = stack.requests
    cost = metric_total(requests, "cost.usage")
    counts = {"sessions": len(session_ids(requests)), "commits": metric_total(requests, "commit.count"),
              "pull_requests": metric_total(requests, "pull_request.count"),
              "lines_accepted": metric_total(requests, "lines_of_code.count", type="added"),
              "active_members": len(stack.runs)}
    assert {name: row[name] for name in counts} == counts
    assert counts["sessions"] == sum(len(run.truth["cli_reported"]["session_ids"]) for run in stack.runs)
    assert cost_equal(row["cost_usd"], cost)
    assert cost_equal(cost, sum(run.truth["cli_reported"]["cost_usd"] for run in stack.runs))
    for unit, denominator in (("session", "sessions"), ("commit", "commits"), ("pull_request", "pull_requests"),
                              ("line", "lines_accepted"), ("member", "active_members")):
        assert cost_equal(row[f"cost_per_{unit}"], cost / counts[denominator]), unit
    spenders = {spender["user_key"]: spender["cost_usd"] for spender in row["top_spenders"]}
    assert spenders.keys() == {run.member for run in stack.runs}
    for run in stack.runs:
        assert cost_equal(spenders[run.member], metric_total(run.requests, "cost.usage"))


def test_admin_api_records_equal_what_the_cli_sent(stack):
    reply = json.loads(stack.serve.api("GET", "/v1/organizations/usage_report/claude_code", starting_at=stack.day))
    records = {record["actor"]["api_key_name"]: record for record in reply["data"]}
    assert records.keys() == {run.member for run in stack.runs}
    for run in stack.runs:
        record, reported, requests = records[run.member], run.truth["cli_reported"], run.requests
        assert record["core_metrics"] == {
            "num_sessions": len(session_ids(requests)),
            "lines_of_code": {"added": metric_total(requests, "lines_of_code.count", type="added"),
                              "removed": metric_total(requests, "lines_of_code.count", type="removed")},
            "commits_by_claude_code": reported["commits"], "pull_requests_by_claude_code": reported["pull_requests"]}
        assert record["tool_actions"]["write_tool"] == {"accepted": reported["edits"]["Write"]["accept"],
                                                        "rejected": 0}
        assert {kind: sum(entry["tokens"][ADMIN_TOKENS[kind]] for entry in record["model_breakdown"])
                for kind in TOKEN_TYPES} == {kind: metric_total(requests, "token.usage", type=kind)
                                             for kind in TOKEN_TYPES} == reported["tokens"]
        cents = sum(entry["estimated_cost"]["amount"] for entry in record["model_breakdown"])
        assert cost_equal(cents / 100, metric_total(requests, "cost.usage"))
        assert (record["is_remote"], record["terminal_type"]) == (False, "non-interactive")
