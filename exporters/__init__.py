"""Exporters: outputs that publish what the aggregator knows (Prometheus text, CSV, Admin-API JSON, OpenMetrics)."""
