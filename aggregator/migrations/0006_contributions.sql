-- The contribution figures (aggregator/contributions/): each merged pull request with its attribution, and the
-- daily figures per member and repository, rebuilt from the github_* tables and the telemetry by each aggregation
-- run like the other rollups (a new version per row, FINAL readers, older versions of rebuilt days deleted).

-- One row per merged pull request: whether it came with Claude Code, and why.
CREATE TABLE IF NOT EXISTS $database.pull_request_attribution $on_cluster
(
    day Date COMMENT 'merge day, in the aggregation time zone',
    org_id LowCardinality(String),
    repository String COMMENT 'owner/name, lower-cased',
    number UInt64,
    merged_at DateTime64(3, 'UTC'),
    author_login String,
    member String COMMENT 'the member''s user_key when the author is matched to one, else github:LOGIN',
    matched_by LowCardinality(String) COMMENT 'email, identity_map, telemetry_session or login (unmatched)',
    team LowCardinality(String),
    level LowCardinality(String) COMMENT 'with_claude_code, assisted or without',
    reason String COMMENT 'the evidence of the level, for people',
    commits UInt32,
    commits_with_claude_code UInt32,
    lines_merged UInt64,
    lines_with_claude_code UInt64,
    lines_basis LowCardinality(String) COMMENT 'effective (REST files fetched) or additions (webhook counts only)',
    version UInt64
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, repository, number);

-- One row per (day, org, team, member, repository): PRs opened that day and PRs merged that day.
CREATE TABLE IF NOT EXISTS $database.daily_contributions $on_cluster
(
    day Date,
    org_id LowCardinality(String),
    team LowCardinality(String),
    member String COMMENT 'user_key, or github:LOGIN for an author matched to no member',
    author_login String,
    repository String,
    prs_opened UInt64,
    prs_merged UInt64,
    prs_merged_with_claude_code UInt64,
    prs_merged_assisted UInt64 COMMENT 'with Claude Code, or by an author with Claude Code sessions in the repository',
    lines_merged UInt64,
    lines_merged_with_claude_code UInt64,
    prs_merged_lines_from_additions UInt64 COMMENT 'merged PRs whose lines are GitHub''s additions (not fetched)',
    version UInt64
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, team, member, repository);
