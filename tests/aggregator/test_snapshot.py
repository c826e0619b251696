"""Figures as they stand on a day (what /metrics and the OpenMetrics export publish), against the real chDB
engine: rollup rows written by hand, every expected figure worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from aggregator.snapshot import MEMBER_FIGURES, OTHER, Snapshots, window_bounds
from tests.support.rollup_rows import DAY, add_edit_day, add_model_day, add_user_day

def by(rows: list[dict], *keys: str) -> dict:
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}


@pytest.fixture
def snapshots(store):
    return Snapshots(store.client, store.database)


def test_window_bounds_end_on_the_day():
    assert window_bounds("today", DAY) == (DAY, DAY)
    assert window_bounds("yesterday", DAY) == (DAY - timedelta(1), DAY - timedelta(1))
    assert window_bounds("7d", DAY) == (date(2026, 11, 4), DAY)
    assert window_bounds("28d", DAY) == (date(2026, 10, 14), DAY)
    assert window_bounds("month", DAY) == (date(2026, 11, 1), DAY)


def test_totals_run_up_to_the_day_and_windows_cover_their_days(store, snapshots):
    add_user_day(store, date(2026, 9, 1), "ada", lines_accepted=1000, sessions=("old",))
    add_user_day(store, date(2026, 10, 20), "ada", lines_accepted=100, edits_accepted=4, edits_rejected=1,
                 sessions=("a1",))
    add_user_day(store, DAY - timedelta(1), "ada", lines_accepted=10, commits=2, sessions=("a2", "a3"))
    add_user_day(store, DAY, "ada", lines_accepted=1, cost_usd=0.25, sessions=("a3",))
    add_user_day(store, DAY, "bob", team="search", lines_accepted=7, sessions=("b1",))
    add_user_day(store, DAY + timedelta(1), "ada", lines_accepted=50000)  # after the day: not yet counted
    # A rebuilt day: the newer version replaces the older one.
    add_user_day(store, DAY, "cyd", lines_accepted=999, version=1)
    add_user_day(store, DAY, "cyd", lines_accepted=3, version=2, sessions=("c1",))

    snapshot = snapshots.as_of(DAY, max_members=100)

    totals = by(snapshot.totals, "org_id", "team")
    assert totals["org-a", "payments"]["lines_accepted"] == 1000 + 100 + 10 + 1 + 3
    assert totals["org-a", "payments"]["sessions"] == 1 + 1 + 2 + 1 + 1
    assert totals["org-a", "payments"]["commits"] == 2
    assert totals["org-a", "search"]["lines_accepted"] == 7
    windows = by(snapshot.windows, "window", "org_id", "team")
    expected_lines = {"today": 1 + 3, "yesterday": 10, "7d": 10 + 1 + 3, "28d": 100 + 10 + 1 + 3, "month": 10 + 1 + 3}
    assert {w: windows[w, "org-a", "payments"]["lines_accepted"] for w in expected_lines} == expected_lines
    # Sessions are distinct over the window: a3 ran over midnight.
    assert windows["7d", "org-a", "payments"]["sessions"] == 3  # a2, a3 (once), c1
    assert windows["28d", "org-a", "payments"]["edits_accepted"] == 4
    assert windows["today", "org-a", "payments"]["cost_usd"] == pytest.approx(0.25)


def test_active_new_and_team_users(store, snapshots):
    add_user_day(store, date(2026, 10, 1), "old-timer")                      # first seen long ago
    add_user_day(store, DAY - timedelta(3), "old-timer")
    add_user_day(store, DAY - timedelta(3), "newcomer", team="search")      # first day inside 7d
    add_user_day(store, DAY, "newcomer", team="payments")                    # changed team
    add_user_day(store, DAY, "today-only", team="search")
    add_user_day(store, DAY, "other-org", org="org-b")

    snapshot = snapshots.as_of(DAY, max_members=100)

    org = by(snapshot.org_users, "window", "org_id")
    assert (org["today", "org-a"]["active_users"], org["today", "org-a"]["new_users"]) == (2, 1)
    assert (org["7d", "org-a"]["active_users"], org["7d", "org-a"]["new_users"]) == (3, 2)
    assert (org["28d", "org-a"]["active_users"], org["28d", "org-a"]["new_users"]) == (3, 2)
    assert ("yesterday", "org-a") not in org
    assert org["today", "org-b"]["active_users"] == 1
    team = by(snapshot.team_users, "window", "org_id", "team")
    # The team changer is active in both teams within 7 days, and new in the team of their first day.
    assert (team["7d", "org-a", "search"]["active_users"], team["7d", "org-a", "search"]["new_users"]) == (2, 2)
    assert (team["7d", "org-a", "payments"]["active_users"], team["7d", "org-a", "payments"]["new_users"]) == (2, 0)


def test_members_this_month_and_recently_silent_ones_ranked_and_capped(store, snapshots):
    add_user_day(store, date(2026, 10, 20), "silent@example.com", email="silent@example.com", lines_accepted=500)
    add_user_day(store, date(2026, 9, 1), "gone@example.com", email="gone@example.com", lines_accepted=900)
    add_user_day(store, date(2026, 11, 2), "ada@example.com", email="ada@example.com", team="",
                 lines_accepted=30, edits_accepted=3, sessions=("a1",))
    add_user_day(store, DAY, "ada@example.com", email="ada@example.com", team="payments", lines_accepted=12,
                 edits_rejected=1, cost_usd=1.5, sessions=("a1", "a2"))
    add_user_day(store, DAY, "acct-7", lines_accepted=41, sessions=("k1",))

    snapshot = snapshots.as_of(DAY, max_members=100)
    members = snapshot.members
    assert [m["user_key"] for m in members] == ["ada@example.com", "acct-7", "silent@example.com"]
    ada = members[0]
    assert (ada["email"], ada["team"], ada["lines_accepted"], ada["edits_accepted"], ada["edits_rejected"],
            ada["sessions"], ada["last_active"]) == ("ada@example.com", "payments", 42, 3, 1, 2, DAY)
    assert ada["cost_usd"] == pytest.approx(1.5)
    # Silent this month but active within 28 days: listed with zero figures this month and their last day.
    assert (members[2]["lines_accepted"], members[2]["last_active"]) == (0, date(2026, 10, 20))
    assert snapshot.members_left_out == 0

    capped = snapshots.as_of(DAY, max_members=2)
    assert [m["user_key"] for m in capped.members] == ["ada@example.com", "acct-7", OTHER]
    assert capped.members_left_out == 1
    # The member left out is summed into their team's OTHER member, so the member figures add up as uncapped.
    other = capped.members[2]
    assert (other["email"], other["team"], other["last_active"]) == ("", members[2]["team"], date(2026, 10, 20))
    for figure in ("sessions", *MEMBER_FIGURES):
        assert sum(m[figure] for m in capped.members) == pytest.approx(sum(m[figure] for m in members))


def test_models_and_edit_tools(store, snapshots):
    add_model_day(store, DAY, "ada", "opus", input_tokens=10, cache_read_tokens=90, cost_usd=0.5)
    add_model_day(store, DAY - timedelta(1), "ada", "opus", input_tokens=5)
    add_model_day(store, DAY, "ada", "haiku", output_tokens=3)
    add_edit_day(store, DAY, "ada", "Edit", "Python", 3, 1)
    add_edit_day(store, DAY - timedelta(10), "ada", "Edit", "Python", 5, 0)

    snapshot = snapshots.as_of(DAY, max_members=100)

    models = by(snapshot.model_totals, "model")
    assert (models["opus"]["input_tokens"], models["opus"]["cache_read_tokens"]) == (15, 90)
    assert models["haiku"]["output_tokens"] == 3
    totals = by(snapshot.edit_totals, "tool_name", "language")
    assert (totals["Edit", "Python"]["accepted"], totals["Edit", "Python"]["rejected"]) == (8, 1)
    models_7d = by([row for row in snapshot.window_models if row["window"] == "7d"], "model")
    assert (models_7d["opus"]["input_tokens"], models_7d["opus"]["cost_usd"]) == (15, pytest.approx(0.5))
    assert [row["input_tokens"] for row in snapshot.window_models
            if (row["window"], row["model"]) == ("yesterday", "opus")] == [5]
    edits = by(snapshot.window_edits, "window", "tool_name")
    assert (edits["7d", "Edit"]["accepted"], edits["28d", "Edit"]["accepted"]) == (3, 8)
    assert ("yesterday", "Edit") not in edits


def test_a_rebuilt_day_counts_once_in_totals_and_windows_of_models_and_edit_tools(store, snapshots):
    # Totals and windows come from one read of each table: the newer version, team included, replaces the older
    # one in both, and a window without rows of the table has no row.
    add_model_day(store, DAY - timedelta(40), "ada", "opus", input_tokens=100)
    add_model_day(store, DAY, "ada", "opus", input_tokens=10, version=1)
    add_model_day(store, DAY, "ada", "opus", team="search", input_tokens=12, version=2)
    add_edit_day(store, DAY, "ada", "Edit", "Python", 3, 1, version=1)
    add_edit_day(store, DAY, "ada", "Edit", "Python", 4, 0, team="search", version=2)

    snapshot = snapshots.as_of(DAY, max_members=100)

    assert [(row["team"], row["input_tokens"]) for row in snapshot.model_totals] == [("payments", 100),
                                                                                     ("search", 12)]
    assert {(row["window"], row["team"], row["input_tokens"]) for row in snapshot.window_models} == {
        (window, "search", 12) for window in ("today", "7d", "28d", "month")}
    assert [(row["team"], row["accepted"], row["rejected"]) for row in snapshot.edit_totals] == [("search", 4, 0)]
    assert sorted(row["window"] for row in snapshot.window_edits) == ["28d", "7d", "month", "today"]
    assert "window" not in snapshot.edit_totals[0] and "window" not in snapshot.model_totals[0]
