"""A retryable gRPC refusal carries the server's retry delay as google.rpc.RetryInfo, in both places clients read
it, and the official OpenTelemetry exporter waits that delay between attempts instead of its own backoff."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

from collector.refusals import REFUSALS
from tests.support.refusal_answers import fill_the_queue, http_answer, refused_requests, status_details_retry_delay
from tests.support.exports import post_export
from tests.support.retrying_clients import RetryingClients, address_of
from tests.support.serve_process import ServeProcess

SERVER_DELAY = REFUSALS["unavailable"].retry_delay_seconds
EXPORTER_TIMEOUT_SECONDS = 12  # room for three attempts SERVER_DELAY apart; its own backoff would make four


@pytest.fixture(scope="module")
def full_queue(tmp_path_factory):
    """A serve whose write-ahead queue is full and stays full: nothing is inserted while the batch waits."""
    process = ServeProcess(tmp_path_factory.mktemp("full-queue") / "data", (
        "--queue-max-bytes", "20000", "--batch-max-delay-ms", "600000", "--aggregate-interval", "0",
    )).start()
    fill_the_queue(process, (export_body(process, number) for number in range(1000)))
    yield process
    process.stop()


def export_body(serve, number: int) -> bytes:
    """The protobuf bytes of Claude Code's numbered logs export."""
    return RetryingClients(address_of(serve), exports=0).factory.body("logs", number)


def test_a_refusal_for_a_full_queue_carries_retry_info_in_both_forms(full_queue):
    refused = post_export(full_queue, export_body(full_queue, 2000), "grpc", signal="logs", timeout=10)
    trailing = refused.metadata
    status = status_pb2.Status.FromString(trailing["grpc-status-details-bin"])
    retry_info = error_details_pb2.RetryInfo.FromString(trailing["google.rpc.retryinfo-bin"])

    assert refused.status == grpc.StatusCode.UNAVAILABLE and "write-ahead queue" in refused.details
    assert (status.code, status.message) == (refused.status.value[0], refused.details)
    assert status_details_retry_delay(trailing) == retry_info.retry_delay.ToTimedelta().total_seconds() \
        == SERVER_DELAY
    assert http_answer(full_queue, export_body(full_queue, 2001)).retry_delay == SERVER_DELAY


def test_the_official_exporter_waits_the_servers_retry_delay(full_queue):
    attempts = refused_attempts_while(full_queue, lambda: export_one_record(full_queue))

    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:])]
    # the exporter adds no jitter to a server's delay; without one it waits 1 s, 2 s, 4 s (+/-20%)
    assert len(attempts) == 3 and all(SERVER_DELAY - 0.3 < gap < SERVER_DELAY + 0.6 for gap in gaps), gaps


def export_one_record(serve) -> None:
    exporter = OTLPLogExporter(endpoint=serve.grpc_endpoint, insecure=True, timeout=EXPORTER_TIMEOUT_SECONDS)
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    # larger than the room the filled queue has left, so it is refused however little that is (an identifier:
    # the queue holds rows, and a prompt's row holds only its redaction)
    provider.get_logger("com.anthropic.claude_code.events").emit(
        body="claude_code.user_prompt", attributes={"event.name": "user_prompt", "prompt.id": "x" * 10_000})
    provider.shutdown()


def refused_attempts_while(serve, action) -> list[float]:
    """When (time.monotonic()) the serve counted each gRPC logs export it refused as unavailable during action."""
    attempts: list[float] = []
    done = threading.Event()
    counted = refused_requests(serve, "grpc", "unavailable")

    def watch() -> None:
        nonlocal counted
        while True:
            stopping = done.wait(0.05)  # one more look once action is done: its last attempt may be just before
            now_counted = refused_requests(serve, "grpc", "unavailable")
            attempts.extend([time.monotonic()] * int(now_counted - counted))
            counted = now_counted
            if stopping:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        action()
    finally:
        done.set()
        watcher.join()
    return attempts
