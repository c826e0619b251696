"""Questions answered from the contribution tables: merged pull requests and lines with and without Claude Code
per day, member or repository, each merged PR with its level and reason, and the month's figures per member.

Read with FINAL like the other rollups, parameters bound; plain JSON-ready dicts (dates as ISO strings), so the
API, the CSV, `cc-analytics report contributions` and /metrics show the same numbers. `active_members` are the
members with sessions (daily_user, sessions > 0) over the row's days in its org, narrowed like the row: per day
for group=day, the member themself for group=user (0 or 1), the org over the range for group=repo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from aggregator.contributions import ATTRIBUTION_TABLE, DAILY_TABLE
from aggregator.contributions.attribution import ASSISTED, WITH_CLAUDE_CODE, WITHOUT
from aggregator.figures import share
from aggregator.reading import RollupReader

GROUPS = ("day", "user", "repo")
LEVELS = (WITH_CLAUDE_CODE, ASSISTED, WITHOUT)

# The summed columns of daily_contributions under their API names.
SUMMED = {"prs_opened": "prs_opened", "prs_merged": "prs_merged",
          "prs_merged_with_cc": "prs_merged_with_claude_code", "prs_merged_assisted": "prs_merged_assisted",
          "lines_merged": "lines_merged", "lines_merged_with_cc": "lines_merged_with_claude_code",
          "prs_merged_lines_from_additions": "prs_merged_lines_from_additions"}
# What the members report adds per member for its month.
MEMBER_COLUMNS = ("prs_merged", "prs_merged_with_cc", "lines_merged", "lines_merged_with_cc")
_RATES = ("share_with_cc", "active_members", "prs_merged_per_active_member")
# Per group: the key columns of a row (its identity) and every column in order (the CSV's header).
GROUP_KEYS = {"day": ("date", "org_id"), "user": ("org_id", "team", "member", "author_login"),
              "repo": ("org_id", "repository")}
GROUP_COLUMNS = {group: (*keys, *SUMMED, *_RATES) for group, keys in GROUP_KEYS.items()}
PULL_REQUEST_COLUMNS = ("date", "org_id", "repository", "number", "merged_at", "author_login", "member",
                        "matched_by", "team", "level", "reason", "commits", "commits_with_claude_code",
                        "lines_merged", "lines_with_claude_code", "lines_basis")

_SUMS = ", ".join(f"sum({column}) AS {name}" for name, column in SUMMED.items())
_GROUP_SQL = {  # (SELECT list of the key, GROUP BY)
    "day": ("day, org_id", "day, org_id"),
    "user": ("org_id, argMaxIf(team, day, team != '') AS team, member, argMax(author_login, day) AS author_login",
             "org_id, member"),
    "repo": ("org_id, repository", "org_id, repository"),
}
_ORDER = {"day": "day, org_id", "user": "prs_merged_with_cc DESC, prs_merged DESC, org_id, member",
          "repo": "prs_merged_with_cc DESC, prs_merged DESC, org_id, repository"}


@dataclass(frozen=True)
class ContributionFilters:
    org: str | None = None
    team: str | None = None
    repository: str | None = None  # owner/name, lower-cased
    member: str | None = None  # one member's key (their email as stored): a member token's own figures

    def where(self, table: str = DAILY_TABLE) -> str:
        conditions = [f"{table}.org_id = {{org:String}}" if self.org is not None else "",
                      f"{table}.team = {{team:String}}" if self.team is not None else "",
                      f"{table}.repository = {{repository:String}}" if self.repository is not None else "",
                      f"{table}.member = {{member:String}}" if self.member is not None else ""]
        return "".join(f" AND {condition}" for condition in conditions if condition)

    def parameters(self) -> dict:
        return {"org": self.org, "team": self.team, "repository": self.repository, "member": self.member}


def ratio(part: float, whole: float) -> float:
    """figures.share, but 0 when there is no whole (no merged PR, no active member): these columns are numbers."""
    return share(part, whole) or 0.0


def lines_basis(rows: list[dict]) -> tuple[str, str | None]:
    """(how the answer's lines were counted, a note when some are GitHub's additions rather than effective lines)."""
    merged = sum(row["prs_merged"] for row in rows)
    from_additions = sum(row["prs_merged_lines_from_additions"] for row in rows)
    if not merged:
        return "none", None
    basis = "effective" if not from_additions else "additions" if from_additions == merged else "mixed"
    if not from_additions:
        return basis, None
    return basis, (f"{from_additions} of {merged} merged pull requests count GitHub's additions, not effective lines "
                   "(lock files, generated code and blank lines included): their commits were not fetched; give "
                   "serve --github-token-file so the REST API fetches them")


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and Z; the store gives UTC times without their zone."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


class Contributions(RollupReader):
    def answer(self, first: date, last: date, filters: ContributionFilters, group: str) -> dict:
        """The API's answer: rows of the group, how their lines were counted and a note when it matters."""
        data = self.rows(first, last, filters, group)
        basis, note = lines_basis(data)
        return {"from": first.isoformat(), "to": last.isoformat(), "group": group, "data": data,
                "lines_basis": basis, "note": note}

    def rows(self, first: date, last: date, filters: ContributionFilters, group: str) -> list[dict]:
        parameters = {"first": first, "last": last, **filters.parameters()}
        keys, group_by = _GROUP_SQL[group]
        rows = self._rows(
            f"SELECT {keys}, {_SUMS} FROM {{database}}.{DAILY_TABLE} FINAL WHERE day BETWEEN {{first:Date}} AND "
            f"{{last:Date}}{filters.where()} GROUP BY {group_by} ORDER BY {_ORDER[group]}", parameters)
        active = self._active_members(parameters, group)
        for row in rows:
            if group == "day":
                row["date"] = row.pop("day").isoformat()
            key = {"day": (row.get("date"), row["org_id"]), "user": (row["org_id"], row.get("member")),
                   "repo": (row["org_id"],)}[group]
            row["share_with_cc"] = ratio(row["prs_merged_with_cc"], row["prs_merged"])
            row["active_members"] = active.get(key, 0)
            row["prs_merged_per_active_member"] = ratio(row["prs_merged"], row["active_members"])
        return [{column: row[column] for column in GROUP_COLUMNS[group]} for row in rows]

    def _active_members(self, parameters: dict, group: str) -> dict[tuple, int]:
        """Members with sessions, by the part of the row's key that daily_user has."""
        keys = {"day": "day, org_id", "user": "org_id, user_key", "repo": "org_id"}[group]
        where = "".join((" AND org_id = {org:String}" if parameters["org"] is not None else "",
                         " AND team = {team:String}" if parameters["team"] is not None else "",
                         " AND user_key = {member:String}" if parameters.get("member") is not None else ""))
        rows = self.client.query(
            f"SELECT {keys}, uniqExactIf(user_key, sessions > 0) FROM {self.database}.daily_user FINAL WHERE day "
            f"BETWEEN {{first:Date}} AND {{last:Date}}{where} GROUP BY {keys}", parameters=parameters).result_rows
        return {tuple(value.isoformat() if isinstance(value, date) else value for value in row[:-1]): row[-1]
                for row in rows}

    def pull_requests(self, first: date, last: date, filters: ContributionFilters, level: str | None) -> list[dict]:
        """Every merged PR of the days, with its attribution level and the reason for it."""
        parameters = {"first": first, "last": last, "level": level, **filters.parameters()}
        condition = filters.where(ATTRIBUTION_TABLE) + (" AND level = {level:String}" if level else "")
        columns = ", ".join("day AS date" if column == "date" else column for column in PULL_REQUEST_COLUMNS)
        rows = self._rows(
            f"SELECT {columns} FROM {{database}}.{ATTRIBUTION_TABLE} FINAL WHERE day BETWEEN {{first:Date}} AND "
            f"{{last:Date}}{condition} ORDER BY merged_at, org_id, repository, number", parameters)
        for row in rows:
            row["date"] = row["date"].isoformat()
            row["merged_at"] = utc_text(row["merged_at"])
        return rows


def file_name(first: date, last: date, group: str, extension: str) -> str:
    return f"cc-analytics-contributions-{group}-{first}-{last}.{extension}"
