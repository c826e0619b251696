-- Tokens by type and cost per (day, org, user key, model), from the token.usage and cost.usage metrics only
-- (api_request events describe the same requests and are never added to them).
CREATE TABLE IF NOT EXISTS $database.daily_model $on_cluster
(
    day Date,
    org_id LowCardinality(String),
    user_key String,
    team LowCardinality(String),
    model LowCardinality(String),
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_creation_tokens Int64,
    cost_usd Float64,
    version UInt64
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, user_key, model);
