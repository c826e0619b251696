"""Rows stored before a restart are there after it: the embedded store is on disk, not in memory."""

import time

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs


def _events(session_id: str, count: int) -> logs_service_pb2.ExportLogsServiceRequest:
    records = [
        LogRecord(time_unix_nano=time.time_ns() + i, attributes=[
            KeyValue(key="event.name", value=AnyValue(string_value="user_prompt")),
            KeyValue(key="session.id", value=AnyValue(string_value=session_id)),
            KeyValue(key="user.email", value=AnyValue(string_value="ada@example.com")),
        ])
        for i in range(count)
    ]
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])])


def test_rows_survive_a_restart_on_the_same_data_dir(serve_factory, tmp_path):
    data_dir = tmp_path / "store"
    first = serve_factory(data_dir=data_dir)
    with grpc.insecure_channel(first.grpc_endpoint) as channel:
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(_events("before", 7))
    assert first.stop() == 0

    second = serve_factory(data_dir=data_dir)
    assert int(second.scalar("SELECT count() FROM events FINAL WHERE session_id = 'before'")) == 7
    with grpc.insecure_channel(second.grpc_endpoint) as channel:
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(_events("after", 3))
    rows = second.query("SELECT session_id, count() AS n FROM events FINAL GROUP BY session_id ORDER BY session_id")
    assert [(row["session_id"], int(row["n"])) for row in rows] == [("after", 3), ("before", 7)]
