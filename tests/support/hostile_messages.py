"""Hostile but valid OTLP messages for property tests: every AnyValue kind nested, extreme integers and times, NaN
and infinities, ids of wrong length, open enum values, every metric type; arbitrary JSON; real Claude Code exports
and byte mutations of them."""

from __future__ import annotations

import json
import os
import time

from google.protobuf.json_format import ParseDict
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Exemplar,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.decode.common import DAY_NS, MAX_TIMESTAMP_NS
from tests.support.otlp_messages import export_request
from tests.support.paths import fixture_files

NOW_NS = time.time_ns()
# CC_ANALYTICS_FUZZ_EXAMPLES=5000 for a long run; the default keeps the suite quick.
FUZZ_SETTINGS = settings(max_examples=int(os.environ.get("CC_ANALYTICS_FUZZ_EXAMPLES", "120")), deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])

INT32 = st.integers(-2**31, 2**31 - 1)
UINT32 = st.integers(0, 2**32 - 1)
INT64 = st.integers(-2**63, 2**63 - 1)
UINT64 = st.integers(0, 2**64 - 1)
TEXT = st.text(max_size=50)
# Mostly what a client sends, often what it should not: each strategy leans to storable values so that most
# examples reach the insert, and keeps the extremes in reach.
RECENT = st.integers(NOW_NS - 420 * DAY_NS, NOW_NS + DAY_NS)
TIMES = st.one_of(RECENT, RECENT, RECENT, st.just(0), UINT64,
                  st.integers(MAX_TIMESTAMP_NS - DAY_NS, MAX_TIMESTAMP_NS + DAY_NS))
TRACE_IDS = st.sampled_from([16] * 6 + [0, 8, 20]).flatmap(lambda size: st.binary(min_size=size, max_size=size))
SPAN_IDS = st.sampled_from([8] * 6 + [0, 16, 9]).flatmap(lambda size: st.binary(min_size=size, max_size=size))
SEVERITIES = st.integers(0, 24) | st.integers(0, 24) | INT32
KEYS = st.sampled_from(["user.email", "user.account_uuid", "user.id", "session.id", "organization.id", "model",
                        "type", "tool_name", "decision", "source", "language", "event.name", "terminal.type",
                        "app.version", "service.name", "prompt.id", "team"]) | TEXT

SCALARS = st.one_of(
    TEXT.map(lambda text: AnyValue(string_value=text)),
    st.booleans().map(lambda flag: AnyValue(bool_value=flag)),
    INT64.map(lambda number: AnyValue(int_value=number)),
    st.floats().map(lambda number: AnyValue(double_value=number)),
    st.binary(max_size=10).map(lambda raw: AnyValue(bytes_value=raw)),
    st.just(AnyValue()),
)
ANY_VALUES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=3).map(lambda values: AnyValue(array_value=ArrayValue(values=values))),
    st.lists(st.tuples(KEYS, children), max_size=3).map(lambda pairs: AnyValue(
        kvlist_value=KeyValueList(values=[KeyValue(key=key, value=value) for key, value in pairs]))),
), max_leaves=8)
ATTRIBUTES = st.lists(st.builds(KeyValue, key=KEYS, value=ANY_VALUES), max_size=7)

LOG_RECORDS = st.builds(
    LogRecord, time_unix_nano=TIMES, observed_time_unix_nano=TIMES, severity_number=SEVERITIES, severity_text=TEXT,
    body=ANY_VALUES, attributes=ATTRIBUTES, dropped_attributes_count=UINT32, flags=UINT32, trace_id=TRACE_IDS,
    span_id=SPAN_IDS, event_name=TEXT)

EXEMPLARS = st.lists(st.builds(Exemplar, filtered_attributes=ATTRIBUTES, time_unix_nano=TIMES,
                               as_double=st.floats(), span_id=SPAN_IDS, trace_id=TRACE_IDS), max_size=2)


def number_point(value_kind: str, value, **fields) -> NumberDataPoint:
    point = NumberDataPoint(**fields)
    if value_kind:
        setattr(point, value_kind, value)
    return point


NUMBER_POINTS = st.builds(
    number_point, value_kind=st.sampled_from(["as_double", "as_int", ""]), value=st.integers(-2**53, 2**53),
    time_unix_nano=TIMES, start_time_unix_nano=TIMES, attributes=ATTRIBUTES, flags=UINT32, exemplars=EXEMPLARS)
HISTOGRAM_POINTS = st.builds(
    HistogramDataPoint, time_unix_nano=TIMES, start_time_unix_nano=TIMES, attributes=ATTRIBUTES, count=UINT64,
    sum=st.floats(), bucket_counts=st.lists(UINT64, max_size=4), explicit_bounds=st.lists(st.floats(), max_size=3),
    min=st.floats(), max=st.floats(), flags=UINT32, exemplars=EXEMPLARS)
EXPONENTIAL_POINTS = st.builds(
    ExponentialHistogramDataPoint, time_unix_nano=TIMES, start_time_unix_nano=TIMES, attributes=ATTRIBUTES,
    count=UINT64, sum=st.floats(), scale=INT32, zero_count=UINT64, zero_threshold=st.floats(), flags=UINT32,
    positive=st.builds(ExponentialHistogramDataPoint.Buckets, offset=INT32, bucket_counts=st.lists(UINT64, max_size=3)),
    negative=st.builds(ExponentialHistogramDataPoint.Buckets, offset=INT32, bucket_counts=st.lists(UINT64, max_size=3)))
SUMMARY_POINTS = st.builds(
    SummaryDataPoint, time_unix_nano=TIMES, start_time_unix_nano=TIMES, attributes=ATTRIBUTES, count=UINT64,
    sum=st.floats(), flags=UINT32, quantile_values=st.lists(st.builds(
        SummaryDataPoint.ValueAtQuantile, quantile=st.floats(), value=st.floats()), max_size=3))
POINT_LISTS = st.lists(NUMBER_POINTS, max_size=3)
METRIC_DATA = st.one_of(
    st.builds(lambda points, temporality, monotonic: {"sum": Sum(
        data_points=points, aggregation_temporality=temporality, is_monotonic=monotonic)},
        POINT_LISTS, INT32, st.booleans()),
    st.builds(lambda points: {"gauge": Gauge(data_points=points)}, POINT_LISTS),
    st.builds(lambda points, temporality: {"histogram": Histogram(data_points=points,
                                                                  aggregation_temporality=temporality)},
              st.lists(HISTOGRAM_POINTS, max_size=3), INT32),
    st.builds(lambda points, temporality: {"exponential_histogram": ExponentialHistogram(
        data_points=points, aggregation_temporality=temporality)}, st.lists(EXPONENTIAL_POINTS, max_size=3), INT32),
    st.builds(lambda points: {"summary": Summary(data_points=points)}, st.lists(SUMMARY_POINTS, max_size=3)),
    st.just({}),
)
METRICS = st.builds(lambda name, unit, description, data: Metric(name=name, unit=unit, description=description, **data),
                    st.sampled_from(["claude_code.lines_of_code.count", "claude_code.token.usage", ""]) | TEXT,
                    TEXT, TEXT, METRIC_DATA)

SPANS = st.builds(
    Span, trace_id=TRACE_IDS, span_id=SPAN_IDS, parent_span_id=SPAN_IDS, trace_state=TEXT, name=TEXT, kind=INT32,
    start_time_unix_nano=TIMES, end_time_unix_nano=TIMES, attributes=ATTRIBUTES, dropped_attributes_count=UINT32,
    dropped_events_count=UINT32, dropped_links_count=UINT32, flags=UINT32,
    status=st.builds(Status, message=TEXT, code=INT32),
    events=st.lists(st.builds(Span.Event, time_unix_nano=TIMES, name=TEXT, attributes=ATTRIBUTES,
                              dropped_attributes_count=UINT32), max_size=2),
    links=st.lists(st.builds(Span.Link, trace_id=TRACE_IDS, span_id=SPAN_IDS, trace_state=TEXT, attributes=ATTRIBUTES,
                             dropped_attributes_count=UINT32, flags=UINT32), max_size=2))


def requests_of(request_type, records):
    return st.builds(export_request, st.just(request_type), st.lists(records, min_size=1, max_size=4), ATTRIBUTES,
                     TEXT, TEXT, ATTRIBUTES)


def _recorded_bodies() -> list[tuple[type, bytes]]:
    """The real Claude Code exports in ../shared/fixtures, as the protobuf bodies the CLI sent."""
    bodies = []
    for path in fixture_files():
        request_type = ExportLogsServiceRequest if "-logs-" in path.name else ExportMetricsServiceRequest
        bodies.append((request_type, ParseDict(json.loads(path.read_text()), request_type()).SerializeToString()))
    return bodies


RECORDED = _recorded_bodies()
MUTATIONS = st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "delete"]), st.integers(0, 10**6),
                               st.integers(0, 255)), min_size=1, max_size=4)


def mutated(body: bytes, mutations) -> bytes:
    data = bytearray(body)
    for operation, where, byte in mutations:
        at = where % (len(data) + 1)
        if operation == "flip" and at < len(data):
            data[at] ^= byte or 1
        elif operation == "cut":
            del data[at:]
        elif operation == "insert":
            data[at:at] = bytes([byte])
        elif operation == "delete" and at < len(data):
            del data[at]
    return bytes(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["SPAN_KIND_SERVER", "AGGREGATION_TEMPORALITY_DELTA", "0af7651916cd43dd8448eb211c80319c"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from([
        "resourceLogs", "resourceMetrics", "resourceSpans", "scopeLogs", "scopeMetrics", "scopeSpans", "logRecords",
        "metrics", "spans", "sum", "dataPoints", "asInt", "asDouble", "attributes", "key", "value", "stringValue",
        "kvlistValue", "arrayValue", "values", "timeUnixNano", "traceId", "spanId", "kind", "name", "body",
    ]) | st.text(max_size=8), children, max_size=4),
    max_leaves=25)
