"""Caps on the values of each label of the usage families: the top N kept, the rest summed into `other`.

One export can name 20,000 teams, orgs or models; each value would be a series in every family it appears in.
cap_label_values(snapshot, n) ranks each label's values by a figure, keeps the top n and rewrites the rest to
OTHER, then merges the rows that now share their labels: numbers are summed (so every total over the label,
`other` included, is the uncapped total), dates take the latest. A label nested in another (an org's team, a
team's model) is ranked as the pair or triple, so the series of a family stay under n plus the outer label's.

A real value equal to OTHER is never kept on its own: it is summed into the `other` series, so `other` always
means "the values not shown", and no two series carry the same labels.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date
from typing import Callable, Iterable

from aggregator.figures import EDIT_TOOL_FIGURES
from aggregator.snapshot import OTHER, Snapshot

Key = tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Dimension:
    """A label, and the row columns it is ranked on: the label's own column last (an org's team: org_id, team)."""

    label: str
    columns: tuple[str, ...]

    def key(self, row: dict) -> Key:
        return tuple(row[column] for column in self.columns)


ORG = Dimension("org", ("org_id",))
TEAM = Dimension("team", ("org_id", "team"))
MODEL = Dimension("model", ("org_id", "team", "model"))
TOOL = Dimension("tool", ("org_id", "team", "tool_name"))
LANGUAGE = Dimension("language", ("org_id", "team", "tool_name", "language"))
# Every capped label, in the order they are folded (an outer label first, so the inner ones rank what is left).
DIMENSIONS = (ORG, TEAM, MODEL, TOOL, LANGUAGE)


def top_values(rows: Iterable[dict], dimension: Dimension, figure: Callable[[dict], float], keep: int) -> set[Key]:
    """The keep values of the dimension with the largest figure summed over rows (ties: by value)."""
    totals: dict[Key, float] = defaultdict(float)
    for row in rows:
        totals[dimension.key(row)] += figure(row)
    ranked = sorted((key for key in totals if key[-1] != OTHER), key=lambda key: (-totals[key], key))
    return set(ranked[:keep])


def fold(rows: Iterable[dict], dimension: Dimension, kept: set[Key]) -> list[dict]:
    """rows with the dimension's values outside kept set to OTHER, merged with the rows they now share labels
    with: numbers summed, dates the latest; string columns are the labels."""
    merged: dict[tuple, dict] = {}
    column = dimension.columns[-1]
    for row in rows:
        if dimension.key(row) not in kept:
            row = {**row, column: OTHER}
        labels = tuple((name, value) for name, value in row.items() if isinstance(value, str))
        into = merged.get(labels)
        if into is None:
            merged[labels] = dict(row)
            continue
        for name, value in row.items():
            if isinstance(value, date):
                into[name] = max(into[name], value)
            elif not isinstance(value, str):
                into[name] += value
    return list(merged.values())


def _figure_sum(names: Iterable[str]) -> Callable[[dict], float]:
    names = tuple(names)
    return lambda row: sum(row[name] for name in names)


# For each dimension: the snapshot lists that carry it, the first one ranking it, by which figure.
_RANKED_BY = {
    ORG: (("totals", "windows", "org_users", "team_users", "members", "model_totals", "window_models",
           "edit_totals", "window_edits"), _figure_sum(["sessions"])),
    TEAM: (("totals", "windows", "team_users", "members", "model_totals", "window_models", "edit_totals",
            "window_edits"), _figure_sum(["sessions"])),
    MODEL: (("model_totals", "window_models"), _figure_sum(["cost_usd"])),
    TOOL: (("edit_totals", "window_edits"), _figure_sum(f.name for f in EDIT_TOOL_FIGURES)),
    LANGUAGE: (("edit_totals", "window_edits"), _figure_sum(f.name for f in EDIT_TOOL_FIGURES)),
}


def cap_label_values(snapshot: Snapshot, keep: int) -> tuple[Snapshot, dict[str, int]]:
    """The snapshot with at most keep values per label (per outer label's value), and how many values of each
    label were folded into OTHER."""
    lists = {name: getattr(snapshot, name) for names, _ in _RANKED_BY.values() for name in names}
    folded = {}
    for dimension in DIMENSIONS:
        names, figure = _RANKED_BY[dimension]
        ranking = lists[names[0]]
        kept = top_values(ranking, dimension, figure, keep)
        seen = {dimension.key(row) for name in names for row in lists[name]}
        folded[dimension.label] = sum(1 for key in seen - kept if key[-1] != OTHER)
        for name in names:
            lists[name] = fold(lists[name], dimension, kept)
    return dataclasses.replace(snapshot, **lists), folded
