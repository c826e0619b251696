"""The write-ahead log against real disks: a flipped byte costs only its own entry; a garbled checkpoint, or one
a full disk refused, costs replays, not entries; a torn tail is still cut."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from collector.write_ahead_log import WriteAheadLog
from collector.write_ahead_segments import ENTRY_HEADER
from tests.support.small_disk import mounted_tmpfs

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
