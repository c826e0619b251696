"""Plumbing every layer uses and none owns: the store client and migration runner, bearer tokens, TLS files,
rate-limited logging, the process's metrics registry, and HTTP routes with their access levels. It imports nothing
of collector, aggregator, exporters or cc_analytics, so each of them may import it."""
