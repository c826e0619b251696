"""The decoding workers behind a real serve: a full decoding queue refuses with the retry signals on both
transports (backpressure, never a timeout or a 500) and takes requests again once drained; a worker killed while
it decodes is replaced, and the request it held is answered retryably, never left hanging."""

from __future__ import annotations

import gzip
import os
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest

from tests.support.exports import post_export
from tests.support.hostile_bodies import tiny_points_request
from tests.support.polling import wait_until
from tests.support.refusal_answers import grpc_answer, http_answer
from tests.support.retrying_clients import RetryingClients, address_of

# One worker and room for one request: while it decodes 800,000 points (seconds), every other request is refused.
ONE_WORKER_NO_ROOM = ("--decode-workers", "1", "--decode-queue-bytes", "1000",
                      "--max-records-per-request", "1000000", "--aggregate-interval", "0")


@pytest.fixture(scope="module")
def slow_body() -> bytes:
    return gzip.compress(tiny_points_request())


def _sent_in_a_thread(serve, body: bytes) -> tuple[threading.Thread, list]:
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(post_export(
        serve, body, "http", signal="metrics", headers={"Content-Encoding": "gzip"}, timeout=120)), daemon=True)
    thread.start()
    return thread, answers


def _decoding_workers(serve) -> list[int]:
    """The pids of serve's decoding worker processes (multiprocessing's spawned children)."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == serve.process.pid and b"--multiprocessing-fork" in command:
            workers.append(int(entry.name))
    return workers


def test_a_full_decoding_queue_refuses_with_retry_signals_then_takes_requests_again(serve_factory, slow_body):
    serve = serve_factory(*ONE_WORKER_NO_ROOM)
    factory = RetryingClients(address_of(serve), exports=0).factory
    slow, slow_answers = _sent_in_a_thread(serve, slow_body)
    time.sleep(1)  # read and held by the decoders

    over_http = http_answer(serve, factory.body("logs", 1))
    over_grpc = grpc_answer(serve, factory.body("logs", 2))
    assert (over_http.code, over_http.retry_delay, over_http.retryable) == (503, 1, True), over_http
    assert (over_grpc.code, over_grpc.retry_delay, over_grpc.retryable) == (grpc.StatusCode.UNAVAILABLE, 1, True)
    assert "decoders hold" in over_http.message and "retry later" in over_grpc.message
    assert serve.readiness()[0] == 200  # the port and the API answer meanwhile

    slow.join(120)
    assert slow_answers[0].ok, slow_answers
    assert post_export(serve, factory.body("logs", 3), "grpc", signal="logs").ok
    assert post_export(serve, factory.body("logs", 4), "http", signal="logs").ok


def test_a_killed_worker_is_replaced_and_its_request_answered_to_retry(serve_factory, slow_body):
    serve = serve_factory(*ONE_WORKER_NO_ROOM)
    factory = RetryingClients(address_of(serve), exports=0).factory
    [worker] = _decoding_workers(serve)
    slow, slow_answers = _sent_in_a_thread(serve, slow_body)
    time.sleep(1)  # being decoded

    os.kill(worker, signal.SIGKILL)
    slow.join(10)
    [answer] = slow_answers
    assert (answer.status, answer.metadata.get("Retry-After")) == (503, "1"), answer
    assert wait_until(lambda: post_export(serve, factory.body("logs", 1), "http", signal="logs").ok, timeout=30)
    [replacement] = _decoding_workers(serve)
    assert replacement != worker
    assert post_export(serve, factory.body("logs", 2), "grpc", signal="logs").ok
    assert "a decoding worker stopped" in serve.log_text()
