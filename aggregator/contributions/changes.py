"""Which contribution days can have changed: those of PRs whose GitHub rows arrived, and those near telemetry.

A PR's figures live on its merge day (attribution, merged figures) and its creation day (opened). They depend on
- its own github_* rows, which arrive at any time (a late webhook, a fetch days later): days_with_github_rows_since
  finds the PRs with a row received since a time (the PR, its listed commits, a commit, its files, a push to its
  branch, a fetch) and gives their two days;
- the telemetry from 21 days before to 2 days after the PR's moment: records on day d bear on PRs of days d - 2 to
  d + 21; days_near_telemetry widens that by a day each side, for days of 23 or 25 hours.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from clickhouse_connect.driver.client import Client

from collector.github.tables import COMMIT_FILES, PULL_REQUEST_COMMITS

_DAYS_BEFORE_TELEMETRY = 3
_DAYS_AFTER_TELEMETRY = 22


def days_near_telemetry(day: date) -> list[date]:
    """The contribution days whose PRs' attribution can read telemetry of this day."""
    return [day + timedelta(days=offset) for offset in range(-_DAYS_BEFORE_TELEMETRY, _DAYS_AFTER_TELEMETRY + 1)]


_SINCE = "{stamp} >= fromUnixTimestamp64Milli({{after:Int64}})"


def days_with_github_rows_since(client: Client, database: str, time_zone: str,
                                received_after_ms: int) -> dict[date, int]:
    """Creation and merge days (in the time zone) of PRs with a GitHub row received at or after the time, each
    with the latest receive time (ms) among those rows; database is quoted."""

    def rows(sql: str, **parameters) -> list[tuple]:
        return client.query(sql.replace("{database}", database),
                            parameters={"after": received_after_ms, **parameters}).result_rows

    def received(table: str, columns: str, stamp: str = "received_at") -> list[tuple]:
        return rows(f"SELECT {columns}, toUnixTimestamp64Milli(max({stamp})) FROM {{database}}.{table} "
                    f"WHERE {_SINCE.format(stamp=stamp)} GROUP BY {columns}")

    by_number: dict[tuple, int] = defaultdict(int)  # (org, repository, number) -> latest ms
    by_sha: dict[tuple, int] = defaultdict(int)  # (org, repository, sha)
    by_branch: dict[tuple, int] = defaultdict(int)  # (org, repository, ref)
    for org, repository, number, ms in received("github_pull_requests", "org_id, repository, number"):
        _latest(by_number, (org, repository, number), ms)
    for org, repository, number, ms in received("github_pull_request_commits", "org_id, repository, number"):
        _latest(by_number, (org, repository, number), ms)
    for table in ("github_commits", "github_commit_files"):
        for org, repository, sha, ms in received(table, "org_id, repository, lower(sha)"):
            _latest(by_sha, (org, repository, sha), ms)
    for org, repository, ref, sha, ms in received("github_branch_commits", "org_id, repository, ref, lower(sha)"):
        _latest(by_branch, (org, repository, ref), ms)
        _latest(by_sha, (org, repository, sha), ms)
    for org, repository, kind, ref, ms in received("github_fetches", "org_id, repository, kind, ref", "fetched_at"):
        if kind == PULL_REQUEST_COMMITS and ref.isdigit():
            _latest(by_number, (org, repository, int(ref)), ms)
        elif kind == COMMIT_FILES:
            _latest(by_sha, (org, repository, ref.lower()), ms)
    repositories = sorted({key[1] for key in (*by_number, *by_sha, *by_branch)})
    if not repositories:
        return {}
    if by_sha:  # the PRs a changed commit belongs to: listed by REST, or pushed to their branch
        for org, repository, number, sha in rows(
                "SELECT org_id, repository, number, lower(sha) FROM {database}.github_pull_request_commits FINAL "
                "WHERE repository IN {repositories:Array(String)}", repositories=repositories):
            _latest(by_number, (org, repository, number), by_sha.get((org, repository, sha), 0))
        for org, repository, ref, sha in rows(
                "SELECT org_id, repository, ref, lower(sha) FROM {database}.github_branch_commits FINAL "
                "WHERE repository IN {repositories:Array(String)}", repositories=repositories):
            _latest(by_branch, (org, repository, ref), by_sha.get((org, repository, sha), 0))
    days: dict[date, int] = defaultdict(int)
    for org, repository, number, head_ref, created_day, merged, merged_day in rows(
            "SELECT org_id, repository, number, head_ref, toDate(created_at, {zone:String}), merged, "
            "toDate(merged_at, {zone:String}) FROM {database}.github_pull_requests FINAL "
            "WHERE repository IN {repositories:Array(String)}", repositories=repositories, zone=time_zone):
        ms = max(by_number.get((org, repository, number), 0), by_branch.get((org, repository, head_ref), 0))
        if ms:
            for day in (created_day, merged_day) if merged else (created_day,):
                _latest(days, day, ms)
    return dict(days)


def _latest(latest: dict, key, ms: int) -> None:
    if ms > latest.get(key, 0):
        latest[key] = ms
