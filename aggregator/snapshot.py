"""The figures as they stand on a day: running totals, rolling windows and this month's members.

What the Prometheus exporter publishes at scrape time (as of today) and what the OpenMetrics history export
writes for each past day (as of that day), read from the rollup tables with FINAL. Plain dicts, like reports.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta

from aggregator.contributions import DAILY_TABLE
from aggregator.contributions.report import SUMMED
from aggregator.figures import EDIT_TOOL_FIGURES, MODEL_FIGURES, SUMMED_FIGURES
from aggregator.reading import RollupReader
from aggregator.repositories import WINDOWS_SQL as REPOSITORY_WINDOWS
from aggregator.rollup import last_run_version
from aggregator.value_report import ValueWindows
from aggregator.usage_report import usage_windows

# Figures that describe the rollup itself rather than usage; not published.
_BOOKKEEPING = ("records", "records_without_email")
PUBLISHED_FIGURES = tuple(f for f in SUMMED_FIGURES if f.name not in _BOOKKEEPING)
# Per model, tokens and cost come from daily_model; the rest per (org, team) from daily_user.
TEAM_FIGURES = tuple(f for f in PUBLISHED_FIGURES if f not in MODEL_FIGURES)

WINDOWS = ("today", "yesterday", "7d", "28d", "month")
# Members published: active this month or in the last MEMBER_DAYS days (so a silent member stays visible a while).
MEMBER_DAYS = 28
MEMBER_FIGURES = ("lines_accepted", "edits_accepted", "edits_rejected", "cost_usd")
# The label value of the members (and, on /metrics, the teams, orgs, models...) left out: their figures summed.
OTHER = "other"
# Contribution figures published per window and per member (month to date); members ranked by the first ones.
CONTRIBUTION_FIGURES = ("prs_merged_with_cc", "prs_merged", "lines_merged_with_cc", "lines_merged",
                        "prs_merged_assisted", "prs_opened")


def window_bounds(window: str, day: date) -> tuple[date, date]:
    """[first, last] calendar days of a window that ends on day."""
    first = {
        "today": day,
        "yesterday": day - timedelta(days=1),
        "7d": day - timedelta(days=6),
        "28d": day - timedelta(days=27),
        "month": day.replace(day=1),
    }[window]
    return first, day - timedelta(days=1) if window == "yesterday" else day


@dataclass
class Snapshot:
    day: date
    totals: list[dict] = field(default_factory=list)  # org_id, team, sessions, TEAM_FIGURES
    model_totals: list[dict] = field(default_factory=list)  # org_id, team, model, MODEL_FIGURES
    edit_totals: list[dict] = field(default_factory=list)  # org_id, team, tool_name, language, accepted, rejected
    windows: list[dict] = field(default_factory=list)  # window, org_id, team, sessions, PUBLISHED_FIGURES
    window_edits: list[dict] = field(default_factory=list)  # window, org_id, team, tool_name, language, ...
    window_models: list[dict] = field(default_factory=list)  # window, org_id, team, model, MODEL_FIGURES
    org_users: list[dict] = field(default_factory=list)  # window, org_id, active_users, new_users
    team_users: list[dict] = field(default_factory=list)  # window, org_id, team, active_users, new_users
    members: list[dict] = field(default_factory=list)  # org_id, team, user_key, email, sessions, ..., last_active
    members_left_out: int = 0
    # window, org_id, team, CONTRIBUTION_FIGURES, active_members (distinct members with sessions)
    contribution_windows: list[dict] = field(default_factory=list)
    contribution_members: list[dict] = field(default_factory=list)  # org_id, team, user_key, email, figures
    contribution_members_left_out: int = 0
    # window, org_id, team, repository, repositories.WINDOW_FIGURES
    repository_windows: list[dict] = field(default_factory=list)
    # aggregator/value.py's sums per window and org (with the spend concentration) and per window, org and team;
    # per org the month's spend to date and forecast
    value_windows: list[dict] = field(default_factory=list)
    value_team_windows: list[dict] = field(default_factory=list)
    value_months: list[dict] = field(default_factory=list)
    usage_names: list[dict] = field(default_factory=list)  # window, org_id, team, kind, name, usage WINDOW_FIGURES
    usage_adoption: list[dict] = field(default_factory=list)  # window, org_id, team, active_members, <feature>_members


# The running totals, read with the windows as one more "window" that holds every day up to the day.
_ALL_DAYS = ""


def _sums(figures) -> str:
    return ", ".join(f"sum({f.name}) AS {f.name}" for f in figures)


def _in_windows(parameters: dict, day: str = "day") -> str:
    """SQL for the windows a day column falls in, binding each window's bounds into parameters."""
    parts = []
    for number, window in enumerate(WINDOWS):
        parameters[f"w{number}_first"], parameters[f"w{number}_last"] = window_bounds(window, parameters["day"])
        parts.append(f"if({day} BETWEEN {{w{number}_first:Date}} AND {{w{number}_last:Date}}, ['{window}'], [])")
    return f"arrayConcat({', '.join(parts)})"


def _split_totals(rows: list[dict], dropped: tuple[str, ...] = ()) -> tuple[list[dict], list[dict]]:
    """(running totals without their window and the dropped keys, rows of the real windows)."""
    totals = [{key: value for key, value in row.items() if key != "window" and key not in dropped}
              for row in rows if row["window"] == _ALL_DAYS]
    return totals, [row for row in rows if row["window"] != _ALL_DAYS]


class Snapshots(RollupReader):
    def version(self) -> tuple[int, int]:
        """Changes whenever a rollup run writes: a snapshot of the same day and version is the same. A run may
        rebuild only contribution days (a webhook arrived), so their table's version is part of it."""
        contributions = self.client.query(f"SELECT max(version) FROM {self.database}.{DAILY_TABLE}")
        return last_run_version(self.client, self.database), int(contributions.result_rows[0][0] or 0)

    def as_of(self, day: date, max_members: int) -> Snapshot:
        """Every figure as it stands at the end of day (so far, for today)."""
        parameters = {"day": day, "earliest": min(window_bounds(w, day)[0] for w in WINDOWS)}
        snapshot = Snapshot(day)
        snapshot.totals, snapshot.windows = self._team_figures(parameters)
        snapshot.model_totals, snapshot.window_models = _split_totals(self._totals_and_windows(
            "daily_model", "org_id, team, model", MODEL_FIGURES, parameters))
        snapshot.edit_totals, snapshot.window_edits = _split_totals(self._totals_and_windows(
            "daily_edit_tool", "org_id, team, tool_name, language", EDIT_TOOL_FIGURES, parameters))
        snapshot.org_users, snapshot.team_users = self._active_users(parameters)
        snapshot.members, snapshot.members_left_out = self._members(parameters, max_members)
        snapshot.contribution_windows = self._contribution_windows(parameters)
        snapshot.contribution_members, snapshot.contribution_members_left_out = self._contribution_members(
            parameters, max_members)
        repository_parameters = dict(parameters)
        snapshot.repository_windows = self._rows(
            REPOSITORY_WINDOWS.replace("{day_windows}", _in_windows(repository_parameters)), repository_parameters)
        snapshot.value_windows, snapshot.value_team_windows, snapshot.value_months = ValueWindows(
            self.client, self.database.strip("`")).read(day, {window: window_bounds(window, day) for window in WINDOWS})
        usage_parameters = dict(parameters)
        snapshot.usage_names, snapshot.usage_adoption = usage_windows(self, _in_windows(usage_parameters),
                                                                      usage_parameters)
        return snapshot

    def _contribution_windows(self, parameters: dict) -> list[dict]:
        """Per (window, org, team): the contribution figures and the members with sessions (sessions > 0)."""
        parameters = dict(parameters)
        windows = _in_windows(parameters)
        sums = ", ".join(f"sum({SUMMED[name]}) AS {name}" for name in CONTRIBUTION_FIGURES)
        figures = self._rows(
            f"SELECT window, org_id, team, {sums} FROM (SELECT * FROM {{database}}.{DAILY_TABLE} FINAL"
            " WHERE day BETWEEN {earliest:Date} AND {day:Date})"
            f" ARRAY JOIN {windows} AS window GROUP BY window, org_id, team", parameters)
        active = self._rows(
            "SELECT window, org_id, team, uniqExact(user_key) AS active_members FROM (SELECT day, org_id, team, "
            "user_key FROM {database}.daily_user FINAL WHERE day BETWEEN {earliest:Date} AND {day:Date} AND "
            f"sessions > 0) ARRAY JOIN {windows} AS window GROUP BY window, org_id, team", parameters)
        merged = {(row["window"], row["org_id"], row["team"]): {**row, "active_members": 0} for row in figures}
        for row in active:
            merged.setdefault((row["window"], row["org_id"], row["team"]),
                              {**row, **dict.fromkeys(CONTRIBUTION_FIGURES, 0)})["active_members"] = \
                row["active_members"]
        return [merged[key] for key in sorted(merged)]

    def _contribution_members(self, parameters: dict, max_members: int) -> tuple[list[dict], int]:
        """Month to date per member with merged or opened PRs: the top max_members by PRs with Claude Code (then
        PRs, lines), the rest summed per (org, team) into one OTHER member; with how many were left out. The
        email is the member's in daily_user (as the usage families label members), else none."""
        parameters = {**parameters, "month_start": window_bounds("month", parameters["day"])[0],
                      "member_start": parameters["day"] - timedelta(days=MEMBER_DAYS - 1)}
        sums = ", ".join(f"sum({SUMMED[name]}) AS {name}" for name in CONTRIBUTION_FIGURES)
        rows = self._rows(
            "SELECT org_id, team, user_key, email, " + ", ".join(CONTRIBUTION_FIGURES) + " FROM ("
            f" SELECT org_id, argMaxIf(team, day, team != '') AS team, member AS user_key, {sums}"
            f" FROM {{database}}.{DAILY_TABLE} FINAL WHERE day BETWEEN {{month_start:Date}} AND {{day:Date}}"
            " GROUP BY org_id, member) AS contributed LEFT JOIN ("
            " SELECT org_id, user_key, max(user_email) AS email FROM {database}.daily_user FINAL"
            " WHERE day BETWEEN least({month_start:Date}, {member_start:Date}) AND {day:Date}"
            " GROUP BY org_id, user_key) AS known USING (org_id, user_key)", parameters)
        rows.sort(key=lambda row: (*(-row[name] for name in CONTRIBUTION_FIGURES), row["org_id"], row["user_key"]))
        # a member whose label is OTHER is summed into the OTHER member, so no two series share labels
        ranked = [row for row in rows if (row["email"] or row["user_key"]) != OTHER]
        kept, others = ranked[:max_members], ranked[max_members:]
        folded: dict[tuple[str, str], dict] = {}
        for row in others + [row for row in rows if (row["email"] or row["user_key"]) == OTHER]:
            into = folded.setdefault((row["org_id"], row["team"]), {
                "org_id": row["org_id"], "team": row["team"], "user_key": OTHER, "email": "",
                **dict.fromkeys(CONTRIBUTION_FIGURES, 0)})
            for name in CONTRIBUTION_FIGURES:
                into[name] += row[name]
        return kept + list(folded.values()), len(others)

    def _team_figures(self, parameters: dict) -> tuple[list[dict], list[dict]]:
        """Per (org, team): running totals with sessions summed per member-day, and the windows with sessions
        distinct over the window (per-day uniqExact states, built only for the windows' days)."""
        rows = self._totals_and_windows(
            "daily_user", "org_id, team", PUBLISHED_FIGURES, parameters,
            day_extra="sum(sessions) AS member_day_sessions, uniqExactArrayStateIf(session_ids, day >= "
                      "{earliest:Date}) AS session_set, ",
            extra=f"if(window = '{_ALL_DAYS}', sum(member_day_sessions), "
                  f"uniqExactArrayMergeIf(session_set, window != '{_ALL_DAYS}')) AS sessions, ")
        return _split_totals(rows, dropped=tuple(f.name for f in MODEL_FIGURES))

    def _totals_and_windows(self, table: str, keys: str, figures, parameters: dict, day_extra: str = "",
                            extra: str = "") -> list[dict]:
        """Figures per window and keys, the running totals as window _ALL_DAYS, in one read of the table: each
        day summed once, then added into the totals and every window it falls in."""
        windows = f"arrayConcat(['{_ALL_DAYS}'], {_in_windows(parameters)})"
        return self._rows(
            f"SELECT window, {keys}, {extra}{_sums(figures)} FROM (SELECT day, {keys}, {day_extra}{_sums(figures)}"
            f" FROM {{database}}.{table} FINAL WHERE day <= {{day:Date}} GROUP BY day, {keys})"
            f" ARRAY JOIN {windows} AS window GROUP BY window, {keys} ORDER BY window, {keys}", parameters)

    def _active_users(self, parameters: dict) -> tuple[list[dict], list[dict]]:
        # A member is new in a window that holds their first active day ever in that org; per team, the team
        # they had on that day. A member who changed teams within a window counts once for the org. One read:
        # per (org, member, team) the windows they were active in and their first day, then both groupings.
        first_day_in_window = f"has({_in_windows(parameters, 'first_day')}, window)"
        rows = self._rows(
            "SELECT window, org_id, team, grouping(team) AS whole_org, uniqExact(user_key) AS active_users,"
            f" uniqExactIf(user_key, {first_day_in_window}) AS new_in_org,"
            f" uniqExactIf(user_key, {first_day_in_window} AND first_in_team = first_day) AS new_in_team"
            " FROM (SELECT org_id, user_key, team, min(day) AS first_in_team,"
            "   min(min(day)) OVER (PARTITION BY org_id, user_key) AS first_day,"
            f"  groupUniqArrayArray({_in_windows(parameters)}) AS active_in"
            "   FROM {database}.daily_user FINAL WHERE day <= {day:Date} GROUP BY org_id, user_key, team)"
            " ARRAY JOIN active_in AS window"
            " GROUP BY GROUPING SETS ((window, org_id), (window, org_id, team)) ORDER BY window, org_id, team",
            parameters)
        org = [{"window": row["window"], "org_id": row["org_id"], "active_users": row["active_users"],
                "new_users": row["new_in_org"]} for row in rows if row["whole_org"]]
        team = [{"window": row["window"], "org_id": row["org_id"], "team": row["team"],
                 "active_users": row["active_users"], "new_users": row["new_in_team"]}
                for row in rows if not row["whole_org"]]
        return org, team

    def _members(self, parameters: dict, max_members: int) -> tuple[list[dict], int]:
        """The top max_members members by lines accepted, and per (org, team) one OTHER member summing the
        figures of the rest (so the member series add up to the team's); with how many were left out."""
        parameters = {**parameters, "month_start": window_bounds("month", parameters["day"])[0],
                      "member_start": parameters["day"] - timedelta(days=MEMBER_DAYS - 1), "limit": max_members}
        month = "day >= {month_start:Date}"
        figures = ("sessions", *MEMBER_FIGURES)
        rows = self._rows(
            "SELECT org_id, team, if(left_out, '', member_key) AS user_key, if(left_out, '', member_email) AS email,"
            " left_out, " + ", ".join(f"sum(member_{name}) AS {name}" for name in figures) +
            ", max(member_last_active) AS last_active, count() AS members FROM ("
            " SELECT *, row_number() OVER (ORDER BY member_lines_accepted DESC, member_last_active DESC, org_id,"
            "  member_key) > {limit:UInt64} AS left_out FROM ("
            "  SELECT org_id, user_key AS member_key, max(user_email) AS member_email,"
            "   argMaxIf(team, day, team != '') AS team,"
            f"  length(arrayDistinct(groupArrayArrayIf(session_ids, {month}))) AS member_sessions, " +
            ", ".join(f"sumIf({name}, {month}) AS member_{name}" for name in MEMBER_FIGURES) +
            ",  max(day) AS member_last_active FROM {database}.daily_user FINAL"
            "   WHERE day BETWEEN least({month_start:Date}, {member_start:Date}) AND {day:Date}"
            "   GROUP BY org_id, user_key))"
            " GROUP BY org_id, team, left_out, user_key, email"
            " ORDER BY left_out, lines_accepted DESC, last_active DESC, org_id, user_key", parameters)
        left_out = 0
        for member in rows:
            if member.pop("left_out") or (member["email"] or member["user_key"]) == OTHER:
                member["user_key"], member["email"] = OTHER, ""
            left_out += member.pop("members") if member["user_key"] == OTHER else 0
        return rows, left_out


def snapshot_to_json(snapshot: Snapshot) -> dict:
    """JSON-ready: dates as ISO strings (the API sends snapshots to `cc-analytics export`)."""
    document = dataclasses.asdict(snapshot)
    document["day"] = snapshot.day.isoformat()
    for member in document["members"]:
        member["last_active"] = member["last_active"].isoformat()
    return document


def snapshot_from_json(document: dict) -> Snapshot:
    snapshot = Snapshot(**{**document, "day": date.fromisoformat(document["day"])})
    for member in snapshot.members:
        member["last_active"] = date.fromisoformat(member["last_active"])
    return snapshot
