-- Raw spans (Claude Code's traces beta): one row per span, span events and links as parallel arrays.
-- A span resent by a client retry has the same trace and span id, so it collapses to one row.
CREATE TABLE IF NOT EXISTS $database.spans $on_cluster
(
    org_id LowCardinality(String),
    timestamp DateTime64(9, 'UTC') COMMENT 'span start',
    end_timestamp DateTime64(9, 'UTC'),
    duration_ns Int64,
    trace_id String,
    span_id String,
    parent_span_id String,
    trace_state String,
    span_name LowCardinality(String),
    span_kind LowCardinality(String),
    status_code LowCardinality(String),
    status_message String,
    user_key String,
    user_email String,
    user_account_uuid String,
    user_id String,
    session_id String,
    model LowCardinality(String),
    tool_name LowCardinality(String),
    terminal_type LowCardinality(String),
    app_version LowCardinality(String),
    service_name LowCardinality(String),
    service_version LowCardinality(String),
    flags UInt32,
    attributes Map(LowCardinality(String), String),
    resource_attributes Map(LowCardinality(String), String),
    scope_name LowCardinality(String),
    scope_version LowCardinality(String),
    scope_attributes Map(LowCardinality(String), String),
    event_timestamps Array(DateTime64(9, 'UTC')),
    event_names Array(LowCardinality(String)),
    event_attributes Array(Map(LowCardinality(String), String)),
    link_trace_ids Array(String),
    link_span_ids Array(String),
    link_trace_states Array(String),
    link_attributes Array(Map(LowCardinality(String), String)),
    dropped_attributes_count UInt32,
    dropped_events_count UInt32,
    dropped_links_count UInt32,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (org_id, toDate(timestamp), session_id, trace_id, span_id)
$raw_ttl;
