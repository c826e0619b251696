-- Where the rollup timer's scan for late records resumes after a restart: every record received before
-- received_ns is rolled up. A run that leaves late days for later keeps it at the oldest of them, so nothing
-- accepted is skipped. One row is written per run; the latest (version) counts.
CREATE TABLE IF NOT EXISTS $database.rollup_cursor $on_cluster
(
    received_ns Int64 COMMENT 'ns since epoch: records received from here on may still need a rebuild',
    version UInt64 COMMENT 'when the row was written, ns since epoch'
)
ENGINE = ${engine_prefix}ReplacingMergeTree(version)
ORDER BY tuple();
