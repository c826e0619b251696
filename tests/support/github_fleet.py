"""A seeded fleet of GitHub pull requests beside Claude Code telemetry, written into the real store, and the
contribution figures it must give, computed here in plain Python from the fleet's own bookkeeping.

Members: some commit with the email their telemetry carries, some are linked only by the identity map (with a
team change on a day), some use an API key (no email: matched by the session that reported their commit), some
are unknown to the telemetry. PRs over two repositories and days: commits whose SHA a session reported (inside
or outside the 21/2-day window), commits with the trailer, body-marked PRs, authors with accepted lines in the
repository inside or outside the window, merge commits, PRs fetched over REST (effective lines) and PRs known from
pushes only (GitHub's additions) or not at all. Another org's telemetry reports some of the fleet's SHAs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from collector.github.tables import (
    BRANCH_COMMIT_COLUMNS,
    COMMIT_COLUMNS,
    COMMIT_FILE_COLUMNS,
    COMMIT_FILES,
    FETCH_COLUMNS,
    PULL_REQUEST_COLUMNS,
    PULL_REQUEST_COMMIT_COLUMNS,
    PULL_REQUEST_COMMITS,
)
from plumbing.store.client import insert_columns
from tests.support.claude_records import event, identity, lines
from tests.support.raw_rows import store_rows

ORG = "org-a"
HOSTILE_ORG = "org-b"
REPOSITORIES = ("acme/widgets", "acme/gadgets")
FIRST_DAY = date(2026, 11, 2)
DAYS = 12
DAY_NS = 86_400 * 10**9
WINDOW = (21 * DAY_NS, 2 * DAY_NS)


@dataclass(frozen=True)
class Person:
    login: str
    kind: str  # email, identity_map, session, unknown
    telemetry_email: str  # the user.email their telemetry carries ("" for session and unknown)
    user_key: str  # their telemetry user key ("" for unknown)
    commit_email: str
    telemetry_team: str


@dataclass
class FleetCommit:
    sha: str
    author: Person
    login: str
    trailer: bool
    parents: int
    effective_lines: int


@dataclass
class FleetPullRequest:
    repository: str
    number: int
    author: Person
    created_ns: int
    merged_ns: int | None
    body_marker: bool
    commits: list[FleetCommit]
    known_by: str  # rest, push or nothing
    additions: int
    head_ref: str


@dataclass
class GithubFleet:
    people: list[Person]
    identity_csv: str
    identity_rows: list[tuple[str, str, str, date | None]]  # login, email, team, from
    pull_requests: list[FleetPullRequest]
    sightings: list[tuple[str, str, str, int]] = field(default_factory=list)  # org, sha, user_key, ns
    lines_points: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # org, user_key, repo, ns, v

    def write(self, store) -> None:
        write_github_rows(store, self)
        write_telemetry(store, self)


def _at(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc).timestamp()) * 10**9


def make_fleet(seed: int = 15) -> GithubFleet:
    rng = random.Random(seed)
    people = [
        Person("ada", "email", "ada@example.com", "ada@example.com", "ada@example.com", "payments"),
        Person("brian", "email", "brian@example.com", "brian@example.com", "brian@example.com", "search"),
        Person("cleo", "identity_map", "cleo@example.com", "cleo@example.com", "cleo@users.noreply.github.com",
               "ignored-by-map"),
        Person("dan", "session", "", "d" * 64, "dan@users.noreply.github.com", "infra"),
        Person("eve", "unknown", "", "", "eve@elsewhere.example", ""),
    ]
    identity_rows = [("cleo", "cleo@example.com", "platform", None),
                     ("cleo", "cleo@example.com", "payments", FIRST_DAY + timedelta(days=6)),
                     ("brian", "brian@example.com", "search-map", FIRST_DAY + timedelta(days=4))]
    csv = "email,github_login,team,from\n" + "".join(
        f"{email},{login.upper() if login == 'cleo' else login},{team},{since or ''}\n"
        for login, email, team, since in identity_rows)
    fleet = GithubFleet(people, csv, identity_rows, [])
    number = 0
    for offset in range(DAYS):
        merge_day = FIRST_DAY + timedelta(days=offset)
        for _ in range(rng.randint(2, 5)):
            number += 1
            fleet.pull_requests.append(_pull_request(rng, fleet, number, merge_day))
    # accepted lines of the telemetry members: in and around the windows, in either repository
    for person in people:
        if not person.user_key:
            continue
        for _ in range(12):
            day = FIRST_DAY + timedelta(days=rng.randint(-26, DAYS + 3))
            fleet.lines_points.append((ORG, person.user_key, rng.choice(REPOSITORIES),
                                       _at(day, rng.randint(0, 23), rng.randint(0, 59)), rng.choice((0, 3, 12))))
    # another org's telemetry naming some of this org's commits, by a key of its own and by a fleet member's
    for pr in fleet.pull_requests[::4]:
        for commit in pr.commits[:1]:
            fleet.sightings.append((HOSTILE_ORG, commit.sha, rng.choice(("mallory@evil.example", "eve@elsewhere.example")),
                                    (pr.merged_ns or pr.created_ns) - DAY_NS))
    return fleet


def _pull_request(rng: random.Random, fleet: GithubFleet, number: int, merge_day: date) -> FleetPullRequest:
    author = rng.choice(fleet.people)
    merged_ns = _at(merge_day, rng.randint(0, 23), rng.randint(0, 59)) if rng.random() < 0.85 else None
    created_ns = (merged_ns or _at(merge_day, 12)) - rng.randint(0, 4) * DAY_NS - rng.randint(0, 3600) * 10**9
    commits = []
    for _ in range(rng.randint(1, 3)):
        commits.append(FleetCommit(f"{rng.getrandbits(160):040x}", author,
                                   author.login if rng.random() < 0.8 else "", rng.random() < 0.15,
                                   2 if rng.random() < 0.1 else 1, rng.randint(0, 40)))
    known_by = rng.choices(("rest", "push", "nothing"), (6, 3, 1))[0]
    pr = FleetPullRequest(rng.choice(REPOSITORIES), number, author, created_ns, merged_ns, rng.random() < 0.1,
                          commits, known_by, sum(c.effective_lines for c in commits) + rng.randint(0, 9),
                          f"topic-{number}")
    moment = merged_ns or created_ns
    if author.user_key:
        for commit in commits:
            if rng.random() < 0.35:  # reported by the author's session, inside or just outside the window
                offset = rng.choice((-WINDOW[0] - 10**9, -WINDOW[0], -5 * DAY_NS, -3600 * 10**9, WINDOW[1],
                                     WINDOW[1] + 10**9))
                fleet.sightings.append((ORG, commit.sha, author.user_key, moment + offset))
    return pr


def write_github_rows(store, fleet: GithubFleet) -> None:
    received = _at(FIRST_DAY + timedelta(days=DAYS + 1), 0) // 10**6
    tables = defaultdict(list)
    for pr in fleet.pull_requests:
        merged_ms = pr.merged_ns // 10**6 if pr.merged_ns else 0
        head = pr.commits[-1].sha
        tables["github_pull_requests"].append(dict(
            org_id=ORG, repository=pr.repository, number=pr.number, pr_id=pr.number + 1000,
            author_login=pr.author.login, author_id=1, state="closed" if pr.merged_ns else "open", draft=0,
            merged=int(bool(pr.merged_ns)), created_at=pr.created_ns // 10**6, updated_at=received,
            closed_at=merged_ms, merged_at=merged_ms, merge_commit_sha="", head_sha=head, head_ref=pr.head_ref,
            base_ref="main", body_marker=int(pr.body_marker), labels=[], additions=pr.additions, deletions=0,
            changed_files=1, commits=len(pr.commits), source="webhook", received_at=received))
        if pr.known_by == "nothing":
            continue
        for commit in pr.commits:
            tables["github_commits"].append(dict(
                org_id=ORG, repository=pr.repository, sha=commit.sha, author_email=commit.author.commit_email,
                author_login=commit.login, authored_at=pr.created_ns // 10**6, claude_trailer=int(commit.trailer),
                parents=commit.parents, source=pr.known_by, received_at=received))
            if pr.known_by == "push":  # pushed an hour before the merge
                tables["github_branch_commits"].append(dict(
                    org_id=ORG, repository=pr.repository, ref=pr.head_ref, sha=commit.sha,
                    received_at=((pr.merged_ns or pr.created_ns) - 3600 * 10**9) // 10**6))
                continue
            tables["github_pull_request_commits"].append(dict(
                org_id=ORG, repository=pr.repository, number=pr.number, sha=commit.sha, received_at=received))
            split = commit.effective_lines // 2
            for path, effective in (("src/a.py", split), ("src/b.py", commit.effective_lines - split)):
                tables["github_commit_files"].append(dict(
                    org_id=ORG, repository=pr.repository, sha=commit.sha, path=path, status="modified",
                    additions=effective + 2, deletions=0, effective_lines_added=effective, excluded="",
                    received_at=received))
            tables["github_fetches"].append(dict(org_id=ORG, repository=pr.repository, kind=COMMIT_FILES,
                                                 ref=commit.sha, head_sha="", fetched_at=received))
        if pr.known_by == "rest":
            tables["github_fetches"].append(dict(org_id=ORG, repository=pr.repository, kind=PULL_REQUEST_COMMITS,
                                                 ref=str(pr.number), head_sha=head, fetched_at=received))
    for table, columns in (("github_pull_requests", PULL_REQUEST_COLUMNS), ("github_commits", COMMIT_COLUMNS),
                           ("github_branch_commits", BRANCH_COMMIT_COLUMNS),
                           ("github_pull_request_commits", PULL_REQUEST_COMMIT_COLUMNS),
                           ("github_commit_files", COMMIT_FILE_COLUMNS), ("github_fetches", FETCH_COLUMNS)):
        insert_github_rows(store, table, columns, tables[table])


def insert_github_rows(store, table: str, columns: tuple[str, ...], rows: list[dict]) -> None:
    if rows:
        insert_columns(store.client, table, columns, [[row[name] for row in rows] for name in columns],
                       store.database)


def _who(org: str, user_key: str, people: list[Person]) -> dict:
    person = next((p for p in people if p.user_key == user_key), None)
    if person and person.telemetry_email:
        return {"org": org, "email": person.telemetry_email}
    if person:
        return {"org": org, "email": "", "user.id": user_key}
    return {"org": org, "email": user_key}  # a hostile org's own member


def write_telemetry(store, fleet: GithubFleet) -> None:
    by_resource = defaultdict(lambda: ([], []))  # (org, team) -> (metrics, events)
    team_of = {p.user_key: p.telemetry_team for p in fleet.people if p.user_key}
    for person in fleet.people:  # present from before the fleet's days, so the rollups know their team
        if person.user_key:
            by_resource[ORG, person.telemetry_team][1].append(
                event("user_prompt", _at(FIRST_DAY - timedelta(days=30), 9), **identity(
                    **_who(ORG, person.user_key, fleet.people))))
    for org, sha, user_key, ns in fleet.sightings:
        attributes = {"tool_name": "Bash", "vcs.ref.head.revision": sha, "vcs.ref.head.name": "topic"}
        by_resource[org, team_of.get(user_key, "")][1].append(
            event("tool_result", ns, **identity(**_who(org, user_key, fleet.people), **attributes)))
    for org, user_key, repository, ns, value in fleet.lines_points:
        owner, name = repository.split("/")
        by_resource[org, team_of[user_key]][0].append(
            lines(value, ns, ns - 10**9, **_who(org, user_key, fleet.people),
                  **{"vcs.owner.name": owner.capitalize(), "vcs.repository.name": name}))
    for (org, team), (metrics, events) in by_resource.items():
        store_rows(store, metrics=metrics, events=events, resource={"service.name": "claude-code", "team": team})


def telemetry_days(fleet: GithubFleet) -> tuple[date, date]:
    moments = [ns for *_, ns in fleet.sightings] + [ns for *_, ns, _ in fleet.lines_points]
    return _day(min(moments) - 31 * DAY_NS), _day(max(moments))


def _day(ns: int, zone: ZoneInfo = ZoneInfo("UTC")) -> date:
    return datetime.fromtimestamp(ns // 10**9, zone).date()
