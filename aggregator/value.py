"""The value figures: what Claude Code costs per unit of work, the month's spend and its forecast, and how
concentrated the spend is among members. Each is defined once here, from sums the rollups hold.

Pure functions only (no I/O): aggregator/value_report.py reads the sums from daily_user and daily_contributions,
the API, `cc-analytics report value` and exporters/value_metrics.py publish what these compute.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Mapping

from aggregator.figures import share


@dataclass(frozen=True)
class CostPer:
    """cost_usd divided by a count of work; None (JSON null) when the count is 0."""

    name: str
    denominator: str
    unit: str  # for the metric name: cc_analytics_value_cost_per_<unit>_usd
    description: str


# The sums a value row carries: spend and the counts of work it is divided by.
VALUE_SUMS = ("cost_usd", "sessions", "commits", "pull_requests", "lines_accepted", "active_members",
              "prs_merged_with_cc")
COST_PER = (
    CostPer("cost_per_session", "sessions", "session",
            "Estimated cost in US dollars per Claude Code session (distinct session.id over the period)."),
    CostPer("cost_per_commit", "commits", "commit",
            "Estimated cost in US dollars per git commit made through Claude Code (commit.count)."),
    CostPer("cost_per_pull_request", "pull_requests", "pull_request",
            "Estimated cost in US dollars per pull request created through Claude Code (pull_request.count)."),
    CostPer("cost_per_line", "lines_accepted", "line",
            "Estimated cost in US dollars per line of code accepted (lines_of_code.count, type added)."),
    CostPer("cost_per_member", "active_members", "member",
            "Estimated cost in US dollars per active member (distinct members with a record in the period)."),
    CostPer("cost_per_merged_pr_with_cc", "prs_merged_with_cc", "merged_pr_with_claude_code",
            "Estimated cost in US dollars per pull request merged on GitHub with Claude Code (contribution "
            "metrics)."),
)
VALUE_COLUMNS = ("org_id", *VALUE_SUMS, *(ratio.name for ratio in COST_PER), "top_decile_members",
                 "top_decile_share", "top10_share")

# The windows of the per-team value figures on /metrics: six families in all five windows over 400 (org, team)
# pairs would add 12,000 series (see METRICS_BYTE_BOUND in tests/exporters/test_metrics_endpoint.py); a team's
# shorter windows are the ratio of the cc_analytics_window_* families in PromQL.
TEAM_WINDOWS = ("28d", "month")
# The share of members whose spend concentration is reported, and the fixed number of top members.
TOP_PERCENT = 10
TOP_MEMBERS = 10
FORECAST_WEEKS = 4
FORECAST_METHOD = (
    "month_to_date_usd is the spend of the month's days up to and including today (today so far). Each day of "
    "the month after today is forecast as the average spend of the same weekday over the previous four weeks: "
    f"the {7 * FORECAST_WEEKS} days ending yesterday (the last complete day), days without data counting 0. "
    "forecast_usd = month_to_date_usd + the sum of those days.")


def cost_per(row: Mapping[str, float]) -> dict[str, float | None]:
    """Every COST_PER ratio of a row of VALUE_SUMS."""
    return {ratio.name: share(row["cost_usd"], row[ratio.denominator]) for ratio in COST_PER}


def top_decile_size(members_with_cost: int) -> int:
    """How many members the top 10% are: ceil(10% of the members with any cost), at least 1."""
    return max(1, -(-members_with_cost * TOP_PERCENT // 100))  # integers: 30 * 0.1 is 3.0000000000000004


def concentration(costs: list[float]) -> dict[str, float | int | None]:
    """The share of spend of the top 10% of members (those with cost > 0) and of the top 10; None without spend."""
    ranked = sorted((cost for cost in costs if cost > 0), reverse=True)
    total = sum(ranked)
    decile = top_decile_size(len(ranked))
    return {"top_decile_members": decile if ranked else 0,
            "top_decile_share": share(sum(ranked[:decile]), total),
            "top10_share": share(sum(ranked[:TOP_MEMBERS]), total)}


def top_spenders(members: list[dict], limit: int) -> list[dict]:
    """The limit members with the largest cost_usd (ties by user key), each with their share of the spend."""
    total = sum(member["cost_usd"] for member in members)
    ranked = sorted((m for m in members if m["cost_usd"] > 0), key=lambda m: (-m["cost_usd"], m["user_key"]))
    return [{**member, "share": share(member["cost_usd"], total)} for member in ranked[:limit]]


def month_days(month: date) -> list[date]:
    first = month.replace(day=1)
    return [first + timedelta(days=n) for n in range(calendar.monthrange(month.year, month.month)[1])]


def forecast_window(month: date, today: date) -> tuple[date, date]:
    """The days a forecast reads: the baseline weeks before today through the month's last day."""
    days = month_days(month)
    return min(days[0], today - timedelta(days=7 * FORECAST_WEEKS)), max(days[-1], today)


def forecast(spend: Mapping[date, float], month: date, today: date) -> dict:
    """The month's spend to date and its month-end forecast (FORECAST_METHOD) from spend per day; a day missing
    from spend spent 0. A past month has no day left (its forecast is its spend), a future one no spend yet."""
    days = month_days(month)
    last_complete = today - timedelta(days=1)
    baseline_days = [last_complete - timedelta(days=n) for n in range(7 * FORECAST_WEEKS)]
    baseline = {weekday: sum(spend.get(day, 0.0) for day in baseline_days if day.weekday() == weekday)
                / FORECAST_WEEKS for weekday in range(7)}
    spent = sum(spend.get(day, 0.0) for day in days if day <= today)
    remaining = [day for day in days if day > today]
    return {"month": f"{month:%Y-%m}", "today": today.isoformat(), "month_to_date_usd": spent,
            "remaining_days": len(remaining),
            "forecast_usd": spent + sum(baseline[day.weekday()] for day in remaining),
            "weekday_baseline_usd": {calendar.day_name[weekday].lower(): baseline[weekday] for weekday in range(7)}}
