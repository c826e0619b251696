"""Builds the bundled Grafana dashboards with grafana-foundation-sdk and writes them as JSON beside this file.

Run `.venv/bin/python grafana-dashboards/build.py` after changing a panel; tests/exporters/test_dashboards.py checks that the
committed JSON is exactly what this produces, so the JSON never drifts from this readable source.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import common as viz
from grafana_foundation_sdk.models.dashboard import (
    Dashboard,
    DashboardCursorSync,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

HERE = Path(__file__).resolve().parent
# Grafana 11.0's schema version: every Grafana 11 release reads the files (later ones migrate them forward).
SCHEMA_VERSION = 39
TAGS = ["cc-analytics", "claude-code"]
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
PROVISIONED_DATASOURCE = "cc-analytics-prometheus"

ORG = 'org=~"$org"'
TEAM = 'org=~"$org",team=~"$team"'
MEMBER = 'org=~"$org",team=~"$team",user=~"$user"'

TODAY, WEEK, MONTH_28D, MONTH = "today", "7d", "28d", "month"


# ---- PromQL ----------------------------------------------------------------------------------------------------

def selector(family: str, scope: str, **labels: str) -> str:
    """`family{label="value",...,scope}`: fixed labels first, then the dashboard's variable matchers."""
    matchers = [f'{name}="{value}"' for name, value in labels.items()] + ([scope] if scope else [])
    return f"{family}{{{','.join(matchers)}}}"


def total(family: str, scope: str = TEAM, by: str = "", **labels: str) -> str:
    """The family summed over every series the variables select (grouped by `by` labels, if any)."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}({selector(family, scope, **labels)})"


def in_window(family: str, window: str, scope: str = TEAM, by: str = "", **labels: str) -> str:
    return total(family, scope, by, window=window, **labels)


def per_day(family: str, scope: str = TEAM, by: str = "", window: str = TODAY, **labels: str) -> str:
    """The day's final value of a window gauge: its largest value in each 1d step (panels set interval 1d)."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(max_over_time({selector(family, scope, window=window, **labels)}[$__interval]))"


def per_second(counter: str, by: str = "") -> str:
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({counter}[$__rate_interval]))"


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, with no value (rather than NaN or Inf) where the denominator is 0."""
    return f"{numerator} / ({denominator} > 0)"


def accept_rate(accepted: str, rejected: str) -> str:
    return ratio(accepted, f"{accepted} + {rejected}")


def minus(whole: str, part: str) -> str:
    """whole - part, where a missing part (no series: nobody in that window) counts as 0."""
    return f"{whole} - ({part} or {whole} * 0)"


def decision_rate(by: str, window: str = MONTH_28D) -> str:
    """Accepted / all edit decisions in the window, per `by` (accept and reject both come from one family)."""
    decisions = "cc_analytics_window_edit_decisions"
    return ratio(total(decisions, TEAM, by, decision="accept", window=window),
                 total(decisions, TEAM, by, window=window))


def quantile(q: float, histogram: str, by: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({histogram}_bucket[$__rate_interval])))"


# ---- panels ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


def ref_id(index: int) -> str:
    """Grafana's refId of a panel's index-th query: A, B, C..."""
    return chr(ord("A") + index)


def _target(query: Query, ref: str, instant: bool, as_table: bool) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(query.expr).ref_id(ref).datasource(DATASOURCE)
    if query.legend:
        target = target.legend_format(query.legend)
    if as_table:
        target = target.format(PromQueryFormat.TABLE)
    return target.instant() if instant else target.range()


def _panel(builder, title: str, description: str, queries: list[Query], unit: str, instant: bool,
           as_table: bool = False):
    """Sets what every panel shares: title, one-sentence description, the ${datasource}, unit and targets."""
    builder = builder.title(title).description(description).datasource(DATASOURCE).unit(unit)
    for index, query in enumerate(queries):
        builder = builder.with_target(_target(query, ref_id(index), instant, as_table))
    return builder


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=value, color=color) for value, color in steps])


NEUTRAL = ((None, "blue"),)


def stat_panel(title: str, description: str, query: Query, unit: str = "short",
               steps: tuple = NEUTRAL, mappings: list | None = None) -> stat.Panel:
    """A single current figure (instant query, last value)."""
    panel = _panel(stat.Panel(), title, description, [query], unit, instant=True)
    panel = (panel.thresholds(thresholds(*steps)).graph_mode(viz.BigValueGraphMode.NONE)
             .color_mode(viz.BigValueColorMode.VALUE)
             .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    return panel.mappings(mappings) if mappings else panel


def series_panel(title: str, description: str, queries: list[Query], unit: str = "short",
                 daily: bool = False, stacked: bool = False) -> timeseries.Panel:
    """A time series; `daily` panels step one day at a time and draw bars."""
    panel = _panel(timeseries.Panel(), title, description, queries, unit, instant=False)
    panel = (panel.thresholds(thresholds(*NEUTRAL))
             .legend(common.VizLegendOptions().display_mode(viz.LegendDisplayMode.LIST)
                     .placement(viz.LegendPlacement.BOTTOM).show_legend(True))
             .tooltip(common.VizTooltipOptions().mode(viz.TooltipDisplayMode.MULTI).sort(viz.SortOrder.DESCENDING)))
    if daily:
        panel = panel.interval("1d").draw_style(viz.GraphDrawStyle.BARS).fill_opacity(70)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(viz.StackingMode.NORMAL))
    return panel


def bars_panel(title: str, description: str, query: Query, unit: str = "short") -> bargauge.Panel:
    """Current values, one horizontal bar per series, in the query's order."""
    panel = _panel(bargauge.Panel(), title, description, [query], unit, instant=True)
    panel = (panel.thresholds(thresholds(*NEUTRAL)).orientation(viz.VizOrientation.HORIZONTAL)
             .display_mode(viz.BarGaugeDisplayMode.GRADIENT).min(0)
             .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    return panel.max(1) if unit == "percentunit" else panel


@dataclass(frozen=True)
class Column:
    header: str
    expr: str
    unit: str = "short"


def table_panel(title: str, description: str, keys: list[str], columns: list[Column]) -> table.Panel:
    """One row per combination of `keys` labels: instant table queries merged, then renamed and ordered."""
    panel = _panel(table.Panel(), title, description, [Query(column.expr) for column in columns], "short",
                   instant=True, as_table=True)
    # Each query's value column is "Value #<refId>"; merge joins them on the label columns. Organize orders and
    # excludes by the original field names, then renames.
    value_names = {f"Value #{ref_id(index)}": column.header for index, column in enumerate(columns)}
    order = {name: index for index, name in enumerate(keys + list(value_names))}
    panel = (panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {"Time": True}, "renameByName": value_names, "indexByName": order}))
             .sort_by([common.TableSortByFieldState().display_name(columns[0].header).desc(True)])
             .thresholds(thresholds(*NEUTRAL)))
    for column in columns:
        if column.unit != "short":
            panel = panel.override_by_name(column.header, [DynamicConfigValue(id_val="unit", value=column.unit)])
    return panel


# ---- dashboards ------------------------------------------------------------------------------------------------

def datasource_variable() -> dashboard.DatasourceVariable:
    return (dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")
            .current(VariableOption(text=PROVISIONED_DATASOURCE, value=PROVISIONED_DATASOURCE)))


def label_variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    """A multi-value label filter whose All matches every value, including an absent label (`.*`)."""
    return (dashboard.QueryVariable(name).label(label).query(query).datasource(DATASOURCE)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).all_value(".*")
            .current(VariableOption(text=["All"], value=["$__all"])))


ORG_VARIABLE = ("org", "Organization", "label_values(cc_analytics_active_users, org)")
TEAM_VARIABLE = ("team", "Team", 'label_values(cc_analytics_team_active_users{org=~"$org"}, team)')
USER_VARIABLE = ("user", "Member",
                 'label_values(cc_analytics_user_month_lines_accepted{org=~"$org",team=~"$team"}, user)')

# One row of the grid: its height, and (width, panel) from left to right.
Row = tuple[int, list[tuple[int, object]]]


def board(uid: str, title: str, description: str, since: str, variables: list[tuple[str, str, str]],
          rows: list[Row], timezone: str = "utc") -> dict:
    """A dashboard as JSON: panels laid out row by row and numbered from 1."""
    builder = (dashboard.Dashboard(title).uid(uid).description(description).tags(TAGS).refresh("1m")
               .time(f"now-{since}", "now").timezone(timezone).tooltip(DashboardCursorSync.CROSSHAIR)
               .with_variable(datasource_variable()))
    for variable in variables:
        builder = builder.with_variable(label_variable(*variable))
    panel_id, top = 0, 0
    for height, cells in rows:
        left = 0
        for width, panel in cells:
            panel_id += 1
            builder = builder.with_panel(panel.id(panel_id).grid_pos(GridPos(h=height, w=width, x=left, y=top)))
            left += width
        top += height
    model = builder.build()
    model.schema_version = SCHEMA_VERSION
    # Through the SDK's decoder and back: the file is then exactly what the SDK's model holds, defaults included.
    return to_json(Dashboard.from_json(to_json(model)))


def to_json(model: object) -> dict:
    return json.loads(json.dumps(model, cls=JSONEncoder))


DAILY = "; each bar is the day that ended at its time (UTC days, serve's default --timezone)"
INACTIVE = "members active in the last 28 days but not in the last 7"


def usage_board() -> dict:
    return board("cc-analytics-usage", "Claude Code usage",
                 "Lines of code accepted, accept rate, active users, sessions and members, as on Anthropic's "
                 "Claude Code usage analytics page.", "30d", [ORG_VARIABLE, TEAM_VARIABLE, USER_VARIABLE],
                 [usage_figures(), usage_trends(), usage_members()])


def usage_figures() -> Row:
    return (4, [
        (5, stat_panel("Lines of code accepted", "Lines of code accepted this month.",
                       Query(in_window("cc_analytics_window_lines_accepted", MONTH)))),
        (5, stat_panel("Suggestion accept rate", "Edits accepted / (accepted + rejected) this month.",
                       Query(accept_rate(in_window("cc_analytics_window_edits_accepted", MONTH),
                                         in_window("cc_analytics_window_edits_rejected", MONTH))), "percentunit")),
        (5, stat_panel("Daily active users", "Distinct members active today in the selected organizations (not "
                       "narrowed by team).", Query(in_window("cc_analytics_active_users", TODAY, ORG)))),
        (5, stat_panel("Sessions today", "Distinct Claude Code sessions today.",
                       Query(in_window("cc_analytics_window_sessions", TODAY)))),
        (4, stat_panel("Members left out", "Members without per-member series because of --max-user-series, "
                       "summed into the member \"other\" of their team in the members table and top 10.",
                       Query('max(cc_analytics_label_values_folded{dimension="user"})'),
                       steps=((None, "green"), (1, "orange")))),
    ])


def usage_trends() -> Row:
    return (8, [
        (12, series_panel("Daily active users and sessions", "Distinct active members (organization level, not "
                          f"narrowed by team) and sessions each day{DAILY}.", [
            Query(per_day("cc_analytics_active_users", ORG), "active users"),
            Query(per_day("cc_analytics_window_sessions"), "sessions")], daily=True)),
        (12, series_panel("Lines accepted over time", f"Lines of code accepted and removed each day{DAILY}.", [
            Query(per_day("cc_analytics_window_lines_accepted"), "lines accepted"),
            Query(per_day("cc_analytics_window_lines_removed"), "lines removed")], daily=True)),
    ])


def usage_members() -> Row:
    member = {name: total(f"cc_analytics_user_month_{name}", MEMBER, "user, team")
              for name in ("lines_accepted", "edits_accepted", "edits_rejected", "sessions", "cost_usd")}
    top_lines = total("cc_analytics_user_month_lines_accepted", MEMBER, "user")
    return (12, [
        (16, table_panel("Members", "Per member this month: lines accepted, edits accepted and rejected, accept "
                         "rate, sessions and cost.", ["user", "team"], [
            Column("Lines accepted", member["lines_accepted"]),
            Column("Edits accepted", member["edits_accepted"]),
            Column("Edits rejected", member["edits_rejected"]),
            Column("Accept rate", accept_rate(member["edits_accepted"], member["edits_rejected"]), "percentunit"),
            Column("Sessions", member["sessions"]),
            Column("Cost", member["cost_usd"], "currencyUSD")])),
        (8, bars_panel("Top 10 by lines accepted", "The 10 members with the most lines of code accepted this "
                       "month.", Query(f"sort_desc(topk(10, {top_lines}))", "{{user}}"))),
    ])


TOKEN_TYPES = {"input": "input_tokens", "output": "output_tokens", "cache read": "cache_read_tokens",
               "cache creation": "cache_creation_tokens"}


def tokens(name: str, window: str) -> str:
    """Tokens of one type in the window; `today` as each day's final value (for daily panels)."""
    family = f"cc_analytics_window_{name}"
    return per_day(family) if window == TODAY else in_window(family, window)


def cache_hit(window: str) -> str:
    return ratio(tokens("cache_read_tokens", window), " + ".join(
        tokens(name, window) for name in ("input_tokens", "cache_read_tokens", "cache_creation_tokens")))


def cost_board() -> dict:
    return board("cc-analytics-cost", "Claude Code cost and tokens",
                 "Claude Code spend and token use by model, type, team and member.", "30d",
                 [ORG_VARIABLE, TEAM_VARIABLE], [cost_figures(), cost_tokens(), cost_trends(), cost_breakdown()])


def cost_figures() -> Row:
    cost_month = in_window("cc_analytics_window_cost_usd", MONTH)
    return (4, [
        (6, stat_panel("Cost this month", "Estimated cost in USD this month.", Query(cost_month), "currencyUSD")),
        (6, stat_panel("Cost per accepted line", "Cost this month / lines of code accepted this month.",
                       Query(ratio(cost_month, in_window("cc_analytics_window_lines_accepted", MONTH))),
                       "currencyUSD")),
        (6, stat_panel("Cache hit ratio", "Cache-read tokens / (input + cache-read + cache-creation tokens) this "
                       "month.", Query(cache_hit(MONTH)), "percentunit")),
        (6, stat_panel("Tokens this month", "Input, output, cache-read and cache-creation tokens this month.",
                       Query(" + ".join(tokens(name, MONTH) for name in TOKEN_TYPES.values())))),
    ])


def cost_tokens() -> Row:
    return (8, [
        (12, series_panel("Tokens per day by type", f"Tokens of each type each day{DAILY}.", [
            Query(tokens(name, TODAY), legend) for legend, name in TOKEN_TYPES.items()], daily=True, stacked=True)),
        (12, series_panel("Tokens per day by model", f"Tokens of every type per model each day{DAILY}.",
                          [Query(per_day("cc_analytics_window_model_tokens", by="model"), "{{model}}")],
                          daily=True, stacked=True)),
    ])


def cost_trends() -> Row:
    return (8, [
        (12, series_panel("Cost per day by model", f"Estimated cost in USD per model each day{DAILY}.",
                          [Query(per_day("cc_analytics_window_model_cost_usd", by="model"), "{{model}}")],
                          "currencyUSD", daily=True, stacked=True)),
        (12, series_panel("Cache hit ratio per day", "Cache-read tokens / (input + cache-read + cache-creation "
                          f"tokens) each day{DAILY}.", [Query(cache_hit(TODAY), "cache hit ratio")], "percentunit",
                          daily=True)),
    ])


def cost_breakdown() -> Row:
    cost_by_model = in_window("cc_analytics_window_model_cost_usd", MONTH, by="model")
    cost_by_team = in_window("cc_analytics_window_cost_usd", MONTH, by="team")
    top_cost = total("cc_analytics_user_month_cost_usd", TEAM, "user")
    return (9, [
        (8, bars_panel("Cost by model this month", "Estimated cost in USD this month per model.",
                       Query(f"sort_desc({cost_by_model})", "{{model}}"), "currencyUSD")),
        (8, bars_panel("Cost by team this month", "Estimated cost in USD this month per team.",
                       Query(f"sort_desc({cost_by_team})", "{{team}}"), "currencyUSD")),
        (8, bars_panel("Top 10 members by cost", "The 10 members with the highest estimated cost this month.",
                       Query(f"sort_desc(topk(10, {top_cost}))", "{{user}}"), "currencyUSD")),
    ])


def active(window: str) -> str:
    return in_window("cc_analytics_active_users", window, ORG)


def team_active(window: str) -> str:
    return in_window("cc_analytics_team_active_users", window, TEAM, by="team")


def adoption_board() -> dict:
    return board("cc-analytics-adoption", "Claude Code adoption",
                 "Daily, weekly and monthly active members, new and inactive members, per organization and team, "
                 "and accept rates by language and tool.", "30d", [ORG_VARIABLE, TEAM_VARIABLE],
                 [adoption_figures(), adoption_trends(), adoption_teams(), adoption_accept_rates()])


def adoption_figures() -> Row:
    return (4, [
        (4, stat_panel("Daily active users", "Distinct members active today.", Query(active(TODAY)))),
        (4, stat_panel("Weekly active users", "Distinct members active today or in the 6 days before.",
                       Query(active(WEEK)))),
        (4, stat_panel("Monthly active users", "Distinct members active today or in the 27 days before.",
                       Query(active(MONTH_28D)))),
        (4, stat_panel("New users (7d)", "Members whose first active day ever is in the last 7 days.",
                       Query(in_window("cc_analytics_new_users", WEEK, ORG)))),
        (4, stat_panel("New users (28d)", "Members whose first active day ever is in the last 28 days.",
                       Query(in_window("cc_analytics_new_users", MONTH_28D, ORG)))),
        (4, stat_panel("Inactive users", f"Active users (28d) - active users (7d): {INACTIVE}.",
                       Query(minus(active(MONTH_28D), active(WEEK))))),
    ])


def adoption_trends() -> Row:
    return (8, [
        (12, series_panel("Active users over time", f"Daily, weekly (7d) and monthly (28d) active members each day"
                          f"{DAILY}.", [Query(per_day("cc_analytics_active_users", ORG, window=window), legend)
                                        for window, legend in ((TODAY, "DAU"), (WEEK, "WAU"), (MONTH_28D, "MAU"))],
                          daily=True)),
        (12, series_panel("Daily active users per team", f"Distinct active members per team each day{DAILY}.",
                          [Query(per_day("cc_analytics_team_active_users", by="team"), "{{team}}")],
                          daily=True, stacked=True)),
    ])


def adoption_teams() -> Row:
    return (9, [
        (24, table_panel("Teams", "Per team: monthly (28d), weekly (7d) and daily active members, new members (28d) "
                         f"and inactive members ({INACTIVE}).", ["team"], [
            Column("Monthly active (28d)", team_active(MONTH_28D)),
            Column("Weekly active (7d)", team_active(WEEK)),
            Column("Daily active", team_active(TODAY)),
            Column("New (28d)", in_window("cc_analytics_team_new_users", MONTH_28D, TEAM, by="team")),
            Column("Inactive (28d - 7d)", minus(team_active(MONTH_28D), team_active(WEEK)))])),
    ])


def adoption_accept_rates() -> Row:
    return (9, [
        (12, bars_panel(f"Accept rate by {label}", f"Accepted / all edit decisions in the last 28 days, per {noun}.",
                        Query(f"sort_desc({decision_rate(label)})", f"{{{{{label}}}}}"), "percentunit"))
        for label, noun in (("language", "file language"), ("tool", "edit tool"))
    ])


PRS, LINES = "cc_analytics_contribution_prs_merged", "cc_analytics_contribution_lines_merged"
ACTIVE_MEMBERS = "cc_analytics_contribution_active_members"
WITH_CC = "with_claude_code"
LEVELS = ((WITH_CC, "with Claude Code"), ("assisted", "assisted"), ("without", "without"))
MERGE_DAYS = "; each bar is the merge day that ended at its time (UTC days, serve's default --timezone)"


def contribution_board() -> dict:
    return board("cc-analytics-contribution", "Claude Code contribution",
                 "Pull requests and lines merged on GitHub with and without Claude Code, per day, per active "
                 "member and per member, as on Anthropic's contribution metrics page.", "30d",
                 [ORG_VARIABLE, TEAM_VARIABLE],
                 [contribution_figures(), contribution_trends(), contribution_rates(), contribution_leaders()])


def contribution_figures() -> Row:
    merged, with_cc = in_window(PRS, MONTH), in_window(PRS, MONTH, level=WITH_CC)
    return (4, [
        (5, stat_panel("PRs merged this month", "Pull requests merged this month, with or without Claude Code.",
                       Query(merged))),
        (5, stat_panel("PRs merged with Claude Code", "Pull requests merged this month with a commit or body "
                       "marked as Claude Code's.", Query(with_cc))),
        (5, stat_panel("Share with Claude Code", "PRs merged with Claude Code / all PRs merged this month.",
                       Query(ratio(with_cc, merged)), "percentunit")),
        (5, stat_panel("Lines merged with Claude Code", "Effective lines merged this month in Claude Code's "
                       "commits.", Query(in_window(LINES, MONTH, level=WITH_CC)))),
        (4, stat_panel("PRs per active member", "PRs merged this month / members with Claude Code sessions this "
                       "month.", Query(ratio(merged, in_window(ACTIVE_MEMBERS, MONTH))))),
    ])


def contribution_trends() -> Row:
    return (8, [
        (12, series_panel("PRs merged per day", f"Pull requests merged with Claude Code, assisted and without it "
                          f"each day{MERGE_DAYS}.", [Query(per_day(PRS, level=level), legend)
                                                    for level, legend in LEVELS], daily=True, stacked=True)),
        (12, series_panel("Lines merged per day", f"Lines merged with and without Claude Code each day{MERGE_DAYS}.",
                          [Query(per_day(LINES, level=level), legend) for level, legend in LEVELS
                           if level != "assisted"], daily=True, stacked=True)),
    ])


def contribution_rates() -> Row:
    merged = per_day(PRS)
    return (8, [
        (12, series_panel("Share of PRs with Claude Code per day", f"PRs merged with Claude Code / all PRs merged "
                          f"each day{MERGE_DAYS}.", [Query(ratio(per_day(PRS, level=WITH_CC), merged), "share")],
                          "percentunit", daily=True)),
        (12, series_panel("PRs merged per active member per day", "PRs merged / members with Claude Code sessions "
                          f"each day{MERGE_DAYS}.", [Query(ratio(merged, per_day(ACTIVE_MEMBERS)),
                                                           "PRs per active member")], daily=True)),
    ])


def contribution_leaders() -> Row:
    member = {name: total(f"cc_analytics_contribution_user_month_{name}", TEAM, "user")
              for name in ("prs_merged", "lines_merged")}
    with_cc = {name: total(f"cc_analytics_contribution_user_month_{name}", TEAM, "user", level=WITH_CC)
               for name in ("prs_merged", "lines_merged")}
    return (12, [
        (6, bars_panel("Top 10 by PRs with Claude Code", "The 10 members with the most pull requests merged with "
                       "Claude Code this month.", Query(f"sort_desc(topk(10, {with_cc['prs_merged']}))", "{{user}}"))),
        (6, bars_panel("Top 10 by lines with Claude Code", "The 10 members with the most lines merged with Claude "
                       "Code this month.", Query(f"sort_desc(topk(10, {with_cc['lines_merged']}))", "{{user}}"))),
        (12, table_panel("Members", "Per member this month: PRs merged with Claude Code and in all, their share, "
                         "and lines merged with Claude Code and in all.", ["user"], [
            Column("PRs with Claude Code", with_cc["prs_merged"]),
            Column("PRs merged", member["prs_merged"]),
            Column("Share with Claude Code", ratio(with_cc["prs_merged"], member["prs_merged"]), "percentunit"),
            Column("Lines with Claude Code", with_cc["lines_merged"]),
            Column("Lines merged", member["lines_merged"])])),
    ])


REPOSITORY_LINES = "cc_analytics_repository_lines_accepted"
NOT_REPORTED = ('the repository "" holds what Claude Code reported no repository for (without '
                "OTEL_METRICS_INCLUDE_REPOSITORY=1, or outside a git checkout); \"other\" sums the repositories past "
                "--max-label-values of an organization")


def repository_board() -> dict:
    return board("cc-analytics-repositories", "Claude Code repositories",
                 "Lines accepted, sessions, members and cost per git repository (owner/name of the origin, as "
                 "Claude Code reports it with OTEL_METRICS_INCLUDE_REPOSITORY=1).", "30d",
                 [ORG_VARIABLE, TEAM_VARIABLE], [repository_figures(), repository_trends(), repository_table()])


def repository_figures() -> Row:
    named = f'{REPOSITORY_LINES}{{repository!="",window="{MONTH}",{TEAM}}}'
    return (4, [
        (6, stat_panel("Repositories this month", "Repositories with Claude Code records this month (those past "
                       "--max-label-values count as one, \"other\").",
                       Query(f"count(count by (org, repository) ({named}))"))),
        (6, stat_panel("Lines accepted in named repositories", "Share of this month's accepted lines made in a "
                       "repository Claude Code named.", Query(ratio(f"sum({named})",
                                                                    in_window(REPOSITORY_LINES, MONTH))),
                       "percentunit")),
        (6, stat_panel("Sessions in repositories", "Sessions this month, summed over repositories (a session in "
                       "two repositories counts in each).", Query(in_window("cc_analytics_repository_sessions",
                                                                            MONTH)))),
        (6, stat_panel("Repositories folded", "Repositories summed into \"other\" because of --max-label-values.",
                       Query('max(cc_analytics_label_values_folded{dimension="repository"})'),
                       steps=((None, "green"), (1, "orange")))),
    ])


def repository_trends() -> Row:
    return (8, [
        (24, series_panel("Lines accepted per repository per day", f"Lines of code accepted in each repository "
                          f"each day{DAILY}; {NOT_REPORTED}.",
                          [Query(per_day(REPOSITORY_LINES, by="repository"), "{{repository}}")], daily=True,
                          stacked=True)),
    ])


def repository_table() -> Row:
    column = {name: total(f"cc_analytics_repository_{name}", TEAM, "org, repository", window=MONTH)
              for name in ("lines_accepted", "sessions", "members", "cost_usd")}
    return (12, [
        (16, table_panel("Repositories", f"Per repository this month: lines accepted, sessions, members and cost; "
                         f"{NOT_REPORTED}.", ["org", "repository"], [
            Column("Lines accepted", column["lines_accepted"]),
            Column("Sessions", column["sessions"]),
            Column("Members", column["members"]),
            Column("Cost", column["cost_usd"], "currencyUSD")])),
        (8, bars_panel("Top 10 by lines accepted", "The 10 repositories with the most lines of code accepted this "
                       "month.", Query(f"sort_desc(topk(10, {column['lines_accepted']}))", "{{repository}}"))),
    ])


VALUE = "cc_analytics_value_"
# (title, unit of the family name, what the cost is divided by)
COST_PER = (("Cost per session", "session", "distinct Claude Code sessions"),
            ("Cost per commit", "commit", "commits made through Claude Code"),
            ("Cost per pull request", "pull_request", "pull requests created through Claude Code"),
            ("Cost per accepted line", "line", "lines of code accepted"),
            ("Cost per active member", "member", "members active"),
            ("Cost per merged PR with Claude Code", "merged_pr_with_claude_code",
             "pull requests merged on GitHub with Claude Code"))
PER_ORG = "; per org (the team filter applies to the team table)"


def value_board() -> dict:
    return board("cc-analytics-value", "Claude Code value",
                 "What Claude Code costs per unit of work: spend this month and its forecast, cost per session, "
                 "commit, pull request, line, member and merged PR, and how concentrated the spend is.", "30d",
                 [ORG_VARIABLE, TEAM_VARIABLE],
                 [value_figures(), *value_costs(), value_trends(), value_teams()])


def value_figures() -> Row:
    spent, forecast = (total(f"{VALUE}{name}", ORG) for name in ("month_to_date_spend_usd", "month_forecast_usd"))
    return (4, [
        (8, stat_panel("Spend this month", "Estimated cost in USD this month so far, today included, of the "
                       "selected orgs.", Query(spent), "currencyUSD")),
        (8, stat_panel("Month-end forecast", "Spend this month plus, for each day left, the average spend of the "
                       "same weekday over the previous four weeks.", Query(forecast), "currencyUSD")),
        (8, stat_panel("Forecast against spend so far", "Month-end forecast / spend this month so far.",
                       Query(ratio(forecast, spent)), "percentunit")),
    ])


def value_costs() -> list[Row]:
    panels = [(8, bars_panel(f"{title} (28 days)", f"Estimated cost in USD over the last 28 days / {what}{PER_ORG}.",
                             Query(f"sort_desc({selector(f'{VALUE}cost_per_{unit}_usd', ORG, window=MONTH_28D)})",
                                   "{{org}}"), "currencyUSD"))
              for title, unit, what in COST_PER]
    return [(8, panels[:3]), (8, panels[3:])]


def value_trends() -> Row:
    return (8, [
        (12, series_panel("Cost per session per day", f"Estimated cost in USD / sessions each day, per org{DAILY}.",
                          [Query(per_day(f"{VALUE}cost_per_session_usd", ORG, "org"), "{{org}}")], "currencyUSD",
                          daily=True)),
        (12, series_panel("Spend concentration (28 days)", "Share of each org's spend of its top 10% of members "
                          "by cost and of its top 10 members, over the last 28 days.",
                          [Query(total(f"{VALUE}top_decile_spend_share", ORG, "org", window=MONTH_28D),
                                 "{{org}} top 10%"),
                           Query(total(f"{VALUE}top10_spend_share", ORG, "org", window=MONTH_28D),
                                 "{{org}} top 10")], "percentunit")),
    ])


def value_teams() -> Row:
    return (9, [
        (24, table_panel("Teams", "Per team over the last 28 days: estimated cost in USD per session, commit, pull "
                         "request, accepted line, active member and merged PR with Claude Code.", ["org", "team"], [
            Column(title, selector(f"{VALUE}team_cost_per_{unit}_usd", TEAM, window=MONTH_28D), "currencyUSD")
            for title, unit, _ in COST_PER])),
    ])


USES, COST_BY_NAME = "cc_analytics_usage_uses", "cc_analytics_usage_cost_usd"
SUCCESSES, FAILURES = "cc_analytics_usage_successes", "cc_analytics_usage_failures"
ADOPTED = "cc_analytics_usage_adoption_members"
FEATURES = (("skills", "skills"), ("mcp", "MCP"), ("subagents", "subagents"), ("hooks", "hooks"),
            ("plan_mode", "plan mode"))
NAMES_NOTE = "in the last 28 days (names past --max-usage-names in other)"


def top_names(family: str, kind: str) -> str:
    return f"sort_desc(topk(10, {in_window(family, MONTH_28D, by='name', kind=kind)}))"


def success_rate(kind: str, by: str = "", window: str = MONTH_28D) -> str:
    successes = in_window(SUCCESSES, window, by=by, kind=kind)
    return ratio(successes, f"{successes} + {in_window(FAILURES, window, by=by, kind=kind)}")


def adoption_share(feature: str, window: str = MONTH_28D) -> str:
    """Members who used the feature / members active, over the teams selected."""
    return ratio(in_window(ADOPTED, window, feature=feature), in_window("cc_analytics_team_active_users", window))


def features_board() -> dict:
    return board("cc-analytics-features", "Claude Code features",
                 "Skills, MCP servers and tools, subagents, tools and hooks used, their success rates, and the "
                 "share of active members who adopted each feature, as on Anthropic's Usage tab.", "30d",
                 [ORG_VARIABLE, TEAM_VARIABLE], [features_figures(), features_names(), features_tools(),
                                                 features_adoption()])


def features_figures() -> Row:
    return (4, [
        (5, stat_panel("Skill activations", "Skills activated in the last 28 days.",
                       Query(in_window(USES, MONTH_28D, kind="skill")))),
        (5, stat_panel("MCP tool calls", "Calls of MCP tools in the last 28 days.",
                       Query(in_window(USES, MONTH_28D, kind="mcp_tool")))),
        (5, stat_panel("Subagent runs", "Subagents that completed in the last 28 days.",
                       Query(in_window(USES, MONTH_28D, kind="agent")))),
        (5, stat_panel("Tool success rate", "Tool calls that succeeded / all tool calls in the last 28 days.",
                       Query(success_rate("tool")), "percentunit")),
        (4, stat_panel("Plan mode adoption", "Members who used plan mode / active members in the last 28 days.",
                       Query(adoption_share("plan_mode")), "percentunit")),
    ])


def features_names() -> Row:
    return (9, [
        (6, bars_panel("Top skills", f"The 10 skills activated most {NAMES_NOTE}.",
                       Query(top_names(USES, "skill"), "{{name}}"))),
        (6, bars_panel("Top MCP servers", f"The 10 MCP servers connected to most {NAMES_NOTE}.",
                       Query(top_names(USES, "mcp_server"), "{{name}}"))),
        (6, bars_panel("Top agents", f"The 10 subagent types run most {NAMES_NOTE}.",
                       Query(top_names(USES, "agent"), "{{name}}"))),
        (6, bars_panel("Cost by query source", "Estimated cost in US dollars of main, subagent and auxiliary "
                       "requests in the last 28 days.",
                       Query(f"sort_desc({in_window(COST_BY_NAME, MONTH_28D, by='name', kind='query_source')})",
                             "{{name}}"), "currencyUSD")),
    ])


def features_tools() -> Row:
    return (9, [
        (12, table_panel("Tools", f"Per tool {NAMES_NOTE}: calls, their success rate and failures.", ["name"], [
            Column("Calls", in_window(USES, MONTH_28D, by="name", kind="tool")),
            Column("Success rate", success_rate("tool", "name"), "percentunit"),
            Column("Failures", in_window(FAILURES, MONTH_28D, by="name", kind="tool"))])),
        (12, table_panel("MCP tools", f"Per MCP tool {NAMES_NOTE}: calls, their success rate and cost.", ["name"], [
            Column("Calls", in_window(USES, MONTH_28D, by="name", kind="mcp_tool")),
            Column("Success rate", success_rate("mcp_tool", "name"), "percentunit"),
            Column("Cost", in_window(COST_BY_NAME, MONTH_28D, by="name", kind="mcp_tool"), "currencyUSD")])),
    ])


def features_adoption() -> Row:
    return (8, [
        (12, bars_panel("Feature adoption", "Share of the members active in the last 28 days who used each "
                        "feature.", Query(f"sort_desc(sum by (feature) ({selector(ADOPTED, TEAM, window=MONTH_28D)})"
                                          f" / scalar({in_window('cc_analytics_team_active_users', MONTH_28D)} > 0))",
                                          "{{feature}}"), "percentunit")),
        (12, series_panel("Feature adoption per day", f"Share of the day's active members who used each feature"
                          f"{DAILY}.", [Query(ratio(per_day(ADOPTED, feature=feature),
                                                    per_day("cc_analytics_team_active_users")), legend)
                                        for feature, legend in FEATURES], "percentunit", daily=True)),
    ])


ROLLUP_AGE = "time() - max(cc_analytics_rollup_last_success_timestamp_seconds)"
QUEUE, CAPACITY = "cc_analytics_collector_queue_rows", "cc_analytics_collector_queue_capacity_rows"


def rate_panel(title: str, description: str, counter: str, by: str) -> timeseries.Panel:
    """Per-second increase of a collector counter, one line per value of the `by` labels."""
    legend = " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))
    return series_panel(title, description, [Query(per_second(counter, by), legend)], "suffix: /s")


def collector_board() -> dict:
    return board("cc-analytics-collector", "cc-analytics collector health",
                 "Is telemetry arriving, stored and rolled up: receive and reject rates, inserts, the queue, "
                 "per-organization freshness, store errors, rollup age and the scrape itself.", "6h", [],
                 [collector_figures(), collector_intake(), collector_store(), collector_freshness(),
                  collector_refusals()],
                 timezone="browser")


def collector_figures() -> Row:
    up_mappings = [ValueMap(options={"0": ValueMappingResult(text="DOWN", color="red"),
                                     "1": ValueMappingResult(text="UP", color="green")})]
    return (4, [
        (4, stat_panel("Exporter up", 'Whether Prometheus scraped each cc-analytics target: up{job="cc-analytics"}.',
                       Query('up{job="cc-analytics"}', "{{instance}}"), steps=((None, "red"), (1, "green")),
                       mappings=up_mappings)),
        (5, stat_panel("Records stored per second", "Records of every signal stored per second.",
                       Query(per_second("cc_analytics_collector_records_received_total")), "suffix: /s")),
        (5, stat_panel("Queue fill", "Rows waiting for the store / the most rows that may wait (fullest instance).",
                       Query(f"max({QUEUE} / {CAPACITY})"), "percentunit",
                       ((None, "green"), (0.5, "orange"), (0.9, "red")))),
        (5, stat_panel("Rollup age", "Seconds since the last successful rollup (serve re-aggregates every minute by "
                       "default).", Query(ROLLUP_AGE), "s", ((None, "green"), (300, "orange"), (900, "red")))),
        (5, stat_panel("Last rollup duration", "Seconds the last rollup run took.",
                       Query("max(cc_analytics_rollup_duration_seconds)"), "s")),
    ])


def collector_intake() -> Row:
    return (8, [
        (8, rate_panel("Records received per signal", "Records stored per second, per signal.",
                       "cc_analytics_collector_records_received_total", "signal")),
        (8, rate_panel("Records rejected per signal", "Records rejected per second, per signal and reason.",
                       "cc_analytics_collector_records_rejected_total", "signal, reason")),
        (8, rate_panel("Rejected requests by reason", "OTLP requests rejected per second, per reason.",
                       "cc_analytics_collector_requests_rejected_total", "reason")),
    ])


def collector_store() -> Row:
    latency = "cc_analytics_collector_insert_duration_seconds"
    return (8, [
        (8, rate_panel("Insert batches per table", "Batches inserted into the store per second, per table.",
                       "cc_analytics_collector_insert_batches_total", "table")),
        (8, series_panel("Insert latency", "p50 and p99 of the insert duration per table, from the histogram's "
                         "buckets.", [Query(quantile(q, latency, "table"), f"p{round(q * 100)} {{{{table}}}}")
                                      for q in (0.5, 0.99)], "s")),
        (8, series_panel("Queue depth vs capacity", "Rows accepted and waiting for the store, and the most rows "
                         "that may wait, per instance.", [
            Query(f"max by (instance) ({QUEUE})", "queued {{instance}}"),
            Query(f"max by (instance) ({CAPACITY})", "capacity {{instance}}")])),
    ])


def collector_freshness() -> Row:
    return (8, [
        (8, series_panel("Time since last record per org", "Seconds since each organization's latest record was "
                         "received.", [Query("time() - max by (org) (cc_analytics_org_last_record_timestamp_seconds)",
                                             "{{org}}")], "s")),
        (8, rate_panel("Store errors", "Store errors per second, per operation.",
                       "cc_analytics_store_errors_total", "operation")),
        (8, series_panel("Rollup age over time", "Seconds since the last successful rollup, over time.",
                         [Query(ROLLUP_AGE, "rollup age")], "s")),
    ])


def collector_refusals() -> Row:
    return (8, [
        (12, rate_panel("Rows refused for good (dead letters)", "Rows the store refused for good per second, per "
                        "table, moved to the dead_letters table (with the store's reason) so their batches went in.",
                        "cc_analytics_collector_dead_letter_rows_total", "table")),
        (12, rate_panel("Dead letters dropped", "Refused rows the dead_letters table refused too, dropped, per "
                        "second, per table and reason.",
                        "cc_analytics_collector_dead_letter_dropped_rows_total", "table")),
    ])


DASHBOARDS = {
    "cc-analytics-usage.json": usage_board,
    "cc-analytics-cost.json": cost_board,
    "cc-analytics-adoption.json": adoption_board,
    "cc-analytics-contribution.json": contribution_board,
    "cc-analytics-repositories.json": repository_board,
    "cc-analytics-value.json": value_board,
    "cc-analytics-features.json": features_board,
    "cc-analytics-collector.json": collector_board,
}


def render() -> dict[str, str]:
    """File name -> the dashboard's JSON text, as committed."""
    register_default_plugins()
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    for name, text in render().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
