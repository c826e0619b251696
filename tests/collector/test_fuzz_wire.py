"""Fuzzing a live serve over the wire: mutated real Claude Code exports, arbitrary OTLP records and arbitrary JSON,
over gRPC and HTTP (protobuf, gzip, JSON). The process never dies, every answer is a success or a clear client
error (never an internal one), and a good record beside hostile ones in the same request is stored.

CC_ANALYTICS_FUZZ_EXAMPLES=5000 makes it a long run (the default keeps the suite quick)."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from google.rpc import status_pb2

from tests.support.exports import JSON, PROTOBUF, SIGNAL_OF_REQUEST, post_export
from tests.support.serve_process import ServeProcess
from tests.support.hostile_messages import FUZZ_SETTINGS, JSON_VALUES, LOG_RECORDS, MUTATIONS, RECORDED, mutated

WIRE_SETTINGS = settings(FUZZ_SETTINGS, suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.function_scoped_fixture])
TRANSPORTS = st.sampled_from(["grpc", "http", "http-gzip"])


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    serve = ServeProcess(tmp_path_factory.mktemp("fuzz") / "data", ("--aggregate-interval", "0")).start()
    yield serve
    assert serve.alive(), "serve died under fuzzing:\n" + serve.log_text()[-5000:]
    log = serve.log_text()
    assert "unexpected error" not in log and "Traceback" not in log, log[-5000:]
    assert serve.stop() == 0


def send(serve, request_type, body: bytes, transport: str, content_type: str = PROTOBUF):
    """('ok', response bytes) or ('refused', reason); anything else fails the test."""
    answer = post_export(serve, body, "grpc" if transport == "grpc" else "http",
                         signal=SIGNAL_OF_REQUEST[request_type].name, content_type=content_type,
                         gzipped=transport == "http-gzip")
    if answer.ok:
        return "ok", answer.body
    assert answer.status in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED, 400, 413), answer
    message = answer.details or status_pb2.Status.FromString(answer.body).message
    assert message
    return "refused", message


@WIRE_SETTINGS
@given(recorded=st.sampled_from(RECORDED or [None]), mutations=MUTATIONS, transport=TRANSPORTS)
def test_mutated_claude_code_exports_get_a_clear_answer(live, recorded, mutations, transport):
    request_type, body = recorded
    send(live, request_type, mutated(body, mutations), transport)


@WIRE_SETTINGS
@given(document=JSON_VALUES, request_type=st.sampled_from(list(SIGNAL_OF_REQUEST)))
def test_any_json_body_gets_a_clear_answer(live, document, request_type):
    send(live, request_type, json.dumps(document).encode(), "http", JSON)


def good_record(marker: str) -> LogRecord:
    return LogRecord(time_unix_nano=time.time_ns(), attributes=[
        KeyValue(key="event.name", value=AnyValue(string_value="user_prompt")),
        KeyValue(key="session.id", value=AnyValue(string_value=marker))])


@WIRE_SETTINGS
@given(hostile=st.lists(LOG_RECORDS, min_size=1, max_size=4), transport=TRANSPORTS)
def test_a_good_record_beside_hostile_ones_is_stored(live, hostile, transport):
    marker = uuid.uuid4().hex
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    scope.log_records.extend([*hostile[:2], good_record(marker), *hostile[2:]])
    outcome, answer = send(live, ExportLogsServiceRequest, request.SerializeToString(), transport)
    assert outcome == "ok", answer
    rejected = ExportLogsServiceResponse.FromString(answer).partial_success.rejected_log_records
    assert rejected <= len(hostile)
    assert int(live.scalar(f"SELECT count() FROM events FINAL WHERE session_id = '{marker}'")) == 1
