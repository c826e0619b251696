"""Raw metric points written straight into the store, as another writer to a shared ClickHouse (or an older
collector) could have left them: values the decoders refuse, to test that the rollup copes with anything stored."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from plumbing.store.client import insert_columns

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
