"""The Usage figures: what members used (skills, MCP servers and tools, plugins, agents, tools, hooks, permission
modes, slash commands) per day, org, team and member, and the share of active members who adopted each feature.

Each kind and where it comes from is declared once here, and the rollup writes `daily_usage` from them:
- cost and tokens from the attribution attributes of the cost.usage and token.usage points (ATTRIBUTED_KINDS), read
  from the staging table (aggregator/activity.py), so cumulative points count their increases and resumed sessions
  and retried exports count once; never from api_request events, which describe the same requests;
- uses, successes, failures and duration_ms from the usage events (EVENT_SOURCES), read by a statement of their
  own (PREWHERE on their names only; FINAL, so a retried export counts once).
One point or event can count for several kinds (a subagent's request with a skill: agent, skill, query_source), so
a kind's cost is summed over its names, never over kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.activity import _DAY, _IN_RUN, LONGEST_LABEL
from aggregator.figures import COST, MAX_DAILY_COUNT, TOKENS, Figure

TABLE = "daily_usage"

# (kind, the name over staging columns) of the attribution on cost and token points. An MCP tool is named as in
# tool_result, mcp__SERVER__TOOL, so its calls and its cost share a row.
_MCP_TOOL = ("if(mcp_tool_name = '' OR startsWith(mcp_tool_name, 'mcp__'), mcp_tool_name, "
             "concat('mcp__', mcp_server_name, '__', mcp_tool_name))")
ATTRIBUTED_KINDS = (("query_source", "query_source"), ("agent", "agent_name"), ("skill", "skill_name"),
                    ("plugin", "plugin_name"), ("mcp_server", "mcp_server_name"), ("mcp_tool", _MCP_TOOL))

# Attribute values arrive as strings or numbers and are kept as text; a count or duration that is not a finite
# non-negative number counts 0.
def _number(attribute: str) -> str:
    return f"greatest(0, ifNotFinite(toFloat64OrZero(attributes['{attribute}']), 0))"


def _count(attribute: str) -> str:
    return f"toUInt64(least({_number(attribute)}, {float(MAX_DAILY_COUNT)}))"


@dataclass(frozen=True)
class EventSource:
    """One usage event counted for one kind: the name it is counted under and what it adds (SQL over the event)."""

    event: str
    kind: str
    name: str
    uses: str = "1"
    successes: str = "0"
    failures: str = "0"
    duration_ms: str = "0"
    condition: str = "1"


_TOOL_RESULT = dict(successes="attributes['success'] = 'true'", failures="attributes['success'] = 'false'",
                    duration_ms=_number("duration_ms"))
# mcp_server_connection statuses that are a connection made / one that failed. Claude Code 2.1.332 also sends
# `disconnected` when a server's connection ends (duration_ms: how long it was open): no use of its own.
CONNECTED, CONNECTION_FAILED = ("connected", "success"), ("failed", "error")
DISCONNECTED = "disconnected"
# A user's own MCP server or tool that Claude Code does not name (names need OTEL_LOG_TOOL_DETAILS=1): its cost
# and token points call both `custom`, so its connections and calls are counted under that name too.
UNNAMED = "custom"
UNNAMED_MCP_TOOL = f"mcp__{UNNAMED}__{UNNAMED}"
# Claude Code 2.1.332 reports every MCP tool call as tool_name `mcp_tool`, its server and tool named only in
# tool_parameters (OTEL_LOG_TOOL_DETAILS=1); older clients and the docs say mcp__SERVER__TOOL. Either way a call is
# counted under mcp__SERVER__TOOL, the name its cost has.
MCP_TOOL_RESULT = "mcp_tool"
_MCP_DETAIL = "JSONExtractString(attributes['tool_parameters'], '{}')"
_TOOL_NAME = (f"if(tool_name = '{MCP_TOOL_RESULT}', if({_MCP_DETAIL.format('mcp_tool_name')} != '', "
              f"concat('mcp__', {_MCP_DETAIL.format('mcp_server_name')}, '__', {_MCP_DETAIL.format('mcp_tool_name')}), "
              f"'{UNNAMED_MCP_TOOL}'), tool_name)")
_IS_MCP_TOOL = f"(tool_name = '{MCP_TOOL_RESULT}' OR startsWith(tool_name, 'mcp__'))"

EVENT_SOURCES = (
    EventSource("skill_activated", "skill", "attributes['skill.name']"),
    EventSource("mcp_server_connection", "mcp_server",
                f"if(attributes['server_name'] != '', attributes['server_name'], '{UNNAMED}')",
                successes=f"attributes['status'] IN {CONNECTED}", failures=f"attributes['status'] IN {CONNECTION_FAILED}",
                duration_ms=_number("duration_ms"), condition=f"attributes['status'] != '{DISCONNECTED}'"),
    EventSource("subagent_completed", "agent", "attributes['agent_type']", duration_ms=_number("duration_ms")),
    # MCP tool calls are counted as tools and, under the same name, as MCP tools
    EventSource("tool_result", "tool", _TOOL_NAME, **_TOOL_RESULT),
    EventSource("tool_result", "mcp_tool", _TOOL_NAME, condition=_IS_MCP_TOOL, **_TOOL_RESULT),
    EventSource("hook_execution_complete", "hook", "attributes['hook_event']", uses=_count("num_hooks"),
                successes=f"least({_count('num_success')}, {_count('num_hooks')})",
                failures=f"{_count('num_hooks')} - least({_count('num_success')}, {_count('num_hooks')})",
                duration_ms=_number("total_duration_ms")),
    EventSource("tool_decision", "permission_mode", "attributes['permission_mode']"),
    EventSource("permission_mode_changed", "permission_mode", "attributes['to_mode']"),
    EventSource("plugin_loaded", "plugin", "attributes['plugin.name']"),
    EventSource("user_prompt", "command", "attributes['command_name']"),
)
USAGE_EVENTS = tuple(dict.fromkeys(source.event for source in EVENT_SOURCES))
KINDS = tuple(dict.fromkeys([kind for kind, _ in ATTRIBUTED_KINDS] + [source.kind for source in EVENT_SOURCES]))

# Feature adoption: a member adopted a feature on a day when they have a daily_usage row matching its condition.
FEATURES = {
    "skills": "kind = 'skill'",
    "mcp": "kind IN ('mcp_server', 'mcp_tool')",
    "subagents": "kind = 'agent' OR (kind = 'query_source' AND name = 'subagent')",
    "hooks": "kind = 'hook'",
    "plan_mode": "kind = 'permission_mode' AND name = 'plan'",
}


def _whole(total: str) -> str:
    return f"toInt64(round(least({total}, {float(MAX_DAILY_COUNT)})))"


def _attributed(metric: str, condition: str = "1") -> str:
    return f"if(metric_name = '{metric}' AND {condition}, delta, 0)"


# The figures of a daily_usage row: (name, what one attributed point adds, what one event adds, aggregate).
USAGE_FIGURES = (
    Figure("uses", "sum(uses)", "Times it was used: skill activations, MCP connections, subagent runs, tool calls, "
                                "hooks run, tool decisions in a permission mode, slash commands."),
    Figure("successes", "sum(successes)", "Uses that succeeded (tool calls, MCP connections, hooks)."),
    Figure("failures", "sum(failures)", "Uses that failed (tool calls, MCP connections, hooks)."),
    Figure("duration_ms", "sum(duration_ms)", "Milliseconds the uses took (duration_ms of the events).", whole=False),
    Figure("cost_usd", "sum(cost_usd)", "Estimated cost in US dollars attributed to it (cost.usage).", whole=False),
    Figure("input_tokens", _whole("sum(input_tokens)"), "Input tokens attributed to it (token.usage)."),
    Figure("output_tokens", _whole("sum(output_tokens)"), "Output tokens attributed to it (token.usage)."),
    Figure("cache_read_tokens", _whole("sum(cache_read_tokens)"), "Cache read tokens attributed to it."),
    Figure("cache_creation_tokens", _whole("sum(cache_creation_tokens)"), "Cache creation tokens attributed to it."),
)
FIGURE_NAMES = tuple(figure.name for figure in USAGE_FIGURES)

_ATTRIBUTED_VALUES = {
    "uses": "0", "successes": "0", "failures": "0", "duration_ms": "0", "cost_usd": _attributed(COST),
    "input_tokens": _attributed(TOKENS, "type = 'input'"), "output_tokens": _attributed(TOKENS, "type = 'output'"),
    "cache_read_tokens": _attributed(TOKENS, "type = 'cacheRead'"),
    "cache_creation_tokens": _attributed(TOKENS, "type = 'cacheCreation'"),
}

_ATTRIBUTION_ROWS = f"""
SELECT day, org_id, user_key, attribution.1 AS kind, leftUTF8(attribution.2, {LONGEST_LABEL}) AS name,
       {", ".join(f"toFloat64({_ATTRIBUTED_VALUES[name]}) AS {name}" for name in FIGURE_NAMES)}
FROM {{staging}}
ARRAY JOIN [{", ".join(f"('{kind}', {column})" for kind, column in ATTRIBUTED_KINDS)}] AS attribution
WHERE metric_name IN ('{COST}', '{TOKENS}') AND attribution.2 != ''
"""


def _event_tuple(source: EventSource) -> str:
    values = ", ".join(f"toFloat64({value})" for value in (source.uses, source.successes, source.failures,
                                                            source.duration_ms))
    return (f"if(event_name = '{source.event}' AND ({source.condition}), "
            f"[tuple('{source.kind}', toString({source.name}), {values})], [])")


_EVENT_LIST = ", ".join(f"'{event}'" for event in USAGE_EVENTS)
_EVENT_ROWS = f"""
SELECT day, org_id, user_key, used.1 AS kind, leftUTF8(used.2, {LONGEST_LABEL}) AS name, used.3 AS uses,
       used.4 AS successes, used.5 AS failures, used.6 AS duration_ms,
       0. AS cost_usd, 0. AS input_tokens, 0. AS output_tokens, 0. AS cache_read_tokens, 0. AS cache_creation_tokens
FROM (SELECT {_DAY}, org_id, user_key, event_name, tool_name, attributes FROM {{database}}.events FINAL
      PREWHERE event_name IN ({_EVENT_LIST}) AND {_IN_RUN})
ARRAY JOIN arrayConcat({", ".join(_event_tuple(source) for source in EVENT_SOURCES)}) AS used
WHERE used.2 != ''
"""


def daily_usage_statement(user_teams: str) -> str:
    """The INSERT of a run's daily_usage rows; user_teams is the rollup's (day, org_id, user_key, user_team) of the
    staging table, so a member's team here is theirs in daily_user."""
    return f"""
INSERT INTO {{database}}.{TABLE} (day, org_id, user_key, team, kind, name, {", ".join(FIGURE_NAMES)}, version)
SELECT day, org_id, user_key, any(user_team), kind, name,
       {", ".join(f"{figure.aggregate} AS {figure.name}" for figure in USAGE_FIGURES)}, {{version:UInt64}}
FROM ({_ATTRIBUTION_ROWS} UNION ALL {_EVENT_ROWS}) AS usage
LEFT JOIN {user_teams} AS teams USING (day, org_id, user_key)
GROUP BY day, org_id, user_key, kind, name
"""
