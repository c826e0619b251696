"""Claude-Code-shaped telemetry sent through the official OpenTelemetry Python SDK and its OTLP exporters.

The tests' ground truth: what these helpers send is recorded here, independently of the collector's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

METER_NAME = "com.anthropic.claude_code"
EVENT_SCOPE = "com.anthropic.claude_code.events"
CLIENT_VERSION = "2.1.197"


def resource(**extra: str) -> Resource:
    return Resource.create({"service.name": "claude-code", "service.version": CLIENT_VERSION,
                            "os.type": "linux", "host.arch": "amd64", **extra})


def attribute_text(value: object) -> str:
    """How an attribute value of the SDK is expected to read in a Map(String, String) column."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(list(value), separators=(",", ":"))


def text_map(attributes: dict) -> dict[str, str]:
    return {key: attribute_text(value) for key, value in attributes.items()}


def metric_exporter(transport: str, serve, temporality: str):
    preferred = {Counter: AggregationTemporality.DELTA if temporality == "delta"
                 else AggregationTemporality.CUMULATIVE}
    if transport == "grpc":
        return GrpcMetricExporter(endpoint=serve.grpc_endpoint, insecure=True, preferred_temporality=preferred)
    return HttpMetricExporter(endpoint=f"{serve.http_url}/v1/metrics", preferred_temporality=preferred)


def log_exporter(transport: str, serve):
    if transport == "grpc":
        return GrpcLogExporter(endpoint=serve.grpc_endpoint, insecure=True)
    return HttpLogExporter(endpoint=f"{serve.http_url}/v1/logs")


@dataclass
class SentMetrics:
    """Per (metric name, attributes as sorted items): the total added over all exports."""

    totals: dict[tuple, float] = field(default_factory=dict)
    resource_attributes: dict[str, str] = field(default_factory=dict)

    def add(self, counter, name: str, value: float, attributes: dict) -> None:
        counter.add(value, attributes)
        key = (name, tuple(sorted(text_map(attributes).items())))
        self.totals[key] = self.totals.get(key, 0) + value


def send_claude_metrics(exporter, identity: dict, rounds: int = 2) -> SentMetrics:
    """Claude Code's counters, with its attribute shapes, exported once per round (same series every round)."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    sdk_resource = resource(team="payments")
    provider = MeterProvider(resource=sdk_resource, metric_readers=[reader])
    meter = provider.get_meter(METER_NAME, CLIENT_VERSION)
    sessions = meter.create_counter("claude_code.session.count")
    lines = meter.create_counter("claude_code.lines_of_code.count")
    decisions = meter.create_counter("claude_code.code_edit_tool.decision")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    cost = meter.create_counter("claude_code.cost.usage", unit="USD")
    sent = SentMetrics(resource_attributes=text_map(dict(sdk_resource.attributes)))
    model = {"model": "claude-sonnet-4-5-20250929"}
    for round_number in range(1, rounds + 1):
        sent.add(sessions, "claude_code.session.count", 1, {**identity, "start_type": "fresh"})
        sent.add(lines, "claude_code.lines_of_code.count", 7 * round_number, {**identity, **model, "type": "added"})
        sent.add(lines, "claude_code.lines_of_code.count", round_number, {**identity, **model, "type": "removed"})
        sent.add(decisions, "claude_code.code_edit_tool.decision", 1,
                 {**identity, "tool_name": "Write", "decision": "accept", "source": "config", "language": "Python"})
        sent.add(decisions, "claude_code.code_edit_tool.decision", round_number,
                 {**identity, "tool_name": "Edit", "decision": "reject", "source": "user_reject",
                  "language": "TypeScript"})
        sent.add(tokens, "claude_code.token.usage", 1200, {**identity, **model, "type": "input"})
        sent.add(tokens, "claude_code.token.usage", 321, {**identity, **model, "type": "output"})
        sent.add(cost, "claude_code.cost.usage", 0.0125, {**identity, **model})
        assert provider.force_flush(timeout_millis=20_000), "the SDK could not export"
    provider.shutdown()
    return sent


@dataclass
class SentEvent:
    timestamp_ns: int
    name: str
    body: str
    attributes: dict[str, str]


def send_claude_events(exporter, identity: dict, start_ns: int) -> tuple[list[SentEvent], dict[str, str]]:
    """One Claude Code turn as events (mixed attribute types, as versions before 2.1.122 sent them), plus an
    event unknown to this collector."""
    sdk_resource = resource(team="payments", cost_center="42")
    provider = LoggerProvider(resource=sdk_resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger(EVENT_SCOPE, CLIENT_VERSION)
    turn = [
        ("user_prompt", {"prompt_length": "15", "prompt": "<REDACTED>", "prompt.id": "p-1"}),
        ("api_request", {"model": "claude-sonnet-4-5-20250929", "cost_usd": 0.0125, "input_tokens": "1200",
                         "output_tokens": 321, "duration_ms": 850, "prompt.id": "p-1"}),
        ("tool_decision", {"tool_name": "Write", "decision": "accept", "source": "config", "prompt.id": "p-1"}),
        ("tool_result", {"tool_name": "Write", "success": True, "duration_ms": "12", "decision_type": "accept",
                         "decision_source": "config", "prompt.id": "p-1"}),
        ("assistant_response", {"response_length": 5, "model": "claude-sonnet-4-5-20250929", "prompt.id": "p-1"}),
        ("some_future_event", {"tags": ["a", "b"], "ratio": 0.5, "prompt.id": "p-1"}),
    ]
    sent = []
    for sequence, (name, extra) in enumerate(turn):
        timestamp = start_ns + sequence * 1_000_123
        attributes = {**identity, "event.name": name, "event.sequence": sequence, **extra}
        logger.emit(timestamp=timestamp, observed_timestamp=timestamp, body=f"claude_code.{name}",
                    attributes=attributes)
        sent.append(SentEvent(timestamp, name, f"claude_code.{name}", text_map(attributes)))
    assert provider.force_flush(timeout_millis=20_000), "the SDK could not export"
    provider.shutdown()
    return sent, text_map(dict(sdk_resource.attributes))


def span_exporter(transport: str, serve):
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter(endpoint=serve.grpc_endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter(endpoint=f"{serve.http_url}/v1/traces")


def send_claude_trace(exporter, identity: dict) -> list:
    """A parent interaction span with a tool span inside it and an event on the tool span; returns the
    finished SDK spans (ids, times, attributes) as the ground truth."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider(resource=resource())
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    tracer = provider.get_tracer(METER_NAME, CLIENT_VERSION)
    with tracer.start_as_current_span("claude_code.interaction", attributes=identity):
        with tracer.start_as_current_span("claude_code.tool", attributes={**identity, "tool_name": "Write"}) as tool:
            tool.add_event("tool.output", {"bytes": 120})
    provider.shutdown()
    return list(recorded.get_finished_spans())
