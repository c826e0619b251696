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
from aggregator.repositories import WINDOW_FIGURES
from aggregator.snapshot import OTHER, Snapshot

PREFIX = "cc_analytics_repository_"
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
    """The families, and how many orgs, teams and repositories their labels folded into OTHER.

    The same ranking as label_caps (orgs, then an org's teams, by sessions; here an org's repositories by lines
    accepted), done on label tuples in a few passes: these rows are (window, org, team, repository), up to
    hundreds of thousands with many teams, and one dict per row per fold made a scrape seconds slower."""
    rows = snapshot.repository_windows
    orgs = _top([(row["org_id"],) for row in rows], rows, "sessions", max_label_values)
    org_of = [row["org_id"] if (row["org_id"],) in orgs else OTHER for row in rows]
    team_keys = [(org, row["team"]) for org, row in zip(org_of, rows)]
    teams = _top(team_keys, rows, "sessions", max_label_values)
    repository_keys = [(org, row["repository"]) for org, row in zip(org_of, rows)]
    repositories = _top_per_org(repository_keys, rows, max_label_values)
    merged: dict[tuple[str, ...], dict] = {}
    for row, team_key, repository_key in zip(rows, team_keys, repository_keys):
        labels = (row["window"], team_key[0], team_key[1] if team_key in teams else OTHER,
                  repository_key[1] if repository_key in repositories else OTHER)
        into = merged.setdefault(labels, dict.fromkeys(WINDOW_FIGURES, 0))
        for name in WINDOW_FIGURES:
            into[name] += row[name]
    folded = {"repository_org": _left_out({(row["org_id"],) for row in rows}, orgs),
              "repository_team": _left_out(set(team_keys), teams),
              "repository": _left_out(set(repository_keys), repositories)}
    return list(_families(merged)), folded


def _top(keys: list[tuple[str, ...]], rows: list[dict], figure: str, keep: int) -> set[tuple[str, ...]]:
    """The keep keys with the largest figure summed over their rows (ties: by key), as label_caps.top_values."""
    totals: dict[tuple[str, ...], float] = defaultdict(float)
    for key, row in zip(keys, rows):
        totals[key] += row[figure]
    ranked = sorted((key for key in totals if key[-1] != OTHER), key=lambda key: (-totals[key], key))
    return set(ranked[:keep])


def _top_per_org(keys: list[tuple[str, str]], rows: list[dict], keep: int) -> set[tuple[str, str]]:
    """Each org's keep repositories with the most lines accepted over the windows."""
    by_org: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for key, row in zip(keys, rows):
        by_org[key[0]][0].append(key)
        by_org[key[0]][1].append(row)
    return set().union(*(_top(org_keys, org_rows, "lines_accepted", keep) for org_keys, org_rows in by_org.values()))


def _left_out(seen: set[tuple[str, ...]], kept: set[tuple[str, ...]]) -> int:
    return sum(1 for key in seen - kept if key[-1] != OTHER)


def _families(rows: dict[tuple[str, ...], dict]) -> Iterator[Metric]:
    labels = ["org", "team", "repository", "window"]
    for name, description in _FAMILIES:
        family = GaugeMetricFamily(PREFIX + name, f"{description} Per repository (owner/name as Claude Code "
                                   f"reports it; empty: not reported). {_WINDOWS_HELP}", labels=labels)
        for (window, org, team, repository), figures in rows.items():
            family.add_metric([org, team, repository, window], figures[name])
        yield family
