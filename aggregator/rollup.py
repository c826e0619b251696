"""Daily rollups: rebuild every figure of some days from the raw tables, the same way however often it runs.

A run takes up to a week of consecutive days: it reads their metric points and events into a staging table of
activity rows (aggregator.activity: grouped per day, member, session and kind, cumulative points turned into
increases per series), then writes new versions of the days' rows in daily_user, daily_org, daily_model,
daily_edit_tool and daily_repository and deletes the older versions. Readers use FINAL, so they see the old rows
or the new ones, never a mix of half a day.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from aggregator import activity, usage
from aggregator.figures import (
    ACTIVE_USERS,
    COST,
    EDIT_DECISION,
    EDIT_TOOL_FIGURES,
    MODEL_FIGURES,
    REPOSITORY_FIGURES,
    SESSION_IDS,
    SESSIONS,
    SUMMED_FIGURES,
    TOKENS,
)

log = logging.getLogger(__name__)

# Each rollup table and the columns that, with the day, identify a row. A member's remote sessions (Claude Code
# on the web) and local ones are separate rows, as in the Admin API; readers per member sum them.
ROLLUP_KEYS = {
    "daily_user": ("org_id", "user_key", "is_remote"),
    "daily_org": ("org_id",),
    "daily_model": ("org_id", "user_key", "is_remote", "model"),
    "daily_edit_tool": ("org_id", "user_key", "is_remote", "tool_name", "language"),
    "daily_repository": ("org_id", "repository", "user_key"),
    usage.TABLE: ("org_id", "user_key", "kind", "name"),
}
ROLLUP_TABLES = tuple(ROLLUP_KEYS)
# Where the timer's scan for late records resumes after a restart (aggregator.refresh).
CURSOR_TABLE = "rollup_cursor"

# How far back before a run's first day a cumulative series is read to find its previous point. A Claude Code
# process lives hours, not weeks; a series older than this counts its first point in the window whole. (Later days
# of a run see further back: the same figures unless a series went silent for over a month.)
MAX_SERIES_AGE = timedelta(days=31)

# Consecutive days rebuilt by one run at most: each read and write then serves several days (a backfill of 30 days
# of 10M records: 5 runs instead of 30), while the staging table holds the groups of a week at most.
MAX_DAYS_PER_RUN = 7

_SERIES_START = """
SELECT toUnixTimestamp64Nano(min(start_timestamp))
FROM {database}.metric_points
WHERE temporality = 'cumulative' AND start_timestamp > toDateTime64(0, 9, 'UTC')
  AND timestamp >= fromUnixTimestamp64Nano({run_start:Int64}) AND timestamp < fromUnixTimestamp64Nano({run_end:Int64})
  AND toDate(timestamp) BETWEEN {first_utc_day:Date} AND {last_utc_day:Date}
"""

# The user's team and terminal that day: those of their latest record that names one.
_USER_TEAM = "argMaxIf(team, team_time, team != '')"
# The Admin API's subscription_type: the plan of the member-day's latest record naming one, when it is an
# organization's tier; pro and max are individual plans, and API customers have none (empty: null).
SUBSCRIPTION_TIERS = ("team", "enterprise")
_LATEST_PLAN = "argMaxIf(plan, plan_time, plan != '')"
_SUBSCRIPTION_TYPE = (f"if({_LATEST_PLAN} IN ({', '.join(repr(tier) for tier in SUBSCRIPTION_TIERS)}), "
                      f"{_LATEST_PLAN}, '')")


def _select_figures(figures) -> str:
    return ",\n       ".join(f"{figure.aggregate} AS {figure.name}" for figure in figures)


def _names(figures) -> str:
    return ", ".join(figure.name for figure in figures)


# Per member-day, whatever the session: the team and subscription tier of both a member's rows of a day.
_MEMBER_DAYS = (f"(SELECT day, org_id, user_key, {_USER_TEAM} AS user_team, {_SUBSCRIPTION_TYPE} AS user_subscription"
                f" FROM {{staging}} GROUP BY day, org_id, user_key)")

_DAILY_USER = f"""
INSERT INTO {{database}}.daily_user
    (day, org_id, user_key, is_remote, user_email, user_account_uuid, user_id, team, subscription_type,
     terminal_type, sessions, session_ids, {_names(SUMMED_FIGURES)}, version)
SELECT day, org_id, user_key, is_remote, max(user_email), max(user_account_uuid), max(user_id), any(user_team),
       any(user_subscription), argMaxIf(terminal_type, terminal_time, terminal_type != ''), {SESSIONS},
       {SESSION_IDS}, {_select_figures(SUMMED_FIGURES)}, {{version:UInt64}}
FROM {{staging}} AS activity LEFT JOIN {_MEMBER_DAYS} AS members USING (day, org_id, user_key)
GROUP BY day, org_id, user_key, is_remote
"""

_DAILY_ORG = f"""
INSERT INTO {{database}}.daily_org (day, org_id, active_users, sessions, {_names(SUMMED_FIGURES)}, version)
SELECT day, org_id, {ACTIVE_USERS}, {SESSIONS}, {_select_figures(SUMMED_FIGURES)}, {{version:UInt64}}
FROM {{staging}}
GROUP BY day, org_id
"""

_DAILY_MODEL = f"""
INSERT INTO {{database}}.daily_model
    (day, org_id, user_key, is_remote, team, model, {_names(MODEL_FIGURES)}, version)
SELECT day, org_id, user_key, is_remote, any(user_team), model, {_select_figures(MODEL_FIGURES)}, {{version:UInt64}}
FROM {{staging}} AS activity LEFT JOIN {_MEMBER_DAYS} AS members USING (day, org_id, user_key)
WHERE metric_name IN ('{TOKENS}', '{COST}')
GROUP BY day, org_id, user_key, is_remote, model
"""

_DAILY_EDIT_TOOL = f"""
INSERT INTO {{database}}.daily_edit_tool
    (day, org_id, user_key, is_remote, team, tool_name, language, {_names(EDIT_TOOL_FIGURES)}, version)
SELECT day, org_id, user_key, is_remote, any(user_team), tool_name, language, {_select_figures(EDIT_TOOL_FIGURES)},
       {{version:UInt64}}
FROM {{staging}} AS activity LEFT JOIN {_MEMBER_DAYS} AS members USING (day, org_id, user_key)
WHERE metric_name = '{EDIT_DECISION}'
GROUP BY day, org_id, user_key, is_remote, tool_name, language
"""

# Per member and repository ('' for records that named none). Rows that only carry a team (TEAM_FROM_ATTRIBUTES)
# hold no record and would add an empty '' row.
_DAILY_REPOSITORY = f"""
INSERT INTO {{database}}.daily_repository
    (day, org_id, repository, user_key, team, sessions, session_ids, {_names(REPOSITORY_FIGURES)}, version)
SELECT day, org_id, repository, user_key, any(user_team), {SESSIONS}, {SESSION_IDS},
       {_select_figures(REPOSITORY_FIGURES)}, {{version:UInt64}}
FROM {{staging}} AS activity LEFT JOIN {_MEMBER_DAYS} AS members USING (day, org_id, user_key)
WHERE record_count > 0
GROUP BY day, org_id, repository, user_key
"""

_DAILY_USAGE = usage.daily_usage_statement(_MEMBER_DAYS)


@dataclass(frozen=True)
class DayRebuilt:
    day: date
    users: int
    records: int
    seconds: float


class Rollup:
    """Rebuilds days of the rollup tables. One run at a time per process; runs are idempotent."""

    def __init__(self, client: Client, database: str, time_zone: str = "UTC", team_attribute: str = "team"):
        self.client = client
        self.database_name = database
        self.database = f"`{database}`"
        self.zone = ZoneInfo(time_zone)
        self.time_zone = time_zone
        self.team_attribute = team_attribute
        self._lock = threading.Lock()

    @property
    def lock(self) -> threading.Lock:
        """Held by each rebuild (a run of up to a week of days): whoever deletes raw rows (a purge) holds it so no
        rebuild writes them back."""
        return self._lock

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def day_bounds_ns(self, day: date) -> tuple[int, int]:
        return day_bounds_ns(day, self.zone)

    def rebuild_day(self, day: date) -> DayRebuilt:
        return self.rebuild_days([day])[0]

    def rebuild_days(self, days: Iterable[date]) -> list[DayRebuilt]:
        """Rebuild each of the days, in order, consecutive ones together (runs_of_days)."""
        return [rebuilt for run in runs_of_days(days) for rebuilt in self._rebuild_run(run)]

    def _rebuild_run(self, days: list[date]) -> list[DayRebuilt]:
        with self._lock:
            started = time.monotonic()
            version = time.time_ns()
            staging = f"{self.database}.`_rollup_staging_{version}`"
            self.client.command(f"CREATE TABLE {staging} ({activity.STAGING_COLUMNS}) ENGINE = Memory")
            try:
                counts = self._rebuild(days, staging, version)
            finally:
                self.client.command(f"DROP TABLE IF EXISTS {staging}")
            # each day is given its share of the run's time, so sums over days stay right
            share = (time.monotonic() - started) / len(days)
            return [DayRebuilt(day, *counts.get(day, (0, 0)), share) for day in days]

    def _rebuild(self, days: list[date], staging: str, version: int) -> dict[date, tuple[int, int]]:
        """Users and records of each day that has raw rows; those days' rollups rewritten."""
        run_start, run_end = self.day_bounds_ns(days[0])[0], self.day_bounds_ns(days[-1])[1]
        lookback = self._lookback(run_start, run_end)
        parameters = {"zone": self.time_zone, "version": version, "team_key": self.team_attribute,
                      "lookback": lookback, "lookback_utc_day": utc_day(lookback), **_bounds(run_start, run_end)}
        for statement in (activity.DELTA_POINTS, activity.CUMULATIVE_POINTS, activity.EVENTS):
            self._run(statement, staging, parameters)
        counts = {day: (users, records) for day, records, users in self.client.query(
            f"SELECT day, sum(record_count), uniqExact(user_key) FROM {staging} GROUP BY day").result_rows}
        # A day without raw rows (none yet, or expired by the raw TTL) has no staging rows: its rollups are kept.
        if not counts:
            return counts
        if self.client.query(self._sql(activity.MEMBERS_UNTAGGED_LATE, staging)).result_rows[0][0]:
            self._run(activity.TEAM_FROM_ATTRIBUTES, staging, parameters)
        for statement in (_DAILY_USER, _DAILY_ORG, _DAILY_MODEL, _DAILY_EDIT_TOOL, _DAILY_REPOSITORY, _DAILY_USAGE):
            self._run(statement, staging, parameters)
        delete_vanished_rows(self.client, self.database, ROLLUP_KEYS, sorted(counts), version)
        return counts

    def _lookback(self, run_start: int, run_end: int) -> int:
        """Where to start reading the run's cumulative series, so each has its previous point."""
        earliest = self.client.query(self._sql(_SERIES_START),
                                     parameters=_bounds(run_start, run_end)).result_rows[0][0]
        oldest_allowed = run_start - int(MAX_SERIES_AGE.total_seconds() * 1e9)
        return max(min(earliest or run_start, run_start), oldest_allowed)

    def _sql(self, statement: str, staging: str = "") -> str:
        return statement.replace("{staging}", staging).replace("{database}", self.database)

    def _run(self, statement: str, staging: str, parameters: dict) -> None:
        self.client.command(self._sql(statement, staging), parameters=parameters)

    def org_days_received_since(self, received_after_ms: int) -> dict[tuple[str, date], int]:
        """(org, calendar day in the aggregation time zone) of records stored at or after a receive time (late
        data too), each with the latest receive time (ms) among them."""
        rows = self.client.query(
            f"""SELECT org_id, day, max(received) FROM (
                    SELECT org_id, toDate(timestamp, {{zone:String}}) AS day,
                           toUnixTimestamp64Milli(received_at) AS received FROM {self.database}.events
                    WHERE received_at >= fromUnixTimestamp64Milli({{after:Int64}})
                    UNION ALL
                    SELECT org_id, toDate(timestamp, {{zone:String}}) AS day,
                           toUnixTimestamp64Milli(received_at) AS received FROM {self.database}.metric_points
                    WHERE received_at >= fromUnixTimestamp64Milli({{after:Int64}}))
                GROUP BY org_id, day""",
            parameters={"zone": self.time_zone, "after": received_after_ms}).result_rows
        return {(org, day): received for org, day, received in rows}

    def last_run_version(self) -> int:
        return last_run_version(self.client, self.database)

    def saved_cursor(self) -> int | None:
        """The receive time (ns) the late-record scan resumes from, as the timer last saved it; None if never."""
        rows = self.client.query(
            f"SELECT argMax(received_ns, version), count() FROM {self.database}.{CURSOR_TABLE}").result_rows
        return int(rows[0][0]) if rows and rows[0][1] else None

    def save_cursor(self, received_ns: int) -> None:
        self.client.insert(CURSOR_TABLE, [[received_ns, time.time_ns()]], column_names=["received_ns", "version"],
                           database=self.database_name)


def last_run_version(client: Client, database: str) -> int:
    """Start (ns) of the latest run that wrote rollup rows; 0 when none has. Every run that writes moves it."""
    return int(client.query(f"SELECT max(version) FROM {database}.daily_org").result_rows[0][0] or 0)


def delete_vanished_rows(client: Client, database: str, table_keys: dict[str, tuple[str, ...]], days: list[date],
                         version: int) -> None:
    """Delete older rows of the days whose key (with the day) a run at this version did not write again (e.g.
    after a time zone change); database is quoted.

    Rows it did write again are replaced by the new version (FINAL, and merges); deleting only when needed
    keeps the every-minute refresh from creating a mutation per table each time.
    """
    parameters = {"days": days, "version": version}
    for table, key in table_keys.items():
        columns = ", ".join(("day", *key))
        vanished = (f"day IN {{days:Array(Date)}} AND version < {{version:UInt64}} AND ({columns}) NOT IN "
                    f"(SELECT {columns} FROM {database}.{table} "
                    f"WHERE day IN {{days:Array(Date)}} AND version = {{version:UInt64}})")
        count = client.query(f"SELECT count() FROM {database}.{table} WHERE {vanished}",
                             parameters=parameters).result_rows[0][0]
        if count:
            client.command(f"DELETE FROM {database}.{table} WHERE {vanished}", parameters=parameters)


def day_bounds_ns(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a calendar day in a time zone, in ns since the epoch (DST-aware)."""
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return _ns(start), _ns(end)


def runs_of_days(days: Iterable[date]) -> list[list[date]]:
    """The days in order, consecutive ones together, at most MAX_DAYS_PER_RUN to a run."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][-1] + timedelta(days=1) == day and len(runs[-1]) < MAX_DAYS_PER_RUN:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _bounds(run_start: int, run_end: int) -> dict:
    """[start, end) in ns, and the UTC days of its first and last instant, for the sort key's toDate(timestamp)."""
    return {"run_start": run_start, "run_end": run_end, "first_utc_day": utc_day(run_start),
            "last_utc_day": utc_day(run_end - 1)}


def utc_day(ns: int) -> date:
    return datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).date()


def _ns(moment: datetime) -> int:
    # midnights are whole seconds in every zone, so the float timestamp is exact
    return round(moment.timestamp()) * 1_000_000_000
