"""daily_usage against the real chDB engine: hand-made records whose usage figures are worked out by hand,
including a resumed session's cumulative cost attribution, a retried export and events counted for two kinds."""

from __future__ import annotations

from aggregator.rollup import Rollup
from aggregator.usage import KINDS, TABLE
from aggregator.usage_report import Usage, UsageFilters
from tests.support.claude_records import DAY, MODEL, at, event, identity, point
from tests.support.raw_rows import store_rows


def usage_rows(store) -> dict[tuple, dict]:
    result = store.client.query(f"SELECT * FROM `{store.database}`.{TABLE} FINAL")
    rows = [dict(zip(result.column_names, row)) for row in result.result_rows]
    return {(row["user_key"], row["kind"], row["name"]): row for row in rows}


def test_usage_events_and_cost_attribution_are_counted_once_per_kind(store):
    who = identity()
    skill = {"skill.name": "pdf", "query_source": "main", "model": MODEL}
    # a cumulative cost series (3 then 5: adds 5) and its resumed process (a new start: 2 more)
    metrics = [point("cost.usage", 3.0, at(DAY, 9), at(DAY, 8), True, **who, **skill),
               point("cost.usage", 5.0, at(DAY, 10), at(DAY, 8), True, **who, **skill),
               point("cost.usage", 2.0, at(DAY, 11), at(DAY, 10, 30), True, **who, **skill),
               point("token.usage", 100, at(DAY, 9), at(DAY, 8), False, **who, **skill, type="input"),
               point("token.usage", 40, at(DAY, 9), at(DAY, 8), False, **who, type="output", model=MODEL,
                     query_source="subagent", **{"agent.name": "Explore", "mcp_server.name": "github",
                                                "mcp_tool.name": "create_issue"})]
    events = [event("skill_activated", at(DAY, 9, 1), **who, **{"skill.name": "pdf"}),
              event("tool_result", at(DAY, 9, 2), **who, tool_name="mcp__github__create_issue", success="true",
                    duration_ms="120"),
              event("tool_result", at(DAY, 9, 3), **who, tool_name="Bash", success="false", duration_ms=30),
              event("tool_result", at(DAY, 9, 4), **who, tool_name="Bash", success="true", duration_ms=10.5),
              event("mcp_server_connection", at(DAY, 9, 5), **who, status="connected", duration_ms="400",
                    server_name="github"),
              event("mcp_server_connection", at(DAY, 9, 6), **who, status="failed", duration_ms="90"),
              event("subagent_completed", at(DAY, 9, 7), **who, agent_type="Explore", duration_ms="5000",
                    total_tokens="999"),
              event("hook_execution_complete", at(DAY, 9, 8), **who, hook_event="PreToolUse", num_hooks="3",
                    num_success="2", total_duration_ms="75"),
              event("tool_decision", at(DAY, 9, 9), **who, tool_name="Edit", decision="accept",
                    permission_mode="plan"),
              event("permission_mode_changed", at(DAY, 9, 10), **who, from_mode="default", to_mode="plan"),
              event("user_prompt", at(DAY, 9, 11), **who, command_name="/review"),
              event("api_request", at(DAY, 9, 12), **who, cost_usd="9.5", query_source="main", model=MODEL)]
    store_rows(store, metrics=metrics, events=events)
    store_rows(store, events=events[:3])  # a retried export
    Rollup(store.client, store.database).rebuild_day(DAY)

    rows = usage_rows(store)
    figures = {key: (row["uses"], row["successes"], row["failures"], row["duration_ms"], row["cost_usd"],
                     row["input_tokens"], row["output_tokens"]) for key, row in rows.items()}
    ada = "ada@example.com"
    assert figures == {
        (ada, "skill", "pdf"): (1, 0, 0, 0, 7.0, 100, 0),
        (ada, "query_source", "main"): (0, 0, 0, 0, 7.0, 100, 0),
        (ada, "query_source", "subagent"): (0, 0, 0, 0, 0, 0, 40),
        (ada, "agent", "Explore"): (1, 0, 0, 5000, 0, 0, 40),
        (ada, "mcp_server", "github"): (1, 1, 0, 400, 0, 0, 40),
        (ada, "mcp_server", "custom"): (1, 0, 1, 90, 0, 0, 0),
        (ada, "mcp_tool", "mcp__github__create_issue"): (1, 1, 0, 120, 0, 0, 40),
        (ada, "tool", "mcp__github__create_issue"): (1, 1, 0, 120, 0, 0, 0),
        (ada, "tool", "Bash"): (2, 1, 1, 40.5, 0, 0, 0),
        (ada, "hook", "PreToolUse"): (3, 2, 1, 75, 0, 0, 0),
        (ada, "permission_mode", "plan"): (2, 0, 0, 0, 0, 0, 0),
        (ada, "command", "/review"): (1, 0, 0, 0, 0, 0, 0),
    }
    assert {row["team"] for row in rows.values()} == {"payments"}
    assert {kind for _, kind, _ in rows} <= set(KINDS)

    # rebuilding changes nothing
    Rollup(store.client, store.database).rebuild_day(DAY)
    assert usage_rows(store).keys() == rows.keys()


def test_the_usage_reader_sums_per_name_and_counts_adoption(store):
    who = identity()
    store_rows(store, events=[
        event("tool_result", at(DAY, 9), **who, tool_name="Bash", success="true", duration_ms="10"),
        event("tool_result", at(DAY, 10), **who, tool_name="Bash", success="false", duration_ms="30"),
        event("permission_mode_changed", at(DAY, 11), **who, to_mode="plan"),
        event("user_prompt", at(DAY, 11), **identity(email="grace@example.com"))])
    Rollup(store.client, store.database).rebuild_day(DAY)
    usage = Usage(store.client, store.database)
    rows = usage.rows(DAY, DAY, UsageFilters(kind="tool"))
    assert [(r["name"], r["uses"], r["successes"], r["failures"], r["duration_ms"], r["members"], r["success_rate"])
            for r in rows] == [("Bash", 2, 1, 1, 40.0, 1, 0.5)]
    assert usage.rows(DAY, DAY, UsageFilters(org="org-b")) == []
    assert [r["user_key"] for r in usage.rows(DAY, DAY, UsageFilters(), "user")] == ["ada@example.com"] * 2
    [adoption] = usage.adoption(DAY, DAY, UsageFilters())
    assert (adoption["active_members"], adoption["plan_mode_members"], adoption["plan_mode_share"],
            adoption["skills_share"]) == (2, 1, 0.5, 0.0)


def test_mcp_calls_and_connections_are_counted_as_claude_code_2_1_332_sends_them(store):
    # measured with the real CLI (tests/support/scenarios/FINDINGS.md): a call's tool_name is `mcp_tool`, its names
    # are in tool_parameters; a connection's end is a `disconnected` event whose duration is the connection's life
    who = identity()
    lookup = '{"mcp_server_name":"probe","mcp_tool_name":"lookup"}'
    store_rows(store, events=[
        event("mcp_server_connection", at(DAY, 9), **who, status="connected", duration_ms="41",
              transport_type="stdio", server_scope="project", server_name="probe"),
        event("tool_result", at(DAY, 9, 1), **who, tool_name="mcp_tool", success="true", duration_ms="8",
              tool_parameters=lookup, mcp_server_scope="project"),
        event("tool_result", at(DAY, 9, 2), **who, tool_name="mcp_tool", success="false", duration_ms="5",
              tool_parameters='{"mcp_server_name":"probe","mcp_tool_name":"explode"}', error_type="McpToolCallError"),
        event("tool_result", at(DAY, 9, 3), **who, tool_name="mcp_tool", success="true", duration_ms="2"),
        event("mcp_server_connection", at(DAY, 9, 4), **who, status="disconnected", duration_ms="1086",
              transport_type="stdio", server_scope="project", server_name="probe")])
    Rollup(store.client, store.database).rebuild_day(DAY)

    figures = {key: (row["uses"], row["successes"], row["failures"], row["duration_ms"])
               for key, row in usage_rows(store).items()}
    ada = "ada@example.com"
    assert figures == {
        (ada, "mcp_server", "probe"): (1, 1, 0, 41),
        (ada, "mcp_tool", "mcp__probe__lookup"): (1, 1, 0, 8),
        (ada, "tool", "mcp__probe__lookup"): (1, 1, 0, 8),
        (ada, "mcp_tool", "mcp__probe__explode"): (1, 0, 1, 5),
        (ada, "tool", "mcp__probe__explode"): (1, 0, 1, 5),
        # without OTEL_LOG_TOOL_DETAILS nothing names the tool: the name its cost points give it
        (ada, "mcp_tool", "mcp__custom__custom"): (1, 1, 0, 2),
        (ada, "tool", "mcp__custom__custom"): (1, 1, 0, 2),
    }
