"""The real Claude Code CLI (../shared/claude-code-harness, offline against a fake model) runs a scripted session
against a running serve, over each protocol; the stored rows show its session, its lines of code, its edit
decision and its api_request events, matching the ground truth the harness reports."""

from __future__ import annotations

import shutil

import pytest

from tests.support.claude_cli import run_claude
from tests.support.paths import HARNESS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HARNESS.exists(), reason="../shared/claude-code-harness is not present"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the harness installs the CLI with npm"),
]


@pytest.mark.parametrize("protocol,lines", [("grpc", 7), ("http/protobuf", 12), ("http/json", 3)])
def test_real_claude_code_session_is_stored(serve, protocol, lines):
    endpoint = f"http://{serve.grpc_endpoint}" if protocol == "grpc" else serve.http_url
    truth = run_claude(endpoint, protocol, lines, "team=payments,cost_center=42")
    assert truth["file_lines"] == lines

    sessions = serve.query("SELECT DISTINCT session_id, user_key, user_id, user_email FROM events FINAL")
    assert len(sessions) == truth["sessions"] == 1
    session = sessions[0]
    # An API-key session sends no email and no account: the user key falls back to the install's user.id.
    assert session["user_email"] == ""
    assert session["user_key"] == session["user_id"] and len(session["user_id"]) == 64

    events = {row["event_name"]: int(row["n"]) for row in serve.query(
        "SELECT event_name, count() AS n FROM events FINAL GROUP BY event_name")}
    assert events["api_request"] == truth["api_requests"]
    assert events["user_prompt"] == 1
    decisions = serve.query("SELECT tool_name, decision, decision_source FROM events FINAL "
                            "WHERE event_name = 'tool_decision'")
    assert decisions == [{"tool_name": "Write", "decision": "accept", "decision_source": "config"}]

    def metric_sum(name: str, where: str = "1") -> float:
        return serve.query(f"SELECT sum(value) AS v FROM metric_points FINAL "
                           f"WHERE metric_name = '{name}' AND {where}")[0]["v"]

    # Claude Code 2.1.197 counts the empty string after a file's last newline: N lines report N+1.
    assert metric_sum("claude_code.lines_of_code.count", "type = 'added'") == truth["file_lines"] + 1
    assert metric_sum("claude_code.lines_of_code.count", "type = 'removed'") == 0
    assert metric_sum("claude_code.session.count") == truth["sessions"]
    assert metric_sum("claude_code.code_edit_tool.decision",
                      "tool_name = 'Write' AND decision = 'accept'") == truth["write_tool_accepted"]
    assert metric_sum("claude_code.token.usage", "type = 'input'") > 0

    # Every metric point and event belongs to this one session, and carries the team tag on its resource.
    assert serve.query("SELECT DISTINCT session_id FROM metric_points FINAL") == [{"session_id": session["session_id"]}]
    tags = serve.query("SELECT DISTINCT resource_attributes['team'] AS team, attributes['cost_center'] AS cc "
                       "FROM events FINAL")
    assert tags == [{"team": "payments", "cc": "42"}]
