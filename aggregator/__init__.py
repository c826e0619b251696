"""The aggregator: turns raw rows into daily rows and answers questions about them (reports, the read API)."""
