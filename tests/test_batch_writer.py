"""The batch writer against the real engine: requests that arrive together share one insert, a request's
wait ends only once its rows are queryable, and a failed insert fails exactly the requests it held."""

from __future__ import annotations

import asyncio
import time

import pytest

from collector.decode import DecodeContext, Limits, decode_logs
from collector.store.client import insert_columns
from collector.tables import TABLE_COLUMNS
from collector.writer import BatchWriter, StoreWriteFailed, WriterOverloaded
from tests.test_decoding import LogRecord, logs_request, text


def event_rows(session_id: str, count: int) -> list[tuple]:
    now = time.time_ns()
    records = [LogRecord(time_unix_nano=now + i, attributes=[text("session.id", session_id)]) for i in range(count)]
    return decode_logs(logs_request(records), DecodeContext(Limits(), "org", now)).rows


class RecordingInsert:
    """The real insert into chDB, counting calls, optionally failing the next one."""

    def __init__(self, store):
        self.store = store
        self.calls: list[int] = []
        self.fail_next = False

    def __call__(self, table, names, columns):
        self.calls.append(len(columns[0]))
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store went away")
        insert_columns(self.store.client, table, names, columns, self.store.database)


def stored(store, session_id: str) -> int:
    return store.rows("SELECT count() FROM {db}.events WHERE session_id = {s:String}", {"s": session_id})[0][0]


def run(coroutine):
    return asyncio.run(coroutine)


def test_requests_arriving_together_share_one_insert_and_return_once_stored(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = BatchWriter(insert, TABLE_COLUMNS, max_rows=10_000, max_delay_seconds=0.05)
        writer.start()

        async def request(number):
            await writer.write("events", event_rows(f"together-{number}", 3))
            return stored(store, f"together-{number}")  # queryable the moment write() returns

        counts = await asyncio.gather(*(request(n) for n in range(8)))
        await writer.close()
        return counts

    assert run(scenario()) == [3] * 8
    assert insert.calls == [24], "eight requests, one insert"


def test_a_full_batch_is_inserted_without_waiting_for_the_delay(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = BatchWriter(insert, TABLE_COLUMNS, max_rows=5, max_delay_seconds=30)
        writer.start()
        started = time.monotonic()
        await writer.write("events", event_rows("full", 5))
        elapsed = time.monotonic() - started
        await writer.close()
        return elapsed

    assert run(scenario()) < 10, "a full batch must not wait out the 30 s delay"
    assert stored(store, "full") == 5


def test_a_failed_insert_fails_its_requests_and_the_next_batch_still_works(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = BatchWriter(insert, TABLE_COLUMNS, max_rows=10_000, max_delay_seconds=0)
        writer.start()
        insert.fail_next = True
        with pytest.raises(StoreWriteFailed, match="store went away"):
            await writer.write("events", event_rows("lost", 2))
        await writer.write("events", event_rows("after", 2))
        await writer.close()
        return writer.stats

    stats = run(scenario())
    assert (stored(store, "lost"), stored(store, "after")) == (0, 2)
    assert (stats.failures, stats.batches, stats.rows) == (1, 1, 2)


def test_too_many_waiting_rows_are_refused_and_close_flushes_the_rest(store):
    insert = RecordingInsert(store)

    async def scenario():
        writer = BatchWriter(insert, TABLE_COLUMNS, max_rows=1_000, max_delay_seconds=0.5, max_pending_rows=4)
        writer.start()
        first = asyncio.ensure_future(writer.write("events", event_rows("waiting", 3)))
        await asyncio.sleep(0)  # the first request is now pending, inside the delay
        with pytest.raises(WriterOverloaded):
            await writer.write("events", event_rows("refused", 3))
        await writer.close()
        await first

    run(scenario())
    assert (stored(store, "waiting"), stored(store, "refused")) == (3, 0)
