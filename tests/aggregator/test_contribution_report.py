"""The contributions report on the real engine: per day, member and repository, every filter, equals the sums of
the rows written (tests/support/contribution_rows.py), active members from daily_user, and the lines note."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from aggregator.contributions.report import GROUP_COLUMNS, SUMMED, ContributionFilters, Contributions
from aggregator.reports import Filters, Reports
from tests.support.contribution_rows import Seed, days_before, generated_seed

TODAY = date(2026, 11, 20)
DAYS = days_before(TODAY, 5)
MEMBERS = [("org-a", "payments", "ada@a.example", "ada@a.example"), ("org-a", "search", "linus@a.example", ""),
           ("org-a", "payments", "grace@a.example", "grace@a.example"), ("org-b", "mobile", "hedy@b.example", "")]


@pytest.fixture
def seeded(store):
    seed = generated_seed(MEMBERS, DAYS)
    seed.insert(store.client, store.database)
    return store, seed


def truth(seed: Seed, group: str, first: date, last: date, org=None, team=None, repository=None) -> dict:
    """The report's rows computed from the seed: summed figures by the group's key, active members, rates."""
    key_of = {"day": lambda r: (r["day"].isoformat(), r["org_id"]), "user": lambda r: (r["org_id"], r["member"]),
              "repo": lambda r: (r["org_id"], r["repository"])}[group]
    chosen = [r for r in seed.daily if first <= r["day"] <= last and org in (None, r["org_id"])
              and team in (None, r["team"]) and repository in (None, r["repository"])]
    sums: dict = defaultdict(lambda: dict.fromkeys(SUMMED, 0))
    for row in chosen:
        for name, column in SUMMED.items():
            sums[key_of(row)][name] += row[column]
    active = defaultdict(set)
    for row in seed.user_days:
        if first <= row["day"] <= last and org in (None, row["org_id"]) and team in (None, row["team"]) \
                and row["sessions"] > 0:
            active_key = {"day": (row["day"].isoformat(), row["org_id"]), "user": (row["org_id"], row["user_key"]),
                          "repo": (row["org_id"],)}[group]
            active[active_key].add(row["user_key"])
    for key, figures in sums.items():
        members = len(active[key if group != "repo" else key[:1]])
        figures["share_with_cc"] = figures["prs_merged_with_cc"] / figures["prs_merged"] if figures["prs_merged"] else 0
        figures["active_members"] = members
        figures["prs_merged_per_active_member"] = figures["prs_merged"] / members if members else 0
    return dict(sums)


def reported(store, group: str, first: date, last: date, **filters) -> dict:
    rows = Contributions(store.client, store.database).rows(first, last, ContributionFilters(**filters), group)
    keys = {"day": ("date", "org_id"), "user": ("org_id", "member"), "repo": ("org_id", "repository")}[group]
    assert all(tuple(row) == GROUP_COLUMNS[group] for row in rows)
    return {tuple(row[k] for k in keys): {name: row[name] for name in (*SUMMED, "share_with_cc", "active_members",
                                                                      "prs_merged_per_active_member")}
            for row in rows}


@pytest.mark.parametrize("group", ["day", "user", "repo"])
@pytest.mark.parametrize("filters", [{}, {"org": "org-a"}, {"org": "org-a", "team": "payments"},
                                     {"repository": "org-a/api"}, {"org": "org-b", "repository": "org-a/api"}])
def test_every_group_and_filter_equals_the_rows_written(seeded, group, filters):
    store, seed = seeded
    for first, last in ((DAYS[0], DAYS[-1]), (DAYS[1], DAYS[2])):
        expected = truth(seed, group, first, last, **filters)
        actual = reported(store, group, first, last, **filters)
        assert actual.keys() == expected.keys(), (group, filters)
        assert all(actual[key] == pytest.approx(expected[key]) for key in expected), (group, filters)
    assert expected or filters.get("org") == "org-b"  # the fleet has data under every filter but the empty one


def test_a_user_row_carries_the_members_latest_team_and_login(store):
    seed = Seed()
    seed.add_daily(DAYS[0], "org-a", "search", "ada", "ada-old", "org-a/x", merged=1)
    seed.add_daily(DAYS[1], "org-a", "payments", "ada", "ada-gh", "org-a/x", merged=2, with_cc=1)
    seed.add_user_day(DAYS[1], "org-a", "payments", "ada", sessions=0)
    seed.insert(store.client, store.database)
    [row] = Contributions(store.client, store.database).rows(DAYS[0], DAYS[-1], ContributionFilters(), "user")
    assert (row["team"], row["author_login"], row["prs_merged"], row["share_with_cc"]) == ("payments", "ada-gh", 3,
                                                                                         pytest.approx(1 / 3))
    # a member without sessions is no active member: no division by zero, 0 per active member
    assert (row["active_members"], row["prs_merged_per_active_member"]) == (0, 0)


def test_the_answer_says_when_lines_are_githubs_additions(store):
    reader = Contributions(store.client, store.database)
    assert reader.answer(DAYS[0], DAYS[-1], ContributionFilters(), "day")[
        "lines_basis"] == "none"
    seed = Seed()
    seed.add_daily(DAYS[0], "org-a", "", "ada", "ada", "org-a/x", merged=3, lines=30)
    seed.insert(store.client, store.database)
    answer = reader.answer(DAYS[0], DAYS[-1], ContributionFilters(), "day")
    assert (answer["lines_basis"], answer["note"]) == ("effective", None)
    more = Seed()
    more.add_daily(DAYS[1], "org-a", "", "ada", "ada", "org-a/y", merged=2, lines=9, from_additions=2)
    more.insert(store.client, store.database)
    answer = reader.answer(DAYS[0], DAYS[-1], ContributionFilters(), "day")
    assert answer["lines_basis"] == "mixed"
    assert answer["note"].startswith("2 of 5 merged pull requests count GitHub's additions")
    assert "--github-token-file" in answer["note"]
    assert [row["prs_merged_lines_from_additions"] for row in answer["data"]] == [0, 2]
    answer = reader.answer(DAYS[1], DAYS[1], ContributionFilters(), "day")
    assert answer["lines_basis"] == "additions"


def test_pull_requests_are_listed_with_level_and_reason_per_filter(seeded):
    store, seed = seeded
    reader = Contributions(store.client, store.database)
    for filters, level in (({}, None), ({"org": "org-a"}, "assisted"), ({"repository": "org-b/api"}, None),
                           ({"org": "org-a", "team": "search"}, "with_claude_code")):
        rows = reader.pull_requests(DAYS[1], DAYS[3], ContributionFilters(**filters), level)
        expected = sorted((r["org_id"], r["repository"], r["number"], r["level"], r["reason"])
                          for r in seed.pull_requests if DAYS[1] <= r["day"] <= DAYS[3]
                          and filters.get("org") in (None, r["org_id"]) and filters.get("team") in (None, r["team"])
                          and filters.get("repository") in (None, r["repository"]) and level in (None, r["level"]))
        assert sorted((r["org_id"], r["repository"], r["number"], r["level"], r["reason"]) for r in rows) == expected
        assert expected, filters
    row = rows[0]
    assert row["merged_at"].endswith("Z") and row["date"] == row["merged_at"][:10]


def test_the_members_report_carries_each_members_contributions_of_the_month(seeded):
    store, seed = seeded
    month = TODAY.replace(day=1)
    users = Reports(store.client, store.database).users(month, Filters())
    assert users, "the seed makes members active"
    for user in users:
        mine = [r for r in seed.daily if (r["org_id"], r["member"]) == (user["org_id"], user["user_key"])]
        assert (user["prs_merged"], user["prs_merged_with_cc"], user["lines_merged"], user["lines_merged_with_cc"]) \
            == (sum(r["prs_merged"] for r in mine), sum(r["prs_merged_with_claude_code"] for r in mine),
                sum(r["lines_merged"] for r in mine), sum(r["lines_merged_with_claude_code"] for r in mine))
    # a member without pull requests has 0s, not NULLs
    quiet = Seed()
    quiet.add_user_day(TODAY, "org-c", "", "quiet@c.example", "quiet@c.example")
    quiet.insert(store.client, store.database)
    [row] = Reports(store.client, store.database).users(month, Filters(org="org-c"))
    assert [row[name] for name in ("prs_merged", "prs_merged_with_cc", "lines_merged", "lines_merged_with_cc")] \
        == [0, 0, 0, 0]
