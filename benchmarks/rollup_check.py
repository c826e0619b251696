"""Are the rollups right? Every figure of daily_user, daily_org, daily_model and daily_edit_tool against sums
computed here, independently of aggregator/, from the raw rows the benchmark generated.

The ground truth leans on what benchmarks.raw_fill promises: rows are distinct (so no FINAL is needed), a delta
point adds its value, and a cumulative series (its attributes and start time) starts from zero that day and only
rises, so it adds its highest value. Every session of a user has one team.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmarks.raw_fill import ACTIVE_TIME, COST, EDIT_DECISION, LINES, TOKENS

# Figure -> (metric, condition): what the telemetry reference says each metric figure sums.
METRIC_FIGURES = {
    "lines_accepted": (LINES, "type = 'added'"),
    "lines_removed": (LINES, "type = 'removed'"),
    "edits_accepted": (EDIT_DECISION, "decision = 'accept'"),
    "edits_rejected": (EDIT_DECISION, "decision = 'reject'"),
    "input_tokens": (TOKENS, "type = 'input'"),
    "output_tokens": (TOKENS, "type = 'output'"),
    "cache_read_tokens": (TOKENS, "type = 'cacheRead'"),
    "cache_creation_tokens": (TOKENS, "type = 'cacheCreation'"),
    "cost_usd": (COST, "1"),
    "active_time_user_seconds": (ACTIVE_TIME, "type = 'user'"),
    "active_time_cli_seconds": (ACTIVE_TIME, "type = 'cli'"),
}
RECORD_FIGURES = ("records", "records_without_email", "sessions", "prompts", "api_requests", "api_errors")
USER_FIGURES = (*METRIC_FIGURES, *RECORD_FIGURES, "team")
ORG_FIGURES = (*METRIC_FIGURES, *RECORD_FIGURES, "active_users")
MODEL_FIGURES = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd")
EDIT_TOOL_FIGURES = {"edits_accepted": "accepted", "edits_rejected": "rejected"}

_RANGE = "timestamp >= toDateTime({first:Date}, 'UTC') AND timestamp < toDateTime({last:Date}, 'UTC') + INTERVAL 1 DAY"
_SUMS = ",\n       ".join(f"sumIf(added, metric_name = '{metric}' AND {condition}) AS {name}"
                          for name, (metric, condition) in METRIC_FIGURES.items())

_TRUE_METRIC_SUMS = f"""
SELECT day, org_id, user_key, {_SUMS}
FROM (
    SELECT toDate(timestamp) AS day, org_id, user_key, metric_name, type, decision, value AS added
    FROM cc_analytics.metric_points WHERE temporality = 'delta' AND {_RANGE}
    UNION ALL
    SELECT toDate(min(timestamp)), org_id, user_key, metric_name, type, decision, max(value)
    FROM cc_analytics.metric_points WHERE temporality = 'cumulative' AND {_RANGE}
    GROUP BY org_id, user_key, metric_name, type, decision, attributes, resource_attributes, start_timestamp
)
GROUP BY day, org_id, user_key
"""

_TRUE_RECORDS = f"""
SELECT toDate(timestamp) AS day, org_id, user_key, count(), countIf(user_email = ''), uniqExact(session_id),
       countIf(event_name = 'user_prompt'), countIf(event_name = 'api_request'), countIf(event_name = 'api_error'),
       any(resource_attributes['team'])
FROM (
    SELECT timestamp, org_id, user_key, user_email, session_id, event_name, resource_attributes
    FROM cc_analytics.events WHERE {_RANGE}
    UNION ALL
    SELECT timestamp, org_id, user_key, user_email, session_id, '', resource_attributes
    FROM cc_analytics.metric_points WHERE {_RANGE}
)
GROUP BY day, org_id, user_key
"""

_CUMULATIVE_USERS = ("SELECT DISTINCT user_key FROM cc_analytics.metric_points "
                     f"WHERE temporality = 'cumulative' AND {_RANGE}")


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple  # day, org (, user key)
    kind: str  # "delta user" or "cumulative user" for per-user rows
    figure: str
    rollup: object
    truth: object

    def __str__(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return (f"{self.table} {' '.join(map(str, self.key))}{kind} {self.figure}: rollup {self.rollup!r}, "
                f"raw rows {self.truth!r}")


@dataclass
class CheckResult:
    compared: int = 0  # figures compared
    differences: list[Difference] = field(default_factory=list)

    def compare(self, table: str, key: tuple, kind: str, figure: str, rollup, truth) -> None:
        self.compared += 1
        if not _equal(rollup, truth):
            self.differences.append(Difference(table, key, kind, figure, rollup, truth))


def _equal(rollup, truth) -> bool:
    if isinstance(rollup, float) or isinstance(truth, float):
        return math.isclose(rollup, truth, rel_tol=1e-9, abs_tol=1e-6)
    return rollup == truth


def _rows_by_key(client, sql: str, parameters: dict, width: int, names) -> dict:
    """Rows keyed by their first `width` columns, the rest as a dict named by `names`."""
    return {tuple(row[:width]): dict(zip(names, row[width:]))
            for row in client.query(sql, parameters=parameters).result_rows}


def ground_truth(client, parameters: dict) -> dict:
    """(day, org, user key) -> every daily_user figure, from the raw rows."""
    truth = _rows_by_key(client, _TRUE_METRIC_SUMS, parameters, 3, METRIC_FIGURES)
    records = _rows_by_key(client, _TRUE_RECORDS, parameters, 3, (*RECORD_FIGURES, "team"))
    for key, figures in records.items():
        truth.setdefault(key, dict.fromkeys(METRIC_FIGURES, 0)).update(figures)
    return truth


def _org_truth(user_truth: dict) -> dict:
    orgs: dict = {}
    for (day, org, _user), figures in user_truth.items():
        org_figures = orgs.setdefault((day, org), dict.fromkeys(ORG_FIGURES, 0))
        for name in (*METRIC_FIGURES, *RECORD_FIGURES):
            org_figures[name] += figures[name]
        org_figures["active_users"] += 1
    return orgs


def _compare_table(result: CheckResult, table: str, client, sql: str, parameters: dict, width: int, names,
                   truth: dict, kind_of=lambda key: "", rename: dict | None = None, breakdown: bool = False) -> None:
    rollup = _rows_by_key(client, sql, parameters, width, names)
    # a breakdown table has no row for a user-day without tokens (or edits): that is a zero, not a gap
    missing = dict.fromkeys(names, 0) if breakdown else {}
    for key in sorted(set(truth) | set(rollup)):
        for name in names:
            expected = truth.get(key, {}).get((rename or {}).get(name, name))
            result.compare(table, key, kind_of(key), name, rollup.get(key, missing).get(name), _rounded(name, expected))


def _rounded(name: str, value):
    # whole-number figures are stored as integers; cost and seconds stay amounts
    if value is None or isinstance(value, str) or name in ("cost_usd",) or name.startswith("active_time"):
        return value
    return int(round(value))


def check(client, first, last) -> CheckResult:
    """Compare every rollup row of [first, last] with the ground truth; differences name table, key and figure."""
    parameters = {"first": first, "last": last}
    users = ground_truth(client, parameters)
    cumulative = {row[0] for row in client.query(_CUMULATIVE_USERS, parameters=parameters).result_rows}

    def kind_of(key):
        return "cumulative user" if key[2] in cumulative else "delta user"

    result = CheckResult()
    in_days = "WHERE day BETWEEN {first:Date} AND {last:Date}"
    # a member's local and remote sessions are two rows of a day (is_remote): the truth is per member-day
    member_day = ", ".join("length(groupUniqArrayArray(session_ids))" if name == "sessions" else
                           "any(team)" if name == "team" else f"sum({name})" for name in USER_FIGURES)
    _compare_table(result, "daily_user", client, f"SELECT day, org_id, user_key, {member_day} "
                   f"FROM cc_analytics.daily_user FINAL {in_days} GROUP BY day, org_id, user_key", parameters, 3,
                   USER_FIGURES, users, kind_of)
    _compare_table(result, "daily_org", client, f"SELECT day, org_id, {', '.join(ORG_FIGURES)} "
                   f"FROM cc_analytics.daily_org FINAL {in_days}", parameters, 2, ORG_FIGURES, _org_truth(users))
    model_sums = ", ".join(f"sum({name})" for name in MODEL_FIGURES)
    _compare_table(result, "daily_model (sum over models)", client, f"SELECT day, org_id, user_key, {model_sums} "
                   f"FROM cc_analytics.daily_model FINAL {in_days} GROUP BY day, org_id, user_key", parameters, 3,
                   MODEL_FIGURES, users, kind_of, breakdown=True)
    _compare_table(result, "daily_edit_tool (sum over tools)", client, "SELECT day, org_id, user_key, sum(accepted), "
                   f"sum(rejected) FROM cc_analytics.daily_edit_tool FINAL {in_days} GROUP BY day, org_id, user_key",
                   parameters, 3, tuple(EDIT_TOOL_FIGURES.values()), users, kind_of,
                   rename={v: k for k, v in EDIT_TOOL_FIGURES.items()}, breakdown=True)
    return result
