"""The value figures' pure definitions (aggregator/value.py) on series computed by hand: the month-end forecast
across a month boundary, with a weekday without data and on the month's last days; spend concentration; top
spenders; cost per unit with a zero denominator."""

from __future__ import annotations

from datetime import date

import pytest

from aggregator.value import concentration, cost_per, forecast, top_decile_size, top_spenders

# 2026-03-01 is a Sunday, 2026-03-05 a Thursday. The baseline of today 2026-03-05 is 2026-02-05..2026-03-04.
SPEND = {
    date(2026, 2, 4): 100.0,  # a Wednesday one day before the baseline: counts nowhere
    date(2026, 2, 19): 4.0, date(2026, 2, 26): 8.0,  # Thursdays (Feb 5 and 12 without data): mean 12/4 = 3.0
    date(2026, 3, 1): 2.0,  # Sunday: month to date, and Sundays' mean 2/4 = 0.5
    date(2026, 3, 2): 10.0,  # Monday: month to date, and Mondays' mean 10/4 = 2.5
    date(2026, 3, 5): 1.5,  # today so far: month to date, not in the baseline
}


def test_the_forecast_adds_each_remaining_day_its_weekdays_average_of_the_last_four_weeks():
    answer = forecast(SPEND, date(2026, 3, 1), today=date(2026, 3, 5))
    assert answer["month_to_date_usd"] == 13.5  # 2 + 10 + 1.5
    assert answer["remaining_days"] == 26  # March 6..31
    # Mondays 9, 16, 23, 30: 4 * 2.5; Thursdays 12, 19, 26: 3 * 3.0; Sundays 8, 15, 22, 29: 4 * 0.5; the rest 0
    assert answer["forecast_usd"] == pytest.approx(13.5 + 10.0 + 9.0 + 2.0)
    assert answer["weekday_baseline_usd"] == {"monday": 2.5, "tuesday": 0.0, "wednesday": 0.0, "thursday": 3.0,
                                              "friday": 0.0, "saturday": 0.0, "sunday": 0.5}


def test_on_the_last_days_of_the_month():
    spend = {date(2026, 3, 3): 2.0, date(2026, 3, 24): 6.0, date(2026, 3, 30): 1.0, date(2026, 3, 31): 0.25,
             date(2026, 4, 1): 50.0}
    # today the 30th (a Monday): one day left, Tuesday the 31st, whose baseline is Tuesdays 3, 10, 17, 24: 8/4
    on_30th = forecast(spend, date(2026, 3, 1), today=date(2026, 3, 30))
    assert (on_30th["month_to_date_usd"], on_30th["remaining_days"]) == (9.0, 1)
    assert on_30th["forecast_usd"] == pytest.approx(11.0)
    # today the 31st: nothing left to forecast, April's spend is not March's
    on_31st = forecast(spend, date(2026, 3, 1), today=date(2026, 3, 31))
    assert (on_31st["month_to_date_usd"], on_31st["remaining_days"], on_31st["forecast_usd"]) == (9.25, 0, 9.25)


def test_a_past_month_forecasts_its_spend_and_a_future_one_only_the_baseline():
    past = forecast(SPEND, date(2026, 2, 1), today=date(2026, 3, 5))
    assert (past["month_to_date_usd"], past["remaining_days"], past["forecast_usd"]) == (112.0, 0, 112.0)
    future = forecast(SPEND, date(2026, 4, 1), today=date(2026, 3, 5))
    # April 2026: 30 days from a Wednesday: Mondays 6, 13, 20, 27; Thursdays 2, 9, 16, 23, 30; Sundays 5, 12, 19, 26
    assert (future["month_to_date_usd"], future["remaining_days"]) == (0, 30)
    assert future["forecast_usd"] == pytest.approx(4 * 2.5 + 5 * 3.0 + 4 * 0.5)


def test_an_empty_series_forecasts_nothing():
    assert forecast({}, date(2026, 3, 1), today=date(2026, 3, 5))["forecast_usd"] == 0


@pytest.mark.parametrize("members, decile", [(0, 1), (1, 1), (9, 1), (10, 1), (11, 2), (30, 3), (31, 4), (100, 10)])
def test_the_top_decile_is_the_ceiling_of_a_tenth_and_at_least_one(members, decile):
    assert top_decile_size(members) == decile


def test_concentration_counts_only_members_with_spend():
    costs = [50.0, 30.0, *([2.0] * 9), 0.0, 0.0]  # 11 members with spend (total 98): the top 10% are 2
    assert concentration(costs) == {"top_decile_members": 2, "top_decile_share": pytest.approx(80 / 98),
                                    "top10_share": pytest.approx(96 / 98)}
    assert concentration([0.0]) == {"top_decile_members": 0, "top_decile_share": None, "top10_share": None}
    assert concentration([5.0])["top_decile_share"] == 1.0


def test_top_spenders_are_ranked_with_their_share():
    members = [{"user_key": "b", "cost_usd": 3.0}, {"user_key": "a", "cost_usd": 3.0},
               {"user_key": "c", "cost_usd": 4.0}, {"user_key": "d", "cost_usd": 0.0}]
    assert top_spenders(members, 2) == [{"user_key": "c", "cost_usd": 4.0, "share": 0.4},
                                        {"user_key": "a", "cost_usd": 3.0, "share": 0.3}]


def test_a_cost_per_nothing_is_null():
    row = {"cost_usd": 12.0, "sessions": 4, "commits": 0, "pull_requests": 3, "lines_accepted": 240,
           "active_members": 2, "prs_merged_with_cc": 0}
    assert cost_per(row) == {"cost_per_session": 3.0, "cost_per_commit": None, "cost_per_pull_request": 4.0,
                             "cost_per_line": 0.05, "cost_per_member": 6.0, "cost_per_merged_pr_with_cc": None}
