"""BatchWriter against chDB: group commit, acknowledgement only once stored, failures, back-pressure, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.decode import DecodeContext, Limits, decode_logs, decode_traces
from collector.store.client import insert_columns
from collector.tables import TABLE_COLUMNS
from collector.writer import BatchWriter, StoreWriteFailed, WriterOverloaded


def event_rows(tag: str, count: int) -> list[tuple]:
    """`count` decoded event rows whose attribute `tag` lets a query find them."""
    now_ns = time.time_ns()
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for n in range(count):
        record = scope.log_records.add(time_unix_nano=now_ns + n)
        record.attributes.extend([KeyValue(key="tag", value=AnyValue(string_value=tag)),
                                  KeyValue(key="n", value=AnyValue(int_value=n))])
    batch = decode_logs(request, DecodeContext(Limits(), "org", now_ns))
    assert len(batch.rows) == count
    return batch.rows


def stored(store, tag: str) -> int:
    ((count,),) = store.rows("SELECT count() FROM {db}.events FINAL WHERE attributes['tag'] = {tag:String}",
                             {"tag": tag})
    return count


class RecordingInsert:
    """insert_columns into the test database, counting calls; can hold an insert back or fail it."""

    def __init__(self, store, failures: int = 0, hold: bool = False):
        self.store = store
        self.calls: list[tuple[str, int]] = []
        self.failures = failures
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, table, column_names, columns) -> None:
        self.started.set()
        self.release.wait(10)
        rows = len(columns[0]) if columns else 0
        self.calls.append((table, rows))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("disk full")
        insert_columns(self.store.client, table, column_names, columns, self.store.database)


def new_writer(insert: RecordingInsert, max_rows: int = 1000, max_delay_seconds: float = 0.05,
               max_pending_rows: int | None = None) -> BatchWriter:
    writer = BatchWriter(insert, TABLE_COLUMNS, max_rows, max_delay_seconds, max_pending_rows)
    writer.start()
    return writer


def test_concurrent_writes_share_one_insert(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = new_writer(insert)
        await asyncio.gather(*(writer.write("events", event_rows(f"client-{n}", 2)) for n in range(5)))
        await writer.close()
        return writer.stats

    stats = asyncio.run(scenario())

    assert insert.calls == [("events", 10)]
    assert (stats.batches, stats.rows, stats.failures) == (1, 10, 0)
    assert [stored(store, f"client-{n}") for n in range(5)] == [2] * 5


def span_rows(tag: str, count: int) -> list[tuple]:
    now_ns = time.time_ns()
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(count):
        scope.spans.add(name=tag, trace_id=bytes(range(16)), span_id=bytes([n + 1] * 8), start_time_unix_nano=now_ns)
    batch = decode_traces(request, DecodeContext(Limits(), "org", now_ns))
    assert len(batch.rows) == count
    return batch.rows


def test_each_table_gets_its_own_insert_in_the_same_batch(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = new_writer(insert)
        await asyncio.gather(writer.write("events", event_rows("mixed", 2)),
                             writer.write("spans", span_rows("mixed", 3)),
                             writer.write("events", event_rows("mixed", 1)))
        await writer.close()

    asyncio.run(scenario())

    assert sorted(insert.calls) == [("events", 3), ("spans", 3)]
    assert stored(store, "mixed") == 3
    assert store.rows("SELECT count() FROM {db}.spans FINAL WHERE span_name = 'mixed'") == [(3,)]


def test_write_returns_only_once_the_rows_are_queryable(store):
    insert = RecordingInsert(store, hold=True)

    async def scenario():
        writer = new_writer(insert, max_delay_seconds=0)
        write = asyncio.create_task(writer.write("events", event_rows("held", 3)))
        assert await asyncio.to_thread(insert.started.wait, 10)
        await asyncio.sleep(0.1)
        assert not write.done()  # the insert has not returned, so neither has the request
        insert.release.set()
        await write
        count_when_acknowledged = stored(store, "held")
        await writer.close()
        return count_when_acknowledged

    assert asyncio.run(scenario()) == 3


def test_failed_insert_fails_its_writers_and_the_next_batch_works(store):
    insert = RecordingInsert(store, failures=1)

    async def scenario():
        writer = new_writer(insert)
        outcomes = await asyncio.gather(writer.write("events", event_rows("lost-1", 2)),
                                        writer.write("events", event_rows("lost-2", 1)), return_exceptions=True)
        await writer.write("events", event_rows("kept", 4))
        await writer.close()
        return outcomes, writer.stats

    outcomes, stats = asyncio.run(scenario())

    assert [type(outcome) for outcome in outcomes] == [StoreWriteFailed, StoreWriteFailed]
    assert all("disk full" in str(outcome) for outcome in outcomes)
    assert insert.calls == [("events", 3), ("events", 4)]
    assert (stats.failures, stats.batches, stats.rows) == (1, 1, 4)
    assert (stored(store, "lost-1"), stored(store, "lost-2"), stored(store, "kept")) == (0, 0, 4)


def test_writer_refuses_rows_beyond_max_pending(store):
    insert = RecordingInsert(store)

    async def scenario():
        # a long delay keeps the first rows pending while the second request arrives
        writer = new_writer(insert, max_rows=100, max_delay_seconds=30, max_pending_rows=5)
        first = asyncio.create_task(writer.write("events", event_rows("first", 4)))
        await asyncio.sleep(0)
        assert writer.pending_rows == 4
        with pytest.raises(WriterOverloaded, match="4 rows"):
            await writer.write("events", event_rows("refused", 2))
        fits = asyncio.create_task(writer.write("events", event_rows("fits", 1)))
        await asyncio.sleep(0)
        assert writer.pending_rows == 5
        await writer.close()
        await asyncio.gather(first, fits)

    asyncio.run(scenario())

    assert (stored(store, "first"), stored(store, "fits"), stored(store, "refused")) == (4, 1, 0)


def test_one_request_larger_than_max_pending_is_taken_when_nothing_waits(store):
    # otherwise a request that big could never be stored, however often the client retried
    insert = RecordingInsert(store)

    async def scenario():
        writer = new_writer(insert, max_rows=100, max_pending_rows=5)
        await writer.write("events", event_rows("big", 8))
        await writer.close()

    asyncio.run(scenario())

    assert stored(store, "big") == 8


def test_close_flushes_pending_rows_without_waiting_for_the_delay(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = new_writer(insert, max_rows=100, max_delay_seconds=30)
        write = asyncio.create_task(writer.write("events", event_rows("pending", 3)))
        await asyncio.sleep(0)
        started = time.monotonic()
        await writer.close()
        elapsed = time.monotonic() - started
        await write  # acknowledged, not failed
        return elapsed

    assert asyncio.run(scenario()) < 10
    assert stored(store, "pending") == 3
    assert insert.calls == [("events", 3)]


def test_write_after_close_is_refused(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = new_writer(insert)
        await writer.close()
        with pytest.raises(WriterOverloaded, match="shutting down"):
            await writer.write("events", event_rows("late", 1))

    asyncio.run(scenario())

    assert insert.calls == []


def test_a_full_batch_is_inserted_without_waiting_for_the_delay(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = new_writer(insert, max_rows=4, max_delay_seconds=30)
        started = time.monotonic()
        await writer.write("events", event_rows("full", 4))
        elapsed = time.monotonic() - started
        await writer.close()
        return elapsed

    assert asyncio.run(scenario()) < 10
    assert stored(store, "full") == 4
