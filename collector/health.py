"""The collector's own health, counted in this process: records in and refused, inserts, the queue, store errors.

Each serve process (each collector replica) has its own registry; Prometheus adds the replicas up. The figures
of Claude Code usage are not kept here: the exporter reads those from the rollups at scrape time.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from collector.refusals import REFUSALS
from collector.signals import SIGNALS
from collector.tables import WRITTEN_TABLE_COLUMNS
from plumbing.metrics_registry import ProcessMetrics

# Inserts of a batch take milliseconds on a healthy store and seconds on a struggling one.
TRANSPORTS = ("grpc", "http")
REQUEST_REFUSALS = tuple(REFUSALS)

INSERT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class CollectorHealth:
    def __init__(self, metrics: ProcessMetrics | None = None, max_orgs: int = 200) -> None:
        self.metrics = metrics or ProcessMetrics()
        registry = self.metrics.registry
        self.records_received = Counter(
            "cc_analytics_collector_records_received", "Records (log records, metric points, spans) stored.",
            ["signal", "transport"], registry=registry)
        self.records_rejected = Counter(
            "cc_analytics_collector_records_rejected",
            "Records refused: invalid (reported in partial_success) or unavailable (the store could not take "
            "the request; the client retries).", ["signal", "transport", "reason"], registry=registry)
        self.requests_rejected = Counter(
            "cc_analytics_collector_requests_rejected",
            "Whole export requests refused: malformed, too_large, unsupported (content type or encoding), "
            "unavailable (store down or queue full), internal.", ["signal", "transport", "reason"], registry=registry)
        self.insert_batches = Counter(
            "cc_analytics_collector_insert_batches", "Batches inserted into the store.", ["table"], registry=registry)
        self.insert_rows = Counter(
            "cc_analytics_collector_insert_rows", "Rows inserted into the store.", ["table"], registry=registry)
        self.insert_seconds = Histogram(
            "cc_analytics_collector_insert_duration_seconds", "Time one batch insert took.", ["table"],
            buckets=INSERT_SECONDS_BUCKETS, registry=registry)
        self.dead_letter_rows = Counter(
            "cc_analytics_collector_dead_letter_rows",
            "Rows the store refused for good (retrying cannot help), by table: moved to the dead_letters table, "
            "with the store's reason, so the rest of their batch is stored.", ["table"], registry=registry)
        self.dead_letter_dropped_rows = Counter(
            "cc_analytics_collector_dead_letter_dropped_rows",
            "Of the rows the store refused for good, those the dead_letters table refused too: dropped, logged.",
            ["table"], registry=registry)
        # Every raw table's series exists from the start, so rate() and increase() see the first dead letter.
        for table in WRITTEN_TABLE_COLUMNS:
            self.dead_letter_rows.labels(table)
            self.dead_letter_dropped_rows.labels(table)
        self.queue_rows = Gauge(
            "cc_analytics_collector_queue_rows", "Rows accepted and waiting for the store.", registry=registry)
        self.queue_capacity_rows = Gauge(
            "cc_analytics_collector_queue_capacity_rows",
            "The most rows that may wait; past it exports are refused for a retry.", registry=registry)
        # Series that exist from the start, at 0, so rate() and increase() have a baseline before the first event.
        for signal in SIGNALS:
            for transport in TRANSPORTS:
                self.records_received.labels(signal.name, transport)
                self.records_rejected.labels(signal.name, transport, "invalid")
                for reason in REQUEST_REFUSALS:
                    self.requests_rejected.labels(signal.name, transport, reason)
        self.orgs_evicted = Counter(
            "cc_analytics_org_last_record_evicted",
            "Orgs dropped from cc_analytics_org_last_record_timestamp_seconds to keep only the --max-label-values "
            "that sent last (any org can send: the map must not grow with them).", registry=registry)
        self._max_orgs = max_orgs
        # Org -> time of its last record, oldest first: the first entries are the ones dropped.
        self._last_record: dict[str, float] = {}
        registry.register(_LastRecordByOrg(self._last_record))

    def last_records(self) -> dict[str, float]:
        """org -> time (unix seconds) of its latest record, of the orgs kept (a copy)."""
        return dict(self._last_record)

    def watch_queue(self, rows: Callable[[], int], capacity: int) -> None:
        self.queue_rows.set_function(rows)
        self.queue_capacity_rows.set(capacity)

    def stored(self, signal: str, transport: str, records: int, orgs: Iterable[str]) -> None:
        self.records_received.labels(signal, transport).inc(records)
        now = time.time()
        for org in orgs:
            self._last_record.pop(org, None)
            self._last_record[org] = now
        self._evict_oldest()

    def seen_before(self, last_record: dict[str, float]) -> None:
        """Seed the time of each org's last record from the store, so a restart does not forget silent orgs."""
        merged = dict(last_record)
        for org, seconds in self._last_record.items():
            merged[org] = max(seconds, merged.get(org, 0.0))
        self._last_record.clear()
        self._last_record.update(sorted(merged.items(), key=lambda item: item[1]))
        self._evict_oldest()

    def _evict_oldest(self) -> None:
        while len(self._last_record) > self._max_orgs:
            del self._last_record[next(iter(self._last_record))]
            self.orgs_evicted.inc()

    def invalid_records(self, signal: str, transport: str, records: int) -> None:
        self.records_rejected.labels(signal, transport, "invalid").inc(records)

    def request_refused(self, signal: str, transport: str, reason: str, records: int = 0) -> None:
        self.requests_rejected.labels(signal, transport, reason).inc()
        if records:
            self.records_rejected.labels(signal, transport, reason).inc(records)

    def inserted(self, table: str, rows: int, seconds: float) -> None:
        self.insert_batches.labels(table).inc()
        self.insert_rows.labels(table).inc(rows)
        self.insert_seconds.labels(table).observe(seconds)

    def insert_failed(self) -> None:
        self.metrics.store_errors.labels("insert").inc()

    def dead_lettered(self, table: str, rows: int) -> None:
        self.dead_letter_rows.labels(table).inc(rows)  # the reason is in the dead_letters table and the log

    def dead_letters_dropped(self, table: str, rows: int) -> None:
        self.dead_letter_dropped_rows.labels(table).inc(rows)


class _LastRecordByOrg:
    """cc_analytics_org_last_record_timestamp_seconds, read from a dict at scrape time (no per-org child
    objects in the request path)."""

    def __init__(self, last_record: dict[str, float]):
        self._last_record = last_record

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("cc_analytics_org_last_record_timestamp_seconds",
                                 "When this collector last stored a record of the organization (unix seconds).",
                                 labels=["org"])

    def describe(self):
        return [self._family()]

    def collect(self):
        family = self._family()
        for org, seconds in sorted(self._last_record.items()):
            family.add_metric([org], seconds)
        return [family]
