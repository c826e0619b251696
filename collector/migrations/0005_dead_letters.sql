-- Rows the store refused for good (collector/dead_letter.py): kept with the store's reason, so one bad row never
-- holds back the rest of its batch and an operator can see, fix and re-insert it. row_json is the row as decoded
-- (already redacted), without received_at, so the same row refused again (a replay) collapses to one dead letter.
CREATE TABLE IF NOT EXISTS $database.dead_letters $on_cluster
(
    org_id LowCardinality(String),
    source_table LowCardinality(String) COMMENT 'the raw table that refused the row: events, metric_points, spans',
    user_key String COMMENT 'for erasure: the row of a person purged goes too',
    received_at DateTime64(3, 'UTC') COMMENT 'when the writer tried to store the row',
    reason_kind LowCardinality(String) COMMENT 'ClickHouse error name (VIOLATED_CONSTRAINT, ...), or UNENCODABLE_VALUE',
    reason String COMMENT 'the message of the store or driver',
    row_json String
)
ENGINE = ${engine_prefix}ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (org_id, source_table, cityHash64(row_json));
