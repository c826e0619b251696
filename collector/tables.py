"""The raw tables and the order of the columns a decoder fills; migrations/ holds their DDL.

A test compares these tuples with the columns ClickHouse reports, so the two cannot drift apart.
"""

from collector.github.tables import GITHUB_TABLE_COLUMNS

IDENTITY_COLUMNS = ("user_key", "user_email", "user_account_uuid", "user_id", "session_id")

EVENT_COLUMNS = (
    "org_id", "timestamp", "observed_timestamp", "event_name",
    *IDENTITY_COLUMNS, "prompt_id",
    "model", "tool_name", "decision", "decision_source",
    "terminal_type", "app_version", "service_name", "service_version",
    "severity_number", "severity_text", "body", "trace_id", "span_id", "flags",
    "attributes", "resource_attributes", "scope_name", "scope_version", "scope_attributes",
    "dropped_attributes_count", "received_at",
)

METRIC_POINT_COLUMNS = (
    "org_id", "timestamp", "start_timestamp",
    "metric_name", "metric_unit", "metric_description", "metric_type", "temporality", "is_monotonic", "value",
    *IDENTITY_COLUMNS,
    "model", "type", "tool_name", "decision", "decision_source", "language",
    "terminal_type", "app_version", "service_name", "service_version",
    "point_count", "point_min", "point_max", "bucket_counts", "explicit_bounds", "point_detail", "flags",
    "attributes", "resource_attributes", "scope_name", "scope_version", "scope_attributes",
    "received_at",
)

SPAN_COLUMNS = (
    "org_id", "timestamp", "end_timestamp", "duration_ns",
    "trace_id", "span_id", "parent_span_id", "trace_state",
    "span_name", "span_kind", "status_code", "status_message",
    *IDENTITY_COLUMNS,
    "model", "tool_name", "terminal_type", "app_version", "service_name", "service_version", "flags",
    "attributes", "resource_attributes", "scope_name", "scope_version", "scope_attributes",
    "event_timestamps", "event_names", "event_attributes",
    "link_trace_ids", "link_span_ids", "link_trace_states", "link_attributes",
    "dropped_attributes_count", "dropped_events_count", "dropped_links_count",
    "received_at",
)

# The raw telemetry tables.
TABLE_COLUMNS = {
    "events": EVENT_COLUMNS,
    "metric_points": METRIC_POINT_COLUMNS,
    "spans": SPAN_COLUMNS,
}

# Every table the writer inserts into from the write-ahead queue: telemetry and what GitHub sends.
WRITTEN_TABLE_COLUMNS = {**TABLE_COLUMNS, **GITHUB_TABLE_COLUMNS}
