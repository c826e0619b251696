"""Questions answered from daily_repository: the figures per org and repository over some days, and per window.

The repository is owner/name lower-cased as Claude Code reports it with OTEL_METRICS_INCLUDE_REPOSITORY=1; '' holds
what was done where none was reported, so the rows of an org add up to its figures. `sessions` are distinct over
the rows' days (a session in two repositories counts in each), `members` the distinct user keys. Read with FINAL,
parameters bound; plain JSON-ready dicts, so the API, the CSV, `cc-analytics report repositories` and /metrics show
the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aggregator.figures import REPOSITORY_FIGURES, accept_rate
from aggregator.reading import RollupReader

TABLE = "daily_repository"
# Every column of a row, in order (the CSV's header).
COLUMNS = ("org_id", "repository", *(f.name for f in REPOSITORY_FIGURES), "sessions", "members", "accept_rate")
# What /metrics publishes per window (exporters/repository_metrics.py).
WINDOW_FIGURES = ("lines_accepted", "sessions", "members", "cost_usd")

_SUMS = ", ".join(f"sum({f.name}) AS {f.name}" for f in REPOSITORY_FIGURES)
_DISTINCT = "length(groupUniqArrayArray(session_ids)) AS sessions, uniqExactIf(user_key, user_key != '') AS members"


@dataclass(frozen=True)
class RepositoryFilters:
    org: str | None = None
    team: str | None = None
    repository: str | None = None  # owner/name, lower-cased
    member: str | None = None  # one member's user key: a member token's own figures

    def where(self) -> str:
        conditions = ["org_id = {org:String}" if self.org is not None else "",
                      f"{TABLE}.team = {{team:String}}" if self.team is not None else "",
                      f"{TABLE}.repository = {{repository:String}}" if self.repository is not None else "",
                      f"{TABLE}.user_key = {{member:String}}" if self.member is not None else ""]
        return "".join(f" AND {condition}" for condition in conditions if condition)

    def parameters(self) -> dict:
        return {"org": self.org, "team": self.team, "repository": self.repository, "member": self.member}


# Per (window, org, team, repository): WINDOW_FIGURES, distinct over the window; {day_windows} is the SQL of the
# windows a day falls in, their bounds bound with the day and the earliest window's first day (aggregator.snapshot).
WINDOWS_SQL = (
    f"SELECT window, org_id, team, repository, sum(lines_accepted) AS lines_accepted, {_DISTINCT},"
    f" sum(cost_usd) AS cost_usd FROM (SELECT * FROM {{database}}.{TABLE} FINAL"
    " WHERE day BETWEEN {earliest:Date} AND {day:Date})"
    " ARRAY JOIN {day_windows} AS window GROUP BY window, org_id, team, repository"
    " ORDER BY window, org_id, team, repository")


class Repositories(RollupReader):
    def rows(self, first: date, last: date, filters: RepositoryFilters = RepositoryFilters()) -> list[dict]:
        """One row per (org, repository) with data in the days, lines accepted first."""
        rows = self._rows(
            f"SELECT org_id, repository, {_SUMS}, {_DISTINCT} FROM {{database}}.{TABLE} FINAL"
            f" WHERE day BETWEEN {{first:Date}} AND {{last:Date}}{filters.where()}"
            " GROUP BY org_id, repository ORDER BY lines_accepted DESC, org_id, repository",
            {"first": first, "last": last, **filters.parameters()})
        for row in rows:
            row["accept_rate"] = accept_rate(row["edits_accepted"], row["edits_rejected"])
        return [{column: row[column] for column in COLUMNS} for row in rows]


def file_name(first: date, last: date) -> str:
    return f"cc-analytics-repositories-{first}-{last}.csv"
