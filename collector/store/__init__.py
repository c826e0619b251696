"""Storage: the ClickHouse client and the migration runner, shared by the collector and the aggregator."""
