"""The three OTLP signals, described once for both transports: message types, decoder, paths, response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace

from collector.decode import DecodeContext, DecodedBatch, decode_logs, decode_metrics, decode_traces


@dataclass(frozen=True)
class Signal:
    name: str
    request_type: type[Message]
    response_type: type[Message]
    decode: Callable[[Message, DecodeContext], DecodedBatch]
    grpc_service: str
    http_path: str
    rejected_field: str

    def response(self, rejected: int, message: str) -> Message:
        """The export response; partial_success is set only when something was rejected or changed."""
        response = self.response_type()
        if rejected or message:
            setattr(response.partial_success, self.rejected_field, rejected)
            response.partial_success.error_message = message
        return response


LOGS = Signal("logs", logs.ExportLogsServiceRequest, logs.ExportLogsServiceResponse, decode_logs,
              "opentelemetry.proto.collector.logs.v1.LogsService", "/v1/logs", "rejected_log_records")
METRICS = Signal("metrics", metrics.ExportMetricsServiceRequest, metrics.ExportMetricsServiceResponse,
                 decode_metrics, "opentelemetry.proto.collector.metrics.v1.MetricsService", "/v1/metrics",
                 "rejected_data_points")
TRACES = Signal("traces", trace.ExportTraceServiceRequest, trace.ExportTraceServiceResponse, decode_traces,
                "opentelemetry.proto.collector.trace.v1.TraceService", "/v1/traces", "rejected_spans")

SIGNALS = (LOGS, METRICS, TRACES)
