"""The fleet's plumbing into the OpenTelemetry SDK: a simulated clock for backdated metric points, and exporters
that send each batch with the official OTLP exporters to whichever serve runs now, once or twice (a retry)."""

from __future__ import annotations

import calendar
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timezone
from unittest import mock

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import Counter
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter, MetricExportResult


class SimulatedClock:
    """The wall clock the SDK's metric code reads, set by the fleet to the simulated time of each step.

    opentelemetry-sdk 1.45 stamps a point's time_unix_nano with `time_ns()` at collection (metric_reader_storage),
    a series' start_time_unix_nano at its aggregation's creation (_view_instrument_match) and a measurement's time
    in the instruments; each module imported the name `time_ns`, so it is patched there. Deadlines elsewhere keep
    the real clock.
    """

    MODULES = ("opentelemetry.sdk.metrics._internal.metric_reader_storage",
               "opentelemetry.sdk.metrics._internal._view_instrument_match",
               "opentelemetry.sdk.metrics._internal.instrument")

    def __init__(self):
        self.now_ns = 0

    def time_ns(self) -> int:
        return self.now_ns

    def set(self, day: date, hour: int, minute: int = 0) -> None:
        self.now_ns = (calendar.timegm(day.timetuple()) + hour * 3600 + minute * 60) * 10**9

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 10**9)

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.now_ns // 10**9, timezone.utc).date()

    def iso(self) -> str:
        moment = datetime.fromtimestamp(self.now_ns // 10**6 / 1000, timezone.utc)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @contextmanager
    def installed(self):
        with ExitStack() as stack:
            for module in self.MODULES:
                stack.enter_context(mock.patch(f"{module}.time_ns", self.time_ns))
            yield self


class Collector:
    """Where the fleet sends: the serve running now (a restart brings a new one, on new ports)."""

    def __init__(self):
        self.serve = None


def otlp_exporter(signal: str, transport: str, serve):
    """The official OTLP exporter of one signal ("metrics" or "logs") over one transport, to a running serve, with
    the serve's client token if it has one."""
    token = getattr(serve, "token", None)
    headers = {"authorization": f"Bearer {token}"} if token else None
    if transport == "grpc":
        exporter = GrpcMetricExporter if signal == "metrics" else GrpcLogExporter
        return exporter(endpoint=serve.grpc_endpoint, insecure=True, headers=headers)
    exporter = HttpMetricExporter if signal == "metrics" else HttpLogExporter
    return exporter(endpoint=f"{serve.http_url}/v1/{signal}", headers=headers)


def _succeeded(result) -> bool:
    return getattr(result, "name", "") == "SUCCESS"


class FleetMetricExporter(MetricExporter):
    """Sends each batch with an official OTLP exporter to the collector's current serve, `copies` times (a second copy
    is a client retry of the very same request), and keeps the batches for the fleet's self-check."""

    def __init__(self, collector: Collector, transport: str, temporality: str, copies: int):
        counters = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
        # PeriodicExportingMetricReader takes the temporality from its exporter's _preferred_temporality.
        super().__init__(preferred_temporality={Counter: counters})
        self.collector, self.transport, self.copies = collector, transport, copies
        self.exporters: dict[object, MetricExporter] = {}  # per serve: a client reconnects after a restart
        self.batches: list = []
        self.failures: list = []

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        self.batches.append(metrics_data)
        serve = self.collector.serve
        if serve not in self.exporters:
            self.exporters[serve] = otlp_exporter("metrics", self.transport, serve)
        exporter = self.exporters[serve]
        results = [exporter.export(metrics_data, timeout_millis=timeout_millis) for _ in range(self.copies)]
        if not all(map(_succeeded, results)):
            self.failures.append(results)  # the reader swallows failures; the fleet checks this list
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        for exporter in self.exporters.values():
            exporter.shutdown()


class FleetLogExporter(LogRecordExporter):
    """Holds events until the process flushes, then sends them as one request with an official OTLP exporter,
    `copies` times, as Claude Code's batching log processor would."""

    def __init__(self, collector: Collector, transport: str, copies: int):
        self.collector, self.transport, self.copies = collector, transport, copies
        self.pending: list = []
        self.exporters: dict[object, LogRecordExporter] = {}

    def export(self, batch):
        self.pending.extend(batch)
        return LogRecordExportResult.SUCCESS

    def flush(self) -> None:
        serve = self.collector.serve
        if serve not in self.exporters:
            self.exporters[serve] = otlp_exporter("logs", self.transport, serve)
        for _ in range(self.copies if self.pending else 0):
            result = self.exporters[serve].export(self.pending)
            assert _succeeded(result), f"events were not accepted: {result}"
        self.pending = []

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        for exporter in self.exporters.values():
            exporter.shutdown()
