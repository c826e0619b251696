"""Prometheus families of the value figures (aggregator/value.py): cost per session, commit, pull request, accepted
line, active member and merged PR with Claude Code per org and window, and per team in the windows 28d and month
(TEAM_WINDOWS); per org the month's spend to date and its forecast; the spend concentration per org and window.

Orgs and teams are capped like the usage families' (exporters/label_caps.py): the sums of the values folded into
`other` are added up before dividing, so `other` carries its true ratio. A ratio whose count is 0 has no sample
(rather than NaN); the concentration of `other` is not published (shares of different orgs do not add up).
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from aggregator.snapshot import OTHER, Snapshot
from aggregator.value import COST_PER, FORECAST_METHOD, TOP_MEMBERS, TOP_PERCENT, VALUE_SUMS, cost_per
from exporters.label_caps import ORG, TEAM, Dimension, Key, fold, top_values

PREFIX = "cc_analytics_value_"
_WINDOWS_HELP = ("Window: today (so far), yesterday, 7d and 28d (ending today), month (to date), in the "
                 "aggregation time zone.")


def value_families(snapshot: Snapshot, max_label_values: int) -> tuple[list[Metric], dict[str, int]]:
    """The families, and how many orgs and teams their labels folded into OTHER (value_org, value_team)."""
    kept_orgs = top_values(snapshot.value_windows + snapshot.value_team_windows, ORG, _cost, max_label_values)
    orgs = fold(_sums(snapshot.value_windows, ("window", "org_id")), ORG, kept_orgs)
    teams = fold(_sums(snapshot.value_team_windows, ("window", "org_id", "team")), ORG, kept_orgs)
    kept_teams = top_values(teams, TEAM, _cost, max_label_values)
    folded = {"value_org": _left_out(snapshot.value_windows + snapshot.value_team_windows + snapshot.value_months,
                                     ORG, kept_orgs),
              "value_team": _left_out(teams, TEAM, kept_teams)}
    teams = fold(teams, TEAM, kept_teams)
    months = fold(snapshot.value_months, ORG, kept_orgs)
    concentrated = [row for row in snapshot.value_windows if (row["org_id"],) in kept_orgs]
    return [*_cost_per(orgs, "", ["org", "window"]), *_cost_per(teams, "team_", ["org", "team", "window"]),
            *_months(months), *_concentration(concentrated)], folded


def _left_out(rows: list[dict], dimension: Dimension, kept: set[Key]) -> int:
    return sum(1 for key in {dimension.key(row) for row in rows} - kept if key[-1] != OTHER)


def _cost(row: dict) -> float:
    return row["cost_usd"]


def _sums(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    return [{**{key: row[key] for key in keys}, **{name: row[name] for name in VALUE_SUMS}} for row in rows]


def _cost_per(rows: list[dict], scope: str, labels: list[str]) -> Iterator[Metric]:
    columns = {"org": "org_id", "team": "team", "window": "window"}
    for ratio in COST_PER:
        family = GaugeMetricFamily(f"{PREFIX}{scope}cost_per_{ratio.unit}_usd",
                                   f"{ratio.description}{' Per team.' if scope else ''} {_WINDOWS_HELP}",
                                   labels=labels)
        for row in rows:
            value = cost_per(row)[ratio.name]
            if value is not None:
                family.add_metric([row[columns[label]] for label in labels], value)
        yield family


def _months(rows: list[dict]) -> Iterator[Metric]:
    spent = GaugeMetricFamily(PREFIX + "month_to_date_spend_usd",
                              "Estimated cost in US dollars of this month so far, today included.", labels=["org"])
    forecast = GaugeMetricFamily(PREFIX + "month_forecast_usd", "Forecast of this month's estimated cost in US "
                                 f"dollars. {FORECAST_METHOD}", labels=["org"])
    for row in rows:
        spent.add_metric([row["org_id"]], row["month_to_date_usd"])
        forecast.add_metric([row["org_id"]], row["forecast_usd"])
    yield spent
    yield forecast


def _concentration(rows: list[dict]) -> Iterator[Metric]:
    decile = GaugeMetricFamily(PREFIX + "top_decile_spend_share",
                               f"Share of the org's spend of its top {TOP_PERCENT}% of members by cost (of the "
                               f"members with any cost, rounded up, at least 1). {_WINDOWS_HELP}",
                               labels=["org", "window"])
    top = GaugeMetricFamily(PREFIX + "top10_spend_share",
                            f"Share of the org's spend of its top {TOP_MEMBERS} members by cost. {_WINDOWS_HELP}",
                            labels=["org", "window"])
    for row in rows:
        if row["top_decile_share"] is not None and row["org_id"] != OTHER:
            decile.add_metric([row["org_id"], row["window"]], row["top_decile_share"])
            top.add_metric([row["org_id"], row["window"]], row["top10_share"])
    yield decile
    yield top
