"""Prometheus metrics of Claude Code usage: the rollups as they stand on a day, as metric families.

`usage_families(snapshot, ...)` is pure: it names and labels what aggregator.snapshot read. The live /metrics
(exporters/metrics_endpoint.py) calls it at scrape time for today; the OpenMetrics history export
(exporters/openmetrics_history.py) calls it for each past day. Names follow Prometheus
conventions: the `cc_analytics_` prefix, base units in the name, `_total` for counters.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from aggregator.figures import EDIT_TOOL_FIGURES, SUMMED_FIGURES
from aggregator.snapshot import MEMBER_FIGURES, OTHER, PUBLISHED_FIGURES, TEAM_FIGURES, Snapshot
from exporters.contribution_metrics import contribution_families
from exporters.label_caps import cap_label_values
from exporters.repository_metrics import repository_families
from exporters.value_metrics import value_families
from exporters.usage_metrics import DEFAULT_MAX_NAMES, usage_name_families

PREFIX = "cc_analytics_"
_DESCRIPTIONS = {f.name: f.description for f in SUMMED_FIGURES}
_DESCRIPTIONS["sessions"] = "Distinct Claude Code sessions (session.id)."
_WINDOWS_HELP = ("Window: today (so far), yesterday, 7d and 28d (ending today), month (to date), in the "
                 "aggregation time zone.")
# Active time is one counter with a type label, like the Claude Code metric it comes from.
_ACTIVE_TIME = {"active_time_user_seconds": "user", "active_time_cli_seconds": "cli"}
_USER_COUNTS = (("active_users", "Distinct members with any metric point or event in the window."),
                ("new_users", "Members whose first active day ever falls in the window."))
_TOKEN_TYPES = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cacheRead",
                "cache_creation_tokens": "cacheCreation"}


def user_label(member: dict, hashed: bool) -> str:
    """The member's email, else their user key; with hashed, a stable pseudonym of it instead. The members left
    out are OTHER, never hashed."""
    label = member["email"] or member["user_key"]
    if label == OTHER:
        return OTHER
    return "user-" + hashlib.sha256(label.encode()).hexdigest()[:16] if hashed else label


def usage_families(snapshot: Snapshot, hash_user_labels: bool, day_start: Callable[[date], float],
                   max_label_values: int, max_usage_names: int = DEFAULT_MAX_NAMES) -> Iterator[Metric]:
    """Every usage family of the snapshot, at most max_label_values values per label (the rest in OTHER), at
    most max_usage_names names per org, team and kind of the Usage figures; day_start(day) is the unix time a
    calendar day begins."""
    contributions, contributions_folded = contribution_families(
        snapshot, lambda member: user_label(member, hash_user_labels), max_label_values)
    repositories, repositories_folded = repository_families(snapshot, max_label_values)
    snapshot, folded = cap_label_values(snapshot, max_label_values)
    yield from _totals(snapshot)
    yield from _windows(snapshot)
    yield from _members(snapshot, hash_user_labels, day_start)
    usage_names, usage_folded = usage_name_families(snapshot, max_label_values, max_usage_names)
    yield from contributions
    yield from repositories
    value, value_folded = value_families(snapshot, max_label_values)
    yield from value
    yield from usage_names
    yield _folded({"user": snapshot.members_left_out, **folded, **contributions_folded, **repositories_folded,
                   **usage_folded, **value_folded})


def _totals(snapshot: Snapshot) -> Iterator[Metric]:
    team = ["org", "team"]
    for figure in TEAM_FIGURES:
        if figure.name in _ACTIVE_TIME:
            continue
        family = CounterMetricFamily(PREFIX + figure.name, figure.description, labels=team)
        for row in snapshot.totals:
            family.add_metric([row["org_id"], row["team"]], row[figure.name])
        yield family
    sessions = CounterMetricFamily(PREFIX + "sessions", "Sessions: distinct session.id per member and day, summed.",
                                   labels=team)
    active_time = CounterMetricFamily(PREFIX + "active_time_seconds",
                                      "Active time: user (interacting) or cli (Claude Code working).",
                                      labels=[*team, "type"])
    for row in snapshot.totals:
        sessions.add_metric([row["org_id"], row["team"]], row["sessions"])
        for name, kind in _ACTIVE_TIME.items():
            active_time.add_metric([row["org_id"], row["team"], kind], row[name])
    yield sessions
    yield active_time
    tokens = CounterMetricFamily(PREFIX + "tokens", "Tokens used, by model and type (token.usage).",
                                 labels=[*team, "model", "type"])
    cost = CounterMetricFamily(PREFIX + "cost_usd", "Estimated cost in US dollars, by model (cost.usage).",
                               labels=[*team, "model"])
    for row in snapshot.model_totals:
        labels = [row["org_id"], row["team"], row["model"]]
        for name, kind in _TOKEN_TYPES.items():
            tokens.add_metric([*labels, kind], row[name])
        cost.add_metric(labels, row["cost_usd"])
    yield tokens
    yield cost
    yield _edit_decisions(CounterMetricFamily, "edit_decisions",
                          "Edit tool decisions by tool, language and decision (code_edit_tool.decision).",
                          snapshot.edit_totals, [])


def _edit_decisions(kind, name: str, help_text: str, rows: list[dict], leading: list[str]) -> Metric:
    family = kind(PREFIX + name, help_text, labels=[*leading, "org", "team", "tool", "language", "decision"])
    for row in rows:
        labels = [*(row[key] for key in leading), row["org_id"], row["team"], row["tool_name"], row["language"]]
        for figure, decision in zip(EDIT_TOOL_FIGURES, ("accept", "reject")):
            family.add_metric([*labels, decision], row[figure.name])
    return family


def _windows(snapshot: Snapshot) -> Iterator[Metric]:
    for prefix, rows, keys in (("", snapshot.org_users, ("org_id",)), ("team_", snapshot.team_users, ("org_id", "team"))):
        labels = ["org", "team"][:len(keys)]
        for name, help_text in _USER_COUNTS:
            family = GaugeMetricFamily(f"{PREFIX}{prefix}{name}", f"{help_text} {_WINDOWS_HELP}",
                                       labels=[*labels, "window"])
            for row in rows:
                family.add_metric([*(row[key] for key in keys), row["window"]], row[name])
            yield family
    for name in ("sessions", *(f.name for f in PUBLISHED_FIGURES)):
        family = GaugeMetricFamily(f"{PREFIX}window_{name}", f"{_DESCRIPTIONS[name]} {_WINDOWS_HELP}",
                                   labels=["org", "team", "window"])
        for row in snapshot.windows:
            family.add_metric([row["org_id"], row["team"], row["window"]], row[name])
        yield family
    tokens = GaugeMetricFamily(PREFIX + "window_model_tokens", f"Tokens used, by model and type. {_WINDOWS_HELP}",
                               labels=["org", "team", "model", "type", "window"])
    cost = GaugeMetricFamily(PREFIX + "window_model_cost_usd", f"Estimated cost in US dollars, by model. {_WINDOWS_HELP}",
                             labels=["org", "team", "model", "window"])
    for row in snapshot.window_models:
        labels = [row["org_id"], row["team"], row["model"]]
        for name, kind in _TOKEN_TYPES.items():
            tokens.add_metric([*labels, kind, row["window"]], row[name])
        cost.add_metric([*labels, row["window"]], row["cost_usd"])
    yield tokens
    yield cost
    yield _edit_decisions(GaugeMetricFamily, "window_edit_decisions",
                          f"Edit tool decisions by tool, language and decision. {_WINDOWS_HELP}",
                          snapshot.window_edits, ["window"])


def _members(snapshot: Snapshot, hashed: bool, day_start: Callable[[date], float]) -> Iterator[Metric]:
    labels = ["org", "team", "user"]
    month = {name: GaugeMetricFamily(f"{PREFIX}user_month_{name}",
                                     f"{_DESCRIPTIONS[name]} This month to date, per member.", labels=labels)
             for name in ("sessions", *MEMBER_FIGURES)}
    last_active = GaugeMetricFamily(f"{PREFIX}user_last_active_timestamp_seconds",
                                    "Start of the member's last active day (unix seconds).", labels=labels)
    for member in snapshot.members:
        values = [member["org_id"], member["team"], user_label(member, hashed)]
        for name, family in month.items():
            family.add_metric(values, member[name])
        last_active.add_metric(values, day_start(member["last_active"]))
    yield from month.values()
    yield last_active


def _folded(counts: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}label_values_folded",
                               f"Values of a label summed into its \"{OTHER}\" series instead of their own: members "
                               "past --max-user-series (dimension user, contribution_user), the rest past "
                               "--max-label-values (contribution_org and contribution_team in the contribution "
                               "families; repository, repository_org and repository_team in the repository "
                               "families, repositories kept per org by lines accepted; usage_org and usage_team in "
                               "the usage families; value_org and value_team in the value families), usage names "
                               "past --max-usage-names per org, team and kind (usage_name).",
                               labels=["dimension"])
    for dimension, count in counts.items():
        family.add_metric([dimension], count)
    return family
