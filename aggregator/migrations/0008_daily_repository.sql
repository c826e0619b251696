-- One row per (day, org, repository, user key): a member's figures in one repository on one day, rebuilt by
-- each aggregation run with the other rollups (a new version per row, FINAL readers, older versions of rebuilt
-- days deleted). The repository is the raw tables' typed column (owner/name, lower-cased); records that named
-- none are under '' (not reported), so a day's rows add up to the member's daily_user figures.
CREATE TABLE IF NOT EXISTS $database.daily_repository $on_cluster
(
    day Date COMMENT 'in the aggregation time zone',
    org_id LowCardinality(String),
    repository String COMMENT 'owner/name, lower-cased; empty for records that reported no repository',
    user_key String,
    team LowCardinality(String) COMMENT 'the member''s team that day, as in daily_user',
    sessions UInt32 COMMENT 'distinct session.id of the member''s records in the repository that day',
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
    version UInt64 COMMENT 'start of the aggregation run that wrote the row, ns since epoch'
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, repository, user_key);
