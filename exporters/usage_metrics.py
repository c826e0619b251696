"""Prometheus families of the Usage figures: uses, successes, failures and cost per org, team, kind and name over
each window, and feature adoption (members who used skills, MCP, subagents, hooks, plan mode, and their share of
the members active in the window, cc_analytics_team_active_users) per org, team and window, from what
aggregator.snapshot read. Adoption is published for the teams that used at least one of the features in the
window: with 20,000 teams a series per team and feature would double /metrics.

Names are many (every MCP tool, every custom skill): per (org, team, kind) the top --max-usage-names names by uses
over the last 28 days (then cost) are kept in every window, the rest summed into name="other", so a sum over `name` stays the total.
Orgs and teams are capped like the other families (exporters/label_caps.py). Shares are computed after folding,
from the folded member counts, never summed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from aggregator.figures import share
from aggregator.snapshot import OTHER, Snapshot
from aggregator.usage import FEATURES, USAGE_FIGURES
from exporters.label_caps import ORG, TEAM, Dimension, Key, fold, top_values

PREFIX = "cc_analytics_usage_"
DEFAULT_MAX_NAMES = 20
RANKING_WINDOW = "28d"
NAME = Dimension("name", ("org_id", "team", "kind", "name"))
_WINDOWS_HELP = ("Window: today (so far), yesterday, 7d and 28d (ending today), month (to date), in the "
                 "aggregation time zone.")
_KINDS_HELP = ("Kind: skill, mcp_server, mcp_tool, plugin, agent, query_source, tool, hook, permission_mode, "
               "command; names past the top per org, team and kind are summed in name=\"other\".")
_DESCRIPTIONS = {figure.name: figure.description for figure in USAGE_FIGURES}


def top_names(rows: list[dict], keep: int) -> set[Key]:
    """Per (org, team, kind): the keep names with the most uses over RANKING_WINDOW, then the most cost, then by
    name (one ranking for every window, so a name is kept or folded in all of them)."""
    totals: dict[Key, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        if row["window"] != RANKING_WINDOW:
            totals.setdefault(NAME.key(row), [0.0, 0.0])
            continue
        totals[NAME.key(row)][0] += row["uses"]
        totals[NAME.key(row)][1] += row["cost_usd"]
    by_kind: dict[Key, list[Key]] = defaultdict(list)
    for key in totals:
        if key[-1] != OTHER:
            by_kind[key[:-1]].append(key)
    kept = set()
    for keys in by_kind.values():
        kept.update(sorted(keys, key=lambda key: (-totals[key][0], -totals[key][1], key))[:keep])
    return kept


def usage_name_families(snapshot: Snapshot, max_label_values: int, max_names: int
                        ) -> tuple[list[Metric], dict[str, int]]:
    """The families, and how many orgs, teams and names their labels folded into OTHER."""
    names, adoption = snapshot.usage_names, snapshot.usage_adoption
    folded = {}
    for dimension in (ORG, TEAM):
        kept = top_values(adoption, dimension, lambda row: row["active_members"], max_label_values)
        seen = {dimension.key(row) for row in names + adoption}
        folded[f"usage_{dimension.label}"] = sum(1 for key in seen - kept if key[-1] != OTHER)
        names, adoption = fold(names, dimension, kept), fold(adoption, dimension, kept)
    kept = top_names(names, max_names)
    folded["usage_name"] = sum(1 for key in {NAME.key(row) for row in names} - kept if key[-1] != OTHER)
    names = fold(names, NAME, kept)
    return [*_name_families(names), *_adoption_families(adoption)], folded


def _name_families(rows: list[dict]) -> Iterator[Metric]:
    labels = ["org", "team", "kind", "name", "window"]
    families = {figure: GaugeMetricFamily(PREFIX + figure, f"{_DESCRIPTIONS[figure]} {_KINDS_HELP} {_WINDOWS_HELP}",
                                          labels=labels)
                for figure in ("uses", "successes", "failures", "cost_usd")}
    for row in rows:
        for figure, family in families.items():
            family.add_metric([row["org_id"], row["team"], row["kind"], row["name"], row["window"]], row[figure])
    return families.values()


def _adoption_families(rows: list[dict]) -> Iterator[Metric]:
    labels = ["org", "team", "feature", "window"]
    members = GaugeMetricFamily(PREFIX + "adoption_members", "Distinct active members who used the feature in the "
                                f"window: skills, mcp, subagents, hooks, plan_mode. {_WINDOWS_HELP}", labels=labels)
    shares = GaugeMetricFamily(PREFIX + "adoption_share", "Share of the active members who used the feature in the "
                               f"window (0 to 1). {_WINDOWS_HELP}", labels=labels)
    for row in rows:
        if not any(row[f"{feature}_members"] for feature in FEATURES):
            continue  # a team that used none of them: no series (cc_analytics_team_active_users has it)
        keys = [row["org_id"], row["team"]]
        for feature in FEATURES:
            members.add_metric([*keys, feature, row["window"]], row[f"{feature}_members"])
            shares.add_metric([*keys, feature, row["window"]],
                              share(row[f"{feature}_members"], row["active_members"]) or 0.0)
    return members, shares
