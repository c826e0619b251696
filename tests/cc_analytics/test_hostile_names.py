"""The tenant rule for the dimensions Claude Code 2.1.332 added: an org naming thousands of skills, agents, MCP
servers, plugins, tools and repositories (over-long, odd Unicode, SQL and label injection), many remote sessions
and junk plans (tests/support/hostile_names.py) changes nothing another org reads.

A real serve with --auth-tokens. The fleet (tests/support/fleet.py) sends three orgs' month and is aggregated; every
report each fleet org reads with its own token is kept. Then the hostile org sends with its token and the days are
aggregated again: each fleet org's reports are exactly as before and equal the fleet's truth; the hostile org's own
figures equal what it sent (repositories lower-cased, they and usage names cut to 256 characters); /metrics stays
bounded, every usage and repository family keeps its capped number of names with the rest in `other`, and it
parses (promtool check metrics).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.snapshot import OTHER
from tests.support.fleet import Fleet
from tests.support.fleet_reports import aggregate, api_get, daily_rows, report_differences, span, usage_report, \
    utc_today
from tests.support.hostile_names import HOSTILE_ORG, KINDS, LONGEST_NAME, HostileOrg
from tests.support.prometheus_server import prometheus_tool

pytestmark = pytest.mark.slow

FLEET_ORGS = ("org-acme", "org-globex", "org-initech")
MAX_USAGE_NAMES = 5
MAX_LABEL_VALUES = 30
# The fleet's /metrics is about 0.3 MB; the caps, not the thousands of names, bound what the hostile org adds.
METRICS_BYTES_BOUND = 2 * 1024 * 1024
METRICS_SERIES_BOUND = 20_000


def org_reports(client, fleet: Fleet) -> dict:
    """Every report an org reads over the fleet's days, as its client gets them."""
    days = span(fleet)
    return {"usage": api_get(client, "/api/v1/usage", group="user", **days),
            "usage_names": api_get(client, "/api/v1/usage", group="name", **days),
            "adoption": api_get(client, "/api/v1/usage/adoption", **days),
            "repositories": api_get(client, "/api/v1/repositories", **days),
            "repositories_csv": client.api("GET", "/api/v1/repositories", format="csv", **days),
            "value": api_get(client, "/api/v1/value", **days),
            "forecast": api_get(client, "/api/v1/value/forecast", month=f"{fleet.days[-1]:%Y-%m}"),
            "daily": daily_rows(client, fleet),
            "users": api_get(client, "/api/v1/users", month=f"{fleet.days[-1]:%Y-%m}"),
            "admin": {f"{day}": usage_report(client, day, limit=1000) for day in fleet.days}}


def hostile_differences(client, fleet: Fleet, hostile: HostileOrg) -> list[str]:
    """The hostile org's own figures as it sent them: every name of every kind, every repository (cut), its Admin
    API records with their subscription_type, its spend."""
    truth, days, problems = hostile.truth, span(fleet), []
    rows = api_get(client, "/api/v1/usage", group="name", **days)["data"]
    got = {(row["kind"], row["name"]): {figure: row[figure] for figure in ("uses", "successes", "failures",
                                                                             "cost_usd")} for row in rows}
    wanted = {key: {**figures, "cost_usd": pytest.approx(figures["cost_usd"])} for key, figures in truth.usage.items()}
    if got != wanted or max(len(name) for _, name in got) != LONGEST_NAME:
        problems.append(f"hostile usage: {len(got)} names, sent {len(wanted)}; differing: "
                        f"{[key for key in set(got) | set(wanted) if got.get(key) != wanted.get(key)][:5]}")
    rows = api_get(client, "/api/v1/repositories", **days)["data"]
    got = {row["repository"]: (row["lines_accepted"], row["sessions"], row["members"]) for row in rows}
    wanted = {name: (figures["lines_accepted"], len(figures["sessions"]), len(figures["members"]))
              for name, figures in truth.repositories.items()}
    if got != wanted or max(map(len, got)) != LONGEST_NAME:
        problems.append(f"hostile repositories: {len(got)}, sent {len(wanted)}; differing: "
                        f"{[key for key in set(got) | set(wanted) if got.get(key) != wanted.get(key)][:5]}")
    records = {}
    for day in hostile.days:
        for record in usage_report(client, day, limit=1000):
            records[(day, record["actor"]["email_address"], record["is_remote"])] = record
    if set(records) != set(truth.actors):
        problems.append(f"hostile Admin API records {sorted(records)[:5]}..., sent {sorted(truth.actors)[:5]}...")
    for (day, email, remote), record in records.items():
        if record["core_metrics"]["num_sessions"] != len(truth.actors.get((day, email, remote), ())):
            problems.append(f"hostile Admin API {day} {email} {remote}: {record['core_metrics']}")
        if record["subscription_type"] != truth.subscription_type(day, email):
            problems.append(f"hostile Admin API {day} {email} subscription_type: {record['subscription_type']!r}, "
                            f"its latest plan {truth.plans.get((day, email))!r:.40}")
    [value] = api_get(client, "/api/v1/value", **days)["data"]
    if value["cost_usd"] != pytest.approx(truth.cost_usd) or value["sessions"] != len(truth.sessions):
        problems.append(f"hostile value: {value['cost_usd']} USD, {value['sessions']} sessions; sent "
                        f"{truth.cost_usd}, {len(truth.sessions)}")
    return problems


def metrics_problems(text: str, hostile: HostileOrg) -> list[str]:
    """/metrics bounded, capped per family as documented, valid exposition."""
    problems = []
    if len(text.encode()) > METRICS_BYTES_BOUND:
        problems.append(f"/metrics is {len(text.encode())} bytes")
    families = list(text_string_to_metric_families(text))
    series = sum(len(family.samples) for family in families)
    if series > METRICS_SERIES_BOUND:
        problems.append(f"/metrics has {series} series")
    names = defaultdict(set)  # (family, org, team, kind, window) -> names
    repositories = defaultdict(set)  # (family, org, team, window) -> repositories
    folded = {}
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            if sample.name.startswith("cc_analytics_usage_") and "name" in labels:
                names[(sample.name, labels["org"], labels["team"], labels["kind"], labels["window"])].add(
                    labels["name"])
            if sample.name.startswith("cc_analytics_repository_"):
                repositories[(sample.name, labels["org"], labels["team"], labels["window"])].add(labels["repository"])
            if sample.name == "cc_analytics_label_values_folded":
                folded[labels["dimension"]] = sample.value
    hostile_names = {key: found for key, found in names.items() if key[1] == HOSTILE_ORG}
    if {key[3] for key in hostile_names} < set(KINDS):
        problems.append(f"the hostile org's kinds on /metrics: {sorted({key[3] for key in hostile_names})}")
    problems += [f"{key}: {len(found)} names" for key, found in names.items()
                 if len(found - {OTHER}) > MAX_USAGE_NAMES]
    if not any(OTHER in found for found in hostile_names.values()):
        problems.append("no hostile usage name was folded into other")
    problems += [f"{key}: {len(found)} repositories" for key, found in repositories.items()
                 if len(found - {OTHER}) > MAX_LABEL_VALUES]
    if not any(OTHER in found for key, found in repositories.items() if key[1] == HOSTILE_ORG):
        problems.append("no hostile repository was folded into other")
    if folded.get("usage_name", 0) < len(hostile.truth.usage) - len(KINDS) * 3 * MAX_USAGE_NAMES:
        problems.append(f"usage names folded: {folded.get('usage_name')}")
    if folded.get("repository", 0) < len(hostile.truth.repositories) - MAX_LABEL_VALUES:
        problems.append(f"repositories folded: {folded.get('repository')}")
    check = subprocess.run([prometheus_tool("promtool"), "check", "metrics"], input=text, capture_output=True,
                           text=True)
    if check.returncode != 0:
        problems.append(f"promtool check metrics: {(check.stdout + check.stderr)[:2000]}")
    return problems


def test_a_hostile_org_naming_thousands_of_things_changes_nothing_the_others_read(serve_factory, tmp_path):
    tokens = {org: secrets.token_hex(16) for org in (*FLEET_ORGS, HOSTILE_ORG, "*")}
    (tmp_path / "tokens").write_text("".join(f"{org} {token}\n" for org, token in tokens.items()))
    serve = serve_factory("--auth-tokens", str(tmp_path / "tokens"), "--aggregate-interval", "0",
                          "--max-usage-names", str(MAX_USAGE_NAMES), "--max-label-values", str(MAX_LABEL_VALUES),
                          data_dir=tmp_path / "data")
    admin = serve.with_token(tokens["*"])
    fleet = Fleet(today=utc_today())
    for phase in Fleet.PHASES:
        fleet.send(phase, admin)
    aggregate(admin, fleet)
    before = {org: org_reports(serve.with_token(tokens[org]), fleet) for org in FLEET_ORGS}

    hostile = HostileOrg(fleet.days[-2:])
    hostile.build()
    hostile.send(serve, tokens[HOSTILE_ORG])
    aggregate(admin, fleet)  # the rollup of the hostile days finishes (an error status fails here)

    for org in FLEET_ORGS:
        client = serve.with_token(tokens[org])
        after = org_reports(client, fleet)
        changed = [report for report in before[org] if after[report] != before[org][report]]
        assert changed == [], f"{org}'s reports changed: {changed}"
        problems = report_differences(client, fleet, fleet.truth.of_org(org))
        assert not problems, f"{org}: {len(problems)} differences:\n" + "\n".join(problems[:40])
    problems = hostile_differences(serve.with_token(tokens[HOSTILE_ORG]), fleet, hostile)
    assert not problems, "\n".join(problems)

    text = admin.api("GET", "/metrics").decode()
    problems = metrics_problems(text, hostile)
    assert not problems, "\n".join(problems)
    log = serve.log_text()
    assert "aggregation failed" not in log and "Traceback" not in log, log[-5000:]
    print(f"/metrics: {len(text.encode())} bytes; hostile usage names {len(hostile.truth.usage)}, repositories "
          f"{len(hostile.truth.repositories)}, records {len(hostile.points) + len(hostile.events)}; "
          f"{json.dumps({org: len(before[org]['usage']['data']) for org in FLEET_ORGS})} usage rows per fleet org")
