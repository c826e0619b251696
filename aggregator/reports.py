"""Questions answered from the rollup tables: figures per day, per member for a month, per actor and day.

Every function returns plain dicts (JSON-ready: dates as ISO strings); callers render them as JSON, CSV, tables
or the Admin API shape. Parameters are always bound, never formatted into SQL.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from aggregator.contributions import DAILY_TABLE
from aggregator.contributions.report import MEMBER_COLUMNS, SUMMED
from aggregator.figures import EDIT_TOOL_FIGURES, MODEL_FIGURES, SUMMED_FIGURES, accept_rate, share
from aggregator.reading import RollupReader

_SUMS = ", ".join(f"sum({f.name}) AS {f.name}" for f in SUMMED_FIGURES)
_COLUMNS = ", ".join(f.name for f in SUMMED_FIGURES)
# A member's merged pull requests and lines of the month, from the contribution rollup (0 without any).
_MEMBER_CONTRIBUTIONS = (
    "SELECT org_id, member AS user_key, " + ", ".join(f"sum({SUMMED[name]}) AS {name}" for name in MEMBER_COLUMNS) +
    f" FROM {{database}}.{DAILY_TABLE} FINAL WHERE day BETWEEN {{first:Date}} AND {{last:Date}}"
    " GROUP BY org_id, member")


@dataclass(frozen=True)
class Filters:
    org: str | None = None
    team: str | None = None
    search: str | None = None
    member: str | None = None  # one member's user key: a member token's own figures

    def where(self) -> str:
        conditions = []
        if self.org is not None:
            conditions.append("org_id = {org:String}")
        if self.team is not None:
            # Qualified: in the members report `team` also names an aggregate, which WHERE would read otherwise.
            conditions.append("daily_user.team = {team:String}")
        if self.member is not None:
            conditions.append("daily_user.user_key = {member:String}")
        if self.search:
            conditions.append("(positionCaseInsensitiveUTF8(user_key, {search:String}) > 0 "
                              "OR positionCaseInsensitiveUTF8(user_email, {search:String}) > 0)")
        return "".join(f" AND {condition}" for condition in conditions)

    def parameters(self) -> dict:
        return {"org": self.org, "team": self.team, "search": self.search, "member": self.member}


class Reports(RollupReader):
    def daily(self, first: date, last: date, filters: Filters = Filters()) -> list[dict]:
        """One row per (day, org) with data: the org's figures, or with a team or member filter those of the
        team's users or of the member."""
        parameters = {"first": first, "last": last, **filters.parameters()}
        if filters.team is None and filters.member is None:
            rows = self._rows(
                "SELECT day, org_id, active_users, sessions, " + _COLUMNS + " FROM {database}.daily_org FINAL "
                "WHERE day BETWEEN {first:Date} AND {last:Date}" + filters.where() + " ORDER BY day, org_id",
                parameters)
        else:
            rows = self._rows(
                "SELECT day, org_id, uniqExactIf(user_key, user_key != '') AS active_users, "
                "length(groupUniqArrayArray(session_ids)) AS sessions, " + _SUMS +
                " FROM {database}.daily_user FINAL WHERE day BETWEEN {first:Date} AND {last:Date}" + filters.where() +
                " GROUP BY day, org_id ORDER BY day, org_id", parameters)
        return [_with_rates({"date": row.pop("day").isoformat(), **row}) for row in rows]

    def users(self, month: date, filters: Filters = Filters()) -> list[dict]:
        """Every member active in the month, month to date: lines accepted first, then the rest of the figures,
        then their merged pull requests and lines (MEMBER_COLUMNS)."""
        first, last = month_bounds(month)
        rows = self._rows(
            "SELECT * FROM (SELECT org_id, user_key, max(user_email) AS email, argMaxIf(team, day, team != '') AS "
            "team, uniqExact(day) AS days_active, length(groupUniqArrayArray(session_ids)) AS sessions, " + _SUMS +
            " FROM {database}.daily_user FINAL WHERE day BETWEEN {first:Date} AND {last:Date}" + filters.where() +
            " GROUP BY org_id, user_key) AS member LEFT JOIN (" + _MEMBER_CONTRIBUTIONS + ") AS contributed"
            " USING (org_id, user_key) ORDER BY lines_accepted DESC, org_id, user_key",
            {"first": first, "last": last, **filters.parameters()})
        return [_with_rates(row) for row in rows]

    def actors(self, day: date, limit: int, after: tuple[str, str, int] | None, org: str | None) -> list[dict]:
        """Up to limit actor rows of one day in (org, user key, is_remote) order, after a cursor position: a
        member's local and remote sessions (Claude Code on the web) are separate rows, as in the Admin API."""
        parameters = {"day": day, "limit": limit, "org": org, "after_org": after[0] if after else "",
                      "after_key": after[1] if after else "", "after_remote": after[2] if after else 0}
        condition = " AND org_id = {org:String}" if org is not None else ""
        if after:
            condition += (" AND (org_id, user_key, is_remote) > "
                          "({after_org:String}, {after_key:String}, {after_remote:UInt8})")
        users = self._rows(
            "SELECT org_id, user_key, is_remote, user_email, user_account_uuid, terminal_type, subscription_type, "
            "sessions, " + _COLUMNS + " FROM {database}.daily_user FINAL WHERE day = {day:Date}" + condition +
            " ORDER BY org_id, user_key, is_remote LIMIT {limit:UInt32}", parameters)
        if not users:
            return users
        first, last = users[0], users[-1]
        page = {**parameters, "first_org": first["org_id"], "first_key": first["user_key"],
                "first_remote": first["is_remote"], "last_org": last["org_id"], "last_key": last["user_key"],
                "last_remote": last["is_remote"]}
        in_page = (" WHERE day = {day:Date} AND (org_id, user_key, is_remote) >= "
                   "({first_org:String}, {first_key:String}, {first_remote:UInt8})"
                   " AND (org_id, user_key, is_remote) <= ({last_org:String}, {last_key:String}, {last_remote:UInt8})")
        tools = self._rows(
            "SELECT org_id, user_key, is_remote, tool_name, " +
            ", ".join(f"sum({f.name}) AS {f.name}" for f in EDIT_TOOL_FIGURES) + " FROM {database}.daily_edit_tool"
            " FINAL" + in_page + " GROUP BY org_id, user_key, is_remote, tool_name", page)
        models = self._rows(
            "SELECT org_id, user_key, is_remote, model, " + ", ".join(f.name for f in MODEL_FIGURES) +
            " FROM {database}.daily_model FINAL" + in_page + " ORDER BY model", page)
        for user in users:
            key = _actor_key(user)
            user["edit_tools"] = {row["tool_name"]: row for row in tools if _actor_key(row) == key}
            user["models"] = [row for row in models if _actor_key(row) == key]
        return users


def _actor_key(row: dict) -> tuple[str, str, int]:
    return row["org_id"], row["user_key"], row["is_remote"]


def month_bounds(month: date) -> tuple[date, date]:
    return month.replace(day=1), month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _with_rates(row: dict) -> dict:
    row["accept_rate"] = accept_rate(row["edits_accepted"], row["edits_rejected"])
    row["share_without_email"] = share(row["records_without_email"], row["records"])
    return row
