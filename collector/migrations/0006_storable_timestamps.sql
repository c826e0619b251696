-- Defence in depth behind the decoders' own check: a time past 2149-06-06, the last day of ClickHouse's Date,
-- would wrap toDate(timestamp) in the sort key and the TTL and be expired at once, lost without a word. The store
-- refuses such a row instead (VIOLATED_CONSTRAINT), and the writer moves it to dead_letters.
ALTER TABLE $database.events $on_cluster ADD CONSTRAINT IF NOT EXISTS timestamp_storable CHECK timestamp < toDateTime64('2149-06-07 00:00:00', 9, 'UTC');
ALTER TABLE $database.metric_points $on_cluster ADD CONSTRAINT IF NOT EXISTS timestamp_storable CHECK timestamp < toDateTime64('2149-06-07 00:00:00', 9, 'UTC');
ALTER TABLE $database.spans $on_cluster ADD CONSTRAINT IF NOT EXISTS timestamp_storable CHECK timestamp < toDateTime64('2149-06-07 00:00:00', 9, 'UTC');
