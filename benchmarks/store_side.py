"""The chDB side of the ingest benchmark, each function run in a child process of its own (chDB hosts one store per
process and locks its directory): counting what serve stored, and the baseline insert of the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from collector.decode import DecodeContext, Limits
from collector.decode.payload import parse_protobuf
from collector.signals import LOGS, METRICS
from collector.tables import TABLE_COLUMNS

SIGNAL_OF_KIND = {"logs": LOGS, "metrics": METRICS}
TABLE_OF_KIND = {"logs": "events", "metrics": "metric_points"}


def count_stored(data_dir: str, database: str = "cc_analytics") -> dict[str, int]:
    """Rows in the raw tables of a stopped serve's store. Every record sent is unique, so FINAL (which collapses
    client retries) counts exactly the records stored."""
    from plumbing.store.client import StoreTarget, connect

    client = connect(StoreTarget(data_dir=data_dir, database=database))
    try:
        return {table: int(client.command(f"SELECT count() FROM {database}.{table} FINAL"))
                for table in ("events", "metric_points")}
    finally:
        client.close()


@dataclass(frozen=True)
class BaselinePlan:
    data_dir: str
    # (worker, log exports, metric exports) acknowledged: the baseline rebuilds exactly these bodies.
    exports: tuple[tuple[int, int, int], ...]
    now_ns: int
    events_per_request: int
    batch_rows: int
    max_rows: int = 0  # stop after about this many rows (0: all of them)


@dataclass
class BaselineResult:
    rows: dict[str, int]
    batches: int
    insert_seconds: float
    transpose_seconds: float
    decode_seconds: float

    @property
    def rows_per_second(self) -> float:
        return sum(self.rows.values()) / self.insert_seconds if self.insert_seconds else 0.0


class _TimedInserts:
    """Collects decoded rows per table and inserts them column-oriented in batches of batch_max_rows, timing only
    the inserts (and, apart, the transposing the writer also does)."""

    def __init__(self, client, batch_max_rows: int):
        from plumbing.store.client import insert_columns

        self._insert_columns = insert_columns
        self._client = client
        self._batch_max_rows = batch_max_rows
        self._pending: dict[str, list] = {"events": [], "metric_points": []}
        self.rows_seen = 0
        self.result = BaselineResult({"events": 0, "metric_points": 0}, 0, 0.0, 0.0, 0.0)

    def add(self, table: str, rows: list) -> None:
        pending = self._pending[table]
        pending.extend(rows)
        self.rows_seen += len(rows)
        if len(pending) >= self._batch_max_rows:
            self._insert(table, pending[:self._batch_max_rows])
            del pending[:self._batch_max_rows]

    def finish(self) -> BaselineResult:
        for table, pending in self._pending.items():
            if pending:
                self._insert(table, pending)
        return self.result

    def _insert(self, table: str, rows: list) -> None:
        started = time.perf_counter()
        columns = list(zip(*rows))
        transposed = time.perf_counter()
        self._insert_columns(self._client, table, TABLE_COLUMNS[table], columns, "cc_analytics")
        self.result.transpose_seconds += transposed - started
        self.result.insert_seconds += time.perf_counter() - transposed
        self.result.rows[table] += len(rows)
        self.result.batches += 1


def baseline_insert(plan: BaselinePlan) -> BaselineResult:
    """ClickHouse alone: the acknowledged bodies decoded once by the collector's own decoders (not timed), then
    inserted into a fresh chDB store with insert_columns in batches of plan.batch_rows, as the writer does; no
    network."""
    from benchmarks.claude_requests import RequestFactory
    from cc_analytics.config import Settings
    from cc_analytics.store import migrate
    from plumbing.store.client import StoreTarget, connect

    client = connect(StoreTarget(data_dir=plan.data_dir))
    migrate(client, Settings(data_dir=plan.data_dir))
    inserts = _TimedInserts(client, plan.batch_rows)
    context = DecodeContext(Limits(), "default", time.time_ns(), Settings().raw_ttl_days)
    decoding = 0.0
    for worker, log_exports, metric_exports in plan.exports:
        factory = RequestFactory(worker, plan.now_ns, plan.events_per_request)
        for kind, count in (("logs", log_exports), ("metrics", metric_exports)):
            signal = SIGNAL_OF_KIND[kind]
            for number in range(count):
                if plan.max_rows and inserts.rows_seen >= plan.max_rows:
                    break
                started = time.perf_counter()
                batch = signal.decode(parse_protobuf(factory.body(kind, number), signal.request_type), context)
                decoding += time.perf_counter() - started
                inserts.add(batch.table, batch.rows)
    result = inserts.finish()
    result.decode_seconds = decoding
    client.close()
    return result
