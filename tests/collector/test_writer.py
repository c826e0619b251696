"""The write-ahead queue and the batch writer against chDB: acknowledged once queued, inserted in bulk, retried
through store failures, read back from disk when not kept in memory, and replayed after a stop."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from collector import writer as writer_module
from collector.refusals import Refusal
from collector.signals import TRACES
from collector.write_ahead_log import QueueUnavailable, WriteAheadLog
from plumbing import supervisor as supervisor_module
from plumbing.supervisor import Supervisor
from tests.support.writer_pipeline import (
    RecordingInsert,
    eventually,
    export,
    log_request,
    pipeline_on,
    running,
    span_request,
    stored,
)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(writer_module, "RETRY_FIRST_SECONDS", 0.05)


def test_concurrent_exports_share_one_insert(store, tmp_path):
    insert = RecordingInsert(store)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert))
        await asyncio.gather(*(export(pipeline, log_request(f"client-{n}", 2)) for n in range(5)))
        await pipeline.close()
        return pipeline.writer.stats

    stats = asyncio.run(scenario())

    assert insert.calls == [("events", 10)]
    assert (stats.batches, stats.rows, stats.failures) == (1, 10, 0)
    assert [stored(store, f"client-{n}") for n in range(5)] == [2] * 5


def test_each_table_gets_its_own_insert_in_the_same_batch(store, tmp_path):
    insert = RecordingInsert(store)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert))
        await asyncio.gather(export(pipeline, log_request("mixed", 2)), export(pipeline, span_request("mixed", 3), TRACES),
                             export(pipeline, log_request("mixed", 1)))
        await pipeline.close()

    asyncio.run(scenario())

    assert sorted(insert.calls) == [("events", 3), ("spans", 3)]
    assert stored(store, "mixed") == 3
    assert store.rows("SELECT count() FROM {db}.spans FINAL WHERE span_name = 'mixed'") == [(3,)]


def test_export_is_answered_once_queued_and_settled_waits_for_the_insert(store, tmp_path):
    insert = RecordingInsert(store, hold=True)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert, max_delay_seconds=0))
        await export(pipeline, log_request("held", 3))  # answered while the insert is held back
        assert await asyncio.to_thread(insert.started.wait, 10)
        count_when_answered = stored(store, "held")
        assert not await pipeline.writer.settled(0.2)
        insert.release.set()
        assert await pipeline.writer.settled(10)
        count_when_settled = stored(store, "held")
        await pipeline.close()
        return count_when_answered, count_when_settled, pipeline.queue.used_bytes

    answered, settled, used_bytes = asyncio.run(scenario())

    assert (answered, settled) == (0, 3)
    assert open(tmp_path / "checkpoint").read() == "1"  # the one entry is confirmed


def test_failed_inserts_are_retried_until_the_store_takes_the_rows(store, tmp_path):
    insert = RecordingInsert(store, failures=2)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert))
        await asyncio.gather(export(pipeline, log_request("retried-1", 2)), export(pipeline, log_request("retried-2", 1)))
        assert await pipeline.writer.settled(10)
        await pipeline.close()
        return pipeline.writer.stats

    stats = asyncio.run(scenario())

    assert insert.calls == [("events", 3)] * 3
    assert (stats.failures, stats.batches, stats.rows) == (2, 1, 3)
    assert (stored(store, "retried-1"), stored(store, "retried-2")) == (2, 1)


def test_rows_beyond_memory_are_read_back_from_the_queue(store, tmp_path):
    insert = RecordingInsert(store, hold=True)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert, max_memory_rows=5, max_delay_seconds=0))
        await export(pipeline, log_request("in-memory", 4))
        await export(pipeline, log_request("spilled", 3))  # 4 + 3 > 5: kept on disk only
        assert pipeline.writer.memory_rows == 4
        insert.release.set()
        await pipeline.close()

    asyncio.run(scenario())

    assert (stored(store, "in-memory"), stored(store, "spilled")) == (4, 3)
    rows = store.rows("SELECT attributes['tag'], attributes['n'], org_id FROM {db}.events ORDER BY 1, 2")
    assert rows == [("in-memory", str(n), "org") for n in range(4)] + [("spilled", str(n), "org") for n in range(3)]


def test_a_full_queue_refuses_and_takes_requests_again_once_drained(store, tmp_path):
    insert = RecordingInsert(store, hold=True)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert, max_bytes=4096, max_delay_seconds=0))
        accepted = 0
        with pytest.raises(Refusal, match="limit is 4096"):
            for n in range(100):
                await export(pipeline, log_request(f"fill-{n}", 1))
                accepted += 1
        insert.release.set()
        assert await pipeline.writer.settled(10)
        await export(pipeline, log_request("after", 1))
        await pipeline.close()
        return accepted

    accepted = asyncio.run(scenario())

    assert 0 < accepted < 100
    assert sum(stored(store, f"fill-{n}") for n in range(accepted + 1)) == accepted
    assert stored(store, "after") == 1


def test_a_stop_with_the_store_down_leaves_the_rows_queued_for_the_next_start(store, tmp_path):
    down = RecordingInsert(store, failures=1000)

    async def first_run():
        pipeline = running(pipeline_on(tmp_path, down))
        await export(pipeline, log_request("outage", 3))
        await export(pipeline, log_request("outage-2", 2))
        await pipeline.close(grace_seconds=0.3)

    asyncio.run(first_run())
    assert (stored(store, "outage"), stored(store, "outage-2")) == (0, 0)

    up = RecordingInsert(store)

    async def second_run():
        pipeline = pipeline_on(tmp_path, up)
        assert [position.sequence for position in pipeline.unconfirmed] == [1, 2]
        pipeline.start()
        await pipeline.close()

    asyncio.run(second_run())

    assert (stored(store, "outage"), stored(store, "outage-2")) == (3, 2)
    assert up.calls == [("events", 5)]
    assert WriteAheadLog(str(tmp_path / "fresh"), 1 << 20).open() == []
    reopened = WriteAheadLog(str(tmp_path), 1 << 20)
    assert reopened.open() == []  # everything confirmed: nothing to replay a third time
    asyncio.run(reopened.close())


def test_close_inserts_queued_rows_without_waiting_for_the_delay(store, tmp_path):
    insert = RecordingInsert(store)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert, max_rows=100, max_delay_seconds=30))
        await export(pipeline, log_request("pending", 3))
        started = time.monotonic()
        await pipeline.close()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 10
    assert stored(store, "pending") == 3


def test_a_full_batch_is_inserted_without_waiting_for_the_delay(store, tmp_path):
    insert = RecordingInsert(store)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, insert, max_rows=4, max_delay_seconds=30))
        started = time.monotonic()
        await export(pipeline, log_request("full", 4))
        assert await pipeline.writer.settled(10)
        elapsed = time.monotonic() - started
        await pipeline.close()
        return elapsed

    assert asyncio.run(scenario()) < 10
    assert stored(store, "full") == 4


def test_a_torn_entry_at_the_end_is_cut_and_the_whole_ones_replayed(tmp_path):
    async def write_two():
        queue = WriteAheadLog(str(tmp_path), 1 << 20)
        queue.open()
        queue.start()
        await queue.append(b"first")
        await queue.append(b"second")
        await queue.close()

    asyncio.run(write_two())
    (segment,) = [name for name in os.listdir(tmp_path) if name.endswith(".wal")]
    with open(tmp_path / segment, "ab") as file:
        file.write(b"\x20\x00\x00\x00partial")  # a crash in the middle of a third entry
    queue = WriteAheadLog(str(tmp_path), 1 << 20)
    positions = queue.open()

    assert [queue.read(position) for position in positions] == [b"first", b"second"]
    assert os.path.getsize(tmp_path / segment) == sum(position.size for position in positions)
    asyncio.run(queue.close())


def test_one_process_per_queue_directory(tmp_path):
    first = WriteAheadLog(str(tmp_path), 1 << 20)
    first.open()
    with pytest.raises(QueueUnavailable, match="in use by another process"):
        WriteAheadLog(str(tmp_path), 1 << 20).open()
    asyncio.run(first.close())


def test_confirmed_segments_are_deleted(tmp_path):
    async def scenario():
        queue = WriteAheadLog(str(tmp_path), 1 << 20, segment_bytes=100)
        queue.open()
        queue.start()
        positions = [await queue.append(b"x" * 60) for _ in range(5)]
        segments_before = len([name for name in os.listdir(tmp_path) if name.endswith(".wal")])
        queue.confirm(positions[3].sequence)
        segments_after = sorted(name for name in os.listdir(tmp_path) if name.endswith(".wal"))
        await queue.close()
        return segments_before, segments_after, queue.used_bytes

    before, after, used = asyncio.run(scenario())

    assert before == 5  # one 60-byte entry per 100-byte segment
    assert after == [f"{5:020d}.wal"]  # entries 1-4 confirmed; 5 still waits
    assert used == 60 + 16


def test_close_during_a_retry_backoff_keeps_to_its_grace(store, tmp_path, monkeypatch):
    """A SIGTERM during a store outage must end within the grace (Kubernetes kills the pod after 30 s), not after
    the backoff in progress, and must not try another insert after its grace."""
    monkeypatch.setattr(writer_module, "RETRY_FIRST_SECONDS", 3.0)
    down = RecordingInsert(store, failures=1000)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, down, max_delay_seconds=0))
        await export(pipeline, log_request("outage", 2))
        while not down.calls:
            await asyncio.sleep(0.01)
        started_closing = time.monotonic()
        await pipeline.close(grace_seconds=0.1)
        return time.monotonic() - started_closing

    assert asyncio.run(scenario()) < 1.0
    assert down.calls == [("events", 2)]
    assert stored(store, "outage") == 0


def test_a_checkpoint_that_cannot_be_written_is_shown_and_written_later_without_a_restart(store, tmp_path,
                                                                                          monkeypatch, caplog):
    """The queue's checkpoint cannot be written (here a directory stands where its temporary file goes; in life the
    queue's disk is full as an insert is confirmed): inserts go on, the queue says why, and once it can be written
    the idle writer records it, with no restart of the process and no export needed to trigger it."""
    monkeypatch.setattr(writer_module, "CONFIRM_RETRY_SECONDS", 0.05)
    blocker = tmp_path / "checkpoint.tmp"
    blocker.mkdir()

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, RecordingInsert(store), max_delay_seconds=0))
        await export(pipeline, log_request("first", 2))
        assert await eventually(lambda: pipeline.queue.checkpoint_problem is not None)
        await export(pipeline, log_request("second", 1))
        assert await pipeline.writer.settled(10)  # inserts do not wait for the checkpoint
        problem = pipeline.queue.checkpoint_problem
        blocker.rmdir()
        assert await eventually(lambda: pipeline.queue.checkpoint_problem is None)
        checkpoint = (tmp_path / "checkpoint").read_text()
        await pipeline.close()
        return problem, checkpoint

    problem, checkpoint = asyncio.run(scenario())

    assert "cannot record its checkpoint" in problem and "checkpoint.tmp" in problem
    assert "cannot record the checkpoint" in caplog.text
    assert checkpoint == "2"
    assert (stored(store, "first"), stored(store, "second")) == (2, 1)


def test_a_writer_that_raises_is_shown_failing_and_restarted_with_its_batch(store, tmp_path, monkeypatch, caplog):
    """A fault outside the insert itself (here reading a spilled entry back hits a bug) ends the writer's task:
    it is reported with the reason, restarted, and the batch it held is stored, not dropped."""
    monkeypatch.setattr(supervisor_module, "RESTART_FIRST_SECONDS", 0.1)
    supervisor = Supervisor()
    faults = iter([MemoryError("no memory for the batch")])

    def columns_with_one_fault(self, batch, original=writer_module.BatchWriter._plan_inserts):
        fault = next(faults, None)
        if fault:
            raise fault
        return original(self, batch)

    monkeypatch.setattr(writer_module.BatchWriter, "_plan_inserts", columns_with_one_fault)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, RecordingInsert(store), max_delay_seconds=0), supervisor)
        await export(pipeline, log_request("held", 3))
        assert await eventually(lambda: "batch writer" in supervisor.failing)
        reason = supervisor.failing["batch writer"]
        assert await pipeline.writer.settled(10)
        assert await eventually(lambda: not supervisor.failing)
        await pipeline.close()
        return reason

    reason = asyncio.run(scenario())

    assert reason == "MemoryError: no memory for the batch"
    assert "batch writer failed, restarting it" in caplog.text
    assert stored(store, "held") == 3


def test_close_drains_a_backlog_that_takes_longer_than_its_grace_while_the_store_takes_it(store, tmp_path):
    """The grace bounds waiting for a store that refuses, not the draining of one that takes every batch: a
    SIGTERM after an outage inserts the whole backlog (it stays in the queue only if inserts stop going in)."""
    slow = RecordingInsert(store, seconds_per_insert=0.8)

    async def scenario():
        pipeline = running(pipeline_on(tmp_path, slow, max_rows=2, max_delay_seconds=30))
        for number in range(8):
            await export(pipeline, log_request(f"backlog-{number}", 2))
        await pipeline.close(grace_seconds=0.1)

    asyncio.run(scenario())

    assert len(slow.calls) == 8  # 6.4 s of inserts, past the grace and any slack
    assert sum(stored(store, f"backlog-{number}") for number in range(8)) == 16
