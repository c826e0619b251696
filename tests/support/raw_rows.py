"""Rows of the raw tables for rollup tests: records decoded like the collector does, and metric points written
straight into the store, as another writer to a shared ClickHouse (or an older collector) could have left them:
values the decoders refuse, to test that the rollup copes with anything stored."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.decode import DecodeContext, Limits, decode_logs, decode_metrics
from collector.tables import TABLE_COLUMNS
from plumbing.store.client import insert_columns
from tests.support.otlp_messages import export_request

_POINT_DEFAULTS = {
    "org_id": "org-a", "metric_type": "sum", "temporality": "delta", "is_monotonic": 1, "user_key": "ada@example.com",
    "user_email": "ada@example.com", "session_id": "s-1", "model": "", "type": "", "tool_name": "", "decision": "",
    "language": "",
}


def _moment(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 10**9, timezone.utc) + timedelta(microseconds=ns % 10**9 // 1000)


def insert_points(store, points: list[dict]) -> None:
    """Insert metric points given as dicts of columns (name, value, time_ns, start_ns and any column of the
    table), all in one batch."""
    rows = []
    for point in points:
        point = dict(point)
        row = {**_POINT_DEFAULTS, "metric_name": point.pop("name"), "value": point.pop("value"),
               "timestamp": _moment(point.pop("time_ns")), "start_timestamp": _moment(point.pop("start_ns")),
               "received_at": datetime.now(timezone.utc), **point}
        rows.append(row)
    names = list(rows[0])
    insert_columns(store.client, "metric_points", names, [[row[name] for row in rows] for name in names],
                   store.database)


def store_rows(store, metrics=(), events=(), resource: dict | None = None, received_at_ns: int | None = None):
    """Decode like the collector does and insert the rows, as one export request per signal."""
    context = DecodeContext(Limits(), "default", received_at_ns or time.time_ns())
    resource = resource if resource is not None else {"service.name": "claude-code", "team": "payments"}
    for records, request_type, decode in ((list(metrics), ExportMetricsServiceRequest, decode_metrics),
                                          (list(events), ExportLogsServiceRequest, decode_logs)):
        if not records:
            continue
        batch = decode(export_request(request_type, records, resource), context)
        assert not batch.rejected
        columns = list(zip(*batch.rows))
        insert_columns(store.client, batch.table, TABLE_COLUMNS[batch.table], columns, store.database)
