"""The batch writer: it takes requests already safe in the write-ahead queue and inserts their rows in bulk.

An export is acknowledged once its request is in the queue, so inserts need not keep clients waiting: the writer
gathers rows for up to batch_max_delay (or until batch_max_rows wait), inserts one batch per table, and confirms
the queue entries once their rows are in the store. A failed insert the store can take later (down, full) is
retried with backoff until it does; meanwhile requests keep arriving into the queue. Rows the store refuses for
good are found and moved to the dead_letters table (collector/dead_letter.py), so they never hold back the rest.
Rows beyond max_memory_rows are not kept in memory: their entries are read back from the queue when their turn
comes, as on start after a crash.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from collector.dead_letter import DEAD_LETTER_TABLE, InsertPlan, Piece, by_kind, classify
from collector.write_ahead_log import Position
from plumbing.log_once import RateLimitedLog
from plumbing.supervisor import Supervisor, TaskStatus

log = logging.getLogger(__name__)

InsertColumns = Callable[[str, Sequence[str], list], None]
# A spilled entry's table and rows, from its position in the queue (read back).
ReadBack = Callable[[Position], tuple[str, list]]

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
# How often an idle writer tries again to confirm entries the queue could not record.
CONFIRM_RETRY_SECONDS = 1.0
# How long close() waits, past its grace, for a writer that makes no progress before it leaves the rows queued.
CLOSE_SLACK_SECONDS = 5.0


class InsertObserver(Protocol):
    def inserted(self, table: str, rows: int, seconds: float) -> None: ...

    def insert_failed(self) -> None: ...

    def dead_lettered(self, table: str, rows: int) -> None: ...

    def dead_letters_dropped(self, table: str, rows: int) -> None: ...


@dataclass
class _Entry:
    position: Position
    table: str
    rows: list | None  # None: spilled, read back from the queue when inserted
    row_count: int  # for a request replayed after a restart, an estimate from its size

# A replayed request's row count is unknown until it is decoded again; Claude Code records take a few hundred
# bytes of protobuf each.
ESTIMATED_BYTES_PER_ROW = 200


@dataclass
class WriterStats:
    batches: int = 0
    rows: int = 0
    failures: int = 0
    last_insert_seconds: float = 0.0
    dead_letters: int = 0  # rows the store refused for good
    dead_letters_dropped: int = 0  # of those, rows the dead_letters table refused too


class BatchWriter:
    def __init__(self, insert_columns: InsertColumns, table_columns: dict[str, Sequence[str]], max_rows: int,
                 max_delay_seconds: float, max_memory_rows: int, read_back: ReadBack,
                 confirm: Callable[[int], bool], observer: InsertObserver | None = None):
        self._insert_columns = insert_columns
        self._table_columns = table_columns
        # Rows read back from the queue count against memory too: a batch never holds more than memory allows.
        self._batch_rows = min(max_rows, max_memory_rows)
        self._max_delay = max_delay_seconds
        self._max_memory_rows = max_memory_rows
        self._read_back = read_back
        self._confirm = confirm
        self._observer = observer
        self._refusal_log = RateLimitedLog(log, logging.WARNING)
        self._entries: collections.deque[_Entry] = collections.deque()
        self._memory_rows = 0
        self._queued_sequence = 0
        self._inserted_sequence = 0
        self._confirmed_sequence = 0
        self._last_progress = float("-inf")  # time.monotonic() of the last batch stored
        self._settle_waiters: list[tuple[int, asyncio.Future]] = []
        self._wakeup = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = asyncio.Event()
        self._give_up_at = float("inf")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._flusher: asyncio.Task | None = None
        self.stats = WriterStats()
        self.failing_since: float | None = None  # time.time() of the first failed insert in a row, if failing

    @property
    def memory_rows(self) -> int:
        """Rows waiting in memory for their insert."""
        return self._memory_rows

    @property
    def max_memory_rows(self) -> int:
        return self._max_memory_rows

    @property
    def waiting_entries(self) -> int:
        return len(self._entries)

    def start(self, supervisor: Supervisor | None = None) -> None:
        """Insert in the background, under the supervisor: a failure is shown on /readyz and the writer restarted."""
        self._flusher = (supervisor or Supervisor()).spawn("batch writer", self._flush_forever)

    def enqueue(self, position: Position, table: str, rows: list | None) -> None:
        """Rows of a request now in the queue at position; None (or no room in memory) reads them back later."""
        row_count = len(rows) if rows is not None else max(1, position.length // ESTIMATED_BYTES_PER_ROW)
        if rows is not None and self._memory_rows + len(rows) > self._max_memory_rows:
            rows = None
        self._entries.append(_Entry(position, table, rows, row_count))
        self._queued_sequence = position.sequence
        if rows is not None:
            self._memory_rows += len(rows)
        self._wakeup.set()
        if rows is None or self._memory_rows >= self._batch_rows:
            self._full.set()

    def replay(self, positions: list[Position]) -> None:
        """Requests acknowledged before a stop or crash but not yet stored: read back from the queue, in order."""
        for position in positions:
            self.enqueue(position, "", None)

    async def settled(self, timeout: float) -> bool:
        """Wait until every request queued before this call is in the store; False if that took over timeout."""
        if self._queued_sequence <= self._inserted_sequence:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._settle_waiters.append((self._queued_sequence, waiter))
        self._full.set()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self, grace_seconds: float) -> None:
        """Insert everything queued; if the store will not take it within the grace, leave it in the queue."""
        self._give_up_at = time.monotonic() + grace_seconds
        self._closing.set()
        self._wakeup.set()
        self._full.set()
        if self._flusher:
            # While batches keep going in, the queue is drained; a writer that made no progress for a while past
            # the grace (stuck, or restarted over and over) is stopped, its rows left to the next start.
            closing_since = time.monotonic()
            while not self._flusher.done():
                await asyncio.wait({self._flusher}, timeout=0.2)
                now = time.monotonic()
                if now > self._give_up_at and now - max(self._last_progress, closing_since) > CLOSE_SLACK_SECONDS:
                    self._flusher.cancel()
                    self._leaving_queued()
                    break
        self._executor.shutdown(wait=True)

    async def _flush_forever(self, status: TaskStatus) -> None:
        while True:
            self._confirm_stored()  # stored rows whose confirm failed last time (the queue's disk was full)
            if not self._entries:
                if self._closing.is_set():
                    return
                if self._confirmed_sequence < self._inserted_sequence:  # try the confirm again even when idle
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), CONFIRM_RETRY_SECONDS)
                else:
                    await self._wakeup.wait()
            if self._max_delay and not self._closing.is_set() and self._memory_rows < self._batch_rows:
                try:
                    await asyncio.wait_for(self._full.wait(), self._max_delay)
                except asyncio.TimeoutError:
                    pass
            self._wakeup.clear()
            self._full.clear()
            if not self._entries:
                continue
            if await self._insert(self._take_batch()):
                status.progressed()
            else:
                self._leaving_queued()
                return

    def _leaving_queued(self) -> None:
        log.warning("stopping with %d requests not yet in the store; they stay in the write-ahead queue and are "
                    "inserted on the next start", len(self._entries))

    def _take_batch(self) -> list[_Entry]:
        batch, rows = [], 0
        while self._entries and (rows + self._entries[0].row_count <= self._batch_rows or not batch):
            entry = self._entries.popleft()
            batch.append(entry)
            rows += entry.row_count
        return batch

    async def _insert(self, batch: list[_Entry]) -> bool:
        """Insert the batch, retrying until it is stored (True) or the closing grace ran out (False, the batch back
        at the head of the line); then confirm its entries in the queue."""
        try:
            stored = await self._store(batch)
        except BaseException:  # not an insert error (those are retried): the batch waits for the restarted writer
            self._entries.extendleft(reversed(batch))
            raise
        if not stored:
            self._entries.extendleft(reversed(batch))
            return False
        self._memory_rows -= sum(len(entry.rows) for entry in batch if entry.rows is not None)
        self._inserted_sequence = batch[-1].position.sequence
        self._last_progress = time.monotonic()
        self._wake_settled()
        self._confirm_stored()
        return True

    async def _store(self, batch: list[_Entry]) -> bool:
        """Insert the batch's rows piece by piece; a failure the store can get over is retried with backoff, a
        refusal of the rows bisected down to the refused ones, which go to the dead letters."""
        loop = asyncio.get_running_loop()
        plan = await loop.run_in_executor(self._executor, self._plan_inserts, batch)
        delay = RETRY_FIRST_SECONDS
        while (piece := plan.next_piece()) is not None:
            started = time.perf_counter()
            try:
                await loop.run_in_executor(self._executor, self._insert_piece, plan, piece)
            except Exception as error:  # the driver raises many kinds; each means "these rows are not stored"
                refusal = classify(error)
                if refusal is not None:
                    plan.refused(refusal)
                    continue
                self._failed(piece.table, len(piece.rows), error, delay)
                if not await self._wait_to_retry(delay * random.uniform(0.8, 1.2)):
                    return False
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            plan.stored()
            self._inserted(piece.table, len(piece.rows), time.perf_counter() - started)
            if piece.table == DEAD_LETTER_TABLE:
                self._dead_lettered(piece.rows)
        self._dropped(plan.dropped)
        return True

    def _insert_piece(self, plan: InsertPlan, piece: Piece) -> None:
        self._insert_columns(piece.table, plan.column_names(piece.table), plan.columns(piece))

    def _dead_lettered(self, dead_letters: list[tuple]) -> None:
        for (table, kind), (rows, reason) in by_kind(dead_letters).items():
            self.stats.dead_letters += rows
            if self._observer:
                self._observer.dead_lettered(table, rows)
            self._refusal_log.log(f"dead letter {table} {kind}", "the store refused %d rows of %s for good (%s); "
                                  "they are in the dead_letters table, the rest of their batch is stored: %s",
                                  rows, table, kind, reason)

    def _dropped(self, dropped: list) -> None:
        """Dead letters the dead_letters table refused too: counted and logged, never retried (they would block)."""
        for (table, kind), (rows, reason) in by_kind([letter for letter, _ in dropped]).items():
            self.stats.dead_letters += rows
            self.stats.dead_letters_dropped += rows
            if self._observer:
                self._observer.dead_lettered(table, rows)
                self._observer.dead_letters_dropped(table, rows)
            self._refusal_log.log(f"dropped {table} {kind}", "the store refused %d rows of %s for good (%s: %s) and "
                                  "the dead_letters table refused them too (%s); they are dropped", rows, table,
                                  kind, reason, dropped[0][1].reason)

    def _confirm_stored(self) -> None:
        """Tell the queue the stored entries may go; tried again while the queue cannot record it."""
        if self._confirmed_sequence < self._inserted_sequence and self._confirm(self._inserted_sequence):
            self._confirmed_sequence = self._inserted_sequence

    async def _wait_to_retry(self, backoff_seconds: float) -> bool:
        """Wait out a retry backoff; False as soon as a close's grace ends before the retry would."""
        retry_at = time.monotonic() + backoff_seconds
        # On the closing event, not a sleep: a close during a long backoff is answered within its grace.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), backoff_seconds)
        if retry_at > self._give_up_at:
            return False
        await asyncio.sleep(max(0.0, retry_at - time.monotonic()))
        return True

    def _plan_inserts(self, batch: list[_Entry]) -> InsertPlan:
        """The batch's rows, read back where spilled, in insertable pieces."""
        rows_by_table: dict[str, list] = {}
        for entry in batch:
            table, rows = entry.table, entry.rows
            if rows is None:
                try:
                    table, rows = self._read_back(entry.position)
                except Exception:  # a bug reading one entry must not stop every later one from being stored
                    log.exception("cannot read back write-ahead queue entry %d; it is skipped",
                                  entry.position.sequence)
                    continue
            if rows:
                rows_by_table.setdefault(table, []).extend(rows)
        # Stamped as rows reach the store, so the aggregator's "received since its last run" finds rows that waited
        # in the queue through an outage or a restart.
        return InsertPlan(rows_by_table, self._table_columns, received_at_ms=int(time.time() * 1000))

    def _inserted(self, table: str, rows: int, seconds: float) -> None:
        self.failing_since = None
        self.stats.batches += 1
        self.stats.rows += rows
        self.stats.last_insert_seconds = seconds
        if self._observer:
            self._observer.inserted(table, rows, seconds)

    def _failed(self, table: str, rows: int, error: Exception, delay: float) -> None:
        self.failing_since = self.failing_since or time.time()
        self.stats.failures += 1
        if self._observer:
            self._observer.insert_failed()
        log.error("insert of %d rows into %s failed, retrying in %.1f s (the rows are safe in the write-ahead "
                  "queue): %s", rows, table, delay, error)

    def _wake_settled(self) -> None:
        waiting, self._settle_waiters = self._settle_waiters, []
        for sequence, waiter in waiting:
            if sequence <= self._inserted_sequence:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                self._settle_waiters.append((sequence, waiter))
