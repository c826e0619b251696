"""Rows the store refuses never block the others: inserts split by partition so they are always insertable, refused
rows bisected out into dead_letters with the store's reason, their queue entries confirmed, and a store that is
merely down still retried. Against the real chDB engine and real serve processes over gRPC and HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import time

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector import writer as writer_module
from collector.dead_letter import PARTITIONS_PER_INSERT, split_by_partition
from collector.request_decoder import RequestDecoder
from collector.signals import LOGS
from collector.tables import EVENT_COLUMNS
from collector.write_ahead_log import WriteAheadLog
from tests.support.exports import assert_stored
from tests.support.polling import wait_until
from tests.support.writer_pipeline import AS_SENT, RecordingInsert, pipeline_on, running, stored

DAY_NS = 86_400 * 10**9
MONTHS = 120
PAST_THE_LAST_DATE_NS = 70_000 * DAY_NS  # 2161: past 2149-06-06, the last day toDate can hold
TIMESTAMP = EVENT_COLUMNS.index("timestamp")
FLAGS = EVENT_COLUMNS.index("flags")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(writer_module, "RETRY_FIRST_SECONDS", 0.05)


def export_over_months(org: str, months: int = MONTHS) -> ExportLogsServiceRequest:
    """One record a month for `months` months from now on (about 12 KB for 120): as many partitions."""
    request = ExportLogsServiceRequest()
    block = request.resource_logs.add()
    block.resource.attributes.append(KeyValue(key="organization.id", value=AnyValue(string_value=org)))
    scope = block.scope_logs.add()
    now_ns = time.time_ns()
    for month in range(months):
        record = scope.log_records.add(time_unix_nano=now_ns + month * 31 * DAY_NS)
        record.attributes.extend([KeyValue(key="event.name", value=AnyValue(string_value="user_prompt")),
                                  KeyValue(key="user.email", value=AnyValue(string_value=f"{org}@example.com")),
                                  KeyValue(key="session.id", value=AnyValue(string_value=f"session-{month:04d}"))])
    return request


def event_rows(tag: str, org: str, count: int) -> list[tuple]:
    """Rows as the decoder makes them for `count` records tagged `tag` of `org`."""
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for n in range(count):
        record = scope.log_records.add(time_unix_nano=time.time_ns() + n)
        record.attributes.extend([KeyValue(key="tag", value=AnyValue(string_value=tag)),
                                  KeyValue(key="n", value=AnyValue(int_value=n))])
    return RequestDecoder(privacy=AS_SENT).decode(LOGS, request, time.time_ns(), org).rows


def replaced(row: tuple, index: int, value) -> tuple:
    return (*row[:index], value, *row[index + 1:])


def dead_letters(store) -> list[tuple]:
    return store.rows("SELECT org_id, source_table, reason_kind, reason, row_json FROM {db}.dead_letters FINAL "
                      "ORDER BY org_id, reason_kind")


def counted(health, metric: str, table: str) -> float:
    return health.metrics.registry.get_sample_value(metric, {"table": table}) or 0


async def enqueue(pipeline, table: str, rows: list) -> None:
    """Rows straight into the writer, behind a real queue entry (so confirming it is visible on disk)."""
    position = await pipeline.queue.append(b"rows given to the writer directly")
    pipeline.writer.enqueue(position, table, rows)


# --- split --------------------------------------------------------------------------------------------------------

def test_rows_over_many_months_are_split_below_the_partition_limit_and_none_lost():
    rows = [(n, n * 31 * DAY_NS) for n in range(MONTHS)]
    pieces = split_by_partition(rows, 1)

    assert len(pieces) == math.ceil(MONTHS / PARTITIONS_PER_INSERT)
    assert all(len({time.gmtime(row[1] // 10**9)[:2] for row in piece}) <= PARTITIONS_PER_INSERT for piece in pieces)
    assert sorted(row for piece in pieces for row in piece) == rows
    assert split_by_partition(rows[:3], 1) == [rows[:3]]  # few months: one insert, rows in order


def test_rows_of_a_table_without_partitions_are_stored_in_one_insert(store, tmp_path):
    """The github_* tables have no timestamp column and no partitions: the writer inserts them whole."""
    insert = RecordingInsert(store)
    pipeline = pipeline_on(tmp_path, insert)
    deliveries = [("org-a", f"delivery-{n}", "ping", "", "", 1_700_000_000_000 + n) for n in range(3)]

    async def scenario():
        running(pipeline)
        await pipeline.ingestor.store_rows("github_deliveries", deliveries)
        assert await pipeline.writer.settled(30)
        await pipeline.close()

    asyncio.run(scenario())
    assert store.rows("SELECT delivery_id FROM {db}.github_deliveries FINAL ORDER BY delivery_id") == [
        (f"delivery-{n}",) for n in range(3)]
    assert insert.calls == [("github_deliveries", 3)]


# --- refused rows -------------------------------------------------------------------------------------------------

def test_rows_the_store_refuses_go_to_dead_letters_and_the_rest_of_every_org_is_stored(store, tmp_path):
    insert = RecordingInsert(store)
    pipeline = pipeline_on(tmp_path, insert, max_rows=10_000, max_delay_seconds=0.2)
    good = {org: event_rows(f"good-{org}", org, 200) for org in ("org-a", "org-b", "org-c")}
    too_late = replaced(event_rows("bad-time", "org-b", 1)[0], TIMESTAMP, PAST_THE_LAST_DATE_NS)
    not_a_number = replaced(event_rows("bad-flags", "org-c", 1)[0], FLAGS, "not a number")

    async def scenario():
        running(pipeline)
        await enqueue(pipeline, "events", good["org-a"][:100] + [too_late] + good["org-b"])
        await enqueue(pipeline, "events", good["org-a"][100:] + [not_a_number] + good["org-c"])
        assert await pipeline.writer.settled(30)
        failing_since = pipeline.writer.failing_since
        await pipeline.close()
        return failing_since

    failing_since = asyncio.run(scenario())

    assert [stored(store, f"good-{org}") for org in good] == [200, 200, 200]
    assert (stored(store, "bad-time"), stored(store, "bad-flags")) == (0, 0)
    letters = dead_letters(store)
    assert [(org, table, kind) for org, table, kind, _, _ in letters] == [
        ("org-b", "events", "VIOLATED_CONSTRAINT"), ("org-c", "events", "UNENCODABLE_VALUE")]
    assert "timestamp_storable" in letters[0][3] and "'not a number'" in letters[1][3]
    assert json.loads(letters[0][4])["attributes"]["tag"] == "bad-time"
    assert json.loads(letters[1][4])["flags"] == "not a number"
    health = pipeline.health
    assert counted(health, "cc_analytics_collector_dead_letter_rows_total", "events") == 2
    assert pipeline.writer.stats.failures == 0 and failing_since is None  # /readyz stays ready
    # bisecting 602 rows for 2 bad ones: a few dozen inserts, not one per row
    assert len(insert.calls) <= 2 * 2 * math.ceil(math.log2(602)) + 2
    reopened = WriteAheadLog(str(tmp_path), 1 << 20)
    assert reopened.open() == []  # every entry confirmed: a restart replays nothing
    asyncio.run(reopened.close())


def test_a_dead_letter_the_dead_letter_table_refuses_is_dropped_and_counted_not_retried(store, tmp_path):
    store.client.command(f"ALTER TABLE `{store.database}`.dead_letters ADD CONSTRAINT nothing_refused "
                         "CHECK reason_kind != 'VIOLATED_CONSTRAINT'")
    pipeline = pipeline_on(tmp_path, RecordingInsert(store), max_delay_seconds=0.2)
    too_late = replaced(event_rows("bad-time", "org-a", 1)[0], TIMESTAMP, PAST_THE_LAST_DATE_NS)

    async def scenario():
        running(pipeline)
        await enqueue(pipeline, "events", [too_late, *event_rows("beside", "org-a", 5)])
        assert await pipeline.writer.settled(30)
        await enqueue(pipeline, "events", event_rows("after", "org-b", 3))
        assert await pipeline.writer.settled(30)
        await pipeline.close()

    asyncio.run(scenario())

    assert (stored(store, "beside"), stored(store, "after")) == (5, 3)
    assert dead_letters(store) == []
    health = pipeline.health
    assert counted(health, "cc_analytics_collector_dead_letter_dropped_rows_total", "events") == 1
    assert pipeline.writer.stats.dead_letters_dropped == 1


def test_a_table_the_store_cannot_reach_now_is_retried_not_dead_lettered(store, tmp_path):
    """A real store failure the store gets over (the table detached, as during a migration or a lost replica):
    retried until it is back, nothing dead-lettered, since that would lose the rows."""
    table = f"`{store.database}`.events"
    store.client.command(f"DETACH TABLE {table}")
    pipeline = pipeline_on(tmp_path, RecordingInsert(store), max_delay_seconds=0)

    async def scenario():
        running(pipeline)
        await enqueue(pipeline, "events", event_rows("outage", "org-a", 4))
        assert await wait_until_async(lambda: pipeline.writer.stats.failures >= 3)
        failing_since = pipeline.writer.failing_since
        store.client.command(f"ATTACH TABLE {table}")
        assert await pipeline.writer.settled(30)
        await pipeline.close()
        return failing_since

    assert asyncio.run(scenario()) is not None
    assert stored(store, "outage") == 4
    assert dead_letters(store) == [] and pipeline.writer.stats.dead_letters == 0


async def wait_until_async(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return condition()


# --- a real serve -------------------------------------------------------------------------------------------------

def count_of(serve, org: str) -> int:
    return int(serve.scalar(f"SELECT count() AS n FROM events FINAL WHERE org_id = '{org}'"))


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_an_export_over_more_months_than_one_insert_takes_is_stored_and_blocks_no_other_org(serve_factory,
                                                                                         tmp_path, transport):
    data_dir = tmp_path / "store"
    serve = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    wide = export_over_months("org-wide")
    assert 10_000 < wide.ByteSize() < 16_000
    assert_stored(serve, wide, transport)
    assert_stored(serve, export_over_months("org-next", months=1), transport)
    assert wait_until(lambda: count_of(serve, "org-next") == 1, timeout=60)
    assert count_of(serve, "org-wide") == MONTHS

    # Acknowledged, not inserted (the batch waits 10 minutes), then SIGKILL: the replay goes first after the restart.
    serve.stop()
    holding = serve_factory("--aggregate-interval", "0", "--batch-max-delay-ms", "600000", data_dir=data_dir)
    assert_stored(holding, export_over_months("org-wide-2"), transport)
    assert_stored(holding, export_over_months("org-after", months=1), transport)
    holding.stop(signal.SIGKILL)

    restarted = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    assert "replaying 2 acknowledged requests" in restarted.log_text()
    assert wait_until(lambda: count_of(restarted, "org-after") == 1, timeout=60)
    assert count_of(restarted, "org-wide-2") == MONTHS
    assert_stored(restarted, export_over_months("org-later", months=1), transport)
    assert wait_until(lambda: count_of(restarted, "org-later") == 1, timeout=60)
    assert "Too many partitions" not in restarted.log_text() + serve.log_text()
