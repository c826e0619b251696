"""The daily rollup against the real chDB engine: raw rows made by the real decoders, figures checked against
totals worked out by hand for the cases peers get wrong (cumulative series, resets, resumed and parallel
sessions, retried exports, late data, days in a time zone)."""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import date

import pytest

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from aggregator.figures import ACTIVE_TIME, COST, LINES, MAX_DAILY_COUNT
from aggregator.reports import Reports
from aggregator.rollup import ROLLUP_TABLES, Rollup, runs_of_days
from aggregator.snapshot import Snapshots, snapshot_to_json
from cc_analytics.config import Settings
from cc_analytics.store import migrate
from collector.decode import DecodeContext, Limits, decode_metrics
from collector.decode.common import DAY_NS, LAST_STORABLE_DAY_NUMBER, MAX_POINT_VALUE
from collector.tables import TABLE_COLUMNS
from exporters.admin_api import usage_report
from plumbing.json_answer import strict_dumps
from plumbing.store.client import insert_columns
from tests.support.claude_records import DAY, MODEL, NEXT_DAY, at, event, identity, lines, point
from tests.support.otlp_messages import export_request
from tests.support.raw_rows import insert_points, store_rows
from tests.support.store_handle import StoreHandle


@pytest.fixture
def rollup(store):
    return Rollup(store.client, store.database)


def user_day(store, day: date, user_key: str = "ada@example.com", org: str = "org-a") -> dict:
    result = store.client.query(
        f"SELECT * FROM `{store.database}`.daily_user FINAL WHERE day = {{day:Date}} AND user_key = {{key:String}} "
        f"AND org_id = {{org:String}}", parameters={"day": day, "key": user_key, "org": org})
    rows = [dict(zip(result.column_names, row)) for row in result.result_rows]
    assert len(rows) == 1, rows
    return rows[0]


def org_day(store, day: date, org: str = "org-a") -> dict:
    result = store.client.query(f"SELECT * FROM `{store.database}`.daily_org FINAL WHERE day = {{day:Date}} "
                                f"AND org_id = {{org:String}}", parameters={"day": day, "org": org})
    rows = [dict(zip(result.column_names, row)) for row in result.result_rows]
    assert len(rows) == 1, rows
    return rows[0]


def test_delta_points_are_summed_on_the_day_of_their_timestamp(store, rollup):
    store_rows(store, metrics=[
        lines(5, at(DAY, 9), at(DAY, 8, 59)),
        lines(7, at(DAY, 23, 59, 59), at(DAY, 23, 59)),
        lines(2, at(DAY, 10), at(DAY, 9, 59), kind="removed"),
        lines(100, at(NEXT_DAY, 0, 0, 1), at(DAY, 23, 59, 59)),  # its interval began the day before
    ])
    rollup.rebuild_day(DAY)
    rollup.rebuild_day(NEXT_DAY)
    assert (user_day(store, DAY)["lines_accepted"], user_day(store, DAY)["lines_removed"]) == (12, 2)
    assert user_day(store, NEXT_DAY)["lines_accepted"] == 100


def test_cumulative_series_become_increases_with_counter_resets_detected(store, rollup):
    start = at(DAY, 8)
    # 5, 8, then the counter restarts inside one series (#72500) at 3, then 10: 5 + 3 + 3 + 7.
    store_rows(store, metrics=[lines(value, at(DAY, 9 + i), start, cumulative=True)
                               for i, value in enumerate([5, 8, 3, 10])])
    rollup.rebuild_day(DAY)
    assert user_day(store, DAY)["lines_accepted"] == 18


def test_a_resumed_session_and_parallel_processes_with_one_session_id_are_counted_right(store, rollup):
    first, resumed, parallel = at(DAY, 8), at(DAY, 12), at(DAY, 12, 0, 1)
    store_rows(store, metrics=[
        lines(4, at(DAY, 9), first, cumulative=True),
        lines(6, at(DAY, 10), first, cumulative=True),
        # the session resumed in a new process: same session.id and attributes, counters from 0, new start time
        lines(2, at(DAY, 13), resumed, cumulative=True),
        lines(5, at(DAY, 15), resumed, cumulative=True),
        # a second process sharing that session.id, its points interleaved with the first's
        lines(1, at(DAY, 14), parallel, cumulative=True),
        lines(3, at(DAY, 16), parallel, cumulative=True),
    ])
    rollup.rebuild_day(DAY)
    row = user_day(store, DAY)
    assert row["lines_accepted"] == 6 + 5 + 3
    assert row["sessions"] == 1 and row["session_ids"] == ["s-1"]


def test_a_retried_export_is_counted_once(store, rollup):
    export = [lines(9, at(DAY, 9), at(DAY, 8, 59)), lines(4, at(DAY, 9, 1), at(DAY, 8), cumulative=True)]
    prompt = [event("user_prompt", at(DAY, 9), **identity(), prompt_length="3")]
    for _ in range(2):
        store_rows(store, metrics=export, events=prompt)
    rollup.rebuild_day(DAY)
    row = user_day(store, DAY)
    assert (row["lines_accepted"], row["prompts"], row["records"]) == (13, 1, 3)


def test_a_cumulative_series_across_midnight_adds_to_each_day_only_its_increase(store, rollup):
    start = at(DAY, 22)
    store_rows(store, metrics=[lines(4, at(DAY, 23), start, cumulative=True),
                               lines(10, at(NEXT_DAY, 1), start, cumulative=True)])
    rollup.rebuild_day(NEXT_DAY)  # alone: it must still find the series' point of the day before
    assert user_day(store, NEXT_DAY)["lines_accepted"] == 6
    rollup.rebuild_day(DAY)
    assert user_day(store, DAY)["lines_accepted"] == 4


def test_tokens_and_cost_come_from_metrics_never_from_api_request_events(store, rollup):
    who = identity()
    store_rows(store, metrics=[
        point("token.usage", 1200, at(DAY, 9), at(DAY, 8), **who, type="input", model=MODEL),
        point("token.usage", 300, at(DAY, 9), at(DAY, 8), **who, type="output", model=MODEL),
        point("token.usage", 50, at(DAY, 9), at(DAY, 8), **who, type="cacheRead", model="claude-haiku-4-5"),
        point("token.usage", 70, at(DAY, 9), at(DAY, 8), **who, type="cacheCreation", model=MODEL),
        point("cost.usage", 0.5, at(DAY, 9), at(DAY, 8), **who, model=MODEL),
        point("cost.usage", 0.125, at(DAY, 9), at(DAY, 8), **who, model="claude-haiku-4-5"),
    ], events=[
        event("api_request", at(DAY, 9), **who, model=MODEL, input_tokens="999999", output_tokens="5",
              cost_usd="42.0"),
        event("api_error", at(DAY, 9, 1), **who, model=MODEL, status_code="529"),
    ])
    rollup.rebuild_day(DAY)
    row = user_day(store, DAY)
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_creation_tokens"]) \
        == (1200, 300, 50, 70)
    assert row["cost_usd"] == 0.625
    assert (row["api_requests"], row["api_errors"]) == (1, 1)
    models = store.rows("SELECT model, input_tokens, cache_read_tokens, cost_usd FROM {db}.daily_model FINAL "
                        "ORDER BY model")
    assert models == [("claude-haiku-4-5", 0, 50, 0.125), (MODEL, 1200, 0, 0.5)]


def test_edit_decisions_give_accepts_rejects_by_tool_and_language(store, rollup):
    def decision(tool, verdict, language, value):
        return point("code_edit_tool.decision", value, at(DAY, 9), at(DAY, 8), **identity(), tool_name=tool,
                     decision=verdict, source="config", language=language)

    store_rows(store, metrics=[decision("Write", "accept", "Python", 3), decision("Edit", "reject", "Python", 1),
                               decision("MultiEdit", "accept", "Go", 2), decision("NotebookEdit", "reject", "Python", 1),
                               decision("Bash", "accept", "shell", 5)])  # not an edit tool: not a suggestion
    rollup.rebuild_day(DAY)
    row = user_day(store, DAY)
    assert (row["edits_accepted"], row["edits_rejected"]) == (5, 2)
    tools = store.rows("SELECT tool_name, language, accepted, rejected, team FROM {db}.daily_edit_tool FINAL "
                       "ORDER BY tool_name, language")
    assert tools == [("Bash", "shell", 5, 0, "payments"), ("Edit", "Python", 0, 1, "payments"),
                     ("MultiEdit", "Go", 2, 0, "payments"), ("NotebookEdit", "Python", 0, 1, "payments"),
                     ("Write", "Python", 3, 0, "payments")]


def test_users_sessions_and_share_without_email_per_org(store, rollup):
    store_rows(store, events=[
        event("user_prompt", at(DAY, 9), **identity("ada@example.com", "s-1")),
        event("user_prompt", at(DAY, 10), **identity("ada@example.com", "s-2")),
        event("user_prompt", at(DAY, 11), **identity("", "s-3", **{"user.account_uuid": "acct-7"})),
        event("user_prompt", at(DAY, 12), **identity("", "s-4")),  # only the install id
        event("user_prompt", at(DAY, 12), **identity("bob@example.com", "s-5", org="org-b")),
    ])
    rollup.rebuild_day(DAY)
    org = org_day(store, DAY)
    assert (org["active_users"], org["sessions"], org["prompts"]) == (3, 4, 4)
    assert (org["records"], org["records_without_email"]) == (4, 2)
    assert user_day(store, DAY, "acct-7")["user_account_uuid"] == "acct-7"
    assert user_day(store, DAY, "f" * 64)["user_email"] == ""
    assert user_day(store, DAY)["sessions"] == 2
    assert org_day(store, DAY, "org-b")["active_users"] == 1


def test_team_is_the_users_latest_team_and_the_attribute_key_is_configurable(store):
    store_rows(store, events=[event("user_prompt", at(DAY, 9), **identity())],
               resource={"team": "payments", "squad": "red"})
    store_rows(store, events=[event("user_prompt", at(DAY, 15), **identity())],
               resource={"team": "search", "squad": "blue"})
    Rollup(store.client, store.database).rebuild_day(DAY)
    assert user_day(store, DAY)["team"] == "search"
    Rollup(store.client, store.database, team_attribute="squad").rebuild_day(DAY)
    assert user_day(store, DAY)["team"] == "blue"


def test_a_team_name_is_cut_to_256_characters_from_the_resource_and_from_a_records_attributes(store, rollup):
    long_team = "t" * 255 + "\u00e9" + "x" * 20_000  # the 256th character is two bytes in UTF-8
    store_rows(store, events=[event("user_prompt", at(DAY, 9), **identity())], resource={"team": long_team})
    store_rows(store, events=[event("user_prompt", at(DAY, 9), **identity("bob@example.com"), team=long_team)],
               resource={"service.name": "claude-code"})
    rollup.rebuild_day(DAY)
    for member in ("ada@example.com", "bob@example.com"):
        assert user_day(store, DAY, member)["team"] == long_team[:256]


def test_days_follow_the_configured_time_zone(store):
    # 01:30 UTC on Nov 2 is still Nov 1 in New York
    store_rows(store, events=[event("user_prompt", at(DAY, 1, 30), **identity())])
    new_york = Rollup(store.client, store.database, time_zone="America/New_York")
    new_york.rebuild_day(date(2026, 11, 1))
    assert user_day(store, date(2026, 11, 1))["prompts"] == 1
    assert set(new_york.org_days_received_since(0)) == {("org-a", date(2026, 11, 1))}


def test_rebuilding_is_idempotent_and_picks_up_late_data(store, rollup):
    store_rows(store, metrics=[lines(5, at(DAY, 9), at(DAY, 8))], events=[event("user_prompt", at(DAY, 9),
                                                                                **identity())])
    rollup.rebuild_day(DAY)
    first = {table: store.rows(f"SELECT * EXCEPT version FROM {{db}}.{table} FINAL ORDER BY ALL")
             for table in ROLLUP_TABLES}
    rollup.rebuild_day(DAY)
    assert {table: store.rows(f"SELECT * EXCEPT version FROM {{db}}.{table} FINAL ORDER BY ALL")
            for table in ROLLUP_TABLES} == first
    for table in ROLLUP_TABLES:  # one version of each row once merged
        store.client.command(f"OPTIMIZE TABLE `{store.database}`.{table} FINAL")
        assert store.rows(f"SELECT count() FROM {{db}}.{table}") == store.rows(
            f"SELECT count() FROM {{db}}.{table} FINAL")

    mark_ms = time.time_ns() // 1_000_000
    store_rows(store, metrics=[lines(3, at(DAY, 11), at(DAY, 10), email="late@example.com")])
    assert set(rollup.org_days_received_since(mark_ms)) == {("org-a", DAY)}
    rollup.rebuild_day(DAY)
    assert user_day(store, DAY, "late@example.com")["lines_accepted"] == 3
    assert org_day(store, DAY)["lines_accepted"] == 8
    assert org_day(store, DAY)["active_users"] == 2


def test_rows_whose_key_vanished_are_deleted_on_rebuild(store):
    # 01:30 UTC on Nov 2: on Nov 2 in UTC, on Nov 1 in New York
    store_rows(store, events=[event("user_prompt", at(DAY, 1, 30), **identity("night@example.com")),
                              event("user_prompt", at(DAY, 15), **identity())])
    Rollup(store.client, store.database).rebuild_day(DAY)
    assert user_day(store, DAY, "night@example.com")["prompts"] == 1
    Rollup(store.client, store.database, time_zone="America/New_York").rebuild_day(DAY)
    assert store.rows("SELECT user_key FROM {db}.daily_user FINAL") == [("ada@example.com",)]
    assert org_day(store, DAY)["active_users"] == 1


def test_a_day_without_raw_rows_keeps_its_rollups(store, rollup):
    store_rows(store, metrics=[lines(5, at(DAY, 9), at(DAY, 8))])
    rollup.rebuild_day(DAY)
    store.client.command(f"TRUNCATE TABLE `{store.database}`.metric_points")  # as if the raw TTL expired
    rollup.rebuild_day(DAY)
    assert user_day(store, DAY)["lines_accepted"] == 5


def test_delta_and_cumulative_points_of_one_user_and_day_add_up(store, rollup):
    start = at(DAY, 8)

    def input_tokens(value, time_ns, start_ns, cumulative=False):
        return point("token.usage", value, time_ns, start_ns, cumulative, **identity(), type="input", model=MODEL)

    store_rows(store, metrics=[
        lines(5, at(DAY, 9), at(DAY, 8, 59)), lines(3, at(DAY, 10), at(DAY, 9, 59)),
        lines(4, at(DAY, 9, 30), start, cumulative=True), lines(10, at(DAY, 11), start, cumulative=True),
        input_tokens(100, at(DAY, 9), at(DAY, 8, 59)),
        # 40, 90, then a reset to 30: 40 + 50 + 30
        input_tokens(40, at(DAY, 9), start, cumulative=True), input_tokens(90, at(DAY, 10), start, cumulative=True),
        input_tokens(30, at(DAY, 11), start, cumulative=True),
    ])
    rollup.rebuild_day(DAY)
    row = user_day(store, DAY)
    assert (row["lines_accepted"], row["input_tokens"], row["records"]) == (5 + 3 + 10, 100 + 120, 8)
    assert (org_day(store, DAY)["lines_accepted"], org_day(store, DAY)["input_tokens"]) == (18, 220)
    assert store.rows("SELECT model, input_tokens FROM {db}.daily_model FINAL") == [(MODEL, 220)]


def test_a_record_without_a_resource_team_gives_the_team_of_its_attributes(store, rollup):
    no_team = {"service.name": "claude-code"}
    # ada's latest record has no team resource attribute: the team attribute of the record itself counts
    store_rows(store, events=[event("user_prompt", at(DAY, 9), **identity())], resource={"team": "payments"})
    store_rows(store, metrics=[point("token.usage", 7, at(DAY, 15), at(DAY, 14), type="input", model=MODEL,
                                     **identity(team="search", **{"terminal.type": "cursor"}))], resource=no_team)
    # bob's latest record has one: an earlier record's attribute does not override it
    store_rows(store, events=[event("user_prompt", at(DAY, 8), **identity("bob@example.com"), team="red")],
               resource=no_team)
    store_rows(store, events=[event("user_prompt", at(DAY, 12), **identity("bob@example.com"))],
               resource={"team": "blue"})
    # carol's records never have one; her latest naming a team counts, a later one naming none does not
    store_rows(store, events=[event("user_prompt", at(DAY, 9), **identity("carol@example.com"), team="green"),
                              event("user_prompt", at(DAY, 10), **identity("carol@example.com"))], resource=no_team)
    rollup.rebuild_day(DAY)
    ada = user_day(store, DAY)
    assert (ada["team"], ada["terminal_type"], ada["records"]) == ("search", "cursor", 2)
    assert store.rows("SELECT team FROM {db}.daily_model FINAL") == [("search",)]
    assert user_day(store, DAY, "bob@example.com")["team"] == "blue"
    assert (user_day(store, DAY, "carol@example.com")["team"], org_day(store, DAY)["records"]) == ("green", 6)


def test_days_rebuilt_in_one_run_get_the_rows_they_get_alone(store, rollup):
    day_after = date(2026, 11, 4)
    store_rows(store, events=[event("user_prompt", at(day_after, 9), **identity())])
    rollup.rebuild_day(day_after)
    store.client.command(f"TRUNCATE TABLE `{store.database}`.events")  # as if that day's raw rows expired
    start = at(DAY, 22)
    store_rows(store, metrics=[lines(4, at(DAY, 23), start, cumulative=True),
                               lines(10, at(NEXT_DAY, 1), start, cumulative=True),  # 6 on the next day
                               lines(2, at(NEXT_DAY, 2), at(NEXT_DAY, 1, 59), email="bob@example.com")],
               events=[event("user_prompt", at(DAY, 9), **identity()),
                       event("user_prompt", at(NEXT_DAY, 9), **identity("bob@example.com", "s-2"))])
    for day in (DAY, NEXT_DAY):
        rollup.rebuild_day(day)
    alone = [store.rows(f"SELECT * EXCEPT version FROM {{db}}.{table} FINAL ORDER BY ALL") for table in ROLLUP_TABLES]
    rebuilt = rollup.rebuild_days([day_after, NEXT_DAY, DAY])
    assert [(day.day, day.users, day.records) for day in rebuilt] == [(DAY, 1, 2), (NEXT_DAY, 2, 3),
                                                                       (day_after, 0, 0)]
    assert [store.rows(f"SELECT * EXCEPT version FROM {{db}}.{table} FINAL ORDER BY ALL")
            for table in ROLLUP_TABLES] == alone
    assert user_day(store, NEXT_DAY)["lines_accepted"] == 6
    assert user_day(store, day_after)["prompts"] == 1  # no raw rows left: its rollups are kept


def test_consecutive_days_are_rebuilt_together_up_to_a_week():
    days = [date(2026, 11, n) for n in (9, 1, 2, 3, 4, 5, 6, 7, 8, 3, 11)]
    assert runs_of_days(days) == [[date(2026, 11, n) for n in range(1, 8)], [date(2026, 11, 8), date(2026, 11, 9)],
                                  [date(2026, 11, 11)]]


UNUSABLE_VALUES = (math.nan, math.inf, -math.inf, 1e300, float(2**63 - 1), -7.0, float(MAX_POINT_VALUE) * 2)


def hostile_points(name: str, org: str = "org-h", **columns) -> list[dict]:
    """Usable delta points adding up to 10, and the values no figure may take, delta and cumulative, as another
    writer to the store could leave them."""
    usable = [dict(name=name, value=value, time_ns=at(DAY, 9, i), start_ns=at(DAY, 8), org_id=org, **columns)
              for i, value in enumerate((4.0, 6.0))]
    unusable = [dict(name=name, value=value, time_ns=at(DAY, 10, i), start_ns=at(DAY, 8), org_id=org,
                     temporality=temporality, **columns)
                for temporality in ("delta", "cumulative") for i, value in enumerate(UNUSABLE_VALUES)]
    return usable + unusable


def test_unusable_values_in_the_raw_tables_are_left_out_and_other_orgs_are_exact(store, rollup):
    store_rows(store, metrics=[lines(5, at(DAY, 9), at(DAY, 8)), lines(7, at(DAY, 10), at(DAY, 9, 59)),
                               point("cost.usage", 0.5, at(DAY, 9), at(DAY, 8), **identity(), model=MODEL)])
    insert_points(store, [*hostile_points(LINES, type="added"), *hostile_points(COST, model=MODEL),
                          *hostile_points(ACTIVE_TIME, type="cli"),
                          # a cumulative series with unusable points in it: only the usable increases count (3 + 2)
                          *[dict(name=LINES, value=value, time_ns=at(DAY, 12, i), start_ns=at(DAY, 11), org_id="org-h",
                                 temporality="cumulative", type="removed", session_id="s-2")
                            for i, value in enumerate((3.0, math.nan, -1.0, math.inf, 5.0))]])
    rollup.rebuild_day(DAY)
    known = org_day(store, DAY)
    assert (known["lines_accepted"], known["cost_usd"], known["records"]) == (12, 0.5, 3)
    hostile = org_day(store, DAY, org="org-h")
    assert (hostile["lines_accepted"], hostile["lines_removed"]) == (10, 5)
    assert (hostile["cost_usd"], hostile["active_time_cli_seconds"]) == (10.0, 10.0)
    model = store.rows("SELECT cost_usd, input_tokens FROM {db}.daily_model FINAL WHERE org_id = 'org-h'")
    assert model == [(10.0, 0)]
    # the usable points only: 2 per figure, and 2 of the cumulative series
    assert hostile["records"] == 8


def test_a_day_of_the_largest_usable_points_saturates_instead_of_wrapping(store, rollup):
    # 1100 points of 2^53 add up past 2^63: the day's count stops at MAX_DAILY_COUNT, never wraps negative
    insert_points(store, [dict(name=LINES, value=float(MAX_POINT_VALUE), time_ns=at(DAY, 9) + i * 1_000_000,
                               start_ns=at(DAY, 8), type="added") for i in range(1100)])
    rollup.rebuild_day(DAY)
    assert user_day(store, DAY)["lines_accepted"] == MAX_DAILY_COUNT


def test_every_json_answer_of_a_day_with_unusable_costs_and_times_is_finite(store, rollup):
    # NaN and infinities only in amounts (cost, active time): they used to be rolled up as NaN and sent as JSON
    insert_points(store, [*hostile_points(COST, model=MODEL), *hostile_points(ACTIVE_TIME, type="user")])
    rollup.rebuild_day(DAY)
    reports = Reports(store.client, store.database)
    answers = [reports.daily(DAY, DAY), reports.users(DAY.replace(day=1)),
               usage_report(reports, DAY, 10, None, None), snapshot_to_json(Snapshots(store.client, store.database)
                                                                        .as_of(DAY, 10))]
    for answer in answers:
        json.loads(strict_dumps(answer))
    assert [(row["cost_usd"], row["active_time_user_seconds"]) for row in answers[0]] == [(10.0, 10.0)]


def last_second_of(day_number: int) -> int:
    return (day_number + 1) * DAY_NS - 1_000_000_000


@pytest.mark.parametrize("retention_days", [400, 0])
def test_a_point_accepted_near_the_last_storable_day_is_rolled_up(chdb_client, retention_days):
    """The TTL's expiry day wraps past 2149-06-06: such points are refused with a reason; every point accepted
    outlives a merge and is rolled up, up to 2149-06-06 23:59:59 when nothing expires."""
    store = StoreHandle(chdb_client, f"test_{uuid.uuid4().hex[:12]}")
    migrate(chdb_client, Settings(database=store.database, raw_ttl_days=retention_days))
    try:
        context = DecodeContext(Limits(), "default", time.time_ns(), retention_days=retention_days)
        last_kept = LAST_STORABLE_DAY_NUMBER - retention_days
        times = list(dict.fromkeys([last_second_of(last_kept), last_second_of(last_kept + 1),
                                    last_second_of(LAST_STORABLE_DAY_NUMBER)]))
        batch = decode_metrics(export_request(ExportMetricsServiceRequest, [lines(n + 1, at_ns, at_ns - 10**9)
                                                                          for n, at_ns in enumerate(times)]),
                               context)
        accepted = [at_ns for at_ns in times if at_ns // DAY_NS <= last_kept]
        assert len(batch.rows) == len(accepted) and batch.rejected == len(times) - len(accepted)
        reason = f"plus the {retention_days}-day retention" if retention_days else "is past 2149-06-06"
        assert reason in batch.summary(Limits())
        insert_columns(store.client, batch.table, TABLE_COLUMNS[batch.table], list(zip(*batch.rows)), store.database)
        store.client.command(f"OPTIMIZE TABLE `{store.database}`.metric_points FINAL")  # applies the TTL
        rollup = Rollup(store.client, store.database)
        for at_ns in accepted:
            day = date.fromordinal(date(1970, 1, 1).toordinal() + at_ns // DAY_NS)
            rollup.rebuild_day(day)
            assert user_day(store, day)["lines_accepted"] == times.index(at_ns) + 1
    finally:
        chdb_client.command(f"DROP DATABASE IF EXISTS `{store.database}`")
