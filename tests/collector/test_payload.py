"""collector.decode.payload: request bodies (protobuf, OTLP JSON, gzip) -> export requests, or a clear refusal."""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc
import zlib

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.decode import payload
from collector.decode.payload import MalformedPayload, PayloadTooLarge, gunzip, parse_json, parse_protobuf

TRACE_HEX = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_HEX = "00f067aa0ba902b7"
PARENT_HEX = "53995c3f42cd8ad8"
LINK_TRACE_HEX = "0af7651916cd43dd8448eb211c80319c"
LINK_SPAN_HEX = "b7ad6b7169203331"
MB = 1024 * 1024


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def spans_document(span: dict) -> dict:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def only_span(request: ExportTraceServiceRequest) -> Span:
    (span,) = request.resource_spans[0].scope_spans[0].spans
    return span


def sum_document(point: dict, temporality: object) -> dict:
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "claude_code.commit.count", "sum": {"aggregationTemporality": temporality, "isMonotonic": True,
                                                     "dataPoints": [point]}}]}]}]}


# --- protobuf -----------------------------------------------------------------------------------------------------

def test_parse_protobuf_round_trips_a_request():
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=123, severity_text="INFO")
    record.body.string_value = "claude_code.user_prompt"

    assert parse_protobuf(request.SerializeToString(), ExportLogsServiceRequest) == request


def test_parse_protobuf_of_an_empty_body_is_an_empty_request():
    assert parse_protobuf(b"", ExportMetricsServiceRequest) == ExportMetricsServiceRequest()


@pytest.mark.parametrize("garbage", [
    pytest.param(b"\xff\xff\xff\xff", id="invalid-tag"),
    pytest.param(b"this is not protobuf at all", id="text"),
    pytest.param(b"\x0a\x05ab", id="length-past-the-end"),
    pytest.param(ExportLogsServiceRequest(resource_logs=[{"schema_url": "x" * 50}]).SerializeToString()[:-10],
                 id="truncated-message"),
])
def test_parse_protobuf_refuses_garbage(garbage):
    with pytest.raises(MalformedPayload, match="ExportLogsServiceRequest"):
        parse_protobuf(garbage, ExportLogsServiceRequest)


# --- JSON: ids ----------------------------------------------------------------------------------------------------

def test_hex_trace_span_and_parent_ids_become_bytes():
    document = spans_document({"traceId": TRACE_HEX, "spanId": SPAN_HEX, "parentSpanId": PARENT_HEX, "name": "s",
                               "links": [{"traceId": LINK_TRACE_HEX, "spanId": LINK_SPAN_HEX}]})

    span = only_span(parse_json(body(document), ExportTraceServiceRequest))

    assert span.trace_id == bytes.fromhex(TRACE_HEX)
    assert span.span_id == bytes.fromhex(SPAN_HEX)
    assert span.parent_span_id == bytes.fromhex(PARENT_HEX)
    assert span.links[0].trace_id == bytes.fromhex(LINK_TRACE_HEX)
    assert span.links[0].span_id == bytes.fromhex(LINK_SPAN_HEX)


def test_uppercase_hex_ids_are_accepted():
    document = spans_document({"traceId": TRACE_HEX.upper(), "spanId": SPAN_HEX.upper()})

    span = only_span(parse_json(body(document), ExportTraceServiceRequest))

    assert (span.trace_id, span.span_id) == (bytes.fromhex(TRACE_HEX), bytes.fromhex(SPAN_HEX))


def test_hex_ids_of_log_records_and_exemplars_become_bytes():
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": TRACE_HEX, "spanId": SPAN_HEX}]}]}]}
    record = parse_json(body(logs), ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]
    metrics = sum_document({"asInt": "1", "exemplars": [{"asInt": "1", "traceId": TRACE_HEX, "spanId": SPAN_HEX}]},
                           "AGGREGATION_TEMPORALITY_DELTA")
    point = parse_json(body(metrics), ExportMetricsServiceRequest) \
        .resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]

    assert (record.trace_id, record.span_id) == (bytes.fromhex(TRACE_HEX), bytes.fromhex(SPAN_HEX))
    assert (point.exemplars[0].trace_id, point.exemplars[0].span_id) == (bytes.fromhex(TRACE_HEX),
                                                                         bytes.fromhex(SPAN_HEX))


def test_base64_ids_from_protobuf_json_mapping_still_work():
    # 16 bytes in base64 are 24 characters and 8 bytes 12: never mistaken for hex
    trace_id, span_id = bytes(range(16)), bytes(range(100, 108))
    document = spans_document({"traceId": base64.b64encode(trace_id).decode(),
                               "spanId": base64.b64encode(span_id).decode()})

    span = only_span(parse_json(body(document), ExportTraceServiceRequest))

    assert (span.trace_id, span.span_id) == (trace_id, span_id)


def test_empty_ids_stay_empty():
    span = only_span(parse_json(body(spans_document({"traceId": "", "spanId": "", "name": "s"})),
                                ExportTraceServiceRequest))

    assert (span.trace_id, span.span_id, span.name) == (b"", b"", "s")


def test_attribute_named_like_an_id_is_left_alone():
    attribute = {"key": "traceId", "value": {"stringValue": TRACE_HEX}}
    span = only_span(parse_json(body(spans_document({"attributes": [attribute]})), ExportTraceServiceRequest))

    assert span.attributes[0].value.string_value == TRACE_HEX


def test_id_of_hex_length_that_is_not_hex_is_refused():
    document = spans_document({"traceId": "z" * 32, "spanId": SPAN_HEX})

    with pytest.raises(MalformedPayload, match="hex"):
        parse_json(body(document), ExportTraceServiceRequest)


# --- JSON: enums, 64-bit integers, unknown fields -----------------------------------------------------------------

@pytest.mark.parametrize("kind", [2, "SPAN_KIND_SERVER"])
def test_span_kind_as_number_or_name(kind):
    span = only_span(parse_json(body(spans_document({"kind": kind})), ExportTraceServiceRequest))

    assert span.kind == Span.SPAN_KIND_SERVER


@pytest.mark.parametrize("temporality", [1, "AGGREGATION_TEMPORALITY_DELTA"])
def test_temporality_as_number_or_name(temporality):
    request = parse_json(body(sum_document({"asInt": "1"}, temporality)), ExportMetricsServiceRequest)

    metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.sum.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


@pytest.mark.parametrize("severity", [9, "SEVERITY_NUMBER_INFO"])
def test_severity_as_number_or_name(severity):
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": severity}]}]}]}

    record = parse_json(body(document), ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]

    assert record.severity_number == 9


@pytest.mark.parametrize("time, value", [
    pytest.param("1795577745573000000", "-42", id="strings"),
    pytest.param(1795577745573000000, -42, id="numbers"),
])
def test_64_bit_integers_as_strings_or_numbers(time, value):
    document = sum_document({"timeUnixNano": time, "startTimeUnixNano": time, "asInt": value}, 1)

    point = parse_json(body(document), ExportMetricsServiceRequest) \
        .resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]

    assert (point.time_unix_nano, point.start_time_unix_nano, point.as_int) == (
        1_795_577_745_573_000_000, 1_795_577_745_573_000_000, -42)


def test_unknown_fields_are_ignored_at_every_level():
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityText": "INFO", "newField": {"x": 1}}],
                                                 "someFutureThing": [1, 2]}],
                                  "resource": {"attributes": [], "entityRefs": []}}],
                "topLevelExtension": True}

    request = parse_json(body(document), ExportLogsServiceRequest)

    assert request.resource_logs[0].scope_logs[0].log_records[0].severity_text == "INFO"


def test_unknown_enum_name_is_ignored_like_an_unknown_field():
    # a newer protocol version may add enum values; the record is kept, without the value this version cannot name
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": "SEVERITY_NUMBER_LOUDER",
                                                                  "severityText": "LOUDER"}]}]}]}

    record = parse_json(body(document), ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]

    assert (record.severity_number, record.severity_text) == (0, "LOUDER")


def test_snake_case_field_names_are_accepted_too():
    document = {"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": TRACE_HEX, "span_id": SPAN_HEX}]}]}]}

    span = only_span(parse_json(body(document), ExportTraceServiceRequest))

    assert (span.trace_id, span.span_id) == (bytes.fromhex(TRACE_HEX), bytes.fromhex(SPAN_HEX))


# --- JSON: refusals -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    pytest.param(b"{not json", "not valid JSON", id="syntax"),
    pytest.param(b"", "not valid JSON", id="empty"),
    pytest.param(b'{"resourceLogs": "\xc3"}', "not valid JSON", id="invalid-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "not valid JSON", id="nested-too-deep"),
    pytest.param(b"[]", "list", id="array"),
    pytest.param(b'"resourceLogs"', "str", id="string"),
    pytest.param(b"null", "NoneType", id="null"),
    pytest.param(b"42", "int", id="number"),
])
def test_body_that_is_not_a_json_object_is_refused(raw, message):
    with pytest.raises(MalformedPayload, match=message) as refused:
        parse_json(raw, ExportLogsServiceRequest)

    assert str(refused.value)


@pytest.mark.parametrize("document", [
    pytest.param({"resourceLogs": "nope"}, id="list-expected"),
    pytest.param({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]},
                 id="integer-expected"),
    pytest.param({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "18446744073709551616"}]}]}]},
                 id="integer-out-of-range"),
    pytest.param({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityText": 5}]}]}]}, id="string-expected"),
    pytest.param({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": 5}]}]}]}, id="id-not-a-string"),
    pytest.param({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"spanId": "!!not base64!!"}]}]}]},
                 id="id-neither-hex-nor-base64"),
])
def test_wrong_types_are_refused_with_a_message(document):
    with pytest.raises(MalformedPayload, match="ExportLogsServiceRequest") as refused:
        parse_json(body(document), ExportLogsServiceRequest)

    assert "OTLP JSON" in str(refused.value)


# --- gzip ---------------------------------------------------------------------------------------------------------

def zeros_gzip(size: int, chunk: int = MB) -> bytes:
    """A gzip member of `size` zero bytes, built chunk by chunk so the test itself never holds `size` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    parts = [compressor.compress(zeros) for _ in range(size // chunk)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gunzip_single_member():
    data = b"OTLP " * 1000

    assert gunzip(gzip.compress(data), limit=len(data)) == data


def test_gunzip_concatenated_members():
    assert gunzip(gzip.compress(b"first,") + gzip.compress(b"") + gzip.compress(b"second"), limit=100) == \
        b"first,second"


def test_gunzip_of_many_members_reads_each_compressed_byte_a_bounded_number_of_times(monkeypatch):
    # Decompressing each member from a copy of everything after it was quadratic: 3.2 MB of empty members took
    # 12 s on the event loop. Counted in bytes handed to zlib, not timed.
    body = gzip.compress(b"", 9) * 20_000 + gzip.compress(b"last")
    handed = []
    real_decompressobj = zlib.decompressobj

    class Counting:
        def __init__(self, *args):
            self._real = real_decompressobj(*args)

        def decompress(self, data, max_length=0):
            handed.append(len(data))
            return self._real.decompress(data, max_length)

        def __getattr__(self, name):
            return getattr(self._real, name)

    monkeypatch.setattr(payload.zlib, "decompressobj", Counting)
    assert gunzip(body, limit=MB) == b"last"
    assert sum(handed) < 20 * len(body)


def test_gunzip_of_a_large_member_after_tiny_ones_is_whole():
    data = bytes(range(256)) * 20_000
    assert gunzip(gzip.compress(b"") * 100 + gzip.compress(data) + gzip.compress(b"!"), limit=MB * 8) == data + b"!"


def test_gunzip_output_exactly_at_the_limit_is_accepted():
    assert gunzip(gzip.compress(b"x" * 64), limit=64) == b"x" * 64


@pytest.mark.parametrize("compressed", [
    pytest.param(gzip.compress(b"y" * 65), id="one-member"),
    pytest.param(gzip.compress(b"y" * 40) + gzip.compress(b"y" * 25), id="members-together"),
])
def test_gunzip_output_over_the_limit_is_too_large(compressed):
    with pytest.raises(PayloadTooLarge, match="64"):
        gunzip(compressed, limit=64)


@pytest.mark.parametrize("cut", [1, 4, 20])
def test_gunzip_truncated_stream_is_malformed(cut):
    compressed = gzip.compress(bytes(range(256)) * 10)

    with pytest.raises(MalformedPayload, match="gzip"):
        gunzip(compressed[:-cut], limit=MB)


@pytest.mark.parametrize("raw", [
    pytest.param(b"plain text, not gzip", id="text"),
    pytest.param(zlib.compress(b"zlib, not gzip"), id="zlib-stream"),
    pytest.param(gzip.compress(b"ok") + b"trailing garbage", id="trailing-garbage"),
])
def test_gunzip_of_something_else_is_malformed(raw):
    with pytest.raises(MalformedPayload, match="gzip"):
        gunzip(raw, limit=MB)


def test_gunzip_refuses_a_gzip_bomb_without_inflating_it():
    bomb = zeros_gzip(100 * MB)
    assert len(bomb) < MB  # a hundred megabytes of zeros compress a thousandfold

    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            gunzip(bomb, limit=MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * MB
