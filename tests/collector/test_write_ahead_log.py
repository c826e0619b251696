"""The write-ahead log against real disks: a small tmpfs filled at each point of the write path refuses with the
retry signal and keeps every entry acknowledged before; a flipped byte costs only its own entry; a garbled
checkpoint costs replays, not entries; and a real serve on a full queue disk answers 503 / UNAVAILABLE, never 500,
and after a SIGKILL stores every acknowledged export once."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter

from collector.write_ahead_log import QueueDiskRefused, WriteAheadLog
from collector.write_ahead_segments import ENTRY_HEADER
from tests.support.otel_sdk import send_claude_events
from tests.support.polling import wait_until
from tests.support.exports import post_export
from tests.support.retrying_clients import (EVENTS_PER_EXPORT, RetryingClients, address_of,
                                            http_export, stored)
from tests.support.small_disk import PAGE, mounted_tmpfs

MAX_BYTES = 64 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    with mounted_tmpfs(tmp_path / "disk", size="2m", inodes=64) as disk:
        yield disk


def payload(number: int, size: int = 300) -> bytes:
    head = f"entry-{number}-".encode()
    return head + bytes((number + n) % 251 for n in range(size - len(head)))


async def opened(directory: Path, **options) -> WriteAheadLog:
    queue = WriteAheadLog(str(directory), MAX_BYTES, **options)
    queue.open()
    queue.start()
    return queue


def replayed(directory: Path) -> list[bytes]:
    """The payloads a fresh open hands back for replay, in order."""
    queue = WriteAheadLog(str(directory), MAX_BYTES)
    payloads = [queue.read(position) for position in queue.open()]
    asyncio.run(queue.close())
    return payloads


def segment_sizes(directory: Path) -> dict[str, int]:
    return {name: os.path.getsize(directory / name) for name in sorted(os.listdir(directory)) if name.endswith(".wal")}


def write_entries(directory: Path, count: int, **options) -> list:
    async def scenario():
        queue = await opened(directory, **options)
        positions = [await queue.append(payload(number)) for number in range(count)]
        await queue.close()
        return positions

    return asyncio.run(scenario())


def flip_byte(directory: Path, segment: int, offset: int) -> None:
    with open(directory / f"{segment:020d}.wal", "r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0xFF]))


def failing_sync(fd: int) -> None:
    """tmpfs never fails an fdatasync, so a failing disk's EIO is provoked at the system call."""
    raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_a_write_the_full_disk_cuts_short_is_refused_and_cut_back(small_disk):
    queue_dir = small_disk.mount_point / "queue"

    async def fill_then_refuse():
        queue = await opened(queue_dir)
        for number in range(3):
            await queue.append(payload(number, 10_000))
        small_disk.fill(leave_bytes=PAGE)  # the next entry fits only in part
        with pytest.raises(QueueDiskRefused, match="the write-ahead queue's disk refused the write: .*No space"):
            await queue.append(payload(3, 20_000))
        await queue.close()

    asyncio.run(fill_then_refuse())
    assert sum(segment_sizes(queue_dir).values()) == 3 * (ENTRY_HEADER.size + 10_000)
    assert replayed(queue_dir) == [payload(number, 10_000) for number in range(3)]

    small_disk.free()

    async def append_again():
        queue = await opened(queue_dir)
        await queue.append(payload(4, 20_000))
        await queue.close()

    asyncio.run(append_again())
    assert replayed(queue_dir) == [payload(number, 10_000) for number in range(3)] + [payload(4, 20_000)]


def test_a_rollover_the_full_disk_refuses_is_refused_and_the_next_one_works(small_disk):
    queue_dir = small_disk.mount_point / "queue"

    async def scenario():
        queue = await opened(queue_dir, segment_bytes=16_384)
        await queue.append(payload(0, 10_000))
        small_disk.fill_inodes()  # the next segment file cannot be created
        with pytest.raises(QueueDiskRefused, match="could not start a new segment"):
            await queue.append(payload(1, 10_000))
        small_disk.free()
        small_disk.fill()  # the next segment is created but its first entry has no room
        with pytest.raises(QueueDiskRefused, match="could not write an entry"):
            await queue.append(payload(2, 10_000))
        small_disk.free()
        await queue.append(payload(3, 10_000))
        await queue.append(payload(4, 10_000))
        await queue.close()

    asyncio.run(scenario())
    assert replayed(queue_dir) == [payload(number, 10_000) for number in (0, 3, 4)]


def test_a_failed_shared_sync_refuses_every_append_waiting_on_it_and_cuts_them_all(tmp_path, monkeypatch):
    async def scenario():
        queue = await opened(tmp_path, segment_bytes=1000)  # three 316-byte entries a segment
        for number in range(2):
            await queue.append(payload(number))
        segments_before = segment_sizes(tmp_path)
        with monkeypatch.context() as patch:
            patch.setattr(os, "fdatasync", failing_sync)
            # appended together, so they share one sync; they span a rollover into a new segment
            results = await asyncio.wait_for(asyncio.gather(
                *(queue.append(payload(number)) for number in range(2, 6)), return_exceptions=True), 10)
        segments_after_failure = segment_sizes(tmp_path)
        after = await queue.append(payload(6))
        await queue.close()
        return results, segments_before, segments_after_failure, after

    results, before, after_failure, after = asyncio.run(scenario())

    assert all(isinstance(result, QueueDiskRefused) for result in results), results
    assert "could not sync entries to disk" in str(results[0])
    assert after_failure == before
    assert after.sequence == 3  # the refused entries' numbers are used again
    assert replayed(tmp_path) == [payload(0), payload(1), payload(6)]


def test_a_failed_sync_after_its_segment_was_confirmed_and_deleted_starts_a_fresh_segment(tmp_path, monkeypatch):
    async def scenario():
        queue = await opened(tmp_path, segment_bytes=700)  # two 316-byte entries a segment
        for number in range(2):
            await queue.append(payload(number))
        with monkeypatch.context() as patch:
            patch.setattr(os, "fdatasync", failing_sync)
            refused = asyncio.ensure_future(queue.append(payload(2)))  # rolls over into segment 3
            await asyncio.sleep(0)
            queue.confirm(2)  # segment 1 is all confirmed: deleted while the sync of entry 3 runs
            with pytest.raises(QueueDiskRefused):
                await asyncio.wait_for(refused, 10)
        await queue.append(payload(3))
        await queue.close()

    asyncio.run(scenario())
    assert segment_sizes(tmp_path) == {f"{3:020d}.wal": ENTRY_HEADER.size + len(payload(3))}
    assert replayed(tmp_path) == [payload(3)]


def test_a_checkpoint_the_full_disk_refuses_costs_a_replay_not_an_entry(small_disk, caplog):
    queue_dir = small_disk.mount_point / "queue"

    async def scenario():
        queue = await opened(queue_dir)
        positions = [await queue.append(payload(number)) for number in range(3)]
        queue.confirm(positions[0].sequence)
        small_disk.fill()
        queue.confirm(positions[1].sequence)  # cannot be recorded: the entry is replayed after a restart
        await queue.close()

    with caplog.at_level(logging.WARNING, "collector.write_ahead_log"):
        asyncio.run(scenario())
    assert "cannot record the checkpoint" in caplog.text
    assert (queue_dir / "checkpoint").read_text() == "1"
    assert not (queue_dir / "checkpoint.tmp").exists()
    assert replayed(queue_dir) == [payload(1), payload(2)]

    small_disk.free()
    queue = WriteAheadLog(str(queue_dir), MAX_BYTES)
    queue.open()
    queue.confirm(3)
    asyncio.run(queue.close())
    assert (queue_dir / "checkpoint").read_text() == "3" and replayed(queue_dir) == []


# where in entry 3 (header: length, crc, sequence) the byte is flipped, from the start of its payload
FLIPPED = {"payload": 150, "checksum": -12, "length": -15}


@pytest.mark.parametrize("where", FLIPPED)
def test_a_damaged_entry_is_quarantined_and_the_entries_after_it_replay(tmp_path, caplog, where):
    positions = write_entries(tmp_path, 5)
    third = positions[2]
    flip_byte(tmp_path, third.segment, third.offset + FLIPPED[where])
    entry_start = third.offset - ENTRY_HEADER.size

    queue = WriteAheadLog(str(tmp_path), MAX_BYTES)
    with caplog.at_level(logging.ERROR, "collector.write_ahead_log"):
        replay = queue.open()
    assert [position.sequence for position in replay] == [1, 2, 4, 5]
    assert [queue.read(position) for position in replay] == [payload(number) for number in (0, 1, 3, 4)]
    assert queue.quarantined_entries == 1
    asyncio.run(queue.close())

    (quarantined,) = [name for name in os.listdir(tmp_path) if "quarantined-damaged-entry" in name]
    assert quarantined == f"{third.segment:020d}.wal.quarantined-damaged-entry-at-byte-{entry_start}"
    assert len((tmp_path / quarantined).read_bytes()) == third.size
    assert f"{third.segment:020d}.wal: the entry at byte {entry_start}" in caplog.text

    again = WriteAheadLog(str(tmp_path), MAX_BYTES)
    assert [position.sequence for position in again.open()] == [1, 2, 4, 5]
    assert again.quarantined_entries == 0  # moved aside once, not found again
    asyncio.run(again.close())


@pytest.mark.parametrize("garbage", [b"\x00\xff\x13 not a number", b"", b"99999"])
def test_a_damaged_checkpoint_is_rebuilt_and_every_entry_still_in_the_segments_replays(tmp_path, caplog, garbage):
    async def scenario():
        queue = await opened(tmp_path)
        positions = [await queue.append(payload(number)) for number in range(5)]
        queue.confirm(positions[1].sequence)
        await queue.close()

    asyncio.run(scenario())
    (tmp_path / "checkpoint").write_bytes(garbage)

    with caplog.at_level(logging.WARNING, "collector.write_ahead_log"):
        replay = replayed(tmp_path)
    assert replay == [payload(number) for number in range(5)]  # 3 to 5 unconfirmed; 1 and 2 are stored once
    assert "checkpoint" in caplog.text and "is damaged" in caplog.text and "rebuilt from the segments" in caplog.text
    assert (tmp_path / "checkpoint").read_text() == "0"


def test_a_torn_tail_is_still_cut_and_a_damaged_entry_before_it_kept_aside(tmp_path):
    positions = write_entries(tmp_path, 4)
    flip_byte(tmp_path, positions[1].segment, positions[1].offset + 10)
    (segment,) = segment_sizes(tmp_path)
    with open(tmp_path / segment, "ab") as file:
        file.write(ENTRY_HEADER.pack(300, 0, 5) + b"half of it")  # the process died writing entry 5

    queue = WriteAheadLog(str(tmp_path), MAX_BYTES)
    replay = queue.open()
    assert [queue.read(position) for position in replay] == [payload(number) for number in (0, 2, 3)]
    assert queue.quarantined_entries == 1
    asyncio.run(queue.close())
    assert segment_sizes(tmp_path)[segment] == sum(position.size for position in replay)


def claude_identity(session: str) -> dict:
    return {"organization.id": "org-disk", "user.email": "ada@example.com", "user.account_uuid": str(uuid.uuid4()),
            "user.id": uuid.uuid4().hex * 2, "session.id": session, "terminal.type": "vscode"}


def patient_log_exporter(transport: str, serve):
    """The official exporter with time to retry while the test frees the disk (its default deadline is 10 s)."""
    if transport == "grpc":
        return GrpcLogExporter(endpoint=serve.grpc_endpoint, insecure=True, timeout=60)
    return HttpLogExporter(endpoint=f"{serve.http_url}/v1/logs", timeout=60)


def retrying_transports(caplog) -> set[str]:
    """The transports whose OpenTelemetry exporter in this process said it would retry a refused export."""
    return {transport for record in caplog.records for transport in ("grpc", "http")
            if record.name.startswith(f"opentelemetry.exporter.otlp.proto.{transport}")
            and "Transient error" in record.getMessage()}


def test_serve_on_a_full_queue_disk_refuses_with_retry_signals_and_loses_nothing(serve_factory, tmp_path, caplog):
    with mounted_tmpfs(tmp_path / "disk", size="4m") as disk:
        queue_args = ("--queue-dir", str(disk.mount_point / "queue"), "--aggregate-interval", "0")
        # nothing is inserted (or confirmed) before the kill: every acknowledged export must come back from disk
        serve = serve_factory(*queue_args, "--batch-max-delay-ms", "600000", data_dir=tmp_path / "data")
        disk.fill(leave_bytes=32 * PAGE)
        factory = RetryingClients(address_of(serve), exports=0).factory
        acknowledged, refusals = 0, []
        for number in range(400):
            status, headers = http_export(serve, factory.body("logs", number))
            assert status in (200, 503), (status, serve.log_text()[-2000:])
            if status == 200:
                acknowledged += 1
            else:
                refusals.append(headers)
            if len(refusals) >= 5:
                break
        assert acknowledged > 0 and all(headers.get("Retry-After") == "5" for headers in refusals)
        refused = post_export(serve, factory.body("logs", 999), "grpc", signal="logs", timeout=10)
        assert refused.status == grpc.StatusCode.UNAVAILABLE
        assert "the write-ahead queue's disk refused the write" in refused.details
        assert serve.readiness()[0] == 503

        # the official exporters, which retry, get their events in once the disk has room again
        sessions = {transport: str(uuid.uuid4()) for transport in ("grpc", "http")}
        senders = [threading.Thread(target=send_claude_events,
                                    args=(patient_log_exporter(transport, serve), claude_identity(session),
                                          time.time_ns()))
                   for transport, session in sessions.items()]
        with caplog.at_level(logging.WARNING):
            for sender in senders:
                sender.start()
            assert wait_until(lambda: retrying_transports(caplog) == {"grpc", "http"}, timeout=30)
        disk.free()
        for sender in senders:
            sender.join(60)
        assert not any(sender.is_alive() for sender in senders)
        assert "Traceback" not in serve.log_text()
        assert serve.log_text().count("exports are refused with a retry signal") <= 2  # once per kind, not per export

        serve.stop(signal.SIGKILL)
        again = serve_factory(*queue_args, data_dir=tmp_path / "data")
        for session in sessions.values():
            assert again.scalar(f"SELECT count() FROM events FINAL WHERE session_id = '{session}'") == 6, (
                sessions, caplog.text, again.log_text())
        assert stored(again)[0] == acknowledged * EVENTS_PER_EXPORT + 2 * 6, (acknowledged, again.log_text())
        again.stop()


def directory_bytes(directory: Path) -> bytes:
    return b"".join((directory / name).read_bytes() for name in sorted(os.listdir(directory)))


def test_roll_then_forget_confirmed_leaves_no_copy_of_a_confirmed_entry_and_keeps_the_unconfirmed(tmp_path):
    """What a purge does to the queue: every confirmed entry's bytes leave the directory, the rest still replay."""
    async def scenario():
        queue = await opened(tmp_path)
        positions = [await queue.append(payload(number)) for number in range(3)]
        queue.roll()
        late = await queue.append(payload(3))  # after the roll: kept until it is confirmed
        assert queue.confirm(positions[-1].sequence)
        queue.forget_confirmed()
        assert len(segment_sizes(tmp_path)) == 1
        after = await queue.append(payload(4))
        await queue.close()
        return late, after

    late, after = asyncio.run(scenario())
    on_disk = directory_bytes(tmp_path)
    for number in range(3):
        assert payload(number)[:20] not in on_disk, number
    assert replayed(tmp_path) == [payload(3), payload(4)]
    assert (late.sequence, after.sequence) == (4, 5)


def test_forget_confirmed_keeps_a_segment_with_an_entry_not_yet_confirmed(tmp_path):
    async def scenario():
        queue = await opened(tmp_path)
        first = await queue.append(payload(0))
        await queue.append(payload(1))
        queue.roll()
        queue.confirm(first.sequence)
        queue.forget_confirmed()
        queue.roll()  # the current segment is empty: no new one
        await queue.close()

    asyncio.run(scenario())
    assert len(segment_sizes(tmp_path)) == 2
    assert replayed(tmp_path) == [payload(1)]
