"""The fleet test: a simulated fleet of Claude Code users (tests/support/fleet.py), sent through the official OpenTelemetry SDK
into a real serve that restarts midway and receives late data, must show in every figure of the daily report, the
users report (JSON and CSV), the Admin-API-shaped usage report (a record per actor, day and is_remote, with its
subscription_type), the repositories report (JSON and CSV), the usage report's tools and the value report exactly
what the fleet sent; and re-aggregating must change nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from tests.support.fleet import Fleet
from tests.support.fleet_reports import (
    aggregate,
    assert_reports_equal_what_was_sent,
    daily_differences,
    daily_rows,
    snapshot,
    utc_today,
)
from tests.support.fleet_truth import EDIT_TOOLS, SUMMED_FIGURES
from tests.support.polling import wait_until

COVERAGE = {"grpc", "http", "delta", "cumulative", "duplicate export", "events only", "no email", "user.id only",
            "resumed session", "parallel session", "across midnight", "across restart", "previous month"}
SERVE_ARGS = ("--aggregate-interval", "1")


# The raw tables: checks of the generator itself (the SDK's points carry the simulated times).

def assert_raw_tables_hold_what_was_sent(serve, fleet: Fleet) -> None:
    """Each point and event stored once (retries collapsed), with the simulated time and start time it was sent with."""
    sent = Counter((record.signal, record.session_id, record.time_ns, record.start_ns)
                   for record in fleet.truth.records)
    stored = Counter()
    for signal, table, start in (("metric", "metric_points", "toUnixTimestamp64Nano(start_timestamp)"),
                                 ("event", "events", "0")):
        for row in serve.query(f"SELECT session_id, toUnixTimestamp64Nano(timestamp) AS time_ns, {start} AS start_ns, "
                               f"count() AS n FROM {table} FINAL GROUP BY session_id, time_ns, start_ns"):
            stored[(signal, row["session_id"], int(row["time_ns"]), int(row["start_ns"]))] = int(row["n"])
    assert stored == sent, f"stored minus sent: {stored - sent}; sent minus stored: {sent - stored}"


def assert_fleet_covers_the_issue(fleet: Fleet) -> None:
    """Every scenario happened, every figure is non-zero, every edit tool was accepted and rejected."""
    assert COVERAGE <= fleet.features, f"the fleet did not cover {COVERAGE - fleet.features}"
    total = fleet.truth.tally(lambda record: ())[()]
    assert [figure for figure in SUMMED_FIGURES if not total.figures[figure]] == []
    assert {tool: sorted(total.by_tool[tool]) for tool in EDIT_TOOLS} == dict.fromkeys(
        EDIT_TOOLS, ["edits_accepted", "edits_rejected"])


def assert_fleet_covers_the_new_dimensions(fleet: Fleet) -> None:
    """Claude Code 2.1.332's dimensions, each way they vary: sessions with and without a repository, one in two
    spellings, one in two orgs; remote and local sessions of one member on one day; every kind of plan, and a
    member-day whose plan is a tier beside one whose plan is not; tools that succeeded and failed."""
    contexts = {record.context for record in fleet.truth.records}
    spelled = {context.repository for context in contexts}
    assert "" in spelled and len({name.lower() for name in spelled}) < len(spelled), spelled
    orgs_of = defaultdict(set)
    for record in fleet.truth.records:
        orgs_of[record.context.repository_key].add(record.member.org_id)
    assert any(len(orgs) > 1 for name, orgs in orgs_of.items() if name), orgs_of
    assert {context.plan for context in contexts} == {"team", "enterprise", "pro", ""}
    actors = [(day, *key) for day, keys in fleet.truth.actors().items() for key in keys]
    assert {(day, org, key) for day, org, key, remote in actors if remote} & {
        (day, org, key) for day, org, key, remote in actors if not remote}, "no member-day both remote and local"
    assert set(fleet.truth.subscription_types().values()) == {"team", "enterprise", None}
    results = {(r.tool_result.tool_name, r.tool_result.succeeded) for r in fleet.truth.records if r.tool_result}
    assert {(tool, succeeded) for tool in ("Bash", "Read", "Grep") for succeeded in (True, False)} <= results


def late_day_differences(serve, fleet: Fleet) -> list[str]:
    rows = [row for row in daily_rows(serve, fleet) if date.fromisoformat(row["date"]) in fleet.late_days]
    return daily_differences(rows, {key: tally for key, tally in fleet.truth.daily().items()
                                    if key[0] in fleet.late_days})


def test_fleet_figures_equal_what_the_fleet_sent(serve_factory, tmp_path):
    data_dir = tmp_path / "data"
    fleet = Fleet(today=utc_today())
    serve = serve_factory(*SERVE_ARGS, data_dir=data_dir)
    fleet.send("before_restart", serve)
    assert serve.stop() == 0
    serve = serve_factory(*SERVE_ARGS, data_dir=data_dir)
    fleet.send("after_restart", serve)
    assert_fleet_covers_the_issue(fleet)
    assert_fleet_covers_the_new_dimensions(fleet)
    assert_raw_tables_hold_what_was_sent(serve, fleet)

    aggregate(serve, fleet)
    assert_reports_equal_what_was_sent(serve, fleet)
    shares = {(row["org_id"], row["share_without_email"]) for row in daily_rows(serve, fleet)
              if row["org_id"] != "org-globex"}
    assert shares == {("org-acme", 0), ("org-initech", 1)}, "acme always has an email, initech never"

    fleet.send("late", serve)
    assert_raw_tables_hold_what_was_sent(serve, fleet)
    # No explicit aggregate: the serve re-aggregates the days that received late rows on its own.
    assert wait_until(lambda: not late_day_differences(serve, fleet), timeout=30), late_day_differences(serve, fleet)
    assert_reports_equal_what_was_sent(serve, fleet)

    before = snapshot(serve, fleet)
    aggregate(serve, fleet)
    assert snapshot(serve, fleet) == before, "re-aggregating the same raw rows changed a report"
