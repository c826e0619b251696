"""Attribution of pull requests, pure: what GitHub and the telemetry say about a PR in, its level and reason out.

The rules (README "Contribution figures"; design of issue 15):
- a commit is with Claude Code when its SHA was reported by a Claude Code session of the same org (a tool_result
  with vcs.ref.head.revision or git_commit_id) or it carries the Co-Authored-By noreply@anthropic.com trailer;
- a PR is `with_claude_code` when one of its commits is, or its body carries the "Generated with Claude Code" line;
  `assisted` when not, but its author's member had Claude Code sessions with accepted lines in the repository;
  else `without`. Telemetry counts from 21 days before to 2 days after the PR's moment (its merge; for
  the member of a PR on the day it was opened, its creation);
- the author is matched to a member by commit email, then the identity map, then the session that reported most
  of its commits, else reported as github:LOGIN; the team is the identity map's, else the member's latest in the
  telemetry rollups, else empty;
- lines are effective lines when the PR's commits and all their files were fetched, else GitHub's additions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Mapping, NamedTuple

from aggregator.contributions.identity import IdentityMap

_DAY_NS = 86_400 * 10**9
# Moments are ns since the epoch (UTC), exact at the window's edges.
WINDOW_BEFORE_NS = 21 * _DAY_NS
WINDOW_AFTER_NS = 2 * _DAY_NS

WITH_CLAUDE_CODE = "with_claude_code"
ASSISTED = "assisted"
WITHOUT = "without"

EFFECTIVE = "effective"
ADDITIONS = "additions"

# How an author was matched to a member (pull_request_attribution.matched_by).
BY_EMAIL = "email"
BY_IDENTITY_MAP = "identity_map"
BY_TELEMETRY_SESSION = "telemetry_session"
BY_LOGIN = "login"
UNMATCHED_PREFIX = "github:"


@dataclass(frozen=True)
class Commit:
    sha: str
    author_email: str  # lower-cased stored form
    author_login: str  # lower-cased; empty when GitHub matched no login
    claude_trailer: bool
    parents: int
    effective_lines: int | None  # None: its files were not fetched

    @property
    def is_merge(self) -> bool:
        return self.parents > 1


@dataclass(frozen=True)
class PullRequest:
    org_id: str
    repository: str
    number: int
    author_login: str  # lower-cased
    created_ns: int
    merged_ns: int | None  # None: not merged
    body_marker: bool
    additions: int
    commits: tuple[Commit, ...]
    commits_fetched: bool  # the REST fetcher listed its commits at its current head


class Sighting(NamedTuple):
    """A Claude Code session reported a commit SHA (one per tool_result row read: a plain tuple)."""
    sha: str
    user_key: str
    at_ns: int


class LinesDay(NamedTuple):
    """A member's accepted lines (points > 0) in a repository on a day: the first and last point's times."""
    day: date
    first_ns: int
    last_ns: int


@dataclass
class OrgTelemetry:
    """What one org's telemetry says, as far as the PRs being attributed need it."""
    member_of_email: Mapping[str, str] = field(default_factory=dict)  # lower stored email -> user_key
    sightings: Mapping[str, tuple[Sighting, ...]] = field(default_factory=dict)  # sha -> reports
    lines_days: Mapping[tuple[str, str], tuple[LinesDay, ...]] = field(default_factory=dict)  # (user_key, repo)
    team_of_member: Callable[[str, date], str] = lambda member, day: ""


@dataclass(frozen=True)
class Member:
    member: str
    matched_by: str
    team: str


@dataclass(frozen=True)
class Attribution:
    """A pull_request_attribution row (without day and version)."""
    pull_request: PullRequest
    member: Member
    level: str
    reason: str
    commits_with_claude_code: int
    lines_merged: int
    lines_with_claude_code: int
    lines_basis: str


def window(moment_ns: int) -> tuple[int, int]:
    """The telemetry that counts for a PR at this moment: [moment - 21 days, moment + 2 days]."""
    return moment_ns - WINDOW_BEFORE_NS, moment_ns + WINDOW_AFTER_NS


def sightings_in_window(pr: PullRequest, telemetry: OrgTelemetry, moment_ns: int) -> dict[str, list[Sighting]]:
    start, end = window(moment_ns)
    found: dict[str, list[Sighting]] = {}
    for commit in pr.commits:
        seen = [s for s in telemetry.sightings.get(commit.sha, ()) if start <= s.at_ns <= end]
        if seen:
            found[commit.sha] = seen
    return found


def with_team(pr: PullRequest, author: tuple[str, str], telemetry: OrgTelemetry, identities: IdentityMap,
              day: date) -> Member:
    """The member a PR's author is (author_member's answer) with their team on the day; the member's activity
    must be read first (ContributionSources.add_member_activity)."""
    member, matched_by = author
    identity = identities.on(pr.author_login, day)
    team = identity.team if identity else telemetry.team_of_member(member, day)
    return Member(member, matched_by, team)


def author_member(pr: PullRequest, telemetry: OrgTelemetry, identities: IdentityMap, day: date,
                  moment_ns: int) -> tuple[str, str]:
    """The member the PR's author is, and how they were matched (the team aside)."""
    # (1) a commit by the author (or by no known login) whose email is a member's
    for own_login_only in (True, False):
        emails = Counter(commit.author_email for commit in pr.commits if commit.author_email
                         and (commit.author_login == pr.author_login if own_login_only else not commit.author_login))
        for email, _ in sorted(emails.items(), key=lambda item: (-item[1], item[0])):
            if email in telemetry.member_of_email:
                return telemetry.member_of_email[email], BY_EMAIL
    # (2) the identity map's email for the login
    identity = identities.on(pr.author_login, day)
    if identity and identity.email in telemetry.member_of_email:
        return telemetry.member_of_email[identity.email], BY_IDENTITY_MAP
    # (3) the member whose sessions reported most of its commits
    reporters = Counter(user_key for seen in sightings_in_window(pr, telemetry, moment_ns).values()
                        for user_key in {s.user_key for s in seen})
    if reporters:
        return min(reporters.items(), key=lambda item: (-item[1], item[0]))[0], BY_TELEMETRY_SESSION
    return UNMATCHED_PREFIX + pr.author_login, BY_LOGIN


def attribute(pr: PullRequest, member: Member, telemetry: OrgTelemetry) -> Attribution:
    """The attribution of a merged PR whose author is the member (author_member and with_team at its merge)."""
    seen = sightings_in_window(pr, telemetry, pr.merged_ns)
    with_cc = [commit for commit in pr.commits if commit.sha in seen or commit.claude_trailer]
    lines_basis = EFFECTIVE if pr.commits_fetched and all(
        commit.effective_lines is not None for commit in pr.commits if not commit.is_merge) else ADDITIONS
    if lines_basis == EFFECTIVE:
        lines_merged = sum(commit.effective_lines or 0 for commit in pr.commits if not commit.is_merge)
        lines_with_cc = (sum(commit.effective_lines or 0 for commit in with_cc if not commit.is_merge) if with_cc
                         else lines_merged if pr.body_marker else 0)
    else:
        lines_merged = pr.additions
        lines_with_cc = pr.additions if with_cc or pr.body_marker else 0
    level, reason = _level(pr, with_cc, seen, member, telemetry)
    return Attribution(pr, member, level, reason, len(with_cc), lines_merged, lines_with_cc, lines_basis)


def _level(pr, with_cc, seen, member, telemetry) -> tuple[str, str]:
    sighted = [commit for commit in with_cc if commit.sha in seen]
    if sighted:
        # whose session: never named (a key may be an email, which a purge of that person must take along)
        whose = "the author" if member.member in {s.user_key for s in seen[sighted[0].sha]} else "another member"
        return WITH_CLAUDE_CODE, f"commit {sighted[0].sha[:7]} made in a Claude Code session of {whose}"
    if with_cc:
        return WITH_CLAUDE_CODE, f"commit {with_cc[0].sha[:7]} carries the Co-Authored-By noreply@anthropic.com trailer"
    if pr.body_marker:
        return WITH_CLAUDE_CODE, "the PR body says Generated with Claude Code"
    days = _assisted_days(pr, member.member, telemetry)
    if days:
        return ASSISTED, (f"author had Claude Code sessions with accepted lines in {pr.repository} "
                          f"from {days[0]} to {days[-1]}")
    if not pr.commits:
        return WITHOUT, "no commit of it known (not fetched, no push seen), no marker"
    return WITHOUT, "no commit seen in telemetry, no trailer, no marker"


def _assisted_days(pr: PullRequest, member: str, telemetry: OrgTelemetry) -> list[date]:
    """The days the member had accepted lines in the PR's repository within the merge's window."""
    start, end = window(pr.merged_ns)
    return sorted(lines.day for lines in telemetry.lines_days.get((member, pr.repository), ())
                  if lines.last_ns >= start and lines.first_ns <= end)
