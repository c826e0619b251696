-- The Usage figures (aggregator/usage.py): one row per (day, org, user key, kind, name), e.g. (skill, pdf),
-- (mcp_server, github), (tool, Bash), (query_source, subagent). uses, successes, failures and duration_ms come
-- from the usage events; cost and tokens from the attribution attributes of the cost.usage and token.usage
-- points only (never from api_request events). Rebuilt by each aggregation run like the other rollups.
CREATE TABLE IF NOT EXISTS $database.daily_usage $on_cluster
(
    day Date,
    org_id LowCardinality(String),
    user_key String,
    team LowCardinality(String) COMMENT 'the member''s team that day, as in daily_user',
    kind LowCardinality(String) COMMENT 'skill, mcp_server, mcp_tool, plugin, agent, query_source, tool, hook, permission_mode, command',
    name String COMMENT 'the skill, server, tool, agent type, ... as Claude Code names it (custom ones may read custom)',
    uses UInt64 COMMENT 'usage events: activations, connections, completions, calls, hooks run, decisions',
    successes UInt64,
    failures UInt64,
    duration_ms Float64 COMMENT 'sum of the events'' duration_ms',
    cost_usd Float64 COMMENT 'cost.usage attributed to it',
    input_tokens Int64,
    output_tokens Int64,
    cache_read_tokens Int64,
    cache_creation_tokens Int64,
    version UInt64
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, kind, name, user_key);
