"""The Prometheus alert rules in deploy/prometheus: valid for promtool, passing their unit tests, and complete."""

from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml

from tests.support.prometheus_server import prometheus_tool
from tests.support.paths import REPO

RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
UNIT_TESTS = sorted((RULES.parent / "tests").glob("*.test.yml"))
SEVERITIES = {"critical", "warning", "info"}
DASHBOARD_UIDS = ("cc-analytics-adoption", "cc-analytics-usage", "cc-analytics-collector")
RUNBOOK_SECTIONS = ("Likely causes:", "Check:", "Metric:", "Dashboard:")
SETTING = re.compile(r"\bcc_analytics_alert_setting:\w+")
RECORDED_NAME = re.compile(r"\b[a-z_]+(?::[a-z0-9_]+){1,2}\b")


@pytest.fixture(scope="module")
def promtool() -> str:
    return prometheus_tool("promtool")


def run_promtool(promtool: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *arguments], capture_output=True, text=True, timeout=300)


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def alerts() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def alert_cases(unit_test: dict) -> list[dict]:
    return [case for group in unit_test["tests"] for case in group.get("alert_rule_test", [])]


def test_rules_pass_promtool_check(promtool):
    result = run_promtool(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_test_files_exist():
    assert [path.name for path in UNIT_TESTS] == ["alerts-health.test.yml", "alerts-usage.test.yml"]


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=lambda path: path.name)
def test_unit_tests_pass(promtool, unit_test):
    result = run_promtool(promtool, "test", "rules", str(unit_test))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def broken_copies(unit_test: dict) -> list[tuple[str, dict, str]]:
    """(what was broken, the broken test file, the alert whose case now fails), two ways."""
    first_firing = next(case for case in alert_cases(unit_test) if case.get("exp_alerts"))
    label_changed = copy.deepcopy(unit_test)
    case = next(case for case in alert_cases(label_changed) if case.get("exp_alerts"))
    case["exp_alerts"][0]["exp_labels"]["severity"] = "page"
    alert_removed = copy.deepcopy(unit_test)
    case = next(case for case in alert_cases(alert_removed) if case.get("exp_alerts"))
    case["exp_alerts"] = case["exp_alerts"][1:]
    return [("label changed", label_changed, first_firing["alertname"]),
            ("alert removed", alert_removed, first_firing["alertname"])]


def test_broken_expectation_fails(promtool, tmp_path):
    """The unit tests can fail: a copy passes, and the same copy with one expectation wrong does not."""
    unit_test = yaml.safe_load(UNIT_TESTS[0].read_text())
    unit_test["rule_files"] = [str(RULES)]
    intact = tmp_path / "intact.test.yml"
    intact.write_text(yaml.safe_dump(unit_test, sort_keys=False))
    result = run_promtool(promtool, "test", "rules", str(intact))
    assert result.returncode == 0, result.stdout + result.stderr
    for what, broken, alertname in broken_copies(unit_test):
        path = tmp_path / f"{what.replace(' ', '-')}.test.yml"
        path.write_text(yaml.safe_dump(broken, sort_keys=False))
        result = run_promtool(promtool, "test", "rules", str(path))
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"{what}: promtool passed\n{output}"
        assert "FAILED" in output and f"alertname: {alertname}" in output, f"{what}:\n{output}"


@pytest.mark.parametrize("alert", alerts(), ids=lambda alert: alert["alert"])
def test_alert_has_severity_and_runbook(alert):
    assert alert["labels"]["severity"] in SEVERITIES
    assert alert["annotations"]["summary"].strip()
    description = alert["annotations"]["description"]
    for section in RUNBOOK_SECTIONS:
        assert section in description, f"{alert['alert']}: no {section!r} in the description"
    assert any(f"(uid {uid})" in description for uid in DASHBOARD_UIDS), f"{alert['alert']}: no dashboard uid"


def test_alert_names_are_unique():
    names = [alert["alert"] for alert in alerts()]
    assert len(names) == len(set(names))


def test_every_alert_fires_and_stays_quiet_in_the_unit_tests():
    cases = [case for path in UNIT_TESTS for case in alert_cases(yaml.safe_load(path.read_text()))]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {alert["alert"] for alert in alerts()}
    assert names - firing == set(), "alerts never expected to fire"
    assert names - quiet == set(), "alerts never expected to stay quiet"
    assert (firing | quiet) - names == set(), "unit tests for alerts that do not exist"


def test_unit_tests_order_every_rule_group():
    """Without group_eval_order promtool runs the groups in random order, and the settings may come too late."""
    groups = [group["name"] for group in rule_groups()]
    for path in UNIT_TESTS:
        assert yaml.safe_load(path.read_text())["group_eval_order"] == groups, path.name


def test_settings_are_constants_in_the_first_group_each_with_a_comment():
    settings_group = rule_groups()[0]
    assert settings_group["name"] == "cc-analytics-alert-settings"
    for rule in settings_group["rules"]:
        assert SETTING.fullmatch(rule["record"]), rule
        assert re.fullmatch(r"vector\(-?\d+(\.\d+)?\)", rule["expr"].strip()), rule
    lines = RULES.read_text().splitlines()
    for number, line in enumerate(lines):
        if "- record: cc_analytics_alert_setting:" in line:
            assert lines[number - 1].strip().startswith("#"), f"no comment above {line.strip()}"


def test_every_setting_and_recorded_series_used_is_defined_and_every_setting_used():
    """A misspelt setting or recorded series would be NaN or empty, and its alert would never fire."""
    recorded = {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}
    used = set()
    for group in rule_groups():
        for rule in group["rules"]:
            used |= set(RECORDED_NAME.findall(rule["expr"]))
            for text in rule.get("annotations", {}).values():
                used |= set(RECORDED_NAME.findall(text))
    assert used - recorded == set(), "used but never recorded"
    assert recorded - used == set(), "recorded but never used"
