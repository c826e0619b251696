"""Real Claude Code 2.1.197 and 2.1.332 export requests (../shared/fixtures) replayed over gRPC, HTTP protobuf and
HTTP JSON, and each over the protocol it was recorded on: every record lands, with its attributes (2.1.332's bool
`anthropic.custom_base_url` as `true`, its array `managed_settings.sources` as JSON text, what a person typed
redacted), nothing lost and nothing counted twice."""

from __future__ import annotations

import hashlib
import json

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from tests.support.exports import JSON, SIGNAL_OF_REQUEST, assert_stored
from tests.support.paths import FIXTURE_VERSIONS, fixture_files

VERSIONS = [pytest.param(version, marks=pytest.mark.skipif(not fixture_files(version),
                                                           reason=f"../shared/fixtures/claude-code-{version} is absent"))
            for version in FIXTURE_VERSIONS]
# What a person typed: stored as its length and hash unless --store-prompts (2.1.332 sends the prompt as prompt_text;
# both versions send `prompt` as the client's own placeholder, which is kept as sent).
TYPED = {"prompt", "prompt_text"}
CLIENT_PLACEHOLDER = "<REDACTED>"
PROTOCOL_OF_NAME = {"grpc": "grpc", "http-protobuf": "http/protobuf", "http-json": "http/json"}


@pytest.fixture
def serve(serve_factory):
    # The recordings keep their 2026 timestamps: no retention, so they are never too old to store.
    return serve_factory("--raw-ttl-days", "0")


def plain(value: dict):
    """An OTLP JSON AnyValue as a plain value (the kinds Claude Code sends: scalars and arrays of them)."""
    (kind, inner), = value.items()
    if kind == "arrayValue":
        return [plain(item) for item in inner.get("values", [])]
    if kind == "intValue":
        return int(inner)
    if kind == "doubleValue":
        return float(inner)
    return inner


def any_value_text(value: dict) -> str:
    """The stored text of an OTLP JSON AnyValue: booleans true/false, doubles as Python writes them, arrays as
    compact JSON, strings as sent."""
    scalar = plain(value)
    if isinstance(scalar, bool):
        return "true" if scalar else "false"
    if isinstance(scalar, list):
        return json.dumps(scalar, separators=(",", ":"), ensure_ascii=False)
    return repr(scalar) if isinstance(scalar, float) else str(scalar)


def stored_text(key: str, text: str) -> str:
    if key in TYPED and text and text != CLIENT_PLACEHOLDER:
        return f"<redacted length={len(text)} sha256={hashlib.sha256(text.encode()).hexdigest()}>"
    return text


def attributes_of(node: dict) -> tuple:
    return tuple(sorted((a["key"], stored_text(a["key"], any_value_text(a["value"])))
                        for a in node.get("attributes", [])))


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
    """A recorded export as the CLI sent it: gRPC, gzip'd HTTP protobuf, or the recorded OTLP JSON file itself;
    "recorded": over the protocol the file's name says it came on."""
    if protocol == "recorded":
        protocol = PROTOCOL_OF_NAME[path.stem.split("-", 2)[2]]
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


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json", "recorded"])
def test_recorded_claude_code_exports_land_with_nothing_lost(serve, version, protocol):
    documents = {path: json.loads(path.read_text()) for path in fixture_files(version)}
    for path, document in documents.items():
        send(serve, path, document, protocol)
    events = sorted(e for d in documents.values() if "resourceLogs" in d for e in expected_events(d))
    points = sorted(p for d in documents.values() if "resourceMetrics" in d for p in expected_points(d))
    assert events and points
    assert stored_events(serve) == events
    assert stored_points(serve) == points


@pytest.mark.parametrize("version", VERSIONS)
def test_a_replayed_export_is_stored_once(serve, version):
    """A client retry delivers the same records again, possibly by another protocol: one row each."""
    documents = {path: json.loads(path.read_text()) for path in fixture_files(version)}
    for protocol in ("grpc", "http/protobuf", "http/json", "grpc"):
        for path, document in documents.items():
            send(serve, path, document, protocol)
    events = sorted(e for d in documents.values() if "resourceLogs" in d for e in expected_events(d))
    assert stored_events(serve) == events
    assert int(serve.scalar("SELECT count() FROM events FINAL")) == len(events)


def test_2_1_332_bool_array_and_typed_attributes_are_stored_as_documented(serve):
    """The kinds 2.1.332 added: a bool on every record, an (empty) array on managed_settings_resolved, the prompt's
    placeholder; each as the README says it is stored."""
    files = fixture_files("2.1.332")
    if not files:
        pytest.skip("../shared/fixtures/claude-code-2.1.332 is absent")
    for path in files:
        send(serve, path, json.loads(path.read_text()), "recorded")
    assert serve.query("SELECT DISTINCT attributes['anthropic.custom_base_url'] AS v FROM metric_points FINAL") == [
        {"v": "true"}]
    assert serve.query("SELECT DISTINCT attributes['managed_settings.sources'] AS v FROM events FINAL "
                       "WHERE event_name = 'managed_settings_resolved'") == [{"v": "[]"}]
    # Recorded without OTEL_LOG_USER_PROMPTS: the CLI sent its placeholder, kept as sent (a text would be redacted).
    texts = [row["v"] for row in serve.query(
        "SELECT attributes['prompt_text'] AS v FROM events FINAL WHERE event_name = 'user_prompt'")]
    assert len(texts) == 24 and set(texts) == {CLIENT_PLACEHOLDER}, texts
