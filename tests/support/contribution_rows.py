"""Contribution rollup rows written by hand (daily_contributions, pull_request_attribution, and the daily_user rows
that make members active), for tests of what reads them; every expected figure is computed from these rows.

A serve owns its embedded store, so `seed_data_dir` writes them into a data directory before serve starts, from a
process of its own (`python -m tests.support.contribution_rows DATA_DIR` with the rows as JSON on stdin).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from plumbing.store.client import insert_columns
from tests.support.paths import REPO

# Column order of aggregator/migrations/0006_contributions.sql.
DAILY_COLUMNS = ("day", "org_id", "team", "member", "author_login", "repository", "prs_opened", "prs_merged",
                 "prs_merged_with_claude_code", "prs_merged_assisted", "lines_merged",
                 "lines_merged_with_claude_code", "prs_merged_lines_from_additions", "version")
ATTRIBUTION_COLUMNS = ("day", "org_id", "repository", "number", "merged_at", "author_login", "member", "matched_by",
                       "team", "level", "reason", "commits", "commits_with_claude_code", "lines_merged",
                       "lines_with_claude_code", "lines_basis", "version")
USER_DAY_COLUMNS = ("day", "org_id", "user_key", "user_email", "team", "sessions", "session_ids", "version")
# Above any version a rollup run writes (time.time_ns()): a rebuild of the same days leaves these rows be.
SEEDED_VERSION = 2**63


@dataclass
class Seed:
    daily: list[dict] = field(default_factory=list)
    pull_requests: list[dict] = field(default_factory=list)
    user_days: list[dict] = field(default_factory=list)

    def add_daily(self, day: date, org: str, team: str, member: str, login: str, repository: str, *,
                  opened: int = 0, merged: int = 0, with_cc: int = 0, assisted: int = 0, lines: int = 0,
                  lines_with_cc: int = 0, from_additions: int = 0) -> None:
        self.daily.append(dict(zip(DAILY_COLUMNS, (day, org, team, member, login, repository, opened, merged,
                                                   with_cc, assisted, lines, lines_with_cc, from_additions,
                                                   SEEDED_VERSION))))

    def add_pull_request(self, day: date, org: str, repository: str, number: int, *, login: str, member: str,
                         team: str, level: str, lines: int, lines_with_cc: int, basis: str = "effective") -> None:
        merged_at = datetime.combine(day, time(12, number % 60), tzinfo=timezone.utc)
        self.pull_requests.append(dict(zip(ATTRIBUTION_COLUMNS, (
            day, org, repository, number, merged_at, login, member, "email", team, level, f"because {number}",
            3, 1 if level == "with_claude_code" else 0, lines, lines_with_cc, basis, SEEDED_VERSION))))

    def add_user_day(self, day: date, org: str, team: str, user_key: str, email: str = "",
                     sessions: int = 1) -> None:
        self.user_days.append(dict(zip(USER_DAY_COLUMNS, (day, org, user_key, email, team, sessions,
                                                          [f"{user_key}-{day}-{n}" for n in range(sessions)],
                                                          SEEDED_VERSION))))

    def insert(self, client, database: str) -> None:
        for table, rows, columns in (("daily_contributions", self.daily, DAILY_COLUMNS),
                                     ("pull_request_attribution", self.pull_requests, ATTRIBUTION_COLUMNS),
                                     ("daily_user", self.user_days, USER_DAY_COLUMNS)):
            if rows:
                insert_columns(client, table, columns, [[row[c] for row in rows] for c in columns], database)


def generated_seed(members: list[tuple[str, str, str, str]], days: list[date], seed: int = 15,
                   with_sessions: bool = True) -> Seed:
    """PRs of members (org, team, user_key, email) over days and repositories, with known figures; some days'
    PRs count GitHub's additions; an author matched to no member; with_sessions, daily_user rows making members
    active on some days (leave them out where the telemetry's own rollup makes them)."""
    rng = random.Random(seed)
    rows = Seed()
    number = 0
    for day in days:
        for org, team, user_key, email in members:
            if rng.random() < 0.7 and with_sessions:
                rows.add_user_day(day, org, team, user_key, email, sessions=rng.randint(0, 2))
            for repository in (f"{org}/widgets", f"{org}/api"):
                merged = rng.randint(0, 3)
                with_cc = rng.randint(0, merged)
                assisted = with_cc + rng.randint(0, merged - with_cc)
                lines = rng.randint(0, 400) * merged
                if not (merged or rng.random() < 0.3):
                    continue
                rows.add_daily(day, org, team, user_key, user_key.split("@")[0], repository,
                               opened=rng.randint(0, 3), merged=merged, with_cc=with_cc, assisted=assisted,
                               lines=lines, lines_with_cc=rng.randint(0, lines) if with_cc else 0,
                               from_additions=rng.randint(0, merged) if rng.random() < 0.3 else 0)
                for _ in range(merged):
                    number += 1
                    level = LEVEL_CYCLE[number % len(LEVEL_CYCLE)]
                    rows.add_pull_request(day, org, repository, number, login=user_key.split("@")[0],
                                          member=user_key, team=team, level=level, lines=10 * number,
                                          lines_with_cc=10 * number if level == "with_claude_code" else 0)
        org, team = members[0][0], members[0][1]
        rows.add_daily(day, org, team, "github:octocat", "octocat", f"{org}/widgets", opened=1, merged=1,
                       lines=7, from_additions=1)
    return rows


LEVEL_CYCLE = ("with_claude_code", "assisted", "without")


def seed_data_dir(data_dir: Path, seed: Seed) -> None:
    """Create the store in data_dir (migrated) holding the seed's rows; serve started on it reads them."""
    document = {name: [{key: _to_json(value) for key, value in row.items()} for row in rows]
                for name, rows in asdict(seed).items()}
    result = subprocess.run([sys.executable, "-m", "tests.support.contribution_rows", str(data_dir)],
                            input=json.dumps(document), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def _to_json(value):
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _from_json(value):
    if isinstance(value, dict):
        return datetime.fromisoformat(value["datetime"]) if "datetime" in value else date.fromisoformat(value["date"])
    return value


def _main(data_dir: str) -> None:
    from cc_analytics.config import Settings
    from cc_analytics.store import open_store

    document = json.load(sys.stdin)
    seed = Seed(**{name: [{key: _from_json(value) for key, value in row.items()} for row in rows]
                   for name, rows in document.items()})
    settings = Settings(data_dir=data_dir)
    with open_store(settings) as client:
        seed.insert(client, settings.database)


def days_before(today: date, count: int) -> list[date]:
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


if __name__ == "__main__":
    _main(sys.argv[1])
