"""The process's own Prometheus registry, and the store errors every part of the process counts into it.

One registry per serve process (per collector replica): the collector's health, the rollup timer's and the
exporter's read failures all register here, so /metrics renders one registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics

STORE_OPERATIONS = ("insert", "rollup", "read")

# The *_created series of prometheus-client say when a counter was made: noise on every dashboard query.
disable_created_metrics()


class ProcessMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.store_errors = Counter(
            "cc_analytics_store_errors", "Failed store operations: insert, rollup, read.", ["operation"],
            registry=self.registry)
        for operation in STORE_OPERATIONS:
            self.store_errors.labels(operation)
