-- One row per (day, org): the organization's figures on one day. Distinct counts (active users, sessions) are
-- computed from the raw rows, not summed from daily_user, so a session seen under two user keys counts once.
CREATE TABLE IF NOT EXISTS $database.daily_org $on_cluster
(
    day Date,
    org_id LowCardinality(String),
    active_users UInt32 COMMENT 'distinct user keys with at least one metric point or event that day',
    sessions UInt32,
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
    records UInt64,
    records_without_email UInt64,
    version UInt64
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day);
