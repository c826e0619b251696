-- Raw log records (Claude Code events): one row per record, every attribute kept verbatim in the maps.
-- ReplacingMergeTree on the whole record (record_hash in the sort key): the same record delivered twice by a
-- client retry collapses to one row; readers that must not see the duplicate before a merge use FINAL.
CREATE TABLE IF NOT EXISTS $database.events $on_cluster
(
    org_id LowCardinality(String) COMMENT 'organization.id, else the configured default org',
    timestamp DateTime64(9, 'UTC') COMMENT 'record time; else observed time; else the event.timestamp attribute',
    observed_timestamp DateTime64(9, 'UTC'),
    event_name LowCardinality(String) COMMENT 'event.name attribute, else the LogRecord event_name, else the body after claude_code.',
    user_key String COMMENT 'user.email, else user.account_uuid, else user.id',
    user_email String,
    user_account_uuid String,
    user_id String,
    session_id String,
    prompt_id String,
    model LowCardinality(String),
    tool_name LowCardinality(String),
    decision LowCardinality(String) COMMENT 'decision (tool_decision), else decision_type (tool_result)',
    decision_source LowCardinality(String) COMMENT 'source (tool_decision), else decision_source (tool_result)',
    terminal_type LowCardinality(String),
    app_version LowCardinality(String),
    service_name LowCardinality(String),
    service_version LowCardinality(String),
    severity_number Int32 COMMENT 'as sent: OTLP has it as an open enum, so values no level names are kept too',
    severity_text LowCardinality(String),
    body String,
    trace_id String,
    span_id String,
    flags UInt32,
    attributes Map(LowCardinality(String), String),
    resource_attributes Map(LowCardinality(String), String),
    scope_name LowCardinality(String),
    scope_version LowCardinality(String),
    scope_attributes Map(LowCardinality(String), String),
    dropped_attributes_count UInt32,
    received_at DateTime64(3, 'UTC'),
    record_hash UInt64 MATERIALIZED cityHash64(timestamp, observed_timestamp, event_name, body, attributes,
                                               resource_attributes, scope_name, trace_id, span_id)
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (org_id, toDate(timestamp), event_name, user_key, session_id, timestamp, record_hash)
$raw_ttl;
