"""A full write-ahead queue refuses with a retry signal on both transports, says so on /readyz, and takes exports
again once the writer has drained it."""

from __future__ import annotations

import signal

import grpc

from tests.support.exports import post_export
from tests.support.retrying_clients import RetryingClients, address_of, http_export, stored


def test_a_full_queue_refuses_with_retry_signals_then_drains(serve_factory, tmp_path):
    # nothing is inserted while the batch waits for company, so the queue only fills
    serve = serve_factory("--queue-max-bytes", "20000", "--batch-max-delay-ms", "600000", "--aggregate-interval", "0",
                          data_dir=tmp_path / "data")
    factory = RetryingClients(address_of(serve), exports=0).factory
    statuses = [http_export(serve, factory.body("logs", number)) for number in range(40)]
    accepted = sum(status == 200 for status, _ in statuses)
    refused = [headers for status, headers in statuses if status == 503]
    assert 0 < accepted < 40 and len(refused) == 40 - accepted
    assert all(headers.get("Retry-After") == "5" for headers in refused)
    answer = post_export(serve, factory.body("logs", 99), "grpc", signal="logs", timeout=10)
    assert answer.status == grpc.StatusCode.UNAVAILABLE and "write-ahead queue" in answer.details
    status, body = serve.readiness()
    assert status == 503 and any("the write-ahead queue" in problem for problem in body["problems"]), body

    # SIGTERM inserts what was queued; the next start takes exports again
    assert serve.stop(signal.SIGTERM) == 0
    again = serve_factory("--aggregate-interval", "0", data_dir=tmp_path / "data")
    assert stored(again)[0] == accepted * 10
    assert http_export(again, factory.body("logs", 100))[0] == 200 and again.readiness()[0] == 200
