"""The contribution rollup: rebuild pull_request_attribution and daily_contributions for some days.

For the days asked it reads the PRs opened or merged on them (aggregator.contributions.sources), matches each
author to a member, attributes each merged PR (aggregator.contributions.attribution, pure) and writes a new
version of the days' rows: one attribution row per PR merged on a day, one daily row per (day, org, team, member,
repository) with the PRs opened that day and those merged that day. Older rows of the days that were not written
again are deleted (aggregator.rollup.delete_vanished_rows); readers use FINAL. The GitHub tables have no TTL, so
a day is always rebuilt whole: a day whose PRs are gone loses its rows.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from datetime import date, datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from aggregator.contributions import ATTRIBUTION_TABLE, DAILY_TABLE
from aggregator.contributions.attribution import (
    ADDITIONS,
    ASSISTED,
    WITH_CLAUDE_CODE,
    Attribution,
    Member,
    PullRequest,
    attribute,
    author_member,
    with_team,
)
from aggregator.contributions.changes import days_with_github_rows_since
from aggregator.contributions.identity import IdentityMap
from aggregator.contributions.sources import ContributionSources
from aggregator.rollup import delete_vanished_rows, runs_of_days
from plumbing.store.client import insert_columns

# Each contribution table and the columns that, with the day, identify a row.
CONTRIBUTION_KEYS = {
    ATTRIBUTION_TABLE: ("org_id", "repository", "number"),
    DAILY_TABLE: ("org_id", "team", "member", "repository"),
}

ATTRIBUTION_COLUMNS = ("day", "org_id", "repository", "number", "merged_at", "author_login", "member", "matched_by",
                       "team", "level", "reason", "commits", "commits_with_claude_code", "lines_merged",
                       "lines_with_claude_code", "lines_basis", "version")

DAILY_FIGURES = ("prs_opened", "prs_merged", "prs_merged_with_claude_code", "prs_merged_assisted", "lines_merged",
                 "lines_merged_with_claude_code", "prs_merged_lines_from_additions")
DAILY_COLUMNS = ("day", "org_id", "team", "member", "author_login", "repository", *DAILY_FIGURES, "version")


class ContributionRollup:
    """Rebuilds days of the contribution tables; runs are idempotent. lock: the telemetry rollup's, so a purge
    holding it keeps both from writing back what it deletes."""

    def __init__(self, client: Client, database: str, time_zone: str = "UTC",
                 identities: IdentityMap | None = None, lock: threading.Lock | None = None):
        self.client = client
        self.database_name = database
        self.database = f"`{database}`"
        self.zone = ZoneInfo(time_zone)
        self.time_zone = time_zone
        self.identities = identities or IdentityMap()
        self.sources = ContributionSources(client, self.database, time_zone)
        self._lock = lock or contextlib.nullcontext()

    def rebuild_days(self, days: Iterable[date]) -> int:
        """Rebuild the days, a run of consecutive days at a time; returns the merged PRs attributed."""
        return sum(self._rebuild_run(run) for run in runs_of_days(days))

    def _rebuild_run(self, days: list[date]) -> int:
        with self._lock:
            version = time.time_ns()
            attributions, opened = self._attribute(days)
            self._insert(ATTRIBUTION_TABLE, ATTRIBUTION_COLUMNS,
                         [_attribution_row(day, attribution, version) for day, attribution in attributions])
            self._insert(DAILY_TABLE, DAILY_COLUMNS, daily_rows(attributions, opened, version))
            delete_vanished_rows(self.client, self.database, CONTRIBUTION_KEYS, days, version)
            return len(attributions)

    def _attribute(self, days: list[date]) -> tuple[list[tuple[date, Attribution]],
                                                     list[tuple[date, PullRequest, Member]]]:
        pull_requests = self.sources.pull_requests(days)
        if not pull_requests:
            return [], []
        telemetry = self.sources.telemetry(pull_requests)
        wanted = set(days)
        merged = [(self.day_of(pr.merged_ns), pr) for pr in pull_requests
                  if pr.merged_ns is not None and self.day_of(pr.merged_ns) in wanted]
        created = [(self.day_of(pr.created_ns), pr) for pr in pull_requests if self.day_of(pr.created_ns) in wanted]
        # members first: accepted lines and teams are read for the matched members only
        merged_by = [(day, pr, author_member(pr, telemetry[pr.org_id], self.identities, day, pr.merged_ns))
                     for day, pr in merged]
        created_by = [(day, pr, author_member(pr, telemetry[pr.org_id], self.identities, day, pr.created_ns))
                      for day, pr in created]
        members = {(pr.org_id, author[0]) for _, pr, author in merged_by + created_by}
        self.sources.add_member_activity(telemetry, members, [pr for _, pr in merged], max(days))
        attributions = [(day, attribute(pr, with_team(pr, author, telemetry[pr.org_id], self.identities, day),
                                        telemetry[pr.org_id])) for day, pr, author in merged_by]
        opened = [(day, pr, with_team(pr, author, telemetry[pr.org_id], self.identities, day))
                  for day, pr, author in created_by]
        return attributions, opened

    def days_with_github_rows_since(self, received_after_ms: int) -> dict[date, int]:
        return days_with_github_rows_since(self.client, self.database, self.time_zone, received_after_ms)

    def day_of(self, ns: int) -> date:
        return datetime.fromtimestamp(ns // 10**9, self.zone).date()

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            insert_columns(self.client, table, columns, list(zip(*rows)), self.database_name)


def _attribution_row(day: date, attribution: Attribution, version: int) -> tuple:
    pr, member = attribution.pull_request, attribution.member
    return (day, pr.org_id, pr.repository, pr.number, pr.merged_ns // 10**6, pr.author_login, member.member,
            member.matched_by, member.team, attribution.level, attribution.reason, len(pr.commits),
            attribution.commits_with_claude_code, attribution.lines_merged, attribution.lines_with_claude_code,
            attribution.lines_basis, version)


def daily_rows(attributions: list[tuple[date, Attribution]], opened: list[tuple[date, PullRequest, Member]],
               version: int) -> list[tuple]:
    """One row per (day, org, team, member, repository): PRs opened that day, PRs merged that day and their
    lines. A member with several logins is shown under the first in order."""
    figures: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(DAILY_FIGURES))
    logins: dict[tuple, set[str]] = defaultdict(set)
    for day, pr, member in opened:
        key = (day, pr.org_id, member.team, member.member, pr.repository)
        figures[key][0] += 1
        logins[key].add(pr.author_login)
    for day, attribution in attributions:
        pr, member = attribution.pull_request, attribution.member
        key = (day, pr.org_id, member.team, member.member, pr.repository)
        row = figures[key]
        with_cc = attribution.level == WITH_CLAUDE_CODE
        for index, value in enumerate((1, with_cc, with_cc or attribution.level == ASSISTED,
                                       attribution.lines_merged, attribution.lines_with_claude_code,
                                       attribution.lines_basis == ADDITIONS), start=1):
            row[index] += int(value)
        logins[key].add(pr.author_login)
    return [(day, org, team, member, min(logins[day, org, team, member, repository]), repository, *values, version)
            for (day, org, team, member, repository), values in sorted(figures.items())]
