"""Real Claude Code 2.1.197 export requests (../shared/fixtures) replayed over gRPC, HTTP protobuf and HTTP JSON:
every record lands, with its attributes, nothing lost and nothing counted twice."""

from __future__ import annotations

import json

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from tests.support.exports import JSON, SIGNAL_OF_REQUEST, assert_stored
from tests.support.paths import fixture_files

FILES = fixture_files()
pytestmark = pytest.mark.skipif(not FILES, reason="../shared/fixtures/claude-code-2.1.197 is not present")


@pytest.fixture
def serve(serve_factory):
    # The recordings keep their 2026 timestamps: no retention, so they are never too old to store.
    return serve_factory("--raw-ttl-days", "0")


def any_value_text(value: dict) -> str:
    """The stored text of an OTLP JSON AnyValue, for the scalar kinds Claude Code sends."""
    (kind, scalar), = value.items()
    if kind == "boolValue":
        return "true" if scalar else "false"
    if kind == "doubleValue":
        return repr(float(scalar))
    return str(scalar)


def attributes_of(node: dict) -> tuple:
    return tuple(sorted((a["key"], any_value_text(a["value"])) for a in node.get("attributes", [])))


def expected_events(document: dict) -> list[tuple]:
    return sorted(
        (int(record["timeUnixNano"]), attributes_of(record))
        for resource in document["resourceLogs"] for scope in resource["scopeLogs"] for record in scope["logRecords"]
    )


def expected_points(document: dict) -> list[tuple]:
    points = []
    for resource in document["resourceMetrics"]:
        for scope in resource["scopeMetrics"]:
            for metric in scope["metrics"]:
                for point in metric["sum"]["dataPoints"]:
                    value = float(point.get("asDouble", point.get("asInt", 0)))
                    points.append((metric["name"], int(point["timeUnixNano"]), value, attributes_of(point)))
    return sorted(points)


def stored_events(serve) -> list[tuple]:
    rows = serve.query("SELECT toUnixTimestamp64Nano(timestamp) AS t, attributes FROM events FINAL")
    return sorted((int(row["t"]), tuple(sorted(row["attributes"].items()))) for row in rows)


def stored_points(serve) -> list[tuple]:
    rows = serve.query("SELECT metric_name, toUnixTimestamp64Nano(timestamp) AS t, value, attributes "
                       "FROM metric_points FINAL")
    return sorted((row["metric_name"], int(row["t"]), row["value"], tuple(sorted(row["attributes"].items())))
                  for row in rows)


def send(serve, path, document: dict, protocol: str) -> None:
    """A recorded export as the CLI sent it: gRPC, gzip'd HTTP protobuf, or the recorded OTLP JSON file itself."""
    is_logs = "resourceLogs" in document
    request = ParseDict(document, (logs_service_pb2.ExportLogsServiceRequest if is_logs
                                   else metrics_service_pb2.ExportMetricsServiceRequest)())
    if protocol == "grpc":
        answer = assert_stored(serve, request, "grpc")
        response_type = SIGNAL_OF_REQUEST[type(request)].response_type
        assert not response_type.FromString(answer.body).HasField("partial_success")
    elif protocol == "http/protobuf":
        assert_stored(serve, request, gzipped=True)
    else:
        assert_stored(serve, path.read_bytes(), signal="logs" if is_logs else "metrics", content_type=JSON)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_recorded_claude_code_exports_land_with_nothing_lost(serve, protocol):
    documents = {path: json.loads(path.read_text()) for path in FILES}
    for path, document in documents.items():
        send(serve, path, document, protocol)
    events = sorted(e for d in documents.values() if "resourceLogs" in d for e in expected_events(d))
    points = sorted(p for d in documents.values() if "resourceMetrics" in d for p in expected_points(d))
    assert events and points
    assert stored_events(serve) == events
    assert stored_points(serve) == points


def test_a_replayed_export_is_stored_once(serve):
    """A client retry delivers the same records again, possibly by another protocol: one row each."""
    documents = {path: json.loads(path.read_text()) for path in FILES}
    for protocol in ("grpc", "http/protobuf", "http/json", "grpc"):
        for path, document in documents.items():
            send(serve, path, document, protocol)
    events = sorted(e for d in documents.values() if "resourceLogs" in d for e in expected_events(d))
    assert stored_events(serve) == events
    assert int(serve.scalar("SELECT count() FROM events FINAL")) == len(events)
