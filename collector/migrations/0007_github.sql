-- What GitHub tells us about pull requests and commits (collector/github/), for the contribution figures.
-- No partitions and no TTL: ReplacingMergeTree collapses rows of one key only within a partition, and a webhook
-- redelivered or a PR fetched again weeks later must still collapse to one row. The tables are small (a row per
-- delivery, PR, commit and changed file) and hold no patch, message or body text, only what the figures need.

-- One row per X-GitHub-Delivery: a redelivery repeats the id, so it is stored and counted once.
CREATE TABLE IF NOT EXISTS $database.github_deliveries $on_cluster
(
    org_id LowCardinality(String) COMMENT 'the cc-analytics org of the repository owner, by the github_orgs setting',
    delivery_id String COMMENT 'X-GitHub-Delivery',
    event LowCardinality(String) COMMENT 'X-GitHub-Event: pull_request, push, pull_request_review, ping, ...',
    action LowCardinality(String) COMMENT 'the payload action (opened, closed, ...), empty for push and ping',
    repository String COMMENT 'owner/name, lower-cased; empty when the payload names none',
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
ORDER BY (delivery_id);

-- The latest state of each pull request, from webhooks and the REST API alike: the row with the latest updated_at
-- wins, so an old delivery replayed late never undoes a merge.
CREATE TABLE IF NOT EXISTS $database.github_pull_requests $on_cluster
(
    org_id LowCardinality(String),
    repository String COMMENT 'owner/name, lower-cased',
    number UInt64,
    pr_id UInt64 COMMENT 'GitHub''s id of the pull request',
    author_login String,
    author_id UInt64,
    state LowCardinality(String) COMMENT 'open or closed',
    draft UInt8,
    merged UInt8,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    closed_at DateTime64(3, 'UTC') COMMENT '1970-01-01 while open',
    merged_at DateTime64(3, 'UTC') COMMENT '1970-01-01 unless merged',
    merge_commit_sha String,
    head_sha String,
    head_ref String COMMENT 'the branch merged, without refs/heads/',
    base_ref String,
    body_marker UInt8 COMMENT 'the body holds Claude Code''s "Generated with [Claude Code]" line (the body is not kept)',
    labels Array(String),
    additions UInt64 COMMENT 'as GitHub counts them (every added line); 0 when the payload has no count',
    deletions UInt64,
    changed_files UInt64,
    commits UInt64,
    source LowCardinality(String) COMMENT 'webhook or rest',
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(updated_at)
ORDER BY (org_id, repository, number);

-- One row per commit: who wrote it and whether its message carries Claude Code's trailer (the message is not kept).
CREATE TABLE IF NOT EXISTS $database.github_commits $on_cluster
(
    org_id LowCardinality(String),
    repository String,
    sha String COMMENT '40 hex digits, lower-case',
    author_email String COMMENT 'stored as user.email is: the keyed hash when emails are hashed',
    author_login String COMMENT 'the GitHub login GitHub matched the author to, if any',
    authored_at DateTime64(3, 'UTC'),
    claude_trailer UInt8 COMMENT 'a Co-Authored-By trailer with noreply@anthropic.com',
    parents UInt32 COMMENT 'parent commits (2 for a merge commit); 0 when the source does not say',
    source LowCardinality(String) COMMENT 'push or rest',
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
ORDER BY (org_id, repository, sha);

-- Which commits a push delivered on which branch: without a REST token, a PR's commits are those pushed to its
-- head branch.
CREATE TABLE IF NOT EXISTS $database.github_branch_commits $on_cluster
(
    org_id LowCardinality(String),
    repository String,
    ref String COMMENT 'branch name, without refs/heads/',
    sha String,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
ORDER BY (org_id, repository, ref, sha);

-- The commits of a pull request, from GET /repos/{o}/{r}/pulls/{n}/commits.
CREATE TABLE IF NOT EXISTS $database.github_pull_request_commits $on_cluster
(
    org_id LowCardinality(String),
    repository String,
    number UInt64,
    sha String,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
ORDER BY (org_id, repository, number, sha);

-- The files of a commit, from GET /repos/{o}/{r}/commits/{sha}: counts only, never the patch.
CREATE TABLE IF NOT EXISTS $database.github_commit_files $on_cluster
(
    org_id LowCardinality(String),
    repository String,
    sha String,
    path String,
    status LowCardinality(String) COMMENT 'added, modified, removed, renamed, ... as GitHub says',
    additions UInt64,
    deletions UInt64,
    effective_lines_added UInt64 COMMENT 'added lines that count (collector/github/effective_lines.py); 0 if excluded',
    excluded LowCardinality(String) COMMENT 'why the file does not count (lock file, generated, ...), empty if it does',
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
ORDER BY (org_id, repository, sha, path);

-- Reviews of pull requests (pull_request_review deliveries): kept, not yet part of any figure.
CREATE TABLE IF NOT EXISTS $database.github_pull_request_reviews $on_cluster
(
    org_id LowCardinality(String),
    repository String,
    number UInt64,
    review_id UInt64,
    reviewer_login String,
    state LowCardinality(String) COMMENT 'approved, changes_requested, commented, dismissed',
    submitted_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
ORDER BY (org_id, repository, number, review_id);

-- The REST fetcher's work list, done part: a PR's commits (kind pull_request_commits, ref = its number, head_sha
-- the head they were fetched at) or a commit's files (kind commit_files, ref = the sha) were fetched completely.
-- A merged PR or one of its commits without a row here is still to fetch, after a restart as before it.
CREATE TABLE IF NOT EXISTS $database.github_fetches $on_cluster
(
    org_id LowCardinality(String),
    repository String,
    kind LowCardinality(String) COMMENT 'pull_request_commits or commit_files',
    ref String,
    head_sha String COMMENT 'the PR head the commits were fetched at; empty for commit_files',
    fetched_at DateTime64(3, 'UTC')
)
ENGINE = ${engine_prefix}ReplacingMergeTree(fetched_at)
ORDER BY (org_id, repository, kind, ref, head_sha);
