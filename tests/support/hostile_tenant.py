"""A hostile tenant for the tenant-isolation property test: well-formed exports with any values, times, partitions,
cardinalities, attribute orders and retries (built on tests/support/hostile_messages.py), each record stamped with a
probe so the test can tell, per request, whether every record the collector accepted was stored exactly once or
dead-lettered, and nothing it accepted was lost.

The probe is an attribute of the test's own; the collector may redact it like any text it does not know (its stored
form then carries the probe's SHA-256), so both forms are recognised.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import uuid
from dataclasses import dataclass, field

from google.protobuf.json_format import Parse
from google.protobuf.message import Message
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint, Sum
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.decode.common import DAY_NS, MAX_TIMESTAMP_NS
from tests.support.exports import JSON, PROTOBUF, SIGNAL_OF_REQUEST, post_export
from tests.support.fleet_truth import METER_NAME, METRIC_UNITS
from tests.support.hostile_messages import (
    ATTRIBUTES,
    LOG_RECORDS,
    METRICS,
    NOW_NS,
    SPANS,
    TEXT,
    TIMES,
    requests_of,
)
from tests.support.otlp_messages import REQUEST_FIELDS, export_request

PROBE_KEY = "cc_probe"
FIGURE_METRICS = sorted(METRIC_UNITS)
# Values no figure can use, and values a figure can: the hostile org sends both, in the same requests (half of
# them usable, so that accepted hostile records reach the store, the rollup and /metrics).
EXTREME_VALUES = st.one_of(st.sampled_from([0.0, 1.0, 7.0, 12_345.0, 0.5, 1e-300]),
                           st.sampled_from([math.nan, math.inf, -math.inf, 2.0**63 - 1, 2.0**63, 1e300, -1.0,
                                            -2.0**63, 1e11 + 1]))
# Mostly the retention's days and the future (both storable), then far in the past, the last storable day and its
# last nanosecond, day 0, and any time at all.
RETAINED = st.integers(NOW_NS - 390 * DAY_NS, NOW_NS)
SPREAD_TIMES = st.one_of(RETAINED, RETAINED, st.integers(NOW_NS, MAX_TIMESTAMP_NS), TIMES,
                         st.integers(0, MAX_TIMESTAMP_NS), st.just(MAX_TIMESTAMP_NS),
                         st.just(MAX_TIMESTAMP_NS - DAY_NS + 1))
TEAMS = st.one_of(st.just("payments"), TEXT, st.text(alphabet="\n\r\x1b[]{}\"'\\ \x00", max_size=8))


def _claude_point(value: float, time_ns: int, start_ns: int, attributes: list[KeyValue]) -> NumberDataPoint:
    point = NumberDataPoint(time_unix_nano=time_ns, start_time_unix_nano=start_ns, attributes=attributes)
    point.as_double = value
    return point


def _claude_metrics(name: str, temporality: int, points: list[NumberDataPoint]) -> Metric:
    return Metric(name=name, unit=METRIC_UNITS[name],
                  sum=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True))


def _with_identity(attributes: list[KeyValue], member: int, team: str) -> list[KeyValue]:
    """Claude Code's identity attributes, where a member may claim another org (its token decides) or no one."""
    claimed = [KeyValue(key="user.email", value=AnyValue(string_value=f"member{member}@hostile.example")),
               KeyValue(key="session.id", value=AnyValue(string_value=f"session-{member % 7}")),
               KeyValue(key="organization.id", value=AnyValue(string_value="org-acme")),
               KeyValue(key="team", value=AnyValue(string_value=team))]
    return claimed + attributes


CLAUDE_POINTS = st.builds(
    lambda value, time_ns, start_ns, member, team, kind, attributes: _claude_point(
        value, time_ns, start_ns, _with_identity(attributes + [
            KeyValue(key="type", value=AnyValue(string_value=kind))], member, team)),
    EXTREME_VALUES, SPREAD_TIMES, st.one_of(st.just(0), SPREAD_TIMES), st.integers(0, 20), TEAMS,
    st.sampled_from(["added", "removed", "input", "output", "cli", "user", ""]), ATTRIBUTES)
CLAUDE_METRICS = st.builds(_claude_metrics, st.sampled_from(FIGURE_METRICS), st.sampled_from([1, 2, 0, 7]),
                           st.lists(CLAUDE_POINTS, min_size=1, max_size=6))


def _many_series(count: int, months: int, value: float) -> ExportMetricsServiceRequest:
    """One small export of `count` lines points, each its own member and team, spread over `months` months from
    now on (months back would fall out of the retention, and be refused)."""
    points = [_claude_point(value, NOW_NS + (n % months) * 31 * DAY_NS - n * 10**6, 0,
                            _with_identity([KeyValue(key="type", value=AnyValue(string_value="added"))],
                                           n, f"team-{n}"))
              for n in range(count)]
    return export_request(ExportMetricsServiceRequest, [_claude_metrics(
        "claude_code.lines_of_code.count", 1, points)], {"service.name": "claude-code"}, METER_NAME)


HOSTILE_REQUESTS = st.one_of(
    requests_of(ExportLogsServiceRequest, LOG_RECORDS),
    requests_of(ExportMetricsServiceRequest, METRICS),
    requests_of(ExportTraceServiceRequest, SPANS),
    st.builds(lambda metrics, resource: export_request(ExportMetricsServiceRequest, metrics, resource, METER_NAME),
              st.lists(CLAUDE_METRICS, min_size=1, max_size=4), ATTRIBUTES),
    # Cardinality (a team and a member per point) and partitions (a point in each of up to 150 months).
    st.builds(_many_series, st.sampled_from([50, 400, 2_500]), st.sampled_from([1, 13, 150]), EXTREME_VALUES),
)


@dataclass
class Attack:
    """One hostile request, how it is sent, and how often it is sent again (a retry, maybe with its attributes
    in another order)."""

    request: Message
    transport: str  # "grpc", "http" (protobuf) or "http-json"
    resends: int
    reordered: bool
    probes: list[str] = field(default_factory=list)


ATTACKS = st.builds(Attack, HOSTILE_REQUESTS, st.sampled_from(["grpc", "http", "http-json"]), st.integers(0, 2),
                    st.booleans())


def records_of(request: Message):
    """Every record of a request: log records, spans, and each data point of every metric type."""
    if isinstance(request, ExportLogsServiceRequest):
        return [record for block in request.resource_logs for scope in block.scope_logs
                for record in scope.log_records]
    if isinstance(request, ExportTraceServiceRequest):
        return [span for block in request.resource_spans for scope in block.scope_spans for span in scope.spans]
    points = []
    for block in request.resource_metrics:
        for scope in block.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind:
                    points.extend(getattr(metric, kind).data_points)
    return points


def stamp_probes(attack: Attack) -> None:
    """Give every record of the attack a probe of its own, as its last attribute.

    A span is its trace and span ids: a later span with the same ids replaces it, as a retry does. hypothesis
    sends an example again with other probes when it replays or varies it, so a span with valid ids gets new ones
    here (ids of a wrong length stay: those spans are refused)."""
    for record in records_of(attack.request):
        probe = uuid.uuid4()
        record.attributes.append(KeyValue(key=PROBE_KEY, value=AnyValue(string_value=f"probe-{probe.hex}")))
        if isinstance(record, Span) and len(record.trace_id) == 16 and len(record.span_id) == 8:
            record.trace_id, record.span_id = probe.bytes, probe.bytes[:8]
        attack.probes.append(f"probe-{probe.hex}")


def reordered(request: Message) -> Message:
    """The same request with every attribute list in reverse order (a client's other serialisation)."""
    copy = type(request)()
    copy.CopyFrom(request)
    for block in getattr(copy, REQUEST_FIELDS[type(copy)][0]):
        _reverse(block.resource.attributes)
    for record in records_of(copy):
        _reverse(record.attributes)
    return copy


def _reverse(attributes) -> None:
    items = list(attributes)
    del attributes[:]
    attributes.extend(reversed(items))


def send(serve, attack: Attack, token: str) -> int | None:
    """Send the attack and its resends; how many of its records the collector said it accepted (the most any
    answer said: a refused resend accepts nothing new), None if every answer refused the request."""
    accepted = None
    sends = [attack.request] * (1 + attack.resends)
    if attack.reordered:
        sends.append(reordered(attack.request))
    signal = SIGNAL_OF_REQUEST[type(attack.request)]
    for request in sends:
        transport, content_type = ("http", JSON) if attack.transport == "http-json" else (attack.transport, PROTOBUF)
        answer = post_export(serve, request, transport, content_type=content_type, token=token, timeout=60)
        if not answer.ok:
            continue
        response = signal.response_type()
        if content_type == JSON and answer.body:
            Parse(answer.body.decode(), response, ignore_unknown_fields=True)
        else:
            response.ParseFromString(answer.body)
        rejected = getattr(response.partial_success, signal.rejected_field)
        accepted = max(accepted or 0, len(attack.probes) - rejected)
    return accepted


def probe_index(probes) -> dict[str, str]:
    """probe and sha256(probe) -> probe, to recognise a probe stored as it was sent or redacted."""
    return dict(itertools.chain.from_iterable(
        ((probe, probe), (hashlib.sha256(probe.encode()).hexdigest(), probe)) for probe in probes))


def probe_of(stored: str, index: dict[str, str]) -> str | None:
    """The probe a stored text is or holds: the probe itself, or a redaction that carries its SHA-256."""
    for candidate in (stored, *_PROBE_OR_DIGEST.findall(stored)):
        if candidate in index:
            return index[candidate]
    return None


_PROBE_OR_DIGEST = re.compile(r"probe-[0-9a-f]{32}|[0-9a-f]{64}")
