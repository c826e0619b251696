"""The bundled Grafana dashboards, offline: they load into grafana-foundation-sdk's dashboard model, are what
grafana-dashboards/build.py produces, query only the /metrics catalogue with the dashboard's variables, and every
query parses (and the trickiest evaluate as intended) in the real promtool."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.support.dashboard_queries import (
    DASHBOARD_DIR,
    all_panels,
    dashboard_files,
    family_of,
    labels_of,
    metric_names,
    panel_queries,
    query_problems,
    substitute,
)
from tests.support.prometheus_server import prometheus_tool

EXPECTED_UIDS = {
    "cc-analytics-usage.json": "cc-analytics-usage",
    "cc-analytics-cost.json": "cc-analytics-cost",
    "cc-analytics-adoption.json": "cc-analytics-adoption",
    "cc-analytics-contribution.json": "cc-analytics-contribution",
    "cc-analytics-repositories.json": "cc-analytics-repositories",
    "cc-analytics-value.json": "cc-analytics-value",
    "cc-analytics-features.json": "cc-analytics-features",
    "cc-analytics-collector.json": "cc-analytics-collector",
}
USAGE_BOARDS = {"cc-analytics-usage", "cc-analytics-cost", "cc-analytics-adoption", "cc-analytics-contribution",
                "cc-analytics-repositories", "cc-analytics-value", "cc-analytics-features"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
LABEL_VARIABLES = {
    "org": "label_values(cc_analytics_active_users, org)",
    "team": 'label_values(cc_analytics_team_active_users{org=~"$org"}, team)',
    "user": 'label_values(cc_analytics_user_month_lines_accepted{org=~"$org",team=~"$team"}, user)',
}

register_default_plugins()


def load(name: str) -> dict:
    return json.loads((DASHBOARD_DIR / name).read_text())


def through_sdk(dashboard: dict) -> dict:
    """The dashboard decoded into the SDK's model and encoded again."""
    return json.loads(json.dumps(Dashboard.from_json(dashboard), cls=JSONEncoder))


def variable_names(dashboard: dict) -> set[str]:
    return {variable["name"] for variable in dashboard["templating"]["list"]}


def panel_problems(panel: dict, variables: set[str]) -> list[str]:
    """What is wrong with one panel: identity, description, layout, data source and every target's query."""
    problems = []
    if not isinstance(panel.get("id"), int):
        problems.append("has no integer id")
    if not panel.get("title"):
        problems.append("has no title")
    if panel.get("type") == "row":
        return problems
    description = panel.get("description", "")
    if not description.endswith(".") or ". " in description.rstrip("."):
        problems.append(f"description {description!r} is not one sentence")
    if set(panel.get("gridPos", {})) != {"h", "w", "x", "y"}:
        problems.append("has no full gridPos")
    if panel.get("datasource") != DATASOURCE:
        problems.append(f"datasource {panel.get('datasource')} is not ${{datasource}}")
    if not panel.get("targets"):
        problems.append("has no targets")
    for target in panel.get("targets", []):
        if target.get("datasource") != DATASOURCE:
            problems.append(f"target {target.get('refId')}: datasource is not ${{datasource}}")
        problems += [f"target {target.get('refId')}: {problem}"
                     for problem in query_problems(target.get("expr", ""), variables)]
    return problems


def overlaps(panels: list[dict]) -> list[str]:
    """Top-level panels that leave the 24-column grid or cover one another."""
    boxes = [(panel.get("title"), panel.get("gridPos", {})) for panel in panels]
    problems = [f"{title!r} is wider than the grid" for title, grid in boxes
                if grid.get("x", 0) + grid.get("w", 0) > 24]
    for index, (title, grid) in enumerate(boxes):
        for other_title, other in boxes[index + 1:]:
            if all(grid.get(start, 0) < other.get(start, 0) + other.get(size, 0)
                   and other.get(start, 0) < grid.get(start, 0) + grid.get(size, 0)
                   for start, size in (("x", "w"), ("y", "h"))):
                problems.append(f"{other_title!r} overlaps {title!r}")
    return problems


def dashboard_problems(dashboard: dict) -> list[str]:
    variables = variable_names(dashboard)
    ids = Counter(panel.get("id") for panel in all_panels(dashboard))
    problems = [f"panel id {panel_id} is used {count} times" for panel_id, count in ids.items() if count > 1]
    for panel in all_panels(dashboard):
        problems += [f"{panel.get('title')!r}: {problem}" for problem in panel_problems(panel, variables)]
    return problems + overlaps(dashboard.get("panels", []))


def promtool_check(exprs: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """`promtool check rules` on the exprs as recording rules: Prometheus 2.42's own parser and type checker."""
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}, indent=1))  # JSON is YAML
    return subprocess.run([prometheus_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)


def promtool_test(test: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "dashboard-queries.test.yml"
    path.write_text(json.dumps({"rule_files": [], "evaluation_interval": "1m", "tests": [test]}, indent=1))
    return subprocess.run([prometheus_tool("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=120)


def query(uid: str, title: str, ref_id: str = "A") -> str:
    dashboard = next(load(name) for name, expected in EXPECTED_UIDS.items() if expected == uid)
    return next(expr for panel, ref, expr, _ in panel_queries(dashboard) if (panel, ref) == (title, ref_id))


# ---- the files and the SDK model ----------------------------------------------------------------------------

def test_the_dashboards_and_their_uids_are_the_expected_ones():
    assert {path.name for path in dashboard_files()} == set(EXPECTED_UIDS)
    uids = [load(name)["uid"] for name in EXPECTED_UIDS]
    assert uids == list(EXPECTED_UIDS.values())
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_a_dashboard_loads_into_the_sdk_model_and_reserialises_unchanged(name):
    dashboard = load(name)
    model = Dashboard.from_json(dashboard)
    assert model.uid == EXPECTED_UIDS[name]
    assert 39 <= model.schema_version <= 41  # Grafana 11.x
    assert model.panels and all(panel.title for panel in model.panels)
    # Unchanged through the model: no key the SDK does not know (a typo) and nothing it would add or drop.
    assert through_sdk(dashboard) == dashboard


def test_the_sdk_round_trip_catches_a_misspelt_key_and_the_loader_a_panel_without_type():
    dashboard = load("cc-analytics-usage.json")
    misspelt = copy.deepcopy(dashboard)
    misspelt["panels"][0]["descripton"] = misspelt["panels"][0].pop("description")
    assert through_sdk(misspelt) != misspelt
    untyped = copy.deepcopy(dashboard)
    del untyped["panels"][0]["type"]
    with pytest.raises(KeyError):
        Dashboard.from_json(untyped)


def test_build_py_reproduces_the_committed_json_byte_for_byte():
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARD_DIR / "build.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = build  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(build)
    finally:
        del sys.modules[spec.name]
    rendered = build.render()
    assert set(rendered) == set(EXPECTED_UIDS)
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text() == text, f"{name} differs: run grafana-dashboards/build.py"


# ---- dashboard settings and variables -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_a_dashboard_has_the_shared_settings(name):
    dashboard = load(name)
    assert dashboard["tags"] == ["cc-analytics", "claude-code"]
    assert dashboard["refresh"] == "1m"
    usage = dashboard["uid"] in USAGE_BOARDS
    assert dashboard["time"] == {"from": "now-30d" if usage else "now-6h", "to": "now"}
    assert dashboard["title"] and dashboard["description"]


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_a_dashboard_takes_the_datasource_and_label_filters_as_variables(name):
    dashboard = load(name)
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    expected = {"datasource"} | ({"org", "team"} if dashboard["uid"] in USAGE_BOARDS else set())
    expected |= {"user"} if dashboard["uid"] == "cc-analytics-usage" else set()
    assert set(variables) == expected
    for label in expected - {"datasource"}:
        variable = variables[label]
        assert variable["query"] == LABEL_VARIABLES[label]
        assert variable["datasource"] == DATASOURCE
        assert (variable["multi"], variable["includeAll"], variable["allValue"]) == (True, True, ".*")
        selector, variable_label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]).groups()
        assert variable_label == label
        assert metric_names(selector) and all(label in labels_of(metric) for metric in metric_names(selector))


# ---- panels and queries -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_every_panel_is_identified_described_laid_out_and_queries_the_catalogue(name):
    dashboard = load(name)
    assert dashboard_problems(dashboard) == []
    assert len(panel_queries(dashboard)) >= 8


def test_the_checks_reject_a_broken_dashboard():
    broken = copy.deepcopy(load("cc-analytics-usage.json"))
    panels = broken["panels"]
    panels[1]["id"] = panels[0]["id"]
    panels[2]["targets"][0]["expr"] = 'sum(cc_analytics_lines_acepted_total{org=~"$org",team=~"$team"})'
    panels[3]["targets"][0]["expr"] = 'sum(cc_analytics_window_sessions{window="today"})'
    del panels[4]["description"]
    panels[5]["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    panels[6]["targets"][0]["expr"] = 'sum by (model) (cc_analytics_window_cost_usd{org=~"$org",team=~"$team"})'
    problems = "\n".join(dashboard_problems(broken))
    assert f"panel id {panels[0]['id']} is used 2 times" in problems
    assert "cc_analytics_lines_acepted_total is not in the /metrics catalogue" in problems
    assert 'cc_analytics_window_sessions does not select org=~"$org"' in problems
    assert "description '' is not one sentence" in problems
    assert "datasource {'type': 'prometheus', 'uid': 'prometheus'} is not ${datasource}" in problems
    assert "grouping label model is on none of" in problems
    assert "overlaps" not in problems
    panels[7]["gridPos"] = dict(panels[0]["gridPos"])
    assert "overlaps" in "\n".join(dashboard_problems(broken))


def test_metric_names_are_read_out_of_promql():
    expr = ('histogram_quantile(0.99, sum by (le, table) (rate(cc_analytics_collector_insert_duration_seconds_bucket'
            '{job="x"}[5m]))) / on (instance) group_left (org) up or vector(1e3) unless time() - foo offset 1h')
    assert metric_names(expr) == {"cc_analytics_collector_insert_duration_seconds_bucket", "up", "foo"}
    assert family_of("cc_analytics_collector_insert_duration_seconds_bucket") == \
        "cc_analytics_collector_insert_duration_seconds"
    assert family_of("cc_analytics_collector_insert_duration_seconds") is None  # no such sample
    assert family_of("cc_analytics_active_users_total") is None


def test_panel_queries_include_the_panels_nested_in_rows():
    dashboard = {"panels": [
        {"type": "row", "title": "Row", "collapsed": True, "panels": [
            {"type": "stat", "title": "Nested", "targets": [{"refId": "A", "expr": "up", "instant": True}]}]},
        {"type": "timeseries", "title": "Top", "targets": [{"refId": "B", "expr": "up"}]},
    ]}
    assert panel_queries(dashboard) == [("Nested", "A", "up", True), ("Top", "B", "up", False)]


def test_substitute_replaces_every_variable_form_and_refuses_others():
    expr = 'sum(rate(x{org=~"$org",team=~"${team}",user=~"$user"}[$__rate_interval])) + y[$__interval] + z[$__range]'
    assert substitute(expr, org="acme", team="(a|b)", interval="1d") == \
        'sum(rate(x{org=~"acme",team=~"(a|b)",user=~".*"}[1m])) + y[1d] + z[1h]'
    with pytest.raises(ValueError, match="interval_ms"):
        substitute("x[$__interval_ms]")


def test_every_query_of_every_dashboard_parses_in_promtool(tmp_path):
    prometheus_tool("promtool")  # fails, with how to install it, when missing
    exprs = [substitute(expr, **values) for path in dashboard_files()
             for _, _, expr, _ in panel_queries(json.loads(path.read_text()))
             for values in ({}, {"org": "(acme|globex)", "team": "payments", "user": "a@example.com",
                                "interval": "1d", "rate_interval": "4m", "range_": "30d"})]
    result = promtool_check(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_rejects_an_invalid_query(tmp_path):
    result = promtool_check(["sum(rate(cc_analytics_store_errors_total[5m])"], tmp_path)
    assert result.returncode != 0
    assert "unclosed left parenthesis" in result.stdout + result.stderr


# ---- what the trickiest queries compute ---------------------------------------------------------------------

def test_daily_bars_show_each_days_final_value_and_ratios_skip_empty_days(tmp_path):
    """Grafana steps 1d panels at UTC midnights; each bar is the largest "today" value of the day just ended."""
    team = 'org="acme",team="payments"'
    lines = substitute(query("cc-analytics-usage", "Lines accepted over time"), interval="1d")
    hits = substitute(query("cc-analytics-cost", "Cache hit ratio per day"), interval="1d")
    series = {"window_lines_accepted": "0+10x23 0+5x23", "window_input_tokens": "0+1x47",
              "window_cache_read_tokens": "0+3x23 0x24", "window_cache_creation_tokens": "0x47"}
    result = promtool_test({
        "interval": "1h",
        "input_series": [{"series": f'cc_analytics_{name}{{{team},window="today"}}', "values": values}
                         for name, values in series.items()],
        "promql_expr_test": [
            {"expr": lines, "eval_time": "1d", "exp_samples": [{"labels": "{}", "value": 230}]},
            {"expr": lines, "eval_time": "2d", "exp_samples": [{"labels": "{}", "value": 115}]},
            {"expr": hits, "eval_time": "1d", "exp_samples": [{"labels": "{}", "value": 69 / (24 + 69)}]},
        ],
    }, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_inactive_users_count_a_team_nobody_used_this_week_and_accept_rate_skips_no_decisions(tmp_path):
    inactive = substitute(query("cc-analytics-adoption", "Teams", "E"))
    org_inactive = substitute(query("cc-analytics-adoption", "Inactive users"))
    rate = substitute(query("cc-analytics-usage", "Suggestion accept rate"), team="payments|infra")
    users = "cc_analytics_team_active_users"
    result = promtool_test({
        "interval": "1m",
        "input_series": [
            {"series": f'{users}{{org="acme",team="payments",window="28d"}}', "values": "5x5"},
            {"series": f'{users}{{org="acme",team="payments",window="7d"}}', "values": "3x5"},
            {"series": f'{users}{{org="acme",team="infra",window="28d"}}', "values": "2x5"},
            {"series": 'cc_analytics_active_users{org="acme",window="28d"}', "values": "7x5"},
            {"series": 'cc_analytics_window_edits_accepted{org="acme",team="payments",window="month"}',
             "values": "3x5"},
            {"series": 'cc_analytics_window_edits_rejected{org="acme",team="payments",window="month"}',
             "values": "1x5"},
        ],
        "promql_expr_test": [
            {"expr": inactive, "eval_time": "2m", "exp_samples": [
                {"labels": '{team="payments"}', "value": 2}, {"labels": '{team="infra"}', "value": 2}]},
            {"expr": org_inactive, "eval_time": "2m", "exp_samples": [{"labels": "{}", "value": 7}]},
            {"expr": rate, "eval_time": "2m", "exp_samples": [{"labels": "{}", "value": 0.75}]},
            {"expr": substitute(query("cc-analytics-usage", "Suggestion accept rate"), team="infra"),
             "eval_time": "2m", "exp_samples": []},
        ],
    }, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
