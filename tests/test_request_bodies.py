"""Request bodies to export requests: protobuf, OTLP JSON (hex ids), gzip with a hard output limit."""

from __future__ import annotations

import base64
import gzip
import json
import tracemalloc

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.decode.payload import MalformedPayload, PayloadTooLarge, gunzip, parse_json, parse_protobuf

TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"


def otlp_json(document: dict) -> bytes:
    return json.dumps(document).encode()


def test_otlp_json_hex_ids_become_the_right_bytes():
    body = otlp_json({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": TRACE_HEX, "spanId": SPAN_HEX, "parentSpanId": "", "name": "s", "kind": 2,
        "startTimeUnixNano": "1795000000000000000", "endTimeUnixNano": 1795000000000000500,
        "links": [{"traceId": TRACE_HEX, "spanId": SPAN_HEX}],
        "status": {"code": "STATUS_CODE_OK"},
    }]}]}]})
    span = parse_json(body, ExportTraceServiceRequest).resource_spans[0].scope_spans[0].spans[0]
    assert (span.trace_id.hex(), span.span_id.hex(), span.parent_span_id) == (TRACE_HEX, SPAN_HEX, b"")
    assert (span.links[0].trace_id.hex(), span.links[0].span_id.hex()) == (TRACE_HEX, SPAN_HEX)
    assert (span.kind, span.status.code) == (2, 1), "enums as numbers and as names"
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1795000000000000000, 1795000000000000500)


def test_ids_already_in_base64_are_left_alone():
    encoded = base64.b64encode(bytes.fromhex(TRACE_HEX)).decode()
    body = otlp_json({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": encoded}]}]}]})
    record = parse_json(body, ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]
    assert record.trace_id.hex() == TRACE_HEX


def test_unknown_fields_are_ignored_and_snake_case_is_accepted():
    body = otlp_json({"resource_metrics": [{"scope_metrics": [{"metrics": [{"name": "m", "futureField": 1,
                                                                            "sum": {"dataPoints": [{"asInt": "5"}]}}]}]}]})
    metric = parse_json(body, ExportMetricsServiceRequest).resource_metrics[0].scope_metrics[0].metrics[0]
    assert (metric.name, metric.sum.data_points[0].as_int) == ("m", 5)


@pytest.mark.parametrize("body,expected", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (otlp_json({"resourceLogs": "nope"}), "OTLP JSON mapping"),
    (otlp_json({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz" * 16}]}]}]}), "hex"),
])
def test_malformed_json_is_refused_with_a_reason(body, expected):
    with pytest.raises(MalformedPayload, match=expected):
        parse_json(body, ExportLogsServiceRequest)


def test_malformed_protobuf_is_refused_with_the_message_type():
    with pytest.raises(MalformedPayload, match="ExportLogsServiceRequest"):
        parse_protobuf(b"\xff\xff\xff\xff\x0f garbage", ExportLogsServiceRequest)
    assert parse_protobuf(b"", ExportLogsServiceRequest) == ExportLogsServiceRequest()


def test_gunzip_takes_one_or_several_members():
    assert gunzip(gzip.compress(b"hello"), 100) == b"hello"
    assert gunzip(gzip.compress(b"hello ") + gzip.compress(b"world"), 100) == b"hello world"


@pytest.mark.parametrize("body,expected", [
    (gzip.compress(b"x" * 1000)[:-10], "truncated"),
    (b"plain text, not gzip", "not valid gzip"),
])
def test_gunzip_refuses_broken_streams(body, expected):
    with pytest.raises(MalformedPayload, match=expected):
        gunzip(body, 10_000)


def test_gunzip_stops_a_bomb_at_the_limit_without_inflating_it():
    bomb = gzip.compress(b"\0" * 100_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            gunzip(bomb, 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"peak {peak} bytes: the bomb was inflated"
    assert len(gunzip(gzip.compress(b"\0" * 1_000_000), 1_000_000)) == 1_000_000, "exactly the limit is fine"
