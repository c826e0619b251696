"""The contribution figures a GithubFleet must give, from its own bookkeeping (never from cc-analytics code):
every merged PR's attribution row and every daily_contributions figure, per the rules of the README."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from tests.support.github_fleet import DAY_NS, ORG, WINDOW, FleetPullRequest, GithubFleet, _day

DAILY_FIGURES = ("prs_opened", "prs_merged", "prs_merged_with_claude_code", "prs_merged_assisted", "lines_merged",
                 "lines_merged_with_claude_code", "prs_merged_lines_from_additions")


def _in_window(ns: int, moment: int) -> bool:
    return moment - WINDOW[0] <= ns <= moment + WINDOW[1]


class FleetTruth:
    def __init__(self, fleet: GithubFleet):
        self.fleet = fleet
        self.person_of_key = {p.user_key: p for p in fleet.people if p.user_key}
        self.key_of_email = {p.telemetry_email: p.user_key for p in fleet.people if p.telemetry_email}

    def identity_on(self, login: str, day: date):
        rows = [row for row in self.fleet.identity_rows if row[0] == login and (row[3] or date.min) <= day]
        return max(rows, key=lambda row: row[3] or date.min) if rows else None

    def known_commits(self, pr: FleetPullRequest):
        return [] if pr.known_by == "nothing" else sorted(pr.commits, key=lambda commit: commit.sha)

    def sighted(self, pr: FleetPullRequest, moment: int) -> dict[str, list[str]]:
        shas = {commit.sha for commit in self.known_commits(pr)}
        found = defaultdict(list)
        for org, sha, user_key, ns in self.fleet.sightings:
            if org == ORG and sha in shas and _in_window(ns, moment):
                found[sha].append(user_key)
        return found

    def member(self, pr: FleetPullRequest, day: date, moment: int) -> tuple[str, str, str]:
        """member, matched_by, team"""
        login = pr.author.login
        identity = self.identity_on(login, day)
        if self.known_commits(pr) and pr.author.commit_email in self.key_of_email:
            member, how = self.key_of_email[pr.author.commit_email], "email"
        elif identity and identity[1] in self.key_of_email:
            member, how = self.key_of_email[identity[1]], "identity_map"
        elif reporters := Counter(key for keys in self.sighted(pr, moment).values() for key in set(keys)):
            member, how = min(reporters.items(), key=lambda item: (-item[1], item[0]))[0], "telemetry_session"
        else:
            member, how = "github:" + login, "login"
        team = identity[2] if identity else (self.person_of_key[member].telemetry_team
                                             if member in self.person_of_key else "")
        return member, how, team

    def attribution(self, pr: FleetPullRequest) -> dict:
        day = _day(pr.merged_ns)
        member, how, team = self.member(pr, day, pr.merged_ns)
        commits = self.known_commits(pr)
        sighted = self.sighted(pr, pr.merged_ns)
        with_cc = [c for c in commits if c.sha in sighted or c.trailer]
        if pr.known_by == "rest":
            basis = "effective"
            merged = sum(c.effective_lines for c in commits if c.parents < 2)
            with_lines = (sum(c.effective_lines for c in with_cc if c.parents < 2) if with_cc
                          else merged if pr.body_marker else 0)
        else:
            basis, merged = "additions", pr.additions
            with_lines = pr.additions if with_cc or pr.body_marker else 0
        first_sighted = [c for c in commits if c.sha in sighted]
        assisted_days = sorted({_day(ns) for org, key, repository, ns, value in self.fleet.lines_points
                                if org == ORG and key == member and repository == pr.repository and value > 0
                                and _in_window(ns, pr.merged_ns)})
        if first_sighted:
            level = "with_claude_code"
            whose = "the author" if member in sighted[first_sighted[0].sha] else "another member"
            reason = f"commit {first_sighted[0].sha[:7]} made in a Claude Code session of {whose}"
        elif with_cc:
            level = "with_claude_code"
            reason = f"commit {with_cc[0].sha[:7]} carries the Co-Authored-By noreply@anthropic.com trailer"
        elif pr.body_marker:
            level, reason = "with_claude_code", "the PR body says Generated with Claude Code"
        elif assisted_days:
            level = "assisted"
            reason = (f"author had Claude Code sessions with accepted lines in {pr.repository} "
                      f"from {assisted_days[0]} to {assisted_days[-1]}")
        elif not commits:
            level, reason = "without", "no commit of it known (not fetched, no push seen), no marker"
        else:
            level, reason = "without", "no commit seen in telemetry, no trailer, no marker"
        return dict(day=day, org_id=ORG, repository=pr.repository, number=pr.number,
                    merged_at_ms=pr.merged_ns // 10**6, author_login=pr.author.login, member=member,
                    matched_by=how, team=team, level=level, reason=reason, commits=len(commits),
                    commits_with_claude_code=len(with_cc), lines_merged=merged, lines_with_claude_code=with_lines,
                    lines_basis=basis)

    def attributions(self, days: set[date] | None = None) -> dict[tuple[str, int], dict]:
        return {(pr.repository, pr.number): self.attribution(pr) for pr in self.fleet.pull_requests
                if pr.merged_ns and (days is None or _day(pr.merged_ns) in days)}

    def daily(self, days: set[date] | None = None) -> dict[tuple, dict]:
        """(day, org, team, member, repository) -> the figures and the author login."""
        rows: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(DAILY_FIGURES, 0))
        for pr in self.fleet.pull_requests:
            day = _day(pr.created_ns)
            if days is None or day in days:
                member, _, team = self.member(pr, day, pr.created_ns)
                row = rows[day, ORG, team, member, pr.repository]
                row["prs_opened"] += 1
                row["author_login"] = pr.author.login
        for row in self.attributions(days).values():
            daily = rows[row["day"], ORG, row["team"], row["member"], row["repository"]]
            with_cc = row["level"] == "with_claude_code"
            daily["prs_merged"] += 1
            daily["prs_merged_with_claude_code"] += with_cc
            daily["prs_merged_assisted"] += with_cc or row["level"] == "assisted"
            daily["lines_merged"] += row["lines_merged"]
            daily["lines_merged_with_claude_code"] += row["lines_with_claude_code"]
            daily["prs_merged_lines_from_additions"] += row["lines_basis"] == "additions"
            daily["author_login"] = row["author_login"]
        return dict(rows)


def days_of(fleet: GithubFleet) -> set[date]:
    return {_day(ns) for pr in fleet.pull_requests for ns in (pr.created_ns, pr.merged_ns) if ns}


__all__ = ["FleetTruth", "days_of", "DAY_NS"]
