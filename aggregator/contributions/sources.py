"""The reads of a contribution rebuild: the PRs of some days with their commits (github_* tables), and the
telemetry those PRs' attribution needs (commit SHAs sessions reported, accepted lines per repository, members'
emails and teams). Every row is read and joined with its org_id, so one org's telemetry never attributes another
org's pull request. The attribution itself is aggregator.contributions.attribution, pure.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from clickhouse_connect.driver.client import Client

from aggregator.activity import USABLE_VALUE
from aggregator.contributions.attribution import Commit, LinesDay, OrgTelemetry, PullRequest, Sighting, window
from aggregator.figures import LINES
from aggregator.rollup import utc_day
from collector.github.tables import COMMIT_FILES, PULL_REQUEST_COMMITS

_PULL_REQUESTS = """
SELECT org_id, repository, number, lower(author_login), toUnixTimestamp64Nano(created_at), merged,
       toUnixTimestamp64Nano(merged_at), head_sha, head_ref, body_marker, additions
FROM {database}.github_pull_requests FINAL
WHERE toDate(created_at, {zone:String}) IN {days:Array(Date)}
   OR (merged AND toDate(merged_at, {zone:String}) IN {days:Array(Date)})
"""

# The SHA a Bash tool_result of `git commit` reports (Claude Code 2.1.3xx with OTEL_LOG_TOOL_DETAILS=1).
_REPORTED_SHA = ("lower(if(attributes['vcs.ref.head.revision'] != '', attributes['vcs.ref.head.revision'], "
                 "JSONExtractString(attributes['tool_parameters'], 'git_commit_id')))")

_SIGHTINGS = f"""
SELECT org_id, sha, user_key, toUnixTimestamp64Nano(timestamp) FROM (
    SELECT org_id, {_REPORTED_SHA} AS sha, user_key, timestamp FROM {{database}}.events FINAL
    WHERE org_id IN {{orgs:Array(String)}} AND event_name = 'tool_result'
      AND toDate(timestamp) BETWEEN {{first_utc_day:Date}} AND {{last_utc_day:Date}}
      AND timestamp BETWEEN fromUnixTimestamp64Nano({{start:Int64}}) AND fromUnixTimestamp64Nano({{end:Int64}}))
WHERE sha IN {{shas:Array(String)}}
"""

_LINES_DAYS = f"""
SELECT org_id, user_key, repository, toDate(timestamp, {{zone:String}}) AS day,
       toUnixTimestamp64Nano(min(timestamp)), toUnixTimestamp64Nano(max(timestamp))
FROM {{database}}.metric_points FINAL
WHERE org_id IN {{orgs:Array(String)}} AND metric_name = '{LINES}' AND type = 'added'
  AND {USABLE_VALUE} AND value > 0 AND user_key IN {{members:Array(String)}}
  AND toDate(timestamp) BETWEEN {{first_utc_day:Date}} AND {{last_utc_day:Date}}
  AND timestamp BETWEEN fromUnixTimestamp64Nano({{start:Int64}}) AND fromUnixTimestamp64Nano({{end:Int64}})
  AND repository IN {{repositories:Array(String)}}
GROUP BY org_id, user_key, repository, day
"""


class ContributionSources:
    def __init__(self, client: Client, database: str, time_zone: str):
        self.client = client
        self.database = database  # quoted
        self.time_zone = time_zone

    def _rows(self, sql: str, **parameters) -> list[tuple]:
        return self.client.query(sql.replace("{database}", self.database), parameters=parameters).result_rows

    def pull_requests(self, days: list[date]) -> list[PullRequest]:
        """The PRs opened or merged on the days, with the commits known of each."""
        found = self._rows(_PULL_REQUESTS, zone=self.time_zone, days=days)
        if not found:
            return []
        repositories = sorted({row[1] for row in found})
        commits_of = self._commits_of(repositories)
        fetched = {(org, repository, kind, ref, head) for org, repository, kind, ref, head in self._rows(
            "SELECT org_id, repository, kind, ref, head_sha FROM {database}.github_fetches FINAL "
            "WHERE repository IN {repositories:Array(String)}", repositories=repositories)}
        listed = defaultdict(set)
        for org, repository, number, sha in self._rows(
                "SELECT org_id, repository, number, lower(sha) FROM {database}.github_pull_request_commits FINAL "
                "WHERE repository IN {repositories:Array(String)}", repositories=repositories):
            listed[org, repository, number].add(sha)
        pushed = defaultdict(list)
        for org, repository, ref, sha in self._rows(
                "SELECT org_id, repository, ref, lower(sha) FROM {database}.github_branch_commits FINAL "
                "WHERE repository IN {repositories:Array(String)}", repositories=repositories):
            pushed[org, repository, ref].append(sha)
        pull_requests = []
        for (org, repository, number, login, created_ns, merged, merged_ns, head_sha, head_ref, body_marker,
             additions) in found:
            commits_fetched = (org, repository, PULL_REQUEST_COMMITS, str(number), head_sha) in fetched
            known = commits_of[org, repository]
            if commits_fetched:
                shas = listed[org, repository, number]
            else:
                # Without REST: the commits pushed to its branch, written before it was merged (a branch used
                # again later adds newer ones). Their own time, not when their push arrived: GitHub does not keep
                # deliveries in order, and a push redelivered after the merge is still part of it.
                shas = {sha for sha in pushed[org, repository, head_ref]
                        if not merged or sha not in known or known[sha][5] <= merged_ns}
            commits = tuple(_commit(sha, known.get(sha), (org, repository, COMMIT_FILES, sha, "") in fetched)
                            for sha in sorted(shas))
            pull_requests.append(PullRequest(org, repository, number, login, created_ns,
                                             merged_ns if merged else None, bool(body_marker), additions, commits,
                                             commits_fetched))
        return pull_requests

    def _commits_of(self, repositories: list[str]) -> dict:
        lines = {(org, repository, sha): added for org, repository, sha, added in self._rows(
            "SELECT org_id, repository, lower(sha), sum(effective_lines_added) FROM {database}.github_commit_files "
            "FINAL WHERE repository IN {repositories:Array(String)} GROUP BY org_id, repository, sha",
            repositories=repositories)}
        commits: dict = defaultdict(dict)
        for org, repository, sha, email, login, trailer, parents, authored_ns in self._rows(
                "SELECT org_id, repository, lower(sha), lower(author_email), lower(author_login), claude_trailer, "
                "parents, toUnixTimestamp64Nano(authored_at) FROM {database}.github_commits FINAL "
                "WHERE repository IN {repositories:Array(String)}", repositories=repositories):
            commits[org, repository][sha] = (email, login, bool(trailer), parents,
                                            lines.get((org, repository, sha), 0), authored_ns)
        return commits

    def telemetry(self, pull_requests: list[PullRequest]) -> dict[str, OrgTelemetry]:
        """Each org's telemetry that bears on the PRs: members' emails, sightings of their commits in the
        window of their creation or merge, then the matched members' accepted lines and teams."""
        orgs = sorted({pr.org_id for pr in pull_requests})
        span = _windows_around([moment for pr in pull_requests for moment in (pr.created_ns, pr.merged_ns)
                                if moment is not None])
        telemetry = {org: OrgTelemetry() for org in orgs}
        member_of_email = defaultdict(dict)
        for org, email, user_key in self._rows(
                "SELECT org_id, lower(user_email) AS email, min(user_key) FROM {database}.daily_user FINAL "
                "WHERE org_id IN {orgs:Array(String)} AND user_email != '' GROUP BY org_id, email", orgs=orgs):
            member_of_email[org][email] = user_key
        sightings = defaultdict(lambda: defaultdict(list))
        shas = sorted({commit.sha for pr in pull_requests for commit in pr.commits})
        for org, sha, user_key, at_ns in self._rows(_SIGHTINGS, orgs=orgs, shas=shas, **span):
            sightings[org][sha].append(Sighting(sha, user_key, at_ns))
        for org in orgs:
            telemetry[org].member_of_email = member_of_email[org]
            telemetry[org].sightings = {sha: tuple(seen) for sha, seen in sightings[org].items()}
        return telemetry

    def add_member_activity(self, telemetry: dict[str, OrgTelemetry], members: set[tuple[str, str]],
                            pull_requests: list[PullRequest], last_day: date) -> None:
        """The matched members' accepted lines per repository and day around the PRs, and their teams."""
        orgs = sorted(telemetry)
        user_keys = sorted({member for _, member in members})
        moments = [pr.merged_ns for pr in pull_requests if pr.merged_ns is not None]
        lines_days = defaultdict(lambda: defaultdict(list))
        if moments and user_keys:
            span = _windows_around(moments)
            for org, user_key, repository, day, first_ns, last_ns in self._rows(
                    _LINES_DAYS, zone=self.time_zone, orgs=orgs, members=user_keys,
                    repositories=sorted({pr.repository for pr in pull_requests}), **span):
                lines_days[org][user_key, repository].append(LinesDay(day, first_ns, last_ns))
        teams = defaultdict(lambda: defaultdict(list))
        for org, user_key, day, team in self._rows(
                "SELECT org_id, user_key, day, team FROM {database}.daily_user FINAL WHERE org_id IN "
                "{orgs:Array(String)} AND user_key IN {members:Array(String)} AND day <= {last:Date} ORDER BY day",
                orgs=orgs, members=user_keys, last=last_day):
            teams[org][user_key].append((day, team))
        for org in orgs:
            telemetry[org].lines_days = {key: tuple(days) for key, days in lines_days[org].items()}
            telemetry[org].team_of_member = _latest_team(teams[org])


def _commit(sha: str, known: tuple | None, files_fetched: bool) -> Commit:
    if known is None:  # listed or pushed, but no row of its own (yet): nothing says who wrote it or how
        return Commit(sha, "", "", False, 0, None)
    email, login, trailer, parents, lines, _ = known
    return Commit(sha, email, login, trailer, parents, lines if files_fetched else None)


def _latest_team(history: dict[str, list[tuple[date, str]]]):
    def team_of_member(member: str, day: date) -> str:
        team = ""
        for active_day, active_team in history.get(member, ()):
            if active_day <= day:
                team = active_team
        return team
    return team_of_member


def _windows_around(moments: list[int]) -> dict:
    """The query parameters of the telemetry span that covers every moment's window."""
    start, end = min(window(moment)[0] for moment in moments), max(window(moment)[1] for moment in moments)
    return {"start": start, "end": end, "first_utc_day": utc_day(start), "last_utc_day": utc_day(end)}
