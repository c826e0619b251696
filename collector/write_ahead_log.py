"""The on-disk write-ahead queue: an export is acknowledged once its request is here, not once it is in the store.

Entries are appended to numbered segment files and made durable by one fdatasync shared by every append that
arrived meanwhile (group commit). The writer confirms entries once their rows are inserted; a checkpoint file
records the last confirmed sequence number and segments wholly before it are deleted. On start, every entry after
the checkpoint is handed back for replay, in order (collector/write_ahead_segments.py reads the segments back:
a torn tail is cut, a damaged entry quarantined). The total size is bounded: past it, appends are refused so the
clients retry later.

An append is acknowledged only once every byte of its entry is written and synced. When the disk refuses (full,
failing, over quota), the entry is cut off again and the append raises QueueDiskRefused, a QueueFull, so the
client gets the same retry signal; if a shared fdatasync fails, every append waiting on it is refused and the log
is cut back to the end of the last synced entry. A checkpoint that cannot be written or read costs replays (the
raw tables store a replayed record once), never entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from collector.write_ahead_segments import ENTRY_HEADER, Position, encode_entry, recover_segment
from plumbing.log_once import RateLimitedLog

__all__ = ["Position", "QueueDiskRefused", "QueueFull", "QueueUnavailable", "WriteAheadLog"]

log = logging.getLogger(__name__)

_SEGMENT_SUFFIX = ".wal"
_CHECKPOINT = "checkpoint"
_LOCK = "lock"


class QueueFull(RuntimeError):
    """The queue holds its maximum size; the client should retry later."""


class QueueDiskRefused(QueueFull):
    """The queue's disk refused to write or sync an entry; it is not kept and the client should retry later."""


class QueueUnavailable(RuntimeError):
    """The queue's directory cannot be used; the message says why."""


class WriteAheadLog:
    def __init__(self, directory: str, max_bytes: int, segment_bytes: int = 64 * 1024 * 1024, sync: bool = True):
        self.directory = directory
        self.max_bytes = max_bytes
        self._segment_bytes = min(segment_bytes, max(max_bytes // 4, 1))
        self._sync = sync
        self._segments: dict[int, int] = {}  # first sequence number -> size in bytes
        self._next_sequence = 1
        self._confirmed = 0  # every entry up to here is in the store
        self._recorded = 0  # ... and the checkpoint file says so
        self.checkpoint_problem: str | None = None  # why the checkpoint cannot be written now, for /readyz
        self._fd = -1
        self._current = 0
        self._cut_pending = False  # a failed write left bytes past the current segment's end that must go first
        self._unsynced_fds: list[int] = []
        self._synced_end = (0, 0)  # (segment, size): every entry before it is on disk
        self._synced_sequence = 0
        self._sync_waiters: list[tuple[int, asyncio.Future]] = []
        self._sync_wanted: asyncio.Event | None = None
        self._syncer: asyncio.Task | None = None
        self._sync_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-sync")
        self._lock_fd = -1
        self._disk_log = RateLimitedLog(log, logging.WARNING)
        self.last_refused = float("-inf")  # time.monotonic() of the last append refused for want of room
        self.quarantined_entries = 0  # damaged entries moved aside on open

    @property
    def used_bytes(self) -> int:
        return sum(self._segments.values())

    def open(self) -> list[Position]:
        """Lock the directory, recover the segments, and return the entries not yet confirmed, oldest first."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._lock_fd = os.open(os.path.join(self.directory, _LOCK), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QueueUnavailable(f"the write-ahead queue {self.directory} is in use by another process; "
                                   "each collector needs its own --queue-dir") from None
        except OSError as error:
            raise QueueUnavailable(f"cannot use the write-ahead queue directory {self.directory}: {error}") from None
        entries: list[Position] = []
        last_sequence = 0
        for first in sorted(self._segment_numbers()):
            positions, quarantined = recover_segment(self._segment_path(first), first)
            self.quarantined_entries += quarantined
            self._segments[first] = positions[-1].offset + positions[-1].length if positions else 0
            entries.extend(positions)
            last_sequence = max(last_sequence, first - 1, *(position.sequence for position in positions[-1:]))
        self._confirmed = self._recorded = self._read_checkpoint(last_sequence)
        self._next_sequence = max(last_sequence, self._confirmed) + 1
        self._drop_confirmed_segments()
        self._current = self._next_sequence
        self._fd = self._open_segment_file(self._current)
        self._segments.setdefault(self._current, os.fstat(self._fd).st_size)
        self._synced_end = (self._current, self._segments[self._current])
        self._synced_sequence = self._next_sequence - 1
        return [position for position in entries if position.sequence > self._confirmed]

    def start(self) -> None:
        self._sync_wanted = asyncio.Event()
        self._syncer = asyncio.get_running_loop().create_task(self._sync_forever(), name="queue-sync")

    async def append(self, payload: bytes) -> Position:
        """Write one entry; returns once it is on disk (fdatasync), so it survives a crash of this process.

        Raises QueueFull when the queue holds its limit, QueueDiskRefused when the disk did not take the entry."""
        size = ENTRY_HEADER.size + len(payload)
        if self.used_bytes + size > self.max_bytes:
            self.last_refused = time.monotonic()
            raise QueueFull(f"the write-ahead queue holds {self.used_bytes} bytes, its limit is {self.max_bytes}")
        self._repair_current()
        if self._segments[self._current] + size > self._segment_bytes and self._segments[self._current]:
            self._roll_over()
        sequence = self._next_sequence
        offset = self._segments[self._current]
        try:
            _write_all(self._fd, encode_entry(sequence, payload))
        except OSError as error:
            self._cut_pending = True
            self._repair_current()
            raise self._refused("write an entry", error) from None
        self._next_sequence = sequence + 1
        self._segments[self._current] = offset + size
        position = Position(sequence, self._current, offset + ENTRY_HEADER.size, len(payload))
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

    def confirm(self, sequence: int) -> bool:
        """Every entry up to sequence is in the store: delete the segments it empties and record it in the
        checkpoint; False while the checkpoint cannot be written (call again: it is tried again)."""
        self._confirmed = max(self._confirmed, sequence)
        if self._recorded < self._confirmed:
            self._write_checkpoint(self._confirmed)
            # Deleted even when the checkpoint could not be written: that frees the disk, and a restart then
            # replays only what is still in the segments (stored once, as the raw tables collapse repeats).
            self._drop_confirmed_segments()
        return self._recorded >= sequence

    def roll(self) -> None:
        """Start a new segment, so that the entries appended so far can be deleted once they are all confirmed
        (a purge: see forget_confirmed); a no-op while the current segment is empty."""
        if self._segments[self._current]:
            self._repair_current()
            self._roll_over()

    def forget_confirmed(self) -> None:
        """Delete every segment whose entries are all confirmed (confirm does, but a removal may have failed) and
        close their files. With roll() before, no copy of a confirmed entry stays in the directory or open."""
        self._drop_confirmed_segments()
        if not self._sync_waiters:  # no sync running: the rolled segments' files are synced and can close
            for fd in self._unsynced_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._unsynced_fds = []

    async def close(self) -> None:
        if self._syncer:
            self._syncer.cancel()
            await asyncio.gather(self._syncer, return_exceptions=True)
        self._sync_thread.shutdown(wait=True)
        for fd in (*self._unsynced_fds, self._fd):
            if fd >= 0:
                try:
                    os.fsync(fd)
                except OSError as error:  # acknowledged entries were synced already; only --queue-sync no loses
                    log.warning("write-ahead queue %s: the last sync on close failed: %s", self.directory, error)
                finally:
                    os.close(fd)
        self._unsynced_fds, self._fd = [], -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    async def _sync_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            if not self._sync_waiters:  # the appends that asked were refused by a failed sync meanwhile
                continue
            upto = self._next_sequence - 1
            reached = (self._current, self._segments[self._current])
            closing, self._unsynced_fds = self._unsynced_fds, []
            try:
                await loop.run_in_executor(self._sync_thread, _sync_files, closing, self._fd)
            except OSError as error:
                self._sync_failed(error)
                continue
            self._synced_end, self._synced_sequence = reached, upto
            waiting, self._sync_waiters = self._sync_waiters, []
            for sequence, waiter in waiting:
                if sequence <= upto:
                    if not waiter.done():
                        waiter.set_result(None)
                else:
                    self._sync_waiters.append((sequence, waiter))
            if self._sync_waiters:
                self._sync_wanted.set()

    def _sync_failed(self, error: OSError) -> None:
        """No entry written since the last good sync is acknowledged: refuse them all and cut the log back to it."""
        refusal = self._refused("sync entries to disk", error)
        segment, size = self._synced_end
        if segment not in self._segments:  # confirmed and deleted since: what follows it starts afresh
            segment, size = self._synced_sequence + 1, 0
        for fd in (*self._unsynced_fds, self._fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._unsynced_fds, self._fd = [], -1
        for first in [first for first in self._segments if first > segment]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._segment_path(first))
            del self._segments[first]
        self._current, self._segments[segment] = segment, size
        self._next_sequence = self._synced_sequence + 1
        self._cut_pending = True
        with contextlib.suppress(QueueDiskRefused):  # logged; the next append tries the cut again first
            self._repair_current()
        waiting, self._sync_waiters = self._sync_waiters, []
        for _, waiter in waiting:
            if not waiter.done():
                waiter.set_exception(refusal)

    def _repair_current(self) -> None:
        """Reopen the current segment and cut what a failed write or sync left past its end, before writing on."""
        try:
            if self._fd < 0:
                self._fd = self._open_segment_file(self._current)
            if self._cut_pending:
                os.ftruncate(self._fd, self._segments[self._current])
                self._cut_pending = False
        except OSError as error:
            raise self._refused("cut a failed write off the segment", error) from None

    def _roll_over(self) -> None:
        try:
            # nothing acknowledged can be in a segment named by the next sequence number: start it empty
            fd = self._open_segment_file(self._next_sequence, os.O_TRUNC)
        except OSError as error:
            raise self._refused("start a new segment", error) from None
        self._unsynced_fds.append(self._fd)
        self._fd, self._current = fd, self._next_sequence
        self._segments[self._current] = 0

    def _refused(self, action: str, error: OSError) -> QueueDiskRefused:
        self.last_refused = time.monotonic()
        reason = os.strerror(error.errno) if error.errno else str(error)
        kind = errno.errorcode.get(error.errno, type(error).__name__)
        self._disk_log.log(f"{action}:{kind}", "write-ahead queue %s: could not %s (%s); exports are refused with "
                           "a retry signal until the disk takes them", self.directory, action, error)
        return QueueDiskRefused(f"the write-ahead queue's disk refused the write: could not {action}: {reason}")

    def _open_segment_file(self, first: int, flags: int = 0) -> int:
        return os.open(self._segment_path(first), os.O_WRONLY | os.O_CREAT | os.O_APPEND | flags, 0o600)

    def _drop_confirmed_segments(self) -> None:
        """A segment is done when the next one starts at or before the first unconfirmed sequence number."""
        numbers = sorted(self._segments)
        for first, following in zip(numbers, numbers[1:]):
            if following <= self._confirmed + 1 and first != self._current:
                try:
                    os.remove(self._segment_path(first))
                except OSError as error:
                    self._disk_log.log("remove", "write-ahead queue %s: cannot delete the confirmed segment %s "
                                       "(%s); it is tried again at the next confirm", self.directory,
                                       self._segment_path(first), error)
                    continue
                del self._segments[first]

    def _segment_numbers(self) -> list[int]:
        return [int(name[:-len(_SEGMENT_SUFFIX)]) for name in os.listdir(self.directory)
                if name.endswith(_SEGMENT_SUFFIX) and name[:-len(_SEGMENT_SUFFIX)].isdigit()]

    def _segment_path(self, first: int) -> str:
        return os.path.join(self.directory, f"{first:020d}{_SEGMENT_SUFFIX}")

    def _read_checkpoint(self, last_sequence: int) -> int:
        """The last confirmed sequence number; a checkpoint that cannot be right is rebuilt from the segments."""
        path = os.path.join(self.directory, _CHECKPOINT)
        try:
            with open(path, "rb") as file:
                text = file.read().strip()
        except FileNotFoundError:
            return 0
        if text.isdigit() and int(text) <= last_sequence:
            return int(text)
        rebuilt = min(self._segments, default=last_sequence + 1) - 1
        log.warning("write-ahead queue checkpoint %s is damaged (it reads %r, the segments end at sequence %d); "
                    "rebuilt from the segments: every entry still in them is replayed, and a record already "
                    "stored is stored once", path, text[:40], last_sequence)
        self._write_checkpoint(rebuilt)
        return rebuilt

    def _write_checkpoint(self, sequence: int) -> None:
        temporary = os.path.join(self.directory, _CHECKPOINT + ".tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, str(sequence).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, os.path.join(self.directory, _CHECKPOINT))
            self._recorded, self.checkpoint_problem = sequence, None
        except OSError as error:
            self.checkpoint_problem = f"cannot record its checkpoint: {error}"
            self._disk_log.log("checkpoint", "write-ahead queue %s: cannot record the checkpoint (%s); the entries "
                               "it confirms are replayed after a restart (and stored once)", self.directory, error)
            with contextlib.suppress(OSError):
                os.remove(temporary)


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written: a short write is retried, and on a full disk the retry raises."""
    remaining = memoryview(data)
    while remaining:
        written = os.write(fd, remaining)
        if not written:
            raise OSError(errno.EIO, "the disk took none of the bytes")
        remaining = remaining[written:]


def _sync_files(closing: list[int], current: int) -> None:
    try:
        for fd in closing:
            os.fdatasync(fd)
        os.fdatasync(current)
    finally:
        for fd in closing:
            os.close(fd)
