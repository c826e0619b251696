"""The rollup reports against the real chDB engine, on rollup rows written by hand."""

from __future__ import annotations

from datetime import timedelta

from aggregator.reports import Filters, Reports
from tests.support.rollup_rows import DAY, add_user_day


def test_members_report_of_one_team_lists_its_members_with_their_days_in_it(store):
    add_user_day(store, DAY, "ada", team="payments", lines_accepted=5)
    add_user_day(store, DAY + timedelta(1), "ada", team="search", lines_accepted=7)  # moved teams
    add_user_day(store, DAY, "bob", team="search", lines_accepted=3)
    add_user_day(store, DAY, "cyd", org="org-b", team="search", lines_accepted=11)
    reports = Reports(store.client, store.database)

    search = reports.users(DAY, Filters(team="search"))
    assert [(row["org_id"], row["user_key"], row["team"], row["lines_accepted"], row["days_active"])
            for row in search] == [("org-b", "cyd", "search", 11, 1), ("org-a", "ada", "search", 7, 1),
                                   ("org-a", "bob", "search", 3, 1)]
    payments = reports.users(DAY, Filters(org="org-a", team="payments"))
    assert [(row["user_key"], row["team"], row["lines_accepted"]) for row in payments] == [("ada", "payments", 5)]
