"""Questions answered from daily_usage: the usage of each skill, MCP server, agent, tool ... over some days (per
name, or per member and name), and feature adoption per day, org and team.

Read with FINAL, parameters bound, JSON-ready dicts, so the API, the CSV, `cc-analytics report usage` and /metrics
show the same numbers. Adoption: of the members active on a day (their daily_user row), those with a daily_usage
row of the feature's kinds (aggregator/usage.py FEATURES), and their share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aggregator.contributions.report import ratio
from aggregator.reading import RollupReader
from aggregator.usage import FEATURES, FIGURE_NAMES, TABLE

GROUPS = ("name", "user")
GROUP_KEYS = {"name": ("org_id", "kind", "name"), "user": ("org_id", "team", "user_key", "kind", "name")}
# Per row, beside the figures: members who used it (group=name), days it was used, calls' success rate.
_DERIVED = {"name": ("members", "days", "success_rate"), "user": ("days", "success_rate")}
GROUP_COLUMNS = {group: (*keys, *FIGURE_NAMES, *_DERIVED[group]) for group, keys in GROUP_KEYS.items()}
ADOPTION_COLUMNS = ("date", "org_id", "team", "active_members",
                    *(f"{feature}_members" for feature in FEATURES), *(f"{feature}_share" for feature in FEATURES))

_SUMS = ", ".join(f"sum({name}) AS {name}" for name in FIGURE_NAMES)
_GROUP_SQL = {"name": ("org_id, kind, name, uniqExact(user_key) AS members", "org_id, kind, name"),
              "user": ("org_id, argMax(team, day) AS team, user_key, kind, name", "org_id, user_key, kind, name")}


@dataclass(frozen=True)
class UsageFilters:
    org: str | None = None
    team: str | None = None
    kind: str | None = None  # one of usage.KINDS
    member: str | None = None  # one member's user key: a member token's own figures

    def where(self, table: str = TABLE) -> str:
        """The conditions, on the table's columns (qualified: a report's team is an aggregate named team)."""
        conditions = [f"{table}.{column} = {{{column}:String}}" for column, value in
                      (("org_id", self.org), ("team", self.team), ("kind", self.kind), ("user_key", self.member))
                      if value is not None]
        return "".join(f" AND {condition}" for condition in conditions)

    def parameters(self) -> dict:
        return {"org_id": self.org, "team": self.team, "kind": self.kind, "user_key": self.member}


def success_rate(successes: float, failures: float) -> float | None:
    """successes / (successes + failures); None when nothing it did could succeed or fail (a skill, a token)."""
    decided = successes + failures
    return successes / decided if decided else None


class Usage(RollupReader):
    def rows(self, first: date, last: date, filters: UsageFilters, group: str = "name") -> list[dict]:
        """The figures per name (or per member and name) over the days, most used first."""
        keys, group_by = _GROUP_SQL[group]
        rows = self._rows(
            f"SELECT {keys}, {_SUMS}, uniqExact(day) AS days FROM {{database}}.{TABLE} FINAL "
            f"WHERE day BETWEEN {{first:Date}} AND {{last:Date}}{filters.where()} GROUP BY {group_by} "
            f"ORDER BY uses DESC, cost_usd DESC, {group_by}",
            {"first": first, "last": last, **filters.parameters()})
        for row in rows:
            row["success_rate"] = success_rate(row["successes"], row["failures"])
        return [{column: row[column] for column in GROUP_COLUMNS[group]} for row in rows]

    def adoption(self, first: date, last: date, filters: UsageFilters) -> list[dict]:
        """Per day, org and team: active members, and those who used each feature with their share."""
        member_filter = UsageFilters(org=filters.org, team=filters.team, member=filters.member).where("daily_user")
        used = ", ".join(f"max({condition}) AS {feature}" for feature, condition in FEATURES.items())
        counts = ", ".join(f"countIf({feature}) AS {feature}_members" for feature in FEATURES)
        rows = self._rows(
            f"SELECT day, org_id, team, count() AS active_members, {counts} "
            f"FROM (SELECT day, org_id, user_key, team FROM {{database}}.daily_user FINAL "
            f"      WHERE day BETWEEN {{first:Date}} AND {{last:Date}}{member_filter}) AS members "
            f"LEFT JOIN (SELECT day, org_id, user_key, {used} FROM {{database}}.{TABLE} FINAL "
            f"           WHERE day BETWEEN {{first:Date}} AND {{last:Date}} GROUP BY day, org_id, user_key) AS used "
            f"USING (day, org_id, user_key) GROUP BY day, org_id, team ORDER BY day, org_id, team",
            {"first": first, "last": last, **filters.parameters()})
        for row in rows:
            row["date"] = row.pop("day").isoformat()
            for feature in FEATURES:
                row[f"{feature}_share"] = ratio(row[f"{feature}_members"], row["active_members"])
        return [{column: row[column] for column in ADOPTION_COLUMNS} for row in rows]


def file_stem(first: date, last: date, what: str) -> str:
    """A download's name without its extension; what is the group or adoption."""
    return f"cc-analytics-usage-{what}-{first}-{last}"



# Published per window on /metrics (aggregator/snapshot.py reads them into the snapshot).
WINDOW_FIGURES = ("uses", "successes", "failures", "cost_usd")


def usage_windows(reader: RollupReader, windows_sql: str, parameters: dict) -> tuple[list[dict], list[dict]]:
    """(per window, org, team, kind and name: WINDOW_FIGURES; per window, org and team: active members and the
    members of each feature), windows_sql being the snapshot's windows of a `day` column and parameters its
    bounds (earliest, day, and each window's)."""
    sums = ", ".join(f"sum({name}) AS {name}" for name in WINDOW_FIGURES)
    names = reader._rows(
        f"SELECT window, org_id, team, kind, name, {sums} FROM (SELECT * FROM {{database}}.{TABLE} FINAL "
        f"WHERE day BETWEEN {{earliest:Date}} AND {{day:Date}}) ARRAY JOIN {windows_sql} AS window "
        f"GROUP BY window, org_id, team, kind, name ORDER BY window, org_id, team, kind, name", parameters)
    used = ", ".join(f"uniqExactIf(user_key, {feature}) AS {feature}_members" for feature in FEATURES)
    flags = ", ".join(f"max({condition}) AS {feature}" for feature, condition in FEATURES.items())
    adoption = reader._rows(
        f"SELECT window, org_id, team, uniqExact(user_key) AS active_members, {used} FROM ("
        f"  SELECT day, org_id, user_key, team FROM {{database}}.daily_user FINAL "
        f"  WHERE day BETWEEN {{earliest:Date}} AND {{day:Date}}) AS members "
        f"LEFT JOIN (SELECT day, org_id, user_key, {flags} FROM {{database}}.{TABLE} FINAL "
        f"           WHERE day BETWEEN {{earliest:Date}} AND {{day:Date}} GROUP BY day, org_id, user_key) AS used "
        f"USING (day, org_id, user_key) ARRAY JOIN {windows_sql} AS window "
        f"GROUP BY window, org_id, team ORDER BY window, org_id, team", parameters)
    return names, adoption
