"""The collector's pipeline on a test queue directory and the test database, with an insert that counts its calls
and can be held back or fail: what the writer and dead-letter tests build on."""

from __future__ import annotations

import asyncio
import threading
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.decode.privacy import PrivacyPolicy
from collector.health import CollectorHealth
from collector.pipeline import BatchSettings, CollectorPipeline, QueueSettings, build_pipeline
from collector.request_decoder import RequestDecoder
from collector.signals import LOGS
from plumbing.store.client import insert_columns
from plumbing.supervisor import Supervisor

# The writer is tested on values as sent (the `tag` attribute finds rows); redaction has its own tests.
AS_SENT = PrivacyPolicy(store_prompts=True)


def log_request(tag: str, count: int) -> ExportLogsServiceRequest:
    """`count` log records whose attribute `tag` lets a query find them."""
    now_ns = time.time_ns()
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for n in range(count):
        record = scope.log_records.add(time_unix_nano=now_ns + n)
        record.attributes.extend([KeyValue(key="tag", value=AnyValue(string_value=tag)),
                                  KeyValue(key="n", value=AnyValue(int_value=n))])
    return request


def span_request(tag: str, count: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(count):
        scope.spans.add(name=tag, trace_id=bytes(range(16)), span_id=bytes([n + 1] * 8),
                        start_time_unix_nano=time.time_ns())
    return request


def stored(store, tag: str) -> int:
    ((count,),) = store.rows("SELECT count() FROM {db}.events FINAL WHERE attributes['tag'] = {tag:String}",
                             {"tag": tag})
    return count


class RecordingInsert:
    """insert_columns into the test database, counting calls; can hold an insert back or fail it."""

    def __init__(self, store, failures: int = 0, hold: bool = False, seconds_per_insert: float = 0):
        self.store = store
        self.seconds_per_insert = seconds_per_insert
        self.calls: list[tuple[str, int]] = []
        self.failures = failures
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, table, column_names, columns) -> None:
        self.started.set()
        self.release.wait(10)
        time.sleep(self.seconds_per_insert)
        rows = len(columns[0]) if columns else 0
        self.calls.append((table, rows))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("disk full")
        insert_columns(self.store.client, table, column_names, columns, self.store.database)


def pipeline_on(queue_dir, insert: RecordingInsert, max_rows: int = 1000, max_delay_seconds: float = 0.05,
                max_memory_rows: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> CollectorPipeline:
    """The pipeline serve builds, on a queue directory and the test database."""
    return build_pipeline(queue=QueueSettings(str(queue_dir), max_bytes),
                          batches=BatchSettings(max_rows, max_delay_seconds, max_memory_rows),
                          insert_columns=insert, decoder=RequestDecoder(default_org_id="org", privacy=AS_SENT),
                          health=CollectorHealth())


async def export(pipeline: CollectorPipeline, request, signal=LOGS):
    return await pipeline.ingestor.export(signal, request, "test", "grpc")


async def eventually(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return condition()


def running(pipeline: CollectorPipeline, supervisor: Supervisor | None = None) -> CollectorPipeline:
    pipeline.start(supervisor)
    return pipeline
