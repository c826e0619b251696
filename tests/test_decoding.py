"""Pure decoding: export requests in, rows out, checked column by column (no I/O involved)."""

from __future__ import annotations

import json
import math

from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Exemplar,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from collector.decode import DecodeContext, Limits, decode_logs, decode_metrics, decode_traces
from collector.tables import EVENT_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS
from tests.conftest import FIXTURES

RECEIVED_NS = 1_795_000_000_123_456_789
NOW = DecodeContext(Limits(), "fallback-org", RECEIVED_NS)


def kv(key: str, **value) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def text(key: str, value: str) -> KeyValue:
    return kv(key, string_value=value)


def logs_request(records: list[LogRecord], resource: list[KeyValue] = (), scope=None) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=resource),
        scope_logs=[ScopeLogs(scope=scope or InstrumentationScope(), log_records=records)])])


def metrics_request(metrics: list[Metric], resource: list[KeyValue] = ()) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(
        resource=Resource(attributes=resource), scope_metrics=[ScopeMetrics(metrics=metrics)])])


def event_rows(request, context=NOW) -> list[dict]:
    batch = decode_logs(request, context)
    assert all(len(row) == len(EVENT_COLUMNS) for row in batch.rows)
    return [dict(zip(EVENT_COLUMNS, row)) for row in batch.rows]


def point_rows(request, context=NOW) -> list[dict]:
    batch = decode_metrics(request, context)
    assert all(len(row) == len(METRIC_POINT_COLUMNS) for row in batch.rows)
    return [dict(zip(METRIC_POINT_COLUMNS, row)) for row in batch.rows]


# Attributes -----------------------------------------------------------------------------------------------------

def test_every_attribute_value_type_is_kept_as_text():
    record = LogRecord(time_unix_nano=RECEIVED_NS, attributes=[
        text("s", "plain"), kv("i", int_value=-42), kv("d", double_value=1.5), kv("b", bool_value=True),
        kv("f", bool_value=False), kv("bytes", bytes_value=b"\x00\xff"), KeyValue(key="empty"),
        kv("list", array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=2)])),
        kv("map", kvlist_value=KeyValueList(values=[text("k", "v"), kv("n", double_value=0.25)])),
    ])
    (row,) = event_rows(logs_request([record]))
    assert row["attributes"] == {"s": "plain", "i": "-42", "d": "1.5", "b": "true", "f": "false", "bytes": "AP8=",
                                 "empty": "", "list": '["a",2]', "map": '{"k":"v","n":0.25}'}


def test_resource_and_scope_attributes_are_kept_verbatim():
    scope = InstrumentationScope(name="com.anthropic.claude_code.events", version="2.1.197",
                                 attributes=[text("scope.key", "x")])
    resource = [text("service.name", "claude-code"), text("service.version", "2.1.197"), text("team", "payments")]
    (row,) = event_rows(logs_request([LogRecord(time_unix_nano=RECEIVED_NS)], resource, scope))
    assert row["resource_attributes"] == {"service.name": "claude-code", "service.version": "2.1.197",
                                          "team": "payments"}
    assert (row["service_name"], row["service_version"]) == ("claude-code", "2.1.197")
    assert (row["scope_name"], row["scope_version"], row["scope_attributes"]) == (
        "com.anthropic.claude_code.events", "2.1.197", {"scope.key": "x"})


def test_long_values_are_truncated_and_extra_attributes_dropped_and_both_counted():
    context = DecodeContext(Limits(max_attribute_value_length=5, max_attributes_per_record=3), "o", RECEIVED_NS)
    record = LogRecord(time_unix_nano=RECEIVED_NS, attributes=[
        text("a", "123456789"), text("b", "12345"), text("c", "x"), text("d", "dropped"), text("e", "dropped")])
    batch = decode_logs(logs_request([record]), context)
    assert dict(zip(EVENT_COLUMNS, batch.rows[0]))["attributes"] == {"a": "12345", "b": "12345", "c": "x"}
    assert (batch.truncated_values, batch.dropped_attributes, batch.rejected) == (1, 2, 0)
    assert batch.summary(context.limits) == ("1 attribute values longer than 5 characters were truncated. "
                                             "2 attributes beyond 3 per record were dropped")


# Identity -------------------------------------------------------------------------------------------------------

def identity_row(*attributes: KeyValue, resource: list[KeyValue] = ()) -> dict:
    (row,) = event_rows(logs_request([LogRecord(time_unix_nano=RECEIVED_NS, attributes=attributes)], resource))
    return row


def test_user_key_falls_back_from_email_to_account_uuid_to_user_id():
    full = identity_row(text("user.email", "ada@example.com"), text("user.account_uuid", "acc"), text("user.id", "u"))
    assert (full["user_key"], full["user_email"], full["user_account_uuid"], full["user_id"]) == (
        "ada@example.com", "ada@example.com", "acc", "u")
    assert identity_row(text("user.account_uuid", "acc"), text("user.id", "u"))["user_key"] == "acc"
    assert identity_row(text("user.id", "u"))["user_key"] == "u"
    assert identity_row()["user_key"] == ""


def test_organization_falls_back_to_the_resource_then_the_default():
    assert identity_row(text("organization.id", "org-a"), resource=[text("organization.id", "org-r")])["org_id"] == "org-a"
    assert identity_row(resource=[text("organization.id", "org-r")])["org_id"] == "org-r"
    assert identity_row()["org_id"] == "fallback-org"


def test_identity_on_the_resource_only_is_used():
    row = identity_row(resource=[text("user.email", "res@example.com"), text("session.id", "s-1"),
                                 text("terminal.type", "vscode")])
    assert (row["user_key"], row["session_id"], row["terminal_type"]) == ("res@example.com", "s-1", "vscode")


# Events ---------------------------------------------------------------------------------------------------------

def test_event_name_comes_from_the_attribute_then_the_field_then_the_body():
    records = [
        LogRecord(time_unix_nano=RECEIVED_NS, event_name="ignored", attributes=[text("event.name", "api_request")],
                  body=AnyValue(string_value="claude_code.other")),
        LogRecord(time_unix_nano=RECEIVED_NS, event_name="claude_code.tool_result"),
        LogRecord(time_unix_nano=RECEIVED_NS, body=AnyValue(string_value="claude_code.user_prompt")),
        LogRecord(time_unix_nano=RECEIVED_NS, body=AnyValue(string_value="an ordinary log line")),
    ]
    assert [row["event_name"] for row in event_rows(logs_request(records))] == [
        "api_request", "tool_result", "user_prompt", ""]


def test_event_time_falls_back_to_observed_then_received_time():
    rows = event_rows(logs_request([
        LogRecord(time_unix_nano=RECEIVED_NS - 10, observed_time_unix_nano=RECEIVED_NS - 5),
        LogRecord(observed_time_unix_nano=RECEIVED_NS - 5),
        LogRecord(),
    ]))
    assert [row["timestamp"] for row in rows] == [RECEIVED_NS - 10, RECEIVED_NS - 5, RECEIVED_NS]
    assert rows[0]["received_at"] == RECEIVED_NS // 1_000_000


def test_decision_columns_read_tool_decision_and_tool_result_shapes():
    rows = event_rows(logs_request([
        LogRecord(time_unix_nano=RECEIVED_NS, attributes=[text("decision", "reject"), text("source", "user_reject")]),
        LogRecord(time_unix_nano=RECEIVED_NS, attributes=[text("decision_type", "accept"),
                                                          text("decision_source", "config")]),
    ]))
    assert [(row["decision"], row["decision_source"]) for row in rows] == [("reject", "user_reject"),
                                                                          ("accept", "config")]


def test_structured_body_and_ids_are_kept():
    record = LogRecord(time_unix_nano=RECEIVED_NS, trace_id=bytes(range(16)), span_id=bytes(range(8)), flags=1,
                       severity_number=9, severity_text="INFO",
                       body=AnyValue(kvlist_value=KeyValueList(values=[kv("n", int_value=3)])))
    (row,) = event_rows(logs_request([record]))
    assert row["body"] == '{"n":3}'
    assert (row["trace_id"], row["span_id"]) == (bytes(range(16)).hex(), bytes(range(8)).hex())
    assert (row["severity_number"], row["severity_text"], row["flags"]) == (9, "INFO", 1)


def test_a_record_past_2262_is_rejected_and_its_neighbours_kept():
    batch = decode_logs(logs_request([LogRecord(time_unix_nano=RECEIVED_NS), LogRecord(time_unix_nano=2**63),
                                      LogRecord(time_unix_nano=RECEIVED_NS + 1)]), NOW)
    assert (len(batch.rows), batch.rejected) == (2, 1)
    assert "2262" in batch.summary(NOW.limits)


def test_a_record_older_than_the_retention_is_rejected():
    day = 86_400 * 10**9
    context = DecodeContext(Limits(), "o", RECEIVED_NS, retention_days=10)
    batch = decode_logs(logs_request([LogRecord(time_unix_nano=RECEIVED_NS - 9 * day),
                                      LogRecord(time_unix_nano=RECEIVED_NS - 11 * day)]), context)
    assert (len(batch.rows), batch.rejected) == (1, 1)
    assert "older than the 10-day retention" in batch.summary(context.limits)


# Metrics --------------------------------------------------------------------------------------------------------

def number_point(time_ns: int, start_ns: int = 0, *attributes: KeyValue, **value) -> NumberDataPoint:
    return NumberDataPoint(time_unix_nano=time_ns, start_time_unix_nano=start_ns, attributes=attributes, **value)


def test_sum_points_keep_temporality_start_time_and_typed_attributes():
    attributes = (text("model", "opus"), text("type", "added"), text("tool_name", "Edit"), text("decision", "accept"),
                  text("source", "config"), text("language", "Python"))
    delta = Metric(name="claude_code.lines_of_code.count", unit="", description="lines", sum=Sum(
        aggregation_temporality=1, is_monotonic=True,
        data_points=[number_point(RECEIVED_NS, RECEIVED_NS - 60, *attributes, as_int=7)]))
    cumulative = Metric(name="claude_code.cost.usage", unit="USD", sum=Sum(
        aggregation_temporality=2, is_monotonic=True,
        data_points=[number_point(RECEIVED_NS, RECEIVED_NS - 600, as_double=0.25)]))
    first, second = point_rows(metrics_request([delta, cumulative]))
    assert (first["metric_type"], first["temporality"], first["is_monotonic"], first["value"]) == ("sum", "delta", 1, 7.0)
    assert (first["start_timestamp"], first["timestamp"]) == (RECEIVED_NS - 60, RECEIVED_NS)
    assert (first["model"], first["type"], first["tool_name"], first["decision"], first["decision_source"],
            first["language"]) == ("opus", "added", "Edit", "accept", "config", "Python")
    assert first["metric_description"] == "lines"
    assert (second["temporality"], second["value"], second["metric_unit"]) == ("cumulative", 0.25, "USD")
    assert (second["bucket_counts"], second["point_detail"]) == ([], "")
    assert math.isnan(second["point_min"]) and math.isnan(second["point_max"])


def test_gauge_histogram_exponential_histogram_and_summary_points_are_stored():
    gauge = Metric(name="g", gauge=Gauge(data_points=[number_point(RECEIVED_NS, as_double=3.5)]))
    histogram = Metric(name="h", histogram=Histogram(aggregation_temporality=1, data_points=[HistogramDataPoint(
        time_unix_nano=RECEIVED_NS, count=4, sum=10.0, min=1.0, max=5.0, bucket_counts=[1, 2, 1],
        explicit_bounds=[2.0, 4.0])]))
    exponential = Metric(name="e", exponential_histogram=ExponentialHistogram(
        aggregation_temporality=2, data_points=[ExponentialHistogramDataPoint(
            time_unix_nano=RECEIVED_NS, count=3, sum=6.0, scale=2, zero_count=1,
            positive=ExponentialHistogramDataPoint.Buckets(offset=1, bucket_counts=[1, 1]))]))
    summary = Metric(name="s", summary=Summary(data_points=[SummaryDataPoint(
        time_unix_nano=RECEIVED_NS, count=2, sum=9.0,
        quantile_values=[SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=4.0)])]))
    g, h, e, s = point_rows(metrics_request([gauge, histogram, exponential, summary]))
    assert (g["metric_type"], g["temporality"], g["is_monotonic"], g["value"]) == ("gauge", "", 0, 3.5)
    assert (h["metric_type"], h["value"], h["point_count"], h["point_min"], h["point_max"]) == (
        "histogram", 10.0, 4, 1.0, 5.0)
    assert (h["bucket_counts"], h["explicit_bounds"]) == ([1, 2, 1], [2.0, 4.0])
    assert (e["metric_type"], e["temporality"], e["value"], e["point_count"]) == (
        "exponential_histogram", "cumulative", 6.0, 3)
    assert json.loads(e["point_detail"]) == {"scale": 2, "zero_count": "1",
                                             "positive": {"offset": 1, "bucket_counts": ["1", "1"]}}
    assert (s["metric_type"], s["value"], s["point_count"]) == ("summary", 9.0, 2)
    assert json.loads(s["point_detail"]) == {"quantile_values": [{"quantile": 0.5, "value": 4.0}]}


def test_exemplars_are_kept_in_the_point_detail():
    point = number_point(RECEIVED_NS, as_int=1)
    point.exemplars.append(Exemplar(time_unix_nano=RECEIVED_NS, as_double=1.0, span_id=b"\x01" * 8))
    (row,) = point_rows(metrics_request([Metric(name="m", sum=Sum(data_points=[point]))]))
    assert json.loads(row["point_detail"])["exemplars"][0]["asDouble"] == 1.0


def test_points_of_a_nameless_metric_and_points_without_a_value_are_rejected():
    good = Metric(name="m", sum=Sum(data_points=[number_point(RECEIVED_NS, as_int=1), number_point(RECEIVED_NS)]))
    nameless = Metric(sum=Sum(data_points=[number_point(RECEIVED_NS, as_int=1)] * 3))
    batch = decode_metrics(metrics_request([good, nameless]), NOW)
    assert (len(batch.rows), batch.rejected) == (1, 4)
    message = batch.summary(NOW.limits)
    assert "no name" in message and "neither asInt nor asDouble" in message


def test_a_recorded_claude_code_metrics_export_decodes_point_for_point():
    document = json.loads((FIXTURES / "0002-metrics-grpc.json").read_text())
    rows = point_rows(ParseDict(document, ExportMetricsServiceRequest()),
                      DecodeContext(Limits(), "o", RECEIVED_NS))
    expected = [(metric["name"], float(point.get("asDouble", point.get("asInt", 0))),
                 {a["key"]: next(iter(a["value"].values())) for a in point["attributes"]})
                for resource in document["resourceMetrics"] for scope in resource["scopeMetrics"]
                for metric in scope["metrics"] for point in metric["sum"]["dataPoints"]]
    assert [(row["metric_name"], row["value"], row["attributes"]) for row in rows] == expected
    lines = {row["type"]: row["value"] for row in rows if row["metric_name"] == "claude_code.lines_of_code.count"}
    assert lines == {"added": 8.0, "removed": 0.0}, "a 7-line file: Claude Code 2.1.197 counts N+1"
    (decision,) = [row for row in rows if row["metric_name"] == "claude_code.code_edit_tool.decision"]
    assert (decision["tool_name"], decision["decision"], decision["decision_source"], decision["language"]) == (
        "Write", "accept", "config", "Python")
    assert {row["temporality"] for row in rows} == {"delta"}


# Spans ----------------------------------------------------------------------------------------------------------

def test_spans_keep_ids_kind_status_events_and_links():
    span = Span(trace_id=b"\x0a" * 16, span_id=b"\x0b" * 8, parent_span_id=b"\x0c" * 8, name="claude_code.tool",
                kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=RECEIVED_NS, end_time_unix_nano=RECEIVED_NS + 500,
                attributes=[text("session.id", "s"), text("tool_name", "Bash")],
                status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
                events=[Span.Event(time_unix_nano=RECEIVED_NS + 1, name="retry", attributes=[kv("n", int_value=2)])],
                links=[Span.Link(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, attributes=[text("why", "follows")])])
    bad = Span(trace_id=b"\x01", span_id=b"\x02" * 8, name="bad", start_time_unix_nano=RECEIVED_NS)
    batch = decode_traces(ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        scope_spans=[ScopeSpans(spans=[span, bad])])]), NOW)
    assert batch.rejected == 1 and "16 bytes" in batch.summary(NOW.limits)
    (row,) = [dict(zip(SPAN_COLUMNS, values)) for values in batch.rows]
    assert (row["trace_id"], row["span_id"], row["parent_span_id"]) == ("0a" * 16, "0b" * 8, "0c" * 8)
    assert (row["span_kind"], row["status_code"], row["status_message"]) == ("client", "error", "boom")
    assert (row["duration_ns"], row["session_id"], row["tool_name"]) == (500, "s", "Bash")
    assert (row["event_timestamps"], row["event_names"], row["event_attributes"]) == (
        [RECEIVED_NS + 1], ["retry"], [{"n": "2"}])
    assert (row["link_trace_ids"], row["link_span_ids"], row["link_attributes"]) == (
        ["01" * 16], ["02" * 8], [{"why": "follows"}])


def test_an_unexpected_error_in_one_record_rejects_only_that_record():
    from collector.decode.common import DecodedBatch, append_or_reject

    batch = DecodedBatch("events")
    append_or_reject(batch, "log record", lambda: ("good",))
    append_or_reject(batch, "log record", lambda: {}["missing"])
    append_or_reject(batch, "log record", lambda: ("also good",))
    assert batch.rows == [("good",), ("also good",)]
    assert batch.rejected == 1 and batch.reasons == ["log record: could not be decoded (KeyError: 'missing')"]
