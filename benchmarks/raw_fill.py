"""Claude-Code-shaped raw rows for the rollup benchmark, written with INSERT ... SELECT FROM numbers().

Record n belongs to day n % days, user (n / days) % users, session (n / (days * users)) % 3, and is the j-th record
of its session; j picks its kind so that each block of 100 records of a session holds every kind once: 70 events
(user_prompt, api_request, tool_decision, tool_result, assistant_response, api_error) and 30 metric points
(lines_of_code, token.usage, cost.usage, code_edit_tool.decision, session.count, active_time.total). Users are in
5 orgs and 50 teams; one in ten has no email (API key: the user key is user.id). One user in ten exports
cumulative counters, one series per metric and type rising point by point; in sessions of 200 records or more
the process is resumed half-way (new start time, counters from zero). The others export delta points.
Every row is distinct: a session's records have distinct times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

SESSIONS_PER_USER_DAY = 3
SLOTS = 100  # each block of SLOTS records of a session holds every kind once
EVENT_SLOTS = 70
SESSION_SPAN_NS = 3 * 3600 * 10**9  # a session's records spread over three hours

LINES = "claude_code.lines_of_code.count"
TOKENS = "claude_code.token.usage"
COST = "claude_code.cost.usage"
EDIT_DECISION = "claude_code.code_edit_tool.decision"
SESSION_COUNT = "claude_code.session.count"
ACTIVE_TIME = "claude_code.active_time.total"


@dataclass(frozen=True)
class Shape:
    records: int
    days: int
    users: int
    first_day: date

    @property
    def session_rows(self) -> int:
        sessions = self.days * self.users * SESSIONS_PER_USER_DAY
        return -(-self.records // sessions)

    def parameters(self) -> dict:
        return {"records": self.records, "days": self.days, "users": self.users, "first_day": self.first_day,
                "sessions": SESSIONS_PER_USER_DAY, "step_ns": SESSION_SPAN_NS // self.session_rows,
                "half_blocks": self.session_rows // SLOTS // 2}


# Who sent record n, when, and in which session: the columns shared by both tables.
_RECORD = f"""
    SELECT number AS n,
           n % {{days:UInt32}} AS d,
           intDiv(n, {{days:UInt32}}) % {{users:UInt32}} AS u,
           intDiv(n, {{days:UInt32}} * {{users:UInt32}}) % {{sessions:UInt32}} AS s,
           intDiv(n, {{days:UInt32}} * {{users:UInt32}} * {{sessions:UInt32}}) AS j,
           -- each block of 100 records of a session holds every kind once, in an order of its own
           cityHash64(u, d, s) % {SLOTS} AS session_offset,
           (j * 43 + session_offset) % {SLOTS} AS slot,
           intDiv(j, {SLOTS}) AS point_index,
           cityHash64(n) AS h,
           u % 10 = 3 AS cumulative,
           concat('org-', toString(u % 5)) AS org,
           concat('team-', leftPad(toString(u % 50), 2, '0')) AS team,
           if(u % 10 = 9, '', concat('dev', toString(u), '@example.com')) AS email,
           lower(hex(SHA256(concat('install-', toString(u))))) AS install_id,
           if(email = '', '', UUIDNumToString(MD5(concat('account-', toString(u))))) AS account_uuid,
           if(email = '', install_id, email) AS who,
           UUIDNumToString(MD5(concat('session-', toString(u), '-', toString(d), '-', toString(s)))) AS session,
           ['vscode', 'iTerm.app', 'cursor', 'tmux'][u % 4 + 1] AS terminal,
           toInt64(toUnixTimestamp(toDateTime({{first_day:Date}} + d, 'UTC'))) * 1000000000
               + (8 + 4 * s) * 3600000000000 + (u % 120) * 60000000000 AS session_start_ns,
           session_start_ns + j * {{step_ns:Int64}} + toInt64(h % 1000000) AS time_ns,
           fromUnixTimestamp64Nano(time_ns, 'UTC') AS at,
           map('service.name', 'claude-code', 'service.version', '2.1.230', 'os.type', 'darwin',
               'host.arch', 'arm64', 'team', team) AS resource
    FROM numbers({{records:UInt64}})
"""

# Attributes every record carries (telemetry reference, section 2); empty values are left out.
_IDENTITY = ("'session.id', session, 'organization.id', org, 'user.id', install_id, 'user.email', email, "
             "'user.account_uuid', account_uuid, 'terminal.type', terminal, 'team', team")

_EVENT_NAME = ("multiIf(slot < 8, 'user_prompt', slot < 30, 'api_request', slot < 42, 'tool_decision', "
               "slot < 60, 'tool_result', slot < 68, 'assistant_response', 'api_error')")

_MODEL = "multiIf(pick % 10 < 6, 'claude-sonnet-4-5-20250929', pick % 10 < 8, 'claude-opus-4-1-20250805', " \
         "'claude-haiku-4-5-20251001')"

EVENTS_SQL = f"""
INSERT INTO cc_analytics.events
    (org_id, timestamp, observed_timestamp, event_name, user_key, user_email, user_account_uuid, user_id,
     session_id, prompt_id, model, tool_name, decision, decision_source, terminal_type, app_version, service_name,
     service_version, severity_number, severity_text, body, attributes, resource_attributes, scope_name,
     scope_version, received_at)
SELECT org, at, at + toIntervalMillisecond(1), name, who, email, account_uuid, install_id, session, prompt,
       model, tool, decision, source, terminal, '2.1.230', 'claude-code', '2.1.230', 9, 'INFO',
       concat('claude_code.', name),
       mapFilter((key, value) -> value != '', map(
           'event.name', name, 'event.timestamp', formatDateTime(at, '%Y-%m-%dT%H:%i:%S.000Z', 'UTC'),
           'event.sequence', toString(j), 'prompt.id', prompt, {_IDENTITY}, 'model', model, 'tool_name', tool,
           'decision', decision, 'source', source,
           'duration_ms', if(name IN ('api_request', 'tool_result', 'api_error'), toString(h % 30000), ''),
           'cost_usd', if(name = 'api_request', toString((h % 5000) / 10000), ''),
           'input_tokens', if(name = 'api_request', toString(h % 5000), ''),
           'output_tokens', if(name = 'api_request', toString(h % 2000), ''),
           'success', if(name = 'tool_result', if(h % 20 = 0, 'false', 'true'), ''),
           'prompt_length', if(name = 'user_prompt', toString(h % 4000), ''),
           'prompt', if(name = 'user_prompt', '<REDACTED>', ''))),
       resource, 'com.anthropic.claude_code.events', '2.1.230', at + toIntervalSecond(5)
FROM (
    SELECT *, {_EVENT_NAME} AS name, h AS pick,
           UUIDNumToString(MD5(concat(session, '-', toString(intDiv(j, 25))))) AS prompt,
           if(name IN ('api_request', 'assistant_response', 'api_error'), {_MODEL}, '') AS model,
           if(name IN ('tool_decision', 'tool_result'), ['Read', 'Edit', 'Bash', 'Grep', 'Write', 'Glob'][h % 6 + 1],
              '') AS tool,
           if(name IN ('tool_decision', 'tool_result'), if(h % 10 < 9, 'accept', 'reject'), '') AS decision,
           if(name = 'tool_decision', 'config', '') AS source
    FROM ({_RECORD})
    WHERE slot < {EVENT_SLOTS}
)
"""

def _metric_name(slot: str) -> str:
    return (f"multiIf({slot} < 76, '{LINES}', {slot} < 86, '{TOKENS}', {slot} < 90, '{COST}', "
            f"{slot} < 95, '{EDIT_DECISION}', {slot} < 96, '{SESSION_COUNT}', '{ACTIVE_TIME}')")


def _type(slot: str) -> str:
    return (f"multiIf({slot} < 74, 'added', {slot} < 76, 'removed', "
            f"{slot} < 86, ['input', 'output', 'cacheRead', 'cacheCreation'][{slot} % 4 + 1], "
            f"{slot} >= 96, ['user', 'cli'][{slot} % 2 + 1], '')")


def _block_position(slot: str) -> str:
    """Where a kind falls within its session's blocks of 100 records: the inverse of the slot formula (43 * 7 = 301)."""
    return f"(({slot} + {SLOTS} - session_offset) * 7) % {SLOTS}"


# A cumulative user's process has one series per metric and type: its points are the slots of that metric and
# type, each block of the session adding one point per slot, in the order the slots fall within the block.
_SERIES_POINT = f"""
    arrayFilter(x -> {_metric_name('x')} = metric AND {_type('x')} = kind,
                range({EVENT_SLOTS}, {SLOTS})) AS series_slots,
    arrayCount(x -> {_block_position('x')} < {_block_position('slot')}, series_slots) AS rank_in_block,
    (point_index - series_first_block) * length(series_slots) + rank_in_block AS series_point"""

# What one point adds: its value when delta; each step of a cumulative series (values rise by it).
_INCREMENT = f"""multiIf(
    metric = '{LINES}' AND kind = 'added', 1 + pick % 60,
    metric = '{LINES}', 1 + pick % 20,
    kind = 'input', 1 + pick % 5000,
    kind = 'output', 1 + pick % 2000,
    kind = 'cacheRead', pick % 100000,
    kind = 'cacheCreation', pick % 20000,
    metric = '{COST}', (1 + pick % 5000) / 10000,
    metric = '{ACTIVE_TIME}' AND kind = 'user', (1 + pick % 600) / 10,
    metric = '{ACTIVE_TIME}', (1 + pick % 300) / 10,
    1)"""

METRIC_POINTS_SQL = f"""
INSERT INTO cc_analytics.metric_points
    (org_id, timestamp, start_timestamp, metric_name, metric_unit, metric_type, temporality, is_monotonic, value,
     user_key, user_email, user_account_uuid, user_id, session_id, model, type, tool_name, decision,
     decision_source, language, terminal_type, service_name, service_version, attributes, resource_attributes,
     scope_name, scope_version, received_at)
SELECT org, at, fromUnixTimestamp64Nano(start_ns, 'UTC'), metric,
       multiIf(metric = '{TOKENS}', 'tokens', metric = '{COST}', 'USD', metric = '{ACTIVE_TIME}', 's', ''),
       'sum', if(cumulative, 'cumulative', 'delta'), 1, if(cumulative, increment * (series_point + 1), increment),
       who, email, account_uuid, install_id, session, model, kind, tool, decision, source, language, terminal,
       'claude-code', '2.1.230',
       mapFilter((key, value) -> value != '', map({_IDENTITY}, 'model', model, 'type', kind, 'tool_name', tool,
                                                  'decision', decision, 'source', source, 'language', language)),
       resource, 'com.anthropic.claude_code', '2.1.230', at + toIntervalSecond(5)
FROM (
    SELECT *, {_metric_name('slot')} AS metric, {_type('slot')} AS kind,
           -- a cumulative series keeps its attributes, so they come from the series, not the point
           if(cumulative, cityHash64(u, d, s, metric, kind), h) AS pick,
           if(metric IN ('{LINES}', '{TOKENS}', '{COST}'), {_MODEL}, '') AS model,
           if(metric = '{EDIT_DECISION}', ['Edit', 'Edit', 'Write', 'MultiEdit', 'NotebookEdit'][pick % 5 + 1], '')
               AS tool,
           if(metric = '{EDIT_DECISION}', if(pick % 10 < 8, 'accept', 'reject'), '') AS decision,
           if(metric = '{EDIT_DECISION}', 'user_temporary', '') AS source,
           if(metric = '{EDIT_DECISION}',
              ['Python', 'TypeScript', 'Go', 'Markdown', 'Rust', 'JSON'][intDiv(pick, 7) % 6 + 1], '') AS language,
           {_INCREMENT} AS increment,
           -- the resumed process's series start at its first block; the first process's at the session start
           if(point_index >= {{half_blocks:UInt64}}, {{half_blocks:UInt64}}, 0) AS series_first_block,{_SERIES_POINT},
           if(cumulative, session_start_ns + toInt64(series_first_block * {SLOTS}) * {{step_ns:Int64}},
              time_ns - 60000000000) AS start_ns
    FROM ({_RECORD})
    WHERE slot >= {EVENT_SLOTS}
)
"""


def fill(client, shape: Shape) -> None:
    """Write the shape's records into the raw tables (events first, then metric points)."""
    for statement in (EVENTS_SQL, METRIC_POINTS_SQL):
        client.command(statement, parameters=shape.parameters())
