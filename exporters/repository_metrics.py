"""Prometheus families of the repository figures: lines accepted, sessions, members and cost per org, team,
repository and window, from what aggregator.snapshot read out of daily_repository.

Repositories are many (one per git origin a member works in), so each org keeps its top --max-label-values
repositories by lines accepted over the windows and sums the rest into `other`; orgs and teams are capped like the
usage families' (exporters/label_caps.py). A folded series sums its repositories' figures: `other`'s sessions and
members count a session or member once per repository it was in. The repository "" is the records that
reported none (Claude Code without OTEL_METRICS_INCLUDE_REPOSITORY=1, or outside a git checkout).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from aggregator.figures import REPOSITORY_FIGURES
from aggregator.snapshot import OTHER, Snapshot
from exporters.label_caps import ORG, TEAM, Dimension, fold, top_values

PREFIX = "cc_analytics_repository_"
REPOSITORY = Dimension("repository", ("org_id", "repository"))
_WINDOWS_HELP = ("Window: today (so far), yesterday, 7d and 28d (ending today), month (to date), in the "
                 "aggregation time zone.")
_DESCRIPTIONS = {f.name: f.description for f in REPOSITORY_FIGURES}
_FAMILIES = (
    ("lines_accepted", _DESCRIPTIONS["lines_accepted"]),
    ("sessions", "Distinct Claude Code sessions (session.id) with records in the repository."),
    ("members", "Distinct members with records in the repository."),
    ("cost_usd", _DESCRIPTIONS["cost_usd"]),
)


def repository_families(snapshot: Snapshot, max_label_values: int) -> tuple[list[Metric], dict[str, int]]:
    """The families, and how many orgs, teams and repositories their labels folded into OTHER."""
    rows = snapshot.repository_windows
    folded = {}
    for dimension in (ORG, TEAM):
        kept = top_values(rows, dimension, lambda row: row["sessions"], max_label_values)
        folded[f"repository_{dimension.label}"] = _left_out(rows, dimension, kept)
        rows = fold(rows, dimension, kept)
    kept = _top_per_org(rows, max_label_values)
    folded["repository"] = _left_out(rows, REPOSITORY, kept)
    return list(_families(fold(rows, REPOSITORY, kept))), folded


def _top_per_org(rows: list[dict], keep: int) -> set[tuple[str, ...]]:
    """Each org's keep repositories with the most lines accepted over the windows."""
    by_org = defaultdict(list)
    for row in rows:
        by_org[row["org_id"]].append(row)
    return set().union(*(top_values(org_rows, REPOSITORY, lambda row: row["lines_accepted"], keep)
                         for org_rows in by_org.values()))


def _left_out(rows: list[dict], dimension: Dimension, kept: set) -> int:
    return sum(1 for key in {dimension.key(row) for row in rows} - kept if key[-1] != OTHER)


def _families(rows: list[dict]) -> Iterator[Metric]:
    labels = ["org", "team", "repository", "window"]
    for name, description in _FAMILIES:
        family = GaugeMetricFamily(PREFIX + name, f"{description} Per repository (owner/name as Claude Code "
                                   f"reports it; empty: not reported). {_WINDOWS_HELP}", labels=labels)
        for row in rows:
            family.add_metric([row["org_id"], row["team"], row["repository"], row["window"]], row[name])
        yield family
