-- A min/max index on received_at, so the aggregator can find the days that received records since its last run
-- (late data for an earlier day) without reading every part of the raw tables.
ALTER TABLE $database.events $on_cluster ADD INDEX IF NOT EXISTS received_at_minmax received_at TYPE minmax GRANULARITY 1;
ALTER TABLE $database.metric_points $on_cluster ADD INDEX IF NOT EXISTS received_at_minmax received_at TYPE minmax GRANULARITY 1;
