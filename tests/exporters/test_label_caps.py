"""The label caps of the usage families: at most N values per label, the rest summed into "other", sums exact."""

from __future__ import annotations

import random
from datetime import date

from aggregator.snapshot import OTHER, TEAM_FIGURES, Snapshot
from exporters.label_caps import cap_label_values
from exporters.prometheus import usage_families

DAY = date(2026, 11, 20)
KEEP = 3


def hostile_snapshot(rng: random.Random) -> Snapshot:
    """Many orgs, teams, models, tools and languages, one of each literally named "other"."""
    def org_team(number):
        return {"org_id": rng.choice(["org-a", "org-b", OTHER, *(f"o{n}" for n in range(8))]),
                "team": OTHER if number % 11 == 0 else f"team-{rng.randrange(40)}"}

    def rows(count, **columns):
        return [{**org_team(number), **{key: pick() for key, pick in columns.items()}} for number in range(count)]

    window = lambda: rng.choice(["today", "7d", "month"])  # noqa: E731
    model = lambda: rng.choice([OTHER, *(f"m{n}" for n in range(9))])  # noqa: E731
    count = lambda: rng.randrange(100)  # noqa: E731
    return Snapshot(
        DAY,
        totals=rows(200, sessions=count, lines_accepted=count),
        windows=rows(200, window=window, sessions=count, lines_accepted=count),
        model_totals=rows(300, model=model, cost_usd=lambda: rng.random(), input_tokens=count),
        window_models=rows(300, window=window, model=model, cost_usd=lambda: rng.random(), input_tokens=count),
        edit_totals=rows(300, tool_name=lambda: f"tool-{rng.randrange(9)}", language=lambda: f"l{rng.randrange(9)}",
                         accepted=count, rejected=count),
        team_users=rows(100, window=window, active_users=count, new_users=count),
        members=[{**org_team(number), "user_key": f"u{number}", "email": "", "lines_accepted": count(),
                  "last_active": date(2026, 11, 1 + number % 19)} for number in range(100)])


def test_at_most_keep_values_per_label_and_every_sum_exact():
    for seed in range(20):
        snapshot = hostile_snapshot(random.Random(seed))
        capped, folded = cap_label_values(snapshot, KEEP)
        for name in ("totals", "windows", "model_totals", "window_models", "edit_totals", "team_users", "members"):
            before, after = getattr(snapshot, name), getattr(capped, name)
            for column, value in before[0].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    assert abs(sum(r[column] for r in after) - sum(r[column] for r in before)) < 1e-9, (name, column)
            labels = [tuple(v for v in row.values() if isinstance(v, str)) for row in after]
            assert len(labels) == len(set(labels)), name  # no two rows (series) with the same labels
        assert len({r["org_id"] for r in capped.totals} - {OTHER}) <= KEEP
        assert len({(r["org_id"], r["team"]) for r in capped.totals if r["team"] != OTHER}) <= KEEP
        assert len({(r["org_id"], r["team"], r["model"]) for r in capped.model_totals if r["model"] != OTHER}) <= KEEP
        assert len({r["tool_name"] for r in capped.edit_totals} - {OTHER}) <= KEEP
        assert len({r["language"] for r in capped.edit_totals} - {OTHER}) <= KEEP
        assert folded["org"] == len({r["org_id"] for r in snapshot.totals} - {OTHER}) - KEEP
        assert max(r["last_active"] for r in capped.members) == max(r["last_active"] for r in snapshot.members)


def test_the_folded_counts_are_published_and_a_real_other_is_summed_into_the_rest():
    figures = {figure.name: 1 for figure in TEAM_FIGURES}
    snapshot = Snapshot(DAY, totals=[{"org_id": "org-a", "team": team, **figures, "sessions": sessions}
                                     for team, sessions in (("big", 9), (OTHER, 8), ("small", 1), ("tiny", 0))])
    families = {family.name: family for family in usage_families(snapshot, False, lambda day: 0.0, 1)}
    lines = {s.labels["team"]: s.value for s in families["cc_analytics_lines_accepted"].samples}
    assert lines == {"big": 1, OTHER: 3}
    folded = {s.labels["dimension"]: s.value for s in families["cc_analytics_label_values_folded"].samples}
    assert (folded["team"], folded["org"], folded["user"]) == (2, 0, 0)
