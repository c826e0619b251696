"""The bundled dashboards' PromQL: the /metrics catalogue they may use, every query they run, and Grafana's variables
substituted so that Prometheus or promtool can evaluate a query as Grafana would send it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import REPO

DASHBOARD_DIR = REPO / "grafana-dashboards"

_ORG_TEAM = ("org", "team")
_WINDOW = ("org", "team", "window")
_MEMBER = ("org", "team", "user")
_SIGNAL = ("signal", "transport")

# The /metrics catalogue (the spec's families and their labels), plus Prometheus's own `up`.
FAMILIES: dict[str, tuple[str, ...]] = {
    "cc_analytics_lines_accepted_total": _ORG_TEAM,
    "cc_analytics_lines_removed_total": _ORG_TEAM,
    "cc_analytics_edits_accepted_total": _ORG_TEAM,
    "cc_analytics_edits_rejected_total": _ORG_TEAM,
    "cc_analytics_sessions_total": _ORG_TEAM,
    "cc_analytics_commits_total": _ORG_TEAM,
    "cc_analytics_pull_requests_total": _ORG_TEAM,
    "cc_analytics_prompts_total": _ORG_TEAM,
    "cc_analytics_api_requests_total": _ORG_TEAM,
    "cc_analytics_api_errors_total": _ORG_TEAM,
    "cc_analytics_tokens_total": ("org", "team", "model", "type"),
    "cc_analytics_cost_usd_total": ("org", "team", "model"),
    "cc_analytics_active_time_seconds_total": ("org", "team", "type"),
    "cc_analytics_edit_decisions_total": ("org", "team", "tool", "language", "decision"),
    "cc_analytics_active_users": ("org", "window"),
    "cc_analytics_team_active_users": _WINDOW,
    "cc_analytics_new_users": ("org", "window"),
    "cc_analytics_team_new_users": _WINDOW,
    "cc_analytics_window_sessions": _WINDOW,
    **{f"cc_analytics_window_{figure}": _WINDOW for figure in (
        "lines_accepted", "lines_removed", "edits_accepted", "edits_rejected", "commits", "pull_requests",
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd",
        "active_time_user_seconds", "active_time_cli_seconds", "prompts", "api_requests", "api_errors")},
    "cc_analytics_window_edit_decisions": ("org", "team", "tool", "language", "decision", "window"),
    "cc_analytics_window_model_tokens": ("org", "team", "model", "type", "window"),
    "cc_analytics_window_model_cost_usd": ("org", "team", "model", "window"),
    "cc_analytics_user_month_lines_accepted": _MEMBER,
    "cc_analytics_user_month_edits_accepted": _MEMBER,
    "cc_analytics_user_month_edits_rejected": _MEMBER,
    "cc_analytics_user_month_sessions": _MEMBER,
    "cc_analytics_user_month_cost_usd": _MEMBER,
    "cc_analytics_user_last_active_timestamp_seconds": _MEMBER,
    "cc_analytics_contribution_prs_merged": ("org", "team", "level", "window"),
    "cc_analytics_contribution_lines_merged": ("org", "team", "level", "window"),
    "cc_analytics_contribution_prs_opened": _WINDOW,
    "cc_analytics_contribution_active_members": _WINDOW,
    "cc_analytics_contribution_user_month_prs_merged": ("org", "team", "user", "level"),
    "cc_analytics_contribution_user_month_lines_merged": ("org", "team", "user", "level"),
    **{f"cc_analytics_repository_{figure}": ("org", "team", "repository", "window")
       for figure in ("lines_accepted", "sessions", "members", "cost_usd")},
    **{f"cc_analytics_value_{scope}cost_per_{unit}_usd": labels
       for scope, labels in (("", ("org", "window")), ("team_", _WINDOW))
       for unit in ("session", "commit", "pull_request", "line", "member", "merged_pr_with_claude_code")},
    "cc_analytics_value_month_to_date_spend_usd": ("org",),
    "cc_analytics_value_month_forecast_usd": ("org",),
    "cc_analytics_value_top_decile_spend_share": ("org", "window"),
    "cc_analytics_value_top10_spend_share": ("org", "window"),
    **{f"cc_analytics_usage_{figure}": ("org", "team", "kind", "name", "window")
       for figure in ("uses", "successes", "failures", "cost_usd")},
    "cc_analytics_usage_adoption_members": ("org", "team", "feature", "window"),
    "cc_analytics_usage_adoption_share": ("org", "team", "feature", "window"),
    "cc_analytics_label_values_folded": ("dimension",),
    "cc_analytics_org_last_record_timestamp_seconds": ("org",),
    "cc_analytics_org_last_record_evicted_total": (),
    "cc_analytics_collector_records_received_total": _SIGNAL,
    "cc_analytics_collector_records_rejected_total": _SIGNAL + ("reason",),
    "cc_analytics_collector_requests_rejected_total": _SIGNAL + ("reason",),
    "cc_analytics_collector_insert_batches_total": ("table",),
    "cc_analytics_collector_insert_rows_total": ("table",),
    "cc_analytics_collector_insert_duration_seconds": ("table",),
    "cc_analytics_collector_dead_letter_rows_total": ("table",),
    "cc_analytics_collector_dead_letter_dropped_rows_total": ("table",),
    "cc_analytics_collector_queue_rows": (),
    "cc_analytics_collector_queue_capacity_rows": (),
    "cc_analytics_store_errors_total": ("operation",),
    "cc_analytics_rollup_last_success_timestamp_seconds": (),
    "cc_analytics_rollup_duration_seconds": (),
    "cc_analytics_rollup_backlog": (),
    "up": (),
}
HISTOGRAMS = frozenset({"cc_analytics_collector_insert_duration_seconds"})
WINDOWS = frozenset({"today", "yesterday", "7d", "28d", "month"})
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = ("job", "instance")

# The only Grafana built-ins the dashboards may use (the integration test substitutes exactly these).
BUILTINS = frozenset({"__interval", "__rate_interval", "__range"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
# An identifier that is neither part of a number or variable nor a function call: a metric name or a keyword.
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})
_SELECTOR = re.compile(r"(?<![\w:])([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def all_panels(dashboard: dict) -> list[dict]:
    """Every panel of a dashboard, rows' nested panels included (rows themselves too)."""
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def panel_queries(dashboard: dict) -> list[tuple[str, str, str, bool]]:
    """(panel title, refId, expr, instant) for every Prometheus target of every panel, rows' panels included."""
    return [(panel.get("title", ""), target.get("refId", ""), target["expr"], bool(target.get("instant", False)))
            for panel in all_panels(dashboard) for target in panel.get("targets", []) if "expr" in target]


def substitute(expr: str, org: str = ".*", team: str = ".*", user: str = ".*", interval: str = "1m",
               rate_interval: str = "1m", range_: str = "1h") -> str:
    """The expr with Grafana's variables replaced, as Grafana would send it; an unknown variable is an error."""
    values = {"org": org, "team": team, "user": user, "__interval": interval, "__rate_interval": rate_interval,
              "__range": range_}

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def _without_strings(expr: str) -> str:
    return _STRINGS.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric (sample) names an expr selects."""
    text = _RANGES.sub("", _MATCHERS.sub("", _LABEL_LISTS.sub("", _without_strings(expr))))
    return {name for name in _IDENTIFIER.findall(text) if name not in _KEYWORDS}


def family_of(sample_name: str) -> str | None:
    """The catalogue family a sample name belongs to, or None when it is not in the catalogue."""
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix) and sample_name.removesuffix(suffix) in HISTOGRAMS:
            return sample_name.removesuffix(suffix)
    if sample_name in FAMILIES and sample_name not in HISTOGRAMS:
        return sample_name
    return None


def labels_of(sample_name: str) -> set[str]:
    family = family_of(sample_name)
    extra = {"le"} if sample_name.endswith("_bucket") else set()
    return set(FAMILIES.get(family, ())) | set(TARGET_LABELS) | extra if family else set()


def selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(metric name, {label: (operator, value)}) for every `name{...}` selector in the expr."""
    return [(name, {label: (operator, value) for label, operator, value in _MATCHER.findall(body)})
            for name, body in _SELECTOR.findall(expr)]


def grouping_labels(expr: str) -> set[str]:
    """Labels named in by/without/on/ignoring/group_left/group_right clauses."""
    return {label.strip() for _, labels in _LABEL_LISTS.findall(_without_strings(expr))
            for label in labels.split(",") if label.strip()}


def query_problems(expr: str, variables: set[str]) -> list[str]:
    """What is wrong with one dashboard expr against the catalogue and the dashboard's variables."""
    names = metric_names(expr)
    problems = [f"{name} is not in the /metrics catalogue" for name in sorted(names) if family_of(name) is None]
    known_labels = set().union(*(labels_of(name) for name in names)) if names else set()
    problems += [f"grouping label {label} is on none of {sorted(names)}"
                 for label in sorted(grouping_labels(expr) - known_labels)]
    for name, matchers in selectors(expr):
        problems += [f"{name} has no label {label}" for label in sorted(set(matchers) - labels_of(name))
                     if family_of(name)]
        window = matchers.get("window", ("=", None))[1]
        if window is not None and window not in WINDOWS:
            problems.append(f"{name}: window {window!r} is not one of {sorted(WINDOWS)}")
        for label in ("org", "team", "user"):
            if label in variables and label in labels_of(name) and matchers.get(label) != ("=~", f"${label}"):
                problems.append(f'{name} does not select {label}=~"${label}"')
    used = {match.group(1) or match.group(2) for match in _VARIABLE.finditer(expr)}
    problems += [f"${name} is not a variable of this dashboard" for name in sorted(used - variables - BUILTINS)]
    return problems
