"""The contribution rollup on the real engine: every attribution row and daily figure of a seeded GitHub fleet
equals its ground truth; the identity map's rules; the 21/2-day window; orgs kept apart; the timer picks up late
GitHub rows; a purge erases a member's contribution rows and commits."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from aggregator.contributions.identity import IdentityMapError, parse_identity_map
from aggregator.contributions.rollup import ContributionRollup
from aggregator.purge import Purger
from aggregator.refresh import Refresher
from aggregator.rollup import Rollup
from collector.github.tables import BRANCH_COMMIT_COLUMNS, COMMIT_COLUMNS, PULL_REQUEST_COLUMNS
from tests.support.github_fleet import (
    DAY_NS,
    FIRST_DAY,
    HOSTILE_ORG,
    ORG,
    Person,
    _day,
    insert_github_rows,
    make_fleet,
    telemetry_days,
)
from tests.support.paths import REPO
from tests.support.github_fleet_truth import DAILY_FIGURES, FleetTruth, days_of


def _stored_attributions(store) -> dict:
    rows = store.rows("SELECT day, org_id, repository, number, toUnixTimestamp64Milli(merged_at), author_login, "
                      "member, matched_by, team, level, reason, commits, commits_with_claude_code, lines_merged, "
                      "lines_with_claude_code, lines_basis FROM {db}.pull_request_attribution FINAL")
    names = ("day", "org_id", "repository", "number", "merged_at_ms", "author_login", "member", "matched_by", "team",
             "level", "reason", "commits", "commits_with_claude_code", "lines_merged", "lines_with_claude_code",
             "lines_basis")
    return {(row[2], row[3]): dict(zip(names, row)) for row in rows}


def _stored_daily(store) -> dict:
    rows = store.rows(f"SELECT day, org_id, team, member, repository, author_login, {', '.join(DAILY_FIGURES)} "
                      "FROM {db}.daily_contributions FINAL")
    return {tuple(row[:5]): {"author_login": row[5], **dict(zip(DAILY_FIGURES, row[6:]))} for row in rows}


def _aggregate(store, fleet, identities) -> Refresher:
    rollup = Rollup(store.client, store.database)
    contributions = ContributionRollup(store.client, store.database, identities=identities, lock=rollup.lock)
    refresher = Refresher(rollup, contributions=contributions)
    first, last = telemetry_days(fleet)
    days = days_of(fleet)
    refresher.rebuild(min(first, min(days)), max(last, max(days)))
    return refresher


def test_every_attribution_and_daily_figure_equals_the_fleet_truth_and_a_rebuild_changes_nothing(store):
    fleet = make_fleet()
    fleet.write(store)
    identities = parse_identity_map(fleet.identity_csv)
    truth = FleetTruth(fleet)
    _aggregate(store, fleet, identities)
    attributions, daily = _stored_attributions(store), _stored_daily(store)
    assert attributions == truth.attributions()
    assert daily == truth.daily()
    # the fleet exercises every level and every way of matching a member
    assert {row["level"] for row in attributions.values()} == {"with_claude_code", "assisted", "without"}
    assert {row["matched_by"] for row in attributions.values()} == {"email", "identity_map", "telemetry_session",
                                                                    "login"}
    _aggregate(store, fleet, identities)
    assert (_stored_attributions(store), _stored_daily(store)) == (attributions, daily)
    # a reason never names a person (a purge of them would leave it behind)
    assert store.rows("SELECT count() FROM {db}.pull_request_attribution FINAL WHERE arrayExists(key -> "
                      "position(reason, key) > 0, (SELECT groupArray(DISTINCT user_key) FROM {db}.daily_user))") \
        == [(0,)]
    assert store.rows("SELECT count() FROM {db}.pull_request_attribution FINAL WHERE reason LIKE '%session of%'")[0][0]
    versions = store.rows("SELECT count(DISTINCT version) FROM {db}.daily_contributions")
    assert versions == [(1,)] or len(store.rows("SELECT version FROM {db}.daily_contributions FINAL")) == len(daily)


@pytest.mark.parametrize("text, message", [
    ("mail,login,team\n", "line 1: the header must be email,github_login,team[,from]"),
    ("email,github_login,team\nada@example.com,ada\n", "line 2: expected 3 columns"),
    ("email,github_login,team,from\nada@example.com,ada,pay,2026-13-01\n", "line 2: from must be a day"),
    ("email,github_login,team\nada@example.com,,pay\n", "line 2: the github_login is empty"),
    ("email,github_login,team\n\nnot-an-email,ada,pay\n", "line 3: 'not-an-email' is not an email address"),
    ("email,github_login,team,from\na@x.com,ada,p,\nb@x.com,ADA,q,\n", "line 3: ada already has a row"),
])
def test_a_bad_identity_map_is_refused_with_its_line(text, message):
    with pytest.raises(IdentityMapError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_identity_map(text)


def test_the_identity_map_gives_the_row_in_effect_on_a_day():
    identities = parse_identity_map("Email,GitHub_Login,Team,From\nAda@Example.com,Ada,pay,\n"
                                    "ada@example.com,ada,search,2026-11-10\n")
    assert identities.on("ADA", FIRST_DAY).team == "pay"
    assert identities.on("ada", FIRST_DAY).email == "ada@example.com"
    assert identities.on("ada", FIRST_DAY.replace(day=10)).team == "search"
    assert identities.on("bob", FIRST_DAY) is None
    assert parse_identity_map("email,github_login,team\nada@example.com,ada,pay\n").on("ada", FIRST_DAY).since is None


def _one_pull_request(store, org: str, number: int, merged_ns: int, **overrides) -> None:
    row = dict(org_id=org, repository="acme/widgets", number=number, pr_id=number, author_login="ada", author_id=1,
               state="closed", draft=0, merged=1, created_at=merged_ns // 10**6 - 3_600_000,
               updated_at=merged_ns // 10**6, closed_at=merged_ns // 10**6, merged_at=merged_ns // 10**6,
               merge_commit_sha="", head_sha="", head_ref=f"b-{number}", base_ref="main", body_marker=0, labels=[],
               additions=7, deletions=0, changed_files=1, commits=1, source="webhook",
               received_at=time.time_ns() // 10**6, **overrides)  # delivered now, late
    insert_github_rows(store, "github_pull_requests", PULL_REQUEST_COLUMNS, [row])


def _levels(store) -> dict:
    return {number: level for number, level in store.rows(
        "SELECT number, level FROM {db}.pull_request_attribution FINAL")}


def test_another_orgs_telemetry_naming_a_commit_leaves_the_pr_without(store):
    from tests.support.github_fleet import FleetCommit, FleetPullRequest, GithubFleet, write_github_rows, \
        write_telemetry
    ada = Person("ada", "email", "ada@example.com", "ada@example.com", "ada@example.com", "pay")
    merged_ns = 1_793_620_800 * 10**9  # 2026-11-02 12:00 UTC
    commit = FleetCommit("ab" * 20, ada, "ada", False, 1, 5)
    pr = FleetPullRequest("acme/widgets", 1, ada, merged_ns - DAY_NS, merged_ns, False, [commit], "rest", 5, "b-1")
    fleet = GithubFleet([ada], "", [], [pr], sightings=[(HOSTILE_ORG, commit.sha, "mallory@evil.example",
                                                        merged_ns - 3600 * 10**9)])
    write_github_rows(store, fleet)
    write_telemetry(store, fleet)
    contributions = ContributionRollup(store.client, store.database)
    contributions.rebuild_days([_day(merged_ns)])
    assert _levels(store) == {1: "without"}
    # the same report from the PR's own org makes it with Claude Code: the test can fail
    fleet.sightings = [(ORG, commit.sha, "ada@example.com", merged_ns - 3600 * 10**9)]
    write_telemetry(store, fleet)
    contributions.rebuild_days([_day(merged_ns)])
    assert _levels(store) == {1: "with_claude_code"}


@pytest.mark.parametrize("offset_ns, level", [
    (-21 * DAY_NS, "with_claude_code"), (-21 * DAY_NS - 10**9, "without"),
    (2 * DAY_NS, "with_claude_code"), (2 * DAY_NS + 10**9, "without"),
])
def test_a_session_counts_from_21_days_before_to_2_days_after_the_merge(store, offset_ns, level):
    from tests.support.github_fleet import FleetCommit, FleetPullRequest, GithubFleet, write_github_rows, \
        write_telemetry
    ada = Person("ada", "email", "ada@example.com", "ada@example.com", "ada@example.com", "pay")
    merged_ns = 1_793_620_800 * 10**9
    commit = FleetCommit("cd" * 20, ada, "ada", False, 1, 5)
    pr = FleetPullRequest("acme/widgets", 1, ada, merged_ns - DAY_NS, merged_ns, False, [commit], "rest", 5, "b-1")
    fleet = GithubFleet([ada], "", [], [pr], sightings=[(ORG, commit.sha, "ada@example.com", merged_ns + offset_ns)])
    write_github_rows(store, fleet)
    write_telemetry(store, fleet)
    ContributionRollup(store.client, store.database).rebuild_days([_day(merged_ns)])
    assert _levels(store) == {1: level}


def test_the_timer_picks_up_a_late_webhook(store):
    rollup = Rollup(store.client, store.database)
    refresher = Refresher(rollup, contributions=ContributionRollup(store.client, store.database, lock=rollup.lock))
    refresher.refresh()
    merged_ns = (1_793_620_800 - 40 * 86_400) * 10**9  # 40 days ago from the fleet's first day: no routine day
    _one_pull_request(store, ORG, 7, merged_ns)
    refresher.refresh()
    assert _levels(store) == {7: "without"}
    assert store.rows("SELECT prs_merged, lines_merged FROM {db}.daily_contributions FINAL "
                      "WHERE day = {day:Date}", {"day": _day(merged_ns)}) == [(1, 7)]
    # a second delivery for the PR (the body edited to carry the marker) is picked up too
    store.client.command(f"ALTER TABLE `{store.database}`.github_pull_requests UPDATE body_marker = 1, "
                         "received_at = now64(3) WHERE number = 7", settings={"mutations_sync": 2})
    refresher.refresh()
    assert _levels(store) == {7: "with_claude_code"}


def test_a_push_delivered_after_the_merge_still_belongs_to_the_pr_a_later_commit_does_not(store):
    """Without REST a PR's commits are those of its branch written before the merge, whenever their push arrived:
    GitHub does not keep deliveries in order, and redelivers on request."""
    merged_ns = (1_793_620_800 - 30 * 86_400) * 10**9
    _one_pull_request(store, ORG, 8, merged_ns)
    delivered_now = time.time_ns() // 10**6  # long after the merge
    commits = [dict(org_id=ORG, repository="acme/widgets", sha=sha, author_email="ada@example.com",
                    author_login="ada", authored_at=authored_ns // 10**6, claude_trailer=1, parents=1,
                    source="push", received_at=delivered_now)
               for sha, authored_ns in (("a" * 40, merged_ns - 60 * 10**9), ("b" * 40, merged_ns + 86_400 * 10**9))]
    insert_github_rows(store, "github_commits", COMMIT_COLUMNS, commits)
    insert_github_rows(store, "github_branch_commits", BRANCH_COMMIT_COLUMNS, [
        dict(org_id=ORG, repository="acme/widgets", ref="b-8", sha=commit["sha"], received_at=delivered_now)
        for commit in commits])
    ContributionRollup(store.client, store.database).rebuild_days([_day(merged_ns)])
    ((level, commits_counted, reason),) = store.rows("SELECT level, commits, reason FROM "
                                                     "{db}.pull_request_attribution FINAL")
    assert (level, commits_counted) == ("with_claude_code", 1) and "a" * 7 in reason


def test_a_purge_erases_the_members_contribution_rows_and_commits(store):
    fleet = make_fleet()
    fleet.write(store)
    refresher = _aggregate(store, fleet, parse_identity_map(fleet.identity_csv))
    count = "SELECT count() FROM {db}.%s FINAL WHERE %s"
    before = [store.rows(count % (table, condition))[0][0] for table, condition in (
        ("pull_request_attribution", "member = 'ada@example.com'"),
        ("daily_contributions", "member = 'ada@example.com'"),
        ("github_commits", "author_email = 'ada@example.com'"))]
    assert all(before)
    deleted = Purger(store.client, store.database, lock=refresher.rollup.lock).purge("ADA@example.com")
    assert [deleted["pull_request_attribution"], deleted["daily_contributions"], deleted["github_commits"]] == before
    assert [store.rows(count % (table, condition))[0][0] for table, condition in (
        ("pull_request_attribution", "member = 'ada@example.com'"),
        ("daily_contributions", "member = 'ada@example.com'"),
        ("github_commits", "author_email = 'ada@example.com'"))] == [0, 0, 0]
    assert store.rows(count % ("github_commits", "author_email != 'ada@example.com'"))[0][0] > 0



@pytest.mark.slow
@pytest.mark.parametrize("command", [["aggregate", "--from", "2026-11-01", "--to", "2026-11-01"], ["serve"]])
def test_a_bad_identity_map_stops_serve_and_aggregate_at_start(tmp_path, command):
    bad = tmp_path / "identities.csv"
    bad.write_text("email,github_login,team\nada@example.com,ada,pay\nnot-an-email,bob,pay\n")
    result = subprocess.run([sys.executable, "-m", "cc_analytics", *command, "--identity-map", str(bad),
                             "--data-dir", str(tmp_path / "data")], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert f"{bad}, line 3: 'not-an-email' is not an email address" in result.stderr
