"""The Usage figures end to end: a fleet of Claude Code processes (tests/support/usage_fleet.py, the official
OpenTelemetry SDK and OTLP exporters, delta and cumulative, retried exports, a resumed session) into a real serve;
every daily_usage row, the usage report per name and per member (JSON and CSV), feature adoption and
`cc-analytics report usage` equal what the fleet sent, an org token reads only its org, bad parameters get 400."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections import defaultdict
from datetime import date

import pytest

from prometheus_client.parser import text_string_to_metric_families

from tests.support.command_line import run
from tests.support.fleet_reports import utc_today
from tests.support.read_api import send
from tests.support.serve_process import ServeProcess
from tests.support.usage_fleet import FEATURES, FIGURES, UsageFleet

pytestmark = pytest.mark.slow

MAX_NAMES = 2


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    """A serve with an admin and an org token each, holding what the fleet sent, aggregated."""
    work = tmp_path_factory.mktemp("usage")
    tokens = {"*": secrets.token_hex(16), "org-acme": secrets.token_hex(16)}
    (work / "tokens").write_text("".join(f"{org} {token}\n" for org, token in tokens.items()))
    serve = ServeProcess(work / "data", ("--aggregate-interval", "0", "--auth-tokens", str(work / "tokens"),
                                         "--max-usage-names", str(MAX_NAMES))).start()
    try:
        admin = serve.with_token(tokens["*"])
        fleet = UsageFleet(today=utc_today())
        fleet.send(admin)
        admin.api("POST", "/api/v1/aggregate", **{"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"})
        yield admin, fleet, tokens, work
    finally:
        serve.stop()


def span(fleet: UsageFleet) -> dict:
    return {"from": f"{fleet.days[0]}", "to": f"{fleet.days[-1]}"}


def get(serve, token: str, path: str, **parameters) -> tuple[int, bytes]:
    return send(serve, "GET", path, headers={"Authorization": f"Bearer {token}"}, **parameters)


def figures_of(row: dict) -> dict:
    return {figure: row[figure] for figure in FIGURES}


def summed(truth_rows, key) -> dict[tuple, dict]:
    totals: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for row_key, figures in truth_rows:
        for figure, amount in figures.items():
            totals[key(row_key)][figure] += amount
    return dict(totals)


def test_the_fleet_covers_every_kind_and_scenario(sent):
    _, fleet, _, _ = sent
    kinds = {key[3] for key in fleet.usage.rows}
    assert kinds == {"skill", "mcp_server", "mcp_tool", "plugin", "agent", "query_source", "tool", "hook",
                     "permission_mode", "command"}
    assert {"delta", "cumulative", "duplicate export", "resumed session", "mcp disconnected", "mcp call as mcp_tool",
            "mcp call as mcp__SERVER__TOOL"} <= fleet.features
    assert all(fleet.usage.adopted[feature] for feature in FEATURES)


def test_every_daily_usage_row_equals_what_was_sent(sent):
    serve, fleet, _, _ = sent
    stored = {(date.fromisoformat(row["day"]), row["org_id"], row["user_key"], row["kind"], row["name"]):
              (row["team"], figures_of(row)) for row in serve.query("SELECT * FROM daily_usage FINAL")}
    expected = {key: (fleet.usage.teams[key[:3]], figures) for key, figures in fleet.usage.rows.items()}
    assert stored.keys() == expected.keys()
    assert {key: value for key, value in stored.items() if value != expected[key]} == {}


def test_the_usage_report_per_name_and_per_member_equals_the_truth_in_json_and_csv(sent):
    serve, fleet, tokens, _ = sent
    truth = fleet.usage.rows.items()
    for group, key in (("name", lambda k: (k[1], k[3], k[4])), ("user", lambda k: (k[1], k[2], k[3], k[4]))):
        status, body = get(serve, tokens["*"], "/api/v1/usage", group=group, **span(fleet))
        assert status == 200, body
        rows = json.loads(body)["data"]
        keyed = {tuple(row[c] for c in (("org_id", "kind", "name") if group == "name" else
                                        ("org_id", "user_key", "kind", "name"))): row for row in rows}
        expected = summed(truth, key)
        assert {k: figures_of(row) for k, row in keyed.items()} == expected
        assert [row["uses"] for row in rows] == sorted((row["uses"] for row in rows), reverse=True)
        for row in rows:
            decided = row["successes"] + row["failures"]
            assert row["success_rate"] == (row["successes"] / decided if decided else None)
        if group == "name":
            members = summed(((k, {"uses": 1}) for k in {(k[1], k[2], k[3], k[4]) for k, _ in truth}),
                             lambda k: (k[0], k[2], k[3]))
            assert {k: row["members"] for k, row in keyed.items()} == {k: v["uses"] for k, v in members.items()}
        status, body = get(serve, tokens["*"], "/api/v1/usage", group=group, format="csv", **span(fleet))
        assert status == 200
        csv_rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert len(csv_rows) == len(rows)
        assert [{figure: float(row[figure]) for figure in FIGURES} for row in csv_rows] == [
            {figure: float(row[figure]) for figure in FIGURES} for row in rows]

    # one kind, one team
    status, body = get(serve, tokens["*"], "/api/v1/usage", kind="tool", team="payments", group="user",
                       **span(fleet))
    rows = json.loads(body)["data"]
    expected = summed(((k, f) for k, f in truth if k[3] == "tool" and fleet.usage.teams[k[:3]] == "payments"),
                      lambda k: (k[1], k[2], k[3], k[4]))
    assert {(r["org_id"], r["user_key"], r["kind"], r["name"]): figures_of(r) for r in rows} == expected


def test_adoption_equals_the_share_of_active_members_who_used_each_feature(sent):
    serve, fleet, tokens, _ = sent
    status, body = get(serve, tokens["*"], "/api/v1/usage/adoption", **span(fleet))
    assert status == 200, body
    rows = json.loads(body)["data"]
    teams = fleet.usage.teams
    expected = defaultdict(lambda: {"active_members": 0, **{f"{feature}_members": 0 for feature in FEATURES}})
    for who in fleet.usage.active:
        row = expected[(who[0].isoformat(), who[1], teams[who])]
        row["active_members"] += 1
        for feature in FEATURES:
            row[f"{feature}_members"] += who in fleet.usage.adopted[feature]
    got = {(r["date"], r["org_id"], r["team"]): {k: r[k] for k in ("active_members", *(
        f"{feature}_members" for feature in FEATURES))} for r in rows}
    assert got == dict(expected)
    for row in rows:
        for feature in FEATURES:
            assert row[f"{feature}_share"] == row[f"{feature}_members"] / row["active_members"]


def test_an_org_token_reads_only_its_org_and_bad_parameters_get_400(sent):
    serve, fleet, tokens, _ = sent
    for path in ("/api/v1/usage", "/api/v1/usage/adoption"):
        status, body = get(serve, tokens["org-acme"], path, **span(fleet))
        assert status == 200
        assert {row["org_id"] for row in json.loads(body)["data"]} == {"org-acme"}
        status, _ = get(serve, tokens["org-acme"], path, org="org-globex", **span(fleet))
        assert status == 403
        for bad, reason in (({"kind": "spells"}, b"kind="), ({"format": "xml"}, b"format="),
                            ({"from": "2026-13-01"}, b"from=")):
            status, body = get(serve, tokens["*"], path, **{**span(fleet), **bad})
            assert status == 400 and reason in body, body
    status, body = get(serve, tokens["*"], "/api/v1/usage", group="day", **span(fleet))
    assert status == 400 and b"group=" in body


def test_report_usage_through_serve_prints_the_api_rows(sent):
    serve, fleet, tokens, _ = sent
    common = ("--from", fleet.days[0].isoformat(), "--to", fleet.days[-1].isoformat(),
              "--api-port", str(serve.api_port), "--api-token", tokens["*"])
    done = run("report", "usage", "--kind", "skill", "--format", "json", *common)
    assert done.returncode == 0, done.stderr
    _, body = get(serve, tokens["*"], "/api/v1/usage", kind="skill", **span(fleet))
    assert json.loads(done.stdout) == json.loads(body)["data"]
    table = run("report", "usage", "--adoption", *common)
    assert table.returncode == 0 and "plan mode" in table.stdout.splitlines()[0], table.stdout


def samples(serve, token: str, family: str, window: str) -> dict[tuple, float]:
    status, body = get(serve, token, "/metrics")
    assert status == 200
    found = {}
    for metric in text_string_to_metric_families(body.decode()):
        for sample in metric.samples:
            if sample.name == family and sample.labels.get("window", window) == window:
                found[tuple(v for k, v in sorted(sample.labels.items()) if k != "window")] = sample.value
    return found


def test_metrics_publish_the_top_names_per_kind_the_rest_as_other_and_adoption(sent):
    serve, fleet, tokens, _ = sent
    truth = summed(fleet.usage.rows.items(), lambda k: (k[1], fleet.usage.teams[k[:3]], k[3], k[4]))
    kept = set()
    for group in {key[:3] for key in truth}:
        names = sorted((key for key in truth if key[:3] == group),
                       key=lambda key: (-truth[key]["uses"], -truth[key]["cost_usd"], key))
        kept.update(names[:MAX_NAMES])
    expected = defaultdict(lambda: defaultdict(float))
    for key, figures in truth.items():
        label = key if key in kept else (*key[:3], "other")
        for figure in ("uses", "successes", "failures", "cost_usd"):
            expected[figure][label] += figures[figure]
    for figure in ("uses", "successes", "failures", "cost_usd"):
        # labels sorted by name: kind, name, org, team
        got = {(org, team, kind, name): value for (kind, name, org, team), value in
               samples(serve, tokens["*"], f"cc_analytics_usage_{figure}", "28d").items()}
        assert got == dict(expected[figure]), figure
    folded = samples(serve, tokens["*"], "cc_analytics_label_values_folded", "")
    assert folded[("usage_name",)] == len(truth) - len(kept)

    shares = samples(serve, tokens["*"], "cc_analytics_usage_adoption_share", "28d")
    teams = fleet.usage.teams
    for (feature, org, team), value in shares.items():
        active = {who[1:] for who in fleet.usage.active if who[1] == org and teams[who] == team}
        used = {who[1:] for who in fleet.usage.adopted[feature] if who[1] == org and teams[who] == team}
        assert value == len(used) / len(active), (feature, org, team)
    assert {key[0] for key in shares} == set(FEATURES)
