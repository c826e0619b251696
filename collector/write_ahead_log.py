"""The on-disk write-ahead queue: an export is acknowledged once its request is here, not once it is in the store.

Entries are appended to numbered segment files and made durable by one fdatasync shared by every append that
arrived meanwhile (group commit). The writer confirms entries once their rows are inserted; a checkpoint file
records the last confirmed sequence number and segments wholly before it are deleted. On start, every entry after
the checkpoint is handed back for replay, in order; a torn entry at the tail (a crash mid-write, never
acknowledged) is cut off. The total size is bounded: past it, appends are refused so the clients retry later.

Entry layout: length (uint32), crc32 of the payload (uint32), sequence number (uint64), then the payload.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<IIQ")
_SEGMENT_SUFFIX = ".wal"
_CHECKPOINT = "checkpoint"
_LOCK = "lock"


class QueueFull(RuntimeError):
    """The queue holds its maximum size; the client should retry later."""


class QueueUnavailable(RuntimeError):
    """The queue's directory cannot be used; the message says why."""


@dataclass(frozen=True)
class Position:
    """Where one entry lives: its sequence number, its segment (by first sequence number) and byte range."""

    sequence: int
    segment: int
    offset: int
    length: int

    @property
    def size(self) -> int:
        return _HEADER.size + self.length


class WriteAheadLog:
    def __init__(self, directory: str, max_bytes: int, segment_bytes: int = 64 * 1024 * 1024, sync: bool = True):
        self.directory = directory
        self.max_bytes = max_bytes
        self._segment_bytes = min(segment_bytes, max(max_bytes // 4, 1))
        self._sync = sync
        self._segments: dict[int, int] = {}  # first sequence number -> size in bytes
        self._next_sequence = 1
        self._confirmed = 0
        self._fd = -1
        self._current = 0
        self._unsynced_fds: list[int] = []
        self._synced = 0
        self._sync_waiters: list[tuple[int, asyncio.Future]] = []
        self._sync_wanted: asyncio.Event | None = None
        self._syncer: asyncio.Task | None = None
        self._sync_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-sync")
        self._lock_fd = -1
        self.last_refused = float("-inf")  # time.monotonic() of the last append refused for want of room

    @property
    def used_bytes(self) -> int:
        return sum(self._segments.values())

    def open(self) -> list[Position]:
        """Lock the directory, cut a torn tail, and return the entries not yet confirmed, oldest first."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._lock_fd = os.open(os.path.join(self.directory, _LOCK), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QueueUnavailable(f"the write-ahead queue {self.directory} is in use by another process; "
                                   "each collector needs its own --queue-dir") from None
        except OSError as error:
            raise QueueUnavailable(f"cannot use the write-ahead queue directory {self.directory}: {error}") from None
        self._confirmed = self._read_checkpoint()
        pending: list[Position] = []
        for first in sorted(self._segment_numbers()):
            positions = list(self._scan(first))
            self._segments[first] = positions[-1].offset + positions[-1].length if positions else 0
            pending.extend(position for position in positions if position.sequence > self._confirmed)
            if positions:
                self._next_sequence = positions[-1].sequence + 1
        self._next_sequence = max(self._next_sequence, self._confirmed + 1)
        self._drop_confirmed_segments()
        self._open_segment()
        return pending

    def start(self) -> None:
        self._sync_wanted = asyncio.Event()
        self._syncer = asyncio.get_running_loop().create_task(self._sync_forever(), name="queue-sync")

    async def append(self, payload: bytes) -> Position:
        """Write one entry; returns once it is on disk (fdatasync), so it survives a crash of this process."""
        size = _HEADER.size + len(payload)
        if self.used_bytes + size > self.max_bytes:
            self.last_refused = time.monotonic()
            raise QueueFull(f"the write-ahead queue holds {self.used_bytes} bytes, its limit is {self.max_bytes}")
        if self._segments[self._current] + size > self._segment_bytes and self._segments[self._current]:
            self._unsynced_fds.append(self._fd)
            self._open_segment()
        sequence = self._next_sequence
        self._next_sequence += 1
        offset = self._segments[self._current]
        os.write(self._fd, _HEADER.pack(len(payload), zlib.crc32(payload), sequence) + payload)
        self._segments[self._current] = offset + size
        position = Position(sequence, self._current, offset + _HEADER.size, len(payload))
        if self._sync:
            waiter = asyncio.get_running_loop().create_future()
            self._sync_waiters.append((sequence, waiter))
            self._sync_wanted.set()
            await waiter
        return position

    def read(self, position: Position) -> bytes:
        """The payload of an entry still in the queue (one whose rows were not kept in memory)."""
        with open(self._segment_path(position.segment), "rb") as segment:
            segment.seek(position.offset)
            return segment.read(position.length)

    def confirm(self, sequence: int) -> None:
        """Every entry up to sequence is in the store: record it, and delete the segments it empties."""
        if sequence <= self._confirmed:
            return
        temporary = os.path.join(self.directory, _CHECKPOINT + ".tmp")
        with open(temporary, "w") as file:
            file.write(str(sequence))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, os.path.join(self.directory, _CHECKPOINT))
        self._confirmed = sequence  # only once recorded: a failed write is tried again by the next confirm
        self._drop_confirmed_segments()

    async def close(self) -> None:
        if self._syncer:
            self._syncer.cancel()
            await asyncio.gather(self._syncer, return_exceptions=True)
        for fd in (*self._unsynced_fds, self._fd):
            if fd >= 0:
                os.fsync(fd)
                os.close(fd)
        self._unsynced_fds, self._fd = [], -1
        self._sync_thread.shutdown(wait=True)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    async def _sync_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            upto = self._next_sequence - 1
            closing, self._unsynced_fds = self._unsynced_fds, []
            await loop.run_in_executor(self._sync_thread, _sync_files, closing, self._fd)
            self._synced = upto
            waiting, self._sync_waiters = self._sync_waiters, []
            for sequence, waiter in waiting:
                if sequence <= upto:
                    if not waiter.done():
                        waiter.set_result(None)
                else:
                    self._sync_waiters.append((sequence, waiter))
            if self._sync_waiters:
                self._sync_wanted.set()

    def _open_segment(self) -> None:
        self._current = self._next_sequence
        self._fd = os.open(self._segment_path(self._current), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segments.setdefault(self._current, os.fstat(self._fd).st_size)

    def _drop_confirmed_segments(self) -> None:
        """A segment is done when the next one starts at or before the first unconfirmed sequence number."""
        numbers = sorted(self._segments)
        for first, following in zip(numbers, numbers[1:]):
            if following <= self._confirmed + 1 and first != self._current:
                os.remove(self._segment_path(first))
                del self._segments[first]

    def _scan(self, first: int) -> Iterator[Position]:
        """The whole entries of a segment; a torn or corrupt tail is cut off (it was never acknowledged)."""
        path = self._segment_path(first)
        with open(path, "rb") as segment:
            data = segment.read()
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, checksum, sequence = _HEADER.unpack_from(data, offset)
            payload = data[offset + _HEADER.size: offset + _HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != checksum:
                break
            yield Position(sequence, first, offset + _HEADER.size, length)
            offset += _HEADER.size + length
        if offset < len(data):
            log.warning("write-ahead queue segment %s: cut %d bytes of a torn entry at its end (written when the "
                        "process died, never acknowledged)", path, len(data) - offset)
            os.truncate(path, offset)

    def _segment_numbers(self) -> list[int]:
        return [int(name[:-len(_SEGMENT_SUFFIX)]) for name in os.listdir(self.directory)
                if name.endswith(_SEGMENT_SUFFIX) and name[:-len(_SEGMENT_SUFFIX)].isdigit()]

    def _segment_path(self, first: int) -> str:
        return os.path.join(self.directory, f"{first:020d}{_SEGMENT_SUFFIX}")

    def _read_checkpoint(self) -> int:
        try:
            with open(os.path.join(self.directory, _CHECKPOINT)) as file:
                return int(file.read().strip() or 0)
        except FileNotFoundError:
            return 0


def _sync_files(closing: list[int], current: int) -> None:
    for fd in closing:
        os.fdatasync(fd)
        os.close(fd)
    os.fdatasync(current)
