"""What Claude Code itself reported about its usage (skills, MCP servers and tools, agents, tools, hooks, permission
modes, plugins, slash commands), read straight from the export requests the harness's tee recorded (OTLP JSON).

An independent reading of the raw requests: it imports nothing of the collector or the aggregator, so a figure of
/api/v1/usage that equals it was not merely computed twice by the same code. The counting rules are the Usage
figures' (aggregator/usage.py docstring), said again here in plain Python:
- cost.usage and token.usage (delta points) are summed per attribution attribute; an MCP tool is mcp__SERVER__TOOL;
- skill_activated, subagent_completed, plugin_loaded and user_prompt's command_name count one use each;
- mcp_server_connection counts a use per connection made or failed (a `disconnected` end is none);
- tool_result counts a use, a success or a failure and its duration, under mcp__SERVER__TOOL for an MCP call
  (Claude Code 2.1.332 names it `mcp_tool`, with the server and tool in tool_parameters), also as an MCP tool;
- hook_execution_complete counts its hooks; tool_decision and permission_mode_changed count permission modes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

FIGURES = ("uses", "successes", "failures", "duration_ms", "cost_usd", "input_tokens", "output_tokens",
           "cache_read_tokens", "cache_creation_tokens")
TOKEN_TYPES = {"input": "input_tokens", "output": "output_tokens", "cacheRead": "cache_read_tokens",
               "cacheCreation": "cache_creation_tokens"}
ATTRIBUTION = {"query_source": "query_source", "agent": "agent.name", "skill": "skill.name", "plugin": "plugin.name",
               "mcp_server": "mcp_server.name"}
DELTA = (1, "AGGREGATION_TEMPORALITY_DELTA")
UNNAMED = "custom"  # what cost points call an MCP server or tool Claude Code does not name


def _value(value: dict):
    if not value:
        return None
    (kind, scalar), = value.items()
    return int(scalar) if kind == "intValue" else scalar


def _attributes(node: dict) -> dict:
    return {item["key"]: _value(item.get("value", {})) for item in node.get("attributes", [])}


def load_requests(directory: Path) -> list[dict]:
    """The recorded export requests of a directory, in the order they were sent."""
    return [json.loads(path.read_text()) for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]-*.json"))]


def metric_points(requests: list[dict]) -> list[tuple[str, float, dict]]:
    """(metric name, value, attributes) of every Sum point; the CLI's default delta temporality only."""
    points = []
    for request in requests:
        for resource in request.get("resourceMetrics", []):
            for scope in resource.get("scopeMetrics", []):
                for metric in scope.get("metrics", []):
                    data = metric.get("sum", {})
                    for point in data.get("dataPoints", []):
                        assert data.get("aggregationTemporality") in DELTA, "only delta points are summed here"
                        value = point.get("asDouble", point.get("asInt", 0))
                        points.append((metric["name"], float(value), _attributes(point)))
    return points


def events(requests: list[dict]) -> list[dict]:
    """The attributes of every log record (event.name among them)."""
    return [_attributes(record) for request in requests for resource in request.get("resourceLogs", [])
            for scope in resource.get("scopeLogs", []) for record in scope.get("logRecords", [])]


def _mcp_tool(server: str | None, tool: str | None) -> str | None:
    if not tool:
        return None
    return tool if tool.startswith("mcp__") else f"mcp__{server}__{tool}"


def _tool_name(event: dict) -> tuple[str, bool]:
    """A tool_result's name and whether it is an MCP call."""
    name = event.get("tool_name", "")
    if name == "mcp_tool":
        details = json.loads(event.get("tool_parameters") or "{}")
        return _mcp_tool(details.get("mcp_server_name"), details.get("mcp_tool_name")) or f"mcp__{UNNAMED}__{UNNAMED}", True
    return name, name.startswith("mcp__")


def _number(text) -> float:
    return float(text or 0)


def usage_reported(requests: list[dict]) -> dict[tuple[str, str], dict]:
    """{(kind, name): {figure: value}} as the requests say (cost a float sum: compare it with cost_equal)."""
    usage: dict[tuple[str, str], dict] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))

    def add(kind: str, name: str | None, **figures) -> None:
        if name:
            row = usage[(kind, name)]
            for figure, amount in figures.items():
                row[figure] += amount

    for metric, value, attributes in metric_points(requests):
        if metric == "claude_code.cost.usage":
            figure = "cost_usd"
        elif metric == "claude_code.token.usage":
            figure = TOKEN_TYPES[attributes["type"]]
        else:
            continue
        names = {kind: attributes.get(key) for kind, key in ATTRIBUTION.items()}
        names["mcp_tool"] = _mcp_tool(attributes.get("mcp_server.name"), attributes.get("mcp_tool.name"))
        for kind, name in names.items():
            add(kind, name, **{figure: value})
    for event in events(requests):
        name = event.get("event.name")
        if name == "skill_activated":
            add("skill", event.get("skill.name"), uses=1)
        elif name == "mcp_server_connection" and event.get("status") != "disconnected":
            add("mcp_server", event.get("server_name") or UNNAMED, uses=1,
                successes=int(event.get("status") == "connected"), failures=int(event.get("status") == "failed"),
                duration_ms=_number(event.get("duration_ms")))
        elif name == "subagent_completed":
            add("agent", event.get("agent_type"), uses=1, duration_ms=_number(event.get("duration_ms")))
        elif name == "tool_result":
            tool, is_mcp = _tool_name(event)
            figures = dict(uses=1, successes=int(event.get("success") == "true"),
                           failures=int(event.get("success") == "false"),
                           duration_ms=_number(event.get("duration_ms")))
            add("tool", tool, **figures)
            if is_mcp:
                add("mcp_tool", tool, **figures)
        elif name == "hook_execution_complete":
            hooks, succeeded = int(_number(event.get("num_hooks"))), int(_number(event.get("num_success")))
            add("hook", event.get("hook_event"), uses=hooks, successes=min(succeeded, hooks),
                failures=hooks - min(succeeded, hooks), duration_ms=_number(event.get("total_duration_ms")))
        elif name == "tool_decision":
            add("permission_mode", event.get("permission_mode"), uses=1)
        elif name == "permission_mode_changed":
            add("permission_mode", event.get("to_mode"), uses=1)
        elif name == "plugin_loaded":
            add("plugin", event.get("plugin.name"), uses=1)
        elif name == "user_prompt":
            add("command", event.get("command_name"), uses=1)
    return dict(usage)


def metric_total(requests: list[dict], metric: str, **where) -> float:
    """The sum of one metric's points (those whose attributes have the given values)."""
    return sum(value for name, value, attributes in metric_points(requests)
               if name == f"claude_code.{metric}" and all(attributes.get(k) == v for k, v in where.items()))


def session_ids(requests: list[dict]) -> set[str]:
    """Every session.id a point or an event carries."""
    return ({attributes["session.id"] for _, _, attributes in metric_points(requests) if "session.id" in attributes}
            | {event["session.id"] for event in events(requests) if "session.id" in event})


def cost_equal(ours: float, reported: float) -> bool:
    """Equal costs: the same dollars to the nanodollar, as Decimals. Our sums and the CLI's are float sums of the
    same points in another order, so they differ in the 17th digit at most; nothing a dollar figure shows."""
    return round(Decimal(repr(ours)), 9) == round(Decimal(repr(reported)), 9)


def repository_of(attributes: dict) -> str:
    """owner/name lower-cased, as the repository figures key a record; '' where the CLI reported none."""
    owner, name = attributes.get("vcs.owner.name"), attributes.get("vcs.repository.name")
    return f"{owner}/{name}".lower() if owner and name else ""


def repositories_reported(requests: list[dict]) -> dict[str, dict]:
    """Per repository: the sums of the metrics, and the distinct sessions and members (user.id) of every record."""
    sums = {"lines_accepted": ("lines_of_code.count", {"type": "added"}),
            "lines_removed": ("lines_of_code.count", {"type": "removed"}),
            "edits_accepted": ("code_edit_tool.decision", {"decision": "accept"}),
            "edits_rejected": ("code_edit_tool.decision", {"decision": "reject"}),
            "commits": ("commit.count", {}), "pull_requests": ("pull_request.count", {}),
            "cost_usd": ("cost.usage", {}),
            **{figure: ("token.usage", {"type": kind}) for kind, figure in TOKEN_TYPES.items()}}
    rows: dict[str, dict] = defaultdict(lambda: {**dict.fromkeys(sums, 0), "sessions": set(), "members": set()})
    for metric, value, attributes in metric_points(requests):
        row = rows[repository_of(attributes)]
        for figure, (name, where) in sums.items():
            if metric == f"claude_code.{name}" and all(attributes.get(k) == v for k, v in where.items()):
                row[figure] += value
    for attributes in [a for _, _, a in metric_points(requests)] + events(requests):
        row = rows[repository_of(attributes)]
        row["sessions"].add(attributes.get("session.id"))
        row["members"].add(attributes.get("user.id"))
    return {repository: {**row, "sessions": len(row["sessions"] - {None}), "members": len(row["members"] - {None})}
            for repository, row in rows.items()}
