"""Bad input against a real serve: every answer is a clear OTLP error or a partial-success count, the good
records beside the bad ones are stored, and the process never dies."""

from __future__ import annotations

import gzip
import http.client
import json
import time

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum

from collector.decode.common import MAX_TIMESTAMP_NS
from tests.support.serve_process import ServeProcess

MAX_REQUEST_BYTES = 1_000_000
MAX_VALUE_LENGTH = 1000
EXPORT_METHODS = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
GARBAGE = b"\xff\xff\xff\xff\x0f this is not protobuf"
NOW_NS = time.time_ns()
DAY_NS = 86_400 * 10**9


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    process = ServeProcess(tmp_path_factory.mktemp("errors") / "data", (
        "--max-request-bytes", str(MAX_REQUEST_BYTES),
        "--max-attribute-value-length", str(MAX_VALUE_LENGTH),
    )).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def still_alive(serve):
    yield
    assert serve.alive(), "serve died:\n" + serve.log_text()


def attribute(key: str, text: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=text))


def events(session_id: str, times: list[int], **extra: str) -> logs_service_pb2.ExportLogsServiceRequest:
    """Events at NOW_NS + t nanoseconds (absolute when t is past the last storable day)."""
    records = [LogRecord(time_unix_nano=t if t > MAX_TIMESTAMP_NS else NOW_NS + t, attributes=[attribute("event.name", "user_prompt"),
                                                       attribute("session.id", session_id),
                                                       *(attribute(k, v) for k, v in extra.items())])
               for t in times]
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])])


def stored_events(serve, session_id: str) -> int:
    return int(serve.scalar(f"SELECT count() FROM events FINAL WHERE session_id = '{session_id}'"))


def post(serve, path: str, body: bytes, headers: dict, chunked: bool = False) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(serve.host, serve.http_port, timeout=30)
    try:
        if chunked:
            connection.request("POST", path, body=iter([body[:10], body[10:]]), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def status_message(body: bytes, content_type: str) -> str:
    if content_type == "application/x-protobuf":
        status = status_pb2.Status()
        status.ParseFromString(body)
        return status.message
    return json.loads(body)["message"]


@pytest.mark.parametrize("signal", sorted(EXPORT_METHODS))
def test_grpc_malformed_protobuf_is_invalid_argument(serve, signal):
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        export = channel.unary_unary(EXPORT_METHODS[signal])
        with pytest.raises(grpc.RpcError) as failure:
            export(GARBAGE, timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid" in failure.value.details()


@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/json"])
@pytest.mark.parametrize("signal", sorted(EXPORT_METHODS))
def test_http_malformed_body_is_400_with_a_status_in_the_request_encoding(serve, signal, content_type):
    status, headers, body = post(serve, f"/v1/{signal}", GARBAGE, {"Content-Type": content_type})
    assert status == 400
    assert headers["Content-Type"].startswith(content_type)
    expected = "is not a valid" if content_type == "application/x-protobuf" else "is not valid JSON"
    assert expected in status_message(body, content_type)


def test_http_unsupported_content_type_is_415(serve):
    status, _, body = post(serve, "/v1/logs", b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    assert "application/x-protobuf" in json.loads(body)["message"]


def test_http_unsupported_content_encoding_is_415(serve):
    status, _, body = post(serve, "/v1/logs", b"xx", {"Content-Type": "application/x-protobuf",
                                                     "Content-Encoding": "br"})
    assert status == 415
    assert "Content-Encoding" in status_message(body, "application/x-protobuf")


def test_http_truncated_gzip_is_400(serve):
    compressed = gzip.compress(events("gz-truncated", [1]).SerializeToString())
    status, _, body = post(serve, "/v1/logs", compressed[:-12], {"Content-Type": "application/x-protobuf",
                                                                  "Content-Encoding": "gzip"})
    assert status == 400
    assert "truncated" in status_message(body, "application/x-protobuf")
    assert stored_events(serve, "gz-truncated") == 0


def test_http_gzip_bomb_is_413_without_storing_anything(serve):
    bomb = gzip.compress(b"\0" * (50 * MAX_REQUEST_BYTES))
    assert len(bomb) < MAX_REQUEST_BYTES
    status, _, body = post(serve, "/v1/logs", bomb, {"Content-Type": "application/x-protobuf",
                                                     "Content-Encoding": "gzip"})
    assert status == 413
    assert str(MAX_REQUEST_BYTES) in status_message(body, "application/x-protobuf")


def test_http_raw_body_over_the_limit_is_413(serve):
    status, _, _ = post(serve, "/v1/logs", b"\0" * (MAX_REQUEST_BYTES + 1), {"Content-Type": "application/x-protobuf"})
    assert status == 413


def test_grpc_message_over_the_limit_is_resource_exhausted(serve):
    request = events("grpc-huge", [1], padding="x" * MAX_REQUEST_BYTES)
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=10)
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/json"])
def test_http_accepts_every_body_framing(serve, content_type, compressed, chunked):
    session = f"framing-{content_type[-4:]}-{compressed}-{chunked}"
    request = events(session, [10, 20, 30])
    body = (request.SerializeToString() if content_type == "application/x-protobuf"
            else json.dumps(MessageToDict(request)).encode())
    headers = {"Content-Type": content_type}
    if compressed:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    status, reply_headers, reply = post(serve, "/v1/logs", body, headers, chunked=chunked)
    assert status == 200
    assert reply_headers["Content-Type"].startswith(content_type)
    if content_type == "application/json":
        assert json.loads(reply) == {}
    else:
        response = logs_service_pb2.ExportLogsServiceResponse()
        response.ParseFromString(reply)
        assert not response.HasField("partial_success")
    assert stored_events(serve, session) == 3


def test_wrong_method_and_unknown_path(serve):
    connection = http.client.HTTPConnection(serve.host, serve.http_port, timeout=10)
    connection.request("GET", "/v1/logs")
    assert connection.getresponse().status == 405
    connection.close()
    status, _, _ = post(serve, "/v1/nothing", b"", {"Content-Type": "application/x-protobuf"})
    assert status == 404


def export_logs(serve, request: logs_service_pb2.ExportLogsServiceRequest):
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        return logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=30)


def test_huge_attribute_value_is_truncated_and_reported(serve):
    request = events("huge-value", [1, 2], model="e" * 300_000)  # an identifier: texts are redacted whole
    response = export_logs(serve, request)
    assert response.partial_success.rejected_log_records == 0
    assert "2 attribute values longer than 1000 characters were truncated" in response.partial_success.error_message
    lengths = serve.query("SELECT length(attributes['model']) AS n FROM events FINAL WHERE session_id = 'huge-value'")
    assert [int(row["n"]) for row in lengths] == [MAX_VALUE_LENGTH, MAX_VALUE_LENGTH]


def test_records_that_cannot_be_stored_are_counted_and_their_neighbours_kept(serve):
    too_late = MAX_TIMESTAMP_NS + 1
    request = events("mixed-logs", [1, too_late, 3, too_late, 5])
    response = export_logs(serve, request)
    assert response.partial_success.rejected_log_records == 2
    assert "past 2149-06-06" in response.partial_success.error_message
    assert stored_events(serve, "mixed-logs") == 3


def test_records_older_than_the_retention_are_refused_not_silently_dropped(serve):
    """The raw tables' TTL (400 days by default) would delete such a record at once: refuse it and say why."""
    request = events("too-old", [0, -401 * DAY_NS, -399 * DAY_NS])
    response = export_logs(serve, request)
    assert response.partial_success.rejected_log_records == 1
    assert "older than the 400-day retention" in response.partial_success.error_message
    assert stored_events(serve, "too-old") == 2


def test_bad_metric_points_are_counted_and_the_good_ones_kept(serve):
    session = attribute("session.id", "mixed-metrics")
    good = Metric(name="claude_code.session.count", sum=Sum(
        aggregation_temporality=1, is_monotonic=True,
        data_points=[NumberDataPoint(time_unix_nano=NOW_NS + 100, as_int=1, attributes=[session]),
                     NumberDataPoint(time_unix_nano=NOW_NS + 200, attributes=[session]),  # no value
                     NumberDataPoint(time_unix_nano=NOW_NS + 300, as_double=2.0, attributes=[session])]))
    nameless = Metric(name="", sum=Sum(data_points=[NumberDataPoint(time_unix_nano=NOW_NS, as_int=1,
                                                                    attributes=[session])]))
    request = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(
        scope_metrics=[ScopeMetrics(metrics=[good, nameless])])])
    body = json.dumps(MessageToDict(request)).encode()
    status, _, reply = post(serve, "/v1/metrics", body, {"Content-Type": "application/json"})
    assert status == 200
    partial = json.loads(reply)["partialSuccess"]
    assert int(partial["rejectedDataPoints"]) == 2
    assert "no name" in partial["errorMessage"] and "neither asInt nor asDouble" in partial["errorMessage"]
    values = serve.query("SELECT value FROM metric_points FINAL WHERE session_id = 'mixed-metrics' ORDER BY timestamp")
    assert [row["value"] for row in values] == [1.0, 2.0]


def test_each_kind_of_rejection_is_logged_once_with_its_reason(serve):
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        export = channel.unary_unary(EXPORT_METHODS["logs"])
        for _ in range(5):
            with pytest.raises(grpc.RpcError):
                export(GARBAGE, timeout=10)
    lines = [line for line in serve.log_text().splitlines() if "rejected gRPC logs export" in line]
    assert len(lines) == 1 and "not a valid ExportLogsServiceRequest" in lines[0]
