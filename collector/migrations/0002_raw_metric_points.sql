-- Raw metric data points: one row per point, delta and cumulative alike (temporality says which), with the
-- series' start time, so the aggregator can turn cumulative points into deltas and detect counter resets.
-- Same-point dedup as for events: point_hash in the sort key of a ReplacingMergeTree.
CREATE TABLE IF NOT EXISTS $database.metric_points $on_cluster
(
    org_id LowCardinality(String),
    timestamp DateTime64(9, 'UTC') COMMENT 'time_unix_nano of the point',
    start_timestamp DateTime64(9, 'UTC') COMMENT 'start_time_unix_nano: start of the series (cumulative) or of the interval (delta)',
    metric_name LowCardinality(String),
    metric_unit LowCardinality(String),
    metric_description LowCardinality(String),
    metric_type LowCardinality(String) COMMENT 'sum, gauge, histogram, exponential_histogram or summary',
    temporality LowCardinality(String) COMMENT 'delta, cumulative, unspecified; empty for gauges and summaries',
    is_monotonic UInt8,
    value Float64 COMMENT 'the point value; the sum for histograms and summaries',
    user_key String,
    user_email String,
    user_account_uuid String,
    user_id String,
    session_id String,
    model LowCardinality(String),
    type LowCardinality(String) COMMENT 'the type attribute: added/removed, input/output/cacheRead/cacheCreation, user/cli',
    tool_name LowCardinality(String),
    decision LowCardinality(String),
    decision_source LowCardinality(String),
    language LowCardinality(String),
    terminal_type LowCardinality(String),
    app_version LowCardinality(String),
    service_name LowCardinality(String),
    service_version LowCardinality(String),
    point_count UInt64 COMMENT 'histogram and summary count',
    point_min Float64,
    point_max Float64,
    bucket_counts Array(UInt64),
    explicit_bounds Array(Float64),
    point_detail String COMMENT 'JSON: exponential histogram buckets, summary quantiles, exemplars',
    flags UInt32,
    attributes Map(LowCardinality(String), String),
    resource_attributes Map(LowCardinality(String), String),
    scope_name LowCardinality(String),
    scope_version LowCardinality(String),
    scope_attributes Map(LowCardinality(String), String),
    received_at DateTime64(3, 'UTC'),
    point_hash UInt64 MATERIALIZED cityHash64(metric_name, temporality, start_timestamp, attributes,
                                              resource_attributes, scope_name, value, point_count, point_detail)
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (org_id, toDate(timestamp), metric_name, user_key, session_id, timestamp, point_hash)
$raw_ttl;
