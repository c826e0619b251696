"""The value report read from the rollups: per org over a range, cost per unit of work, top spenders and spend
concentration; per org for a month, the spend to date and the month-end forecast (aggregator/value.py defines them).

A member may have several daily_user rows a day (local and remote work), so everything is summed, members counted
with uniqExact(user_key) and sessions as the distinct ids of groupUniqArrayArray(session_ids). Read with FINAL,
parameters bound; plain JSON-ready dicts, so the API, the CSV, `cc-analytics report value` and /metrics agree.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from aggregator.contributions import DAILY_TABLE
from aggregator.contributions.report import ContributionFilters
from aggregator.reading import RollupReader
from aggregator.reports import Filters
from aggregator.value import (FORECAST_METHOD, TEAM_WINDOWS, VALUE_COLUMNS, VALUE_SUMS, concentration, cost_per,
                              forecast, forecast_window, top_spenders)

FORECAST_COLUMNS = ("org_id", "month", "today", "month_to_date_usd", "remaining_days", "forecast_usd")
DEFAULT_TOP = 10
MAX_TOP = 1000

_USAGE_SUMS = ("sum(cost_usd) AS cost_usd, length(groupUniqArrayArray(session_ids)) AS sessions, "
               "sum(commits) AS commits, sum(pull_requests) AS pull_requests, sum(lines_accepted) AS lines_accepted, "
               "uniqExactIf(user_key, user_key != '') AS active_members")


def file_name(first: date, last: date) -> str:
    return f"cc-analytics-value-{first}-{last}.csv"


class Value(RollupReader):
    def answer(self, first: date, last: date, filters: Filters, top: int = DEFAULT_TOP) -> dict:
        """Per org with spend or work in the range: VALUE_COLUMNS and its top spenders."""
        parameters = {"first": first, "last": last, **filters.parameters()}
        in_range = " WHERE day BETWEEN {first:Date} AND {last:Date}"
        usage = {row["org_id"]: row for row in self._rows(
            f"SELECT org_id, {_USAGE_SUMS} FROM {{database}}.daily_user FINAL{in_range}{filters.where()}"
            " GROUP BY org_id", parameters)}
        merged = self._merged_with_cc(parameters, filters)
        members = defaultdict(list)
        for member in self._rows(
                "SELECT org_id, user_key, max(user_email) AS email, argMaxIf(team, day, team != '') AS team,"
                f" sum(cost_usd) AS cost_usd FROM {{database}}.daily_user FINAL{in_range}{filters.where()}"
                " GROUP BY org_id, user_key", parameters):
            members[member.pop("org_id")].append(member)
        rows = []
        for org in sorted(set(usage) | set(merged)):
            sums = {name: 0 for name in VALUE_SUMS}
            sums.update({key: value for key, value in usage.get(org, {}).items() if key != "org_id"})
            sums["prs_merged_with_cc"] = merged.get(org, 0)
            row = {"org_id": org, **sums, **cost_per(sums),
                   **concentration([member["cost_usd"] for member in members[org]])}
            rows.append({**{column: row[column] for column in VALUE_COLUMNS},
                         "top_spenders": top_spenders(members[org], top)})
        return {"from": first.isoformat(), "to": last.isoformat(), "team": filters.team, "data": rows}

    def forecasts(self, month: date, today: date, filters: Filters) -> dict:
        """Per org with spend in the month or its baseline weeks: spend to date and the month-end forecast."""
        window_first, window_last = forecast_window(month, today)
        spend: dict[str, dict[date, float]] = defaultdict(dict)
        for row in self._rows(
                "SELECT org_id, day, sum(cost_usd) AS cost_usd FROM {database}.daily_user FINAL"
                " WHERE day BETWEEN {first:Date} AND {last:Date}" + filters.where() + " GROUP BY org_id, day",
                {"first": window_first, "last": window_last, **filters.parameters()}):
            spend[row["org_id"]][row["day"]] = row["cost_usd"]
        return {"month": f"{month:%Y-%m}", "today": today.isoformat(), "team": filters.team,
                "forecast_method": FORECAST_METHOD,
                "data": [{"org_id": org, **forecast(spend[org], month, today)} for org in sorted(spend)]}

    def _merged_with_cc(self, parameters: dict, filters: Filters) -> dict[str, int]:
        where = ContributionFilters(org=filters.org, team=filters.team, member=filters.member).where()
        rows = self._rows(
            f"SELECT org_id, sum(prs_merged_with_claude_code) AS merged FROM {{database}}.{DAILY_TABLE} FINAL"
            f" WHERE day BETWEEN {{first:Date}} AND {{last:Date}}{where} GROUP BY org_id", parameters)
        return {row["org_id"]: row["merged"] for row in rows}


def _in_windows(bounds: dict[str, tuple[date, date]], parameters: dict) -> str:
    """SQL for the windows a day falls in, binding each window's bounds into parameters."""
    parts = []
    for number, (window, (first, last)) in enumerate(bounds.items()):
        parameters[f"v{number}_first"], parameters[f"v{number}_last"] = first, last
        parts.append(f"if(day BETWEEN {{v{number}_first:Date}} AND {{v{number}_last:Date}}, ['{window}'], [])")
    return f"arrayConcat({', '.join(parts)})"


class ValueWindows(Value):
    """The value sums per window for /metrics: per (window, org) with the spend concentration, per (window, org,
    team) in TEAM_WINDOWS, and per org the month's spend to date and forecast as of day. bounds: window -> [first,
    last] days."""

    def read(self, day: date, bounds: dict[str, tuple[date, date]]) -> tuple[list[dict], list[dict], list[dict]]:
        parameters = {"earliest": min(first for first, _ in bounds.values()), "day": day}
        windows = _in_windows(bounds, parameters)
        source = ("(SELECT day, org_id, team, user_key, session_ids, cost_usd, commits, pull_requests, lines_accepted"
                  " FROM {database}.daily_user FINAL WHERE day BETWEEN {earliest:Date} AND {day:Date})"
                  f" ARRAY JOIN {windows} AS window")
        orgs = self._rows(f"SELECT window, org_id, {_USAGE_SUMS} FROM {source} GROUP BY window, org_id", parameters)
        teams = self._rows(f"SELECT window, org_id, team, {_USAGE_SUMS} FROM {source} WHERE window IN "
                           "{team_windows:Array(String)} GROUP BY window, org_id, team",
                           {**parameters, "team_windows": list(TEAM_WINDOWS)})
        merged = self._rows(
            f"SELECT window, org_id, team, sum(prs_merged_with_claude_code) AS merged FROM (SELECT day, org_id, "
            f"team, prs_merged_with_claude_code FROM "
            f"{{database}}.{DAILY_TABLE} FINAL WHERE day BETWEEN {{earliest:Date}} AND {{day:Date}}) ARRAY JOIN "
            f"{windows} AS window GROUP BY window, org_id, team", parameters)
        costs = {(row["window"], row["org_id"]): row["costs"] for row in self._rows(
            f"SELECT window, org_id, groupArray(member_cost) AS costs FROM (SELECT window, org_id, sum(cost_usd) AS"
            f" member_cost FROM {source} GROUP BY window, org_id, user_key) GROUP BY window, org_id", parameters)}
        by_team = {(row["window"], row["org_id"], row["team"]): row for row in teams}
        by_org = {(row["window"], row["org_id"]): row for row in orgs}
        for row in merged:  # a team or org with merged PRs and no telemetry in the window still has its row
            keys = [((row["window"], row["org_id"]), by_org)]
            if row["window"] in TEAM_WINDOWS:
                keys.append(((row["window"], row["org_id"], row["team"]), by_team))
            for key, into in keys:
                target = into.setdefault(key, {**dict(zip(("window", "org_id", "team"), key)),
                                               **dict.fromkeys(VALUE_SUMS, 0)})
                target["prs_merged_with_cc"] = target.get("prs_merged_with_cc", 0) + row["merged"]
        for key, row in by_org.items():
            row.update(concentration(costs.get(key, [])))
        months = [{"org_id": row["org_id"], "month_to_date_usd": row["month_to_date_usd"],
                   "forecast_usd": row["forecast_usd"]}
                  for row in self.forecasts(day, day, Filters())["data"]]
        return ([{**dict.fromkeys(VALUE_SUMS, 0), **by_org[key]} for key in sorted(by_org)],
                [{**dict.fromkeys(VALUE_SUMS, 0), **by_team[key]} for key in sorted(by_team)], months)
