"""The CLI's two backends give the same answers: every report command, the export and queries print the same
bytes through a running serve as on the store directly once it stopped, and `aggregate` the same counts."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.support.claude_records import DAY, MODEL, NEXT_DAY, at, event, identity, lines, point
from tests.support.command_line import run
from tests.support.otlp_messages import export_request
from tests.support.polling import wait_until
from tests.support.exports import assert_stored

pytestmark = pytest.mark.slow

# (org, team): members; org-a has two teams so a team filter is not an org filter in disguise
MEMBERS = {("org-a", "payments"): 3, ("org-a", "search"): 2, ("org-b", "search"): 3}
SPAN = ("--from", str(DAY), "--to", str(NEXT_DAY))
NOTHING_LISTENS = ("--api-port", "1")
QUERY = "SELECT org_id, user_key, count() AS records FROM events GROUP BY org_id, user_key ORDER BY org_id, user_key"


def feed_two_orgs(serve) -> tuple[int, int]:
    """Members of two orgs and three teams on DAY and NEXT_DAY, plus an API-key user; returns the events and the
    records (events and metric points) sent."""
    sent_events = sent_points = 0
    for (org, team), count in MEMBERS.items():
        metrics, events = [], []
        for number in range(count):
            who = dict(email=f"dev{number}.{team}@{org}.example.com", session=f"{org}-{team}-{number}", org=org)
            for day, hour in ((DAY, 9), (NEXT_DAY, 11 + number)):
                metrics.append(lines(5 + 7 * number + hour, at(day, hour), at(day, hour - 1), **who))
                metrics.append(point("code_edit_tool.decision", 1 + number, at(day, hour), at(day, hour - 1),
                                     **identity(**who), tool_name="Edit", decision="accept", language="Python"))
                metrics.append(point("code_edit_tool.decision", 1, at(day, hour), at(day, hour - 1),
                                     **identity(**who), tool_name="Edit", decision="reject", language="Python"))
                metrics.append(point("cost.usage", 0.1 * (number + 1), at(day, hour), at(day, hour - 1),
                                     **identity(**who), model=MODEL))
                events.append(event("user_prompt", at(day, hour), **identity(**who)))
        assert_stored(serve, export_request(ExportMetricsServiceRequest, metrics, {"team": team}))
        assert_stored(serve, export_request(ExportLogsServiceRequest, events, {"team": team}))
        sent_events, sent_points = sent_events + len(events), sent_points + len(metrics)
    assert_stored(serve, export_request(ExportLogsServiceRequest,
                                        [event("user_prompt", at(NEXT_DAY, 3), **identity("", "k-1", "org-a"))]))
    return sent_events + 1, sent_events + 1 + sent_points


def report_commands() -> dict[str, tuple[str, ...]]:
    """Every report command in every format, with and without each filter; the export; queries in a few formats."""
    commands = {}
    for output_format in ("table", "csv", "json"):
        for name, filters in (("all", ()), ("org", ("--org", "org-b")), ("team", ("--team", "search")),
                              ("search", ("--search", "DEV1"))):
            commands[f"users {output_format} {name}"] = ("report", "users", "--month", f"{DAY:%Y-%m}",
                                                         "--format", output_format, *filters)
            if name != "search":
                commands[f"daily {output_format} {name}"] = ("report", "daily", *SPAN, "--format", output_format,
                                                             *filters)
    # an empty filter is no filter, as the API reads it
    commands["users json empty org"] = ("report", "users", "--month", f"{DAY:%Y-%m}", "--format", "json", "--org", "")
    commands["export openmetrics"] = ("export", "openmetrics", *SPAN, "--step", "1h")
    for output_format in ("PrettyCompactMonoBlock", "TabSeparatedWithNames", "CSVWithNames", "JSONEachRow", "JSON"):
        commands[f"query {output_format}"] = ("query", "--format", output_format, QUERY)
    commands["query refused"] = ("query", "INSERT INTO events (org_id) VALUES ('x')")
    return commands


def run_all(where: tuple[str, ...]) -> dict[str, tuple[int, str, str]]:
    results = {}
    for name, command in report_commands().items():
        result = run(*command, *where, timeout=300)
        results[name] = (result.returncode, result.stdout, result.stderr if result.returncode else "")
    return results


def aggregated(where: tuple[str, ...]) -> tuple[str, str, list[str]]:
    """The counts line without its "(where)", where, and the progress bar's lines."""
    result = run("aggregate", *SPAN, *where, timeout=300)
    assert result.returncode == 0, result.stderr
    counts, _, origin = result.stdout.strip().partition(" (")
    return counts, origin.removesuffix(")"), [line for line in result.stderr.splitlines() if line.startswith("[")]


def without_statistics(output: str) -> dict:
    """ClickHouse's JSON output but its statistics, which time the query and so differ between runs."""
    document = json.loads(output)
    document.pop("statistics")
    return document


def test_every_report_command_prints_the_same_through_the_serve_as_on_the_store(serve_factory, tmp_path):
    data_dir = tmp_path / "data"
    serve = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    events, records = feed_two_orgs(serve)
    assert wait_until(lambda: serve.scalar("SELECT count() AS n FROM events") == events)
    through_serve = ("--data-dir", str(data_dir), "--api-port", str(serve.api_port))

    serve_counts, serve_origin, serve_progress = aggregated(through_serve)
    serve_results = run_all(through_serve)
    assert serve.stop() == 0
    on_store = ("--data-dir", str(data_dir), *NOTHING_LISTENS)
    store_counts, store_origin, store_progress = aggregated(on_store)
    store_results = run_all(on_store)

    user_days = 2 * sum(MEMBERS.values()) + 1  # the API-key user is active on NEXT_DAY only
    assert serve_origin == "through the running serve"
    assert store_origin == f"embedded chDB store {data_dir}, database cc_analytics"
    assert serve_counts == store_counts == f"aggregated 2 days, {DAY} to {NEXT_DAY}: {records} records, {user_days} user-days"
    assert serve_progress == store_progress and len(store_progress) == 2 and "] 2/2 days" in store_progress[-1]

    for name, (returncode, _, stderr) in serve_results.items():
        assert returncode == (1 if name == "query refused" else 0), (name, stderr)
    # Both ran and had something to say, so equal outputs are not two empty ones.
    users = json.loads(serve_results["users json all"][1])
    assert len(users) == sum(MEMBERS.values()) + 1
    assert {row["org_id"] for row in json.loads(serve_results["users json org"][1])} == {"org-b"}
    assert {row["team"] for row in json.loads(serve_results["users json team"][1])} == {"search"}
    assert {row["user_key"] for row in json.loads(serve_results["users json search"][1])} == {
        f"dev1.{team}@{org}.example.com" for org, team in MEMBERS}
    assert serve_results["users json empty org"] == serve_results["users json all"]
    assert len(json.loads(serve_results["daily json all"][1])) == 4
    assert "cc_analytics_lines_accepted" in serve_results["export openmetrics"][1]
    assert serve_results["query refused"][0] == 1 and "not one SELECT" in serve_results["query refused"][2]

    json_query = "query JSON"
    assert without_statistics(store_results.pop(json_query)[1]) == without_statistics(serve_results.pop(json_query)[1])
    different = [name for name in serve_results if serve_results[name] != store_results[name]]
    assert not different, {name: (serve_results[name], store_results[name]) for name in different}
