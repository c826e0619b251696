"""The repository dimension end to end: hand-built Claude Code records with the vcs.* attributes of
OTEL_METRICS_INCLUDE_REPOSITORY=1 (two orgs, one over OTLP/HTTP, one over gRPC; several repositories, one spelled
in two cases, and records without one) -> GET /api/v1/repositories (JSON and CSV), the cc_analytics_repository_*
families and `cc-analytics report repositories` equal what was sent; an org token reads its own org only; a bad
repo is a 400 with the reason."""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.repositories import COLUMNS
from tests.support.claude_records import MODEL, event, identity, point
from tests.support.command_line import run
from tests.support.exports import assert_stored
from tests.support.otlp_messages import export_request
from tests.support.read_api import send
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.slow

ORGS = ("org-a", "org-b")
TRANSPORT = {"org-a": "http", "org-b": "grpc"}
TEAM = {"ada@a.example": "payments", "grace@a.example": "search", "linus@b.example": ""}
# Few enough that one repository of org-a (the one with the fewest lines) is folded into "other" on /metrics.
MAX_LABEL_VALUES = 3
FIGURES = tuple(column for column in COLUMNS if column not in ("org_id", "repository", "sessions", "members",
                                                                "accept_rate"))


@dataclass
class Activity:
    """What one session of one member did: (metric, attributes, value) points and event names; owner and name
    as Claude Code would send them (None: the attribute is absent)."""

    org: str
    email: str
    session: str
    owner: str | None
    name: str | None
    points: list[tuple[str, dict, float]] = field(default_factory=list)
    events: tuple[str, ...] = ()

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.name}".lower() if self.owner and self.name else ""

    def vcs(self) -> dict:
        attributes = {}
        if self.owner is not None:
            attributes["vcs.owner.name"] = self.owner
        if self.name is not None:
            attributes["vcs.repository.name"] = self.name
        if self.owner and self.name:
            attributes["vcs.repository.url.full"] = f"https://github.com/{self.owner}/{self.name}.git"
            attributes["vcs.provider.name"] = "github"
        return attributes


def lines(added: int, removed: int = 0):
    return [("lines_of_code.count", {"type": "added"}, added)] + (
        [("lines_of_code.count", {"type": "removed"}, removed)] if removed else [])


def decisions(accepted: int, rejected: int, tool: str = "Edit"):
    attributes = {"tool_name": tool, "language": "Python", "source": "config"}
    return [("code_edit_tool.decision", {**attributes, "decision": "accept"}, accepted),
            ("code_edit_tool.decision", {**attributes, "decision": "reject"}, rejected)]


def spend(input_tokens: int, output: int, cache_read: int, cache_creation: int, cost: float):
    return [("token.usage", {"type": "input", "model": MODEL}, input_tokens),
            ("token.usage", {"type": "output", "model": MODEL}, output),
            ("token.usage", {"type": "cacheRead", "model": MODEL}, cache_read),
            ("token.usage", {"type": "cacheCreation", "model": MODEL}, cache_creation),
            ("cost.usage", {"model": MODEL}, cost)]


ACTIVITY = (
    Activity("org-a", "ada@a.example", "s-1", "Acme", "Widgets",
             [*lines(10, 3), *decisions(2, 1), ("commit.count", {}, 1), ("pull_request.count", {}, 1),
              *spend(100, 50, 7, 3, 0.25)], ("user_prompt",)),
    Activity("org-a", "ada@a.example", "s-2", "acme", "widgets", [*lines(5), *decisions(1, 0, "Write")]),
    Activity("org-a", "ada@a.example", "s-5", "ACME", "widgets", [], ("user_prompt", "api_request")),
    Activity("org-a", "grace@a.example", "s-3", "acme", "gadgets", [*lines(7), *spend(10, 5, 0, 0, 0.5)]),
    Activity("org-a", "grace@a.example", "s-9", "acme", "docs", [*lines(1)]),
    Activity("org-a", "grace@a.example", "s-4", None, None, [*lines(2), ("commit.count", {}, 1)], ("user_prompt",)),
    Activity("org-a", "ada@a.example", "s-1", "acme", None, [*lines(4)]),  # owner without a name: not reported
    Activity("org-b", "linus@b.example", "s-6", "acme", "widgets", [*lines(4), ("commit.count", {}, 2),
                                                                     *spend(1, 2, 3, 4, 0.125)]),
    Activity("org-b", "linus@b.example", "s-7", "other", "thing", [*lines(1), *decisions(0, 2)]),
    Activity("org-b", "linus@b.example", "s-8", "=HYPERLINK(1)", "x", [*lines(6)]),
)

_FIGURE_OF = {("lines_of_code.count", "added"): "lines_accepted", ("lines_of_code.count", "removed"): "lines_removed",
              ("token.usage", "input"): "input_tokens", ("token.usage", "output"): "output_tokens",
              ("token.usage", "cacheRead"): "cache_read_tokens",
              ("token.usage", "cacheCreation"): "cache_creation_tokens"}


def figure_of(metric: str, attributes: dict) -> str:
    if metric == "code_edit_tool.decision":
        return {"accept": "edits_accepted", "reject": "edits_rejected"}[attributes["decision"]]
    return _FIGURE_OF.get((metric, attributes.get("type")), {
        "commit.count": "commits", "pull_request.count": "pull_requests", "cost.usage": "cost_usd"}.get(metric))


def truth(activities=ACTIVITY, keys=("org", "repository")) -> dict[tuple, dict]:
    """Per key: every figure summed, the distinct sessions and members, the accept rate."""
    rows: dict[tuple, dict] = {}
    for activity in activities:
        key = tuple(TEAM[activity.email] if name == "team" else getattr(activity, name) for name in keys)
        row = rows.setdefault(key, {**dict.fromkeys(FIGURES, 0), "sessions": set(), "members": set()})
        row["sessions"].add(activity.session)
        row["members"].add(activity.email)
        for metric, attributes, value in activity.points:
            row[figure_of(metric, attributes)] += value
    for row in rows.values():
        row["sessions"], row["members"] = len(row["sessions"]), len(row["members"])
        decided = row["edits_accepted"] + row["edits_rejected"]
        row["accept_rate"] = row["edits_accepted"] / decided if decided else None
    return rows


def send_activity(serve, tokens: dict, now: int) -> None:
    for number, activity in enumerate(ACTIVITY):
        who = identity(activity.email, activity.session, activity.org, **activity.vcs())
        moment = now - (len(ACTIVITY) - number) * 10**9
        metrics = [point(metric, value, moment, moment - 60 * 10**9, **who, **attributes)
                   for metric, attributes, value in activity.points]
        resource = {"team": TEAM[activity.email]} if TEAM[activity.email] else None
        requests = [export_request(ExportLogsServiceRequest, [event(name, moment, **who)], resource)
                    for name in activity.events]
        if metrics:
            requests.append(export_request(ExportMetricsServiceRequest, metrics, resource))
        for request in requests:
            assert_stored(serve, request, TRANSPORT[activity.org], token=tokens[activity.org])


@pytest.fixture(scope="module")
def fed_serve(tmp_path_factory):
    work = tmp_path_factory.mktemp("repositories")
    tokens = {org: secrets.token_hex(16) for org in (*ORGS, "*")}
    (work / "tokens").write_text("".join(f"{org} {token}\n" for org, token in tokens.items()))
    serve = ServeProcess(work / "data", ("--aggregate-interval", "0", "--auth-tokens", str(work / "tokens"),
                                         "--max-label-values", str(MAX_LABEL_VALUES))).start()
    try:
        send_activity(serve, tokens, time.time_ns())
        today = f"{datetime.now(timezone.utc).date()}"
        status, body = call(serve, tokens["*"], "/api/v1/aggregate", method="POST", **{"from": today, "to": today})
        assert status == 200, body
        yield serve, tokens, {"from": today, "to": today}
    finally:
        serve.stop()


def call(serve, token: str, path: str, method: str = "GET", **parameters) -> tuple[int, bytes]:
    return send(serve, method, path, headers={"Authorization": f"Bearer {token}"}, **parameters)


def answer(serve, token: str, **parameters) -> list[dict]:
    status, body = call(serve, token, "/api/v1/repositories", **parameters)
    assert status == 200, body
    return json.loads(body)["data"]


def as_truth(rows: list[dict]) -> dict[tuple, dict]:
    return {(row["org_id"], row["repository"]): {name: row[name] for name in (*FIGURES, "sessions", "members",
                                                                             "accept_rate")} for row in rows}


def test_every_figure_of_every_repository_equals_what_was_sent(fed_serve):
    serve, tokens, span = fed_serve
    rows = answer(serve, tokens["*"], **span)
    assert as_truth(rows) == truth()
    assert [tuple(row) for row in rows] == [COLUMNS] * len(rows)
    assert [row["lines_accepted"] for row in rows] == sorted((row["lines_accepted"] for row in rows), reverse=True)
    # one repository in three spellings, counted once; a name without an owner is not a repository
    assert ("org-a", "acme/widgets") in as_truth(rows) and ("org-a", "") in as_truth(rows)
    assert as_truth(rows)["org-a", "acme/widgets"]["sessions"] == 3


def test_filters_and_the_csv(fed_serve):
    serve, tokens, span = fed_serve
    widgets = answer(serve, tokens["*"], repo="Acme/Widgets", **span)
    assert as_truth(widgets) == {key: row for key, row in truth().items() if key[1] == "acme/widgets"}
    payments = answer(serve, tokens["*"], team="payments", **span)
    ada = [a for a in ACTIVITY if TEAM[a.email] == "payments"]
    assert as_truth(payments) == truth(ada)
    status, body = call(serve, tokens["*"], "/api/v1/repositories", format="csv", **span)
    assert status == 200 and b"'=hyperlink(1)/x" in body and b",=hyperlink" not in body
    table = list(csv.reader(io.StringIO(body.decode())))
    assert tuple(table[0]) == COLUMNS
    expected = [[_csv_text(row[column]) for column in COLUMNS] for row in answer(serve, tokens["*"], **span)]
    assert table[1:] == expected


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] == "=":
        return "'" + value
    return str(value)


def test_an_org_token_reads_its_own_org_only_and_bad_parameters_get_400(fed_serve):
    serve, tokens, span = fed_serve
    for org in ORGS:
        other = next(o for o in ORGS if o != org)
        rows = answer(serve, tokens[org], **span)
        assert as_truth(rows) == {key: row for key, row in truth().items() if key[0] == org}
        status, body = call(serve, tokens[org], "/api/v1/repositories", org=other, **span)
        assert status == 403 and b"reads org" in body
    assert call(serve, "not-a-token", "/api/v1/repositories", **span)[0] == 401
    for parameters, reason in (({"repo": "widgets"}, "is not a GitHub repository as OWNER/NAME"),
                               ({"repo": "a/b;DROP"}, "is not a GitHub repository"),
                               ({"format": "xml"}, "format='xml' is not one of json, csv"),
                               ({"to": "2026-13-01"}, "is not a calendar date")):
        status, body = call(serve, tokens["*"], "/api/v1/repositories", **{**span, **parameters})
        assert status == 400 and reason in body.decode(), body


def families(text: str, family: str) -> dict[tuple, float]:
    """(org, team, repository) -> value of the family's today window."""
    found = {}
    for metric in text_string_to_metric_families(text):
        for sample in metric.samples:
            if sample.name == family and sample.labels["window"] == "today":
                labels = sample.labels
                found[labels["org"], labels["team"], labels.get("repository", "")] = sample.value
    return found


def test_the_families_equal_what_was_sent_with_the_fewest_lines_folded(fed_serve):
    serve, tokens, _ = fed_serve
    status, body = call(serve, tokens["*"], "/metrics")
    assert status == 200
    text = body.decode()
    expected = truth(keys=("org", "team", "repository"))
    # per org the repositories with the most lines are kept; org-a's fourth, acme/docs, is summed into other
    ranked = defaultdict(lambda: defaultdict(int))
    for (org, _, repository), row in expected.items():
        ranked[org][repository] += row["lines_accepted"]
    folded = {(org, repository) for org, totals in ranked.items()
              for repository in sorted(totals, key=lambda r: (-totals[r], r))[MAX_LABEL_VALUES:]}
    assert folded == {("org-a", "acme/docs")}
    published: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(("lines_accepted", "sessions", "members",
                                                                       "cost_usd"), 0))
    for (org, team, repository), row in expected.items():
        label = "other" if (org, repository) in folded else repository
        for name in published[org, team, label]:
            published[org, team, label][name] += row[name]
    for name in ("lines_accepted", "sessions", "members", "cost_usd"):
        assert families(text, f"cc_analytics_repository_{name}") == {
            key: pytest.approx(row[name]) for key, row in published.items()}, name
    folded_counts = {sample.labels["dimension"]: sample.value for metric in text_string_to_metric_families(text)
                     for sample in metric.samples if sample.name == "cc_analytics_label_values_folded"}
    assert (folded_counts["repository"], folded_counts["repository_org"], folded_counts["repository_team"]) == (1, 0, 0)


def test_the_report_command_prints_the_same_through_serve_and_on_the_store(fed_serve):
    serve, tokens, span = fed_serve
    commands = [("--format", output_format, *filters) for output_format in ("table", "csv", "json")
                for filters in ((), ("--org", "org-b"), ("--repo", "acme/widgets"), ("--team", "search"))]
    days = ("--from", span["from"], "--to", span["to"])
    through_serve = [run("report", "repositories", *days, *command, "--api-port", str(serve.api_port),
                         "--api-token", tokens["*"], timeout=120) for command in commands]
    assert json.loads(through_serve[8].stdout) == answer(serve, tokens["*"], **span)  # json, no filter
    serve.stop()
    on_store = [run("report", "repositories", *days, *command, "--data-dir", str(serve.data_dir),
                    "--api-port", "1", timeout=120) for command in commands]
    for command, served, stored in zip(commands, through_serve, on_store):
        assert served.returncode == 0, served.stderr
        assert (served.stdout, served.stderr) == (stored.stdout, stored.stderr), command
    assert "acme/widgets" in through_serve[0].stdout and "(not reported)" in through_serve[0].stdout
    refused = run("report", "repositories", *days, "--repo", "nope", "--data-dir", str(serve.data_dir),
                  "--api-port", "1")
    assert refused.returncode == 2 and "is not a GitHub repository" in refused.stderr
