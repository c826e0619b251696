"""Prometheus families of the contribution figures: merged pull requests and lines with and without Claude Code
per org, team and window, members with sessions, and per member month to date, from what aggregator.snapshot read.

The levels of a family are exclusive, so a sum over `level` is every merged PR (or line): with_claude_code,
assisted (assisted only: sessions in the repository around the merge, no commit of Claude Code), without. Orgs
and teams are capped like the usage families' (exporters/label_caps.py), members by --max-user-series already.
"""

from __future__ import annotations

from typing import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from aggregator.contributions.attribution import ASSISTED, WITH_CLAUDE_CODE, WITHOUT
from aggregator.snapshot import OTHER, Snapshot
from exporters.label_caps import ORG, TEAM, fold, top_values

PREFIX = "cc_analytics_contribution_"
_WINDOWS_HELP = ("Window: today (so far), yesterday, 7d and 28d (ending today), month (to date), in the "
                 "aggregation time zone.")
_LEVELS_HELP = ("Level: with_claude_code (a commit seen in a Claude Code session or with its trailer, or the PR "
                "body's marker), assisted (only: the author had Claude Code sessions with accepted lines in the "
                "repository from 21 days before to 2 days after the merge), without.")


def pull_request_levels(row: dict) -> dict[str, int]:
    """Merged PRs per exclusive level."""
    assisted_only = row["prs_merged_assisted"] - row["prs_merged_with_cc"]
    return {WITH_CLAUDE_CODE: row["prs_merged_with_cc"], ASSISTED: assisted_only,
            WITHOUT: row["prs_merged"] - row["prs_merged_with_cc"] - assisted_only}


def line_levels(row: dict) -> dict[str, int]:
    """Merged lines of PRs with Claude Code's commits (or marked whole by the PR body) and the rest."""
    return {WITH_CLAUDE_CODE: row["lines_merged_with_cc"], WITHOUT: row["lines_merged"] - row["lines_merged_with_cc"]}


def contribution_families(snapshot: Snapshot, user_label, max_label_values: int
                          ) -> tuple[list[Metric], dict[str, int]]:
    """The families, and how many orgs, teams and members their labels folded into OTHER."""
    windows, members = snapshot.contribution_windows, snapshot.contribution_members
    folded = {"contribution_user": snapshot.contribution_members_left_out}
    for dimension in (ORG, TEAM):
        kept = top_values(windows, dimension, lambda row: row["prs_merged"] + row["active_members"],
                          max_label_values)
        seen = {dimension.key(row) for row in windows + members}
        folded[f"contribution_{dimension.label}"] = sum(1 for key in seen - kept if key[-1] != OTHER)
        windows, members = fold(windows, dimension, kept), fold(members, dimension, kept)
    return [*_window_families(windows), *_member_families(members, user_label)], folded


def _window_families(rows: list[dict]) -> Iterator[Metric]:
    labels = ["org", "team", "level", "window"]
    prs = GaugeMetricFamily(PREFIX + "prs_merged", f"Pull requests merged, by level. {_LEVELS_HELP} {_WINDOWS_HELP}",
                            labels=labels)
    lines = GaugeMetricFamily(PREFIX + "lines_merged", "Lines merged (effective added lines, or GitHub's additions "
                              f"where commits were not fetched), with or without Claude Code. {_WINDOWS_HELP}",
                              labels=labels)
    opened = GaugeMetricFamily(PREFIX + "prs_opened", f"Pull requests opened. {_WINDOWS_HELP}",
                               labels=["org", "team", "window"])
    active = GaugeMetricFamily(PREFIX + "active_members", "Distinct members with Claude Code sessions, the "
                               f"denominator of merged PRs per active member. {_WINDOWS_HELP}",
                               labels=["org", "team", "window"])
    for row in rows:
        keys = [row["org_id"], row["team"]]
        for level, value in pull_request_levels(row).items():
            prs.add_metric([*keys, level, row["window"]], value)
        for level, value in line_levels(row).items():
            lines.add_metric([*keys, level, row["window"]], value)
        opened.add_metric([*keys, row["window"]], row["prs_opened"])
        active.add_metric([*keys, row["window"]], row["active_members"])
    return prs, lines, opened, active


def _member_families(rows: list[dict], user_label) -> Iterator[Metric]:
    labels = ["org", "team", "user", "level"]
    prs = GaugeMetricFamily(PREFIX + "user_month_prs_merged", f"Pull requests merged this month to date, per "
                            f"member, by level. {_LEVELS_HELP}", labels=labels)
    lines = GaugeMetricFamily(PREFIX + "user_month_lines_merged", "Lines merged this month to date, per member, "
                              "with or without Claude Code.", labels=labels)
    for row in rows:
        keys = [row["org_id"], row["team"], user_label(row)]
        for level, value in pull_request_levels(row).items():
            prs.add_metric([*keys, level], value)
        for level, value in line_levels(row).items():
            lines.add_metric([*keys, level], value)
    return prs, lines
