-- One row per (day, org, user key): every figure of one member on one day, rebuilt from the raw tables by each
-- aggregation run. A run writes a new version of each row (ReplacingMergeTree on version; readers use FINAL), then
-- deletes the older versions of the days it rebuilt, so re-running changes nothing and history outlives raw rows.
CREATE TABLE IF NOT EXISTS $database.daily_user $on_cluster
(
    day Date COMMENT 'in the aggregation time zone: UTC unless configured',
    org_id LowCardinality(String),
    user_key String COMMENT 'user.email, else user.account_uuid, else user.id',
    user_email String,
    user_account_uuid String,
    user_id String,
    team LowCardinality(String) COMMENT 'the team attribute of the user''s latest record that day',
    terminal_type LowCardinality(String) COMMENT 'the terminal of the user''s latest record that day',
    sessions UInt32 COMMENT 'distinct session.id among the day''s metric points and events',
    session_ids Array(String) COMMENT 'those session ids, so longer periods count a session once',
    lines_accepted Int64,
    lines_removed Int64,
    edits_accepted Int64,
    edits_rejected Int64,
    commits Int64,
    pull_requests Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_creation_tokens Int64,
    cost_usd Float64,
    active_time_user_seconds Float64,
    active_time_cli_seconds Float64,
    prompts UInt64,
    api_requests UInt64,
    api_errors UInt64,
    records UInt64 COMMENT 'metric points and events of the day',
    records_without_email UInt64,
    version UInt64 COMMENT 'start of the aggregation run that wrote the row, ns since epoch'
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, user_key);
