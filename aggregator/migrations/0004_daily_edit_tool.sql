-- Edit decisions accepted and rejected per (day, org, user key, edit tool, language), from the
-- code_edit_tool.decision metric: the accept rate by tool and by language.
CREATE TABLE IF NOT EXISTS $database.daily_edit_tool $on_cluster
(
    day Date,
    org_id LowCardinality(String),
    user_key String,
    team LowCardinality(String),
    tool_name LowCardinality(String),
    language LowCardinality(String),
    accepted Int64,
    rejected Int64,
    version UInt64
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, user_key, tool_name, language);
