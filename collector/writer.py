"""The batch writer: requests hand it rows and wait; it inserts them in bulk, one insert per table per batch.

Group commit: while one insert runs, the rows of new requests gather; the next insert takes them all, after
waiting at most batch_max_delay_ms for company, or at once when batch_max_rows are waiting. max_pending_rows
bounds what may wait; past it, requests are refused so the clients retry later. A request's wait ends only when the insert
holding its rows has returned, so a client is acknowledged only for rows that are in the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

log = logging.getLogger(__name__)

InsertColumns = Callable[[str, Sequence[str], list], None]


class InsertObserver(Protocol):
    def inserted(self, table: str, rows: int, seconds: float) -> None: ...

    def insert_failed(self) -> None: ...


class StoreWriteFailed(RuntimeError):
    """The insert holding a request's rows failed; the client should retry later."""


class WriterOverloaded(RuntimeError):
    """More rows are waiting than the writer holds; the client should retry later."""


@dataclass
class _Pending:
    rows: list = field(default_factory=list)
    waiters: list = field(default_factory=list)


@dataclass
class WriterStats:
    batches: int = 0
    rows: int = 0
    failures: int = 0
    last_insert_seconds: float = 0.0


class BatchWriter:
    def __init__(self, insert_columns: InsertColumns, table_columns: dict[str, Sequence[str]],
                 max_rows: int, max_delay_seconds: float, max_pending_rows: int | None = None,
                 observer: InsertObserver | None = None):
        self._insert_columns = insert_columns
        self._observer = observer
        self._table_columns = table_columns
        self._max_rows = max_rows
        self._max_delay = max_delay_seconds
        self._max_pending_rows = max_pending_rows or 20 * max_rows
        self._pending: dict[str, _Pending] = defaultdict(_Pending)
        self._pending_rows = 0
        self._wakeup = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._flusher: asyncio.Task | None = None
        self.stats = WriterStats()

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    @property
    def max_pending_rows(self) -> int:
        return self._max_pending_rows

    def start(self) -> None:
        self._flusher = asyncio.get_running_loop().create_task(self._flush_forever(), name="batch-writer")

    async def write(self, table: str, rows: list[tuple]) -> None:
        """Returns once the rows are inserted; raises StoreWriteFailed or WriterOverloaded otherwise."""
        if self._closing:
            raise WriterOverloaded("the collector is shutting down")
        if self._pending_rows + len(rows) > self._max_pending_rows and self._pending_rows:
            raise WriterOverloaded(f"{self._pending_rows} rows are waiting for the store")
        done = asyncio.get_running_loop().create_future()
        pending = self._pending[table]
        pending.rows.extend(rows)
        pending.waiters.append(done)
        self._pending_rows += len(rows)
        self._wakeup.set()
        if self._pending_rows >= self._max_rows:
            self._full.set()
        await done

    async def close(self) -> None:
        """Insert everything still pending, then stop."""
        self._closing = True
        self._wakeup.set()
        self._full.set()
        if self._flusher:
            await self._flusher
        self._executor.shutdown(wait=True)

    async def _flush_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            if self._max_delay and not self._closing and self._pending_rows < self._max_rows:
                try:
                    await asyncio.wait_for(self._full.wait(), self._max_delay)
                except asyncio.TimeoutError:
                    pass
            self._wakeup.clear()
            self._full.clear()
            batch, self._pending = self._pending, defaultdict(_Pending)
            self._pending_rows = 0
            for table, pending in batch.items():
                await self._insert(table, pending)
            if self._closing and not self._pending_rows:
                return

    async def _insert(self, table: str, pending: _Pending) -> None:
        columns = list(zip(*pending.rows))
        started = time.perf_counter()
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._insert_columns, table, self._table_columns[table], columns)
        except Exception as error:  # the driver raises many kinds; each means "these rows are not stored"
            self.stats.failures += 1
            if self._observer:
                self._observer.insert_failed()
            log.error("insert of %d rows into %s failed: %s", len(pending.rows), table, error)
            failure = StoreWriteFailed(f"the store did not accept the batch: {error}")
            for waiter in pending.waiters:
                if not waiter.done():
                    waiter.set_exception(failure)
            return
        self.stats.batches += 1
        self.stats.rows += len(pending.rows)
        self.stats.last_insert_seconds = time.perf_counter() - started
        if self._observer:
            self._observer.inserted(table, len(pending.rows), self.stats.last_insert_seconds)
        for waiter in pending.waiters:
            if not waiter.done():
                waiter.set_result(None)
