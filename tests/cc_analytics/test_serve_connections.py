"""Idle connections and slow clients against a real serve cannot take its file descriptors: while thousands of
idle connections and a slowloris sit on every port, a steady client's exports are answered, the store takes them,
an aggregation runs, and the server closes the idle and slow connections within its timeouts."""

from __future__ import annotations

import http.client
import resource
import threading
import time
from datetime import datetime, timezone

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.support.claude_records import event, identity
from tests.support.exports import ExportAnswer, post_export
from tests.support.idle_connections import SlowlorisClient, close_all, closed_by_server, open_connections
from tests.support.otlp_messages import export_request
from tests.support.polling import wait_until

pytestmark = pytest.mark.slow

MAX_CONNECTIONS = 1000
HEADER_TIMEOUT = 3
IDLE_TIMEOUT = 5
IDLE_PER_HTTP_PORT = 2100  # with the gRPC port's, 5,000 idle connections in all
IDLE_ON_GRPC_PORT = 800  # below the cap: gRPC refuses new connections at it, it cannot close idle ones
SLACK_SECONDS = 3
STEADY_ANSWER_BOUND_SECONDS = 5


class SteadyClient(threading.Thread):
    """Exports one log record over OTLP/HTTP and one over OTLP/gRPC every 100 ms, on new connections each time."""

    def __init__(self, serve):
        super().__init__(daemon=True)
        self.serve = serve
        self.answers: list[tuple[str, ExportAnswer, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            for transport in ("http", "grpc"):
                request = export_request(ExportLogsServiceRequest, [event(
                    "user_prompt", time.time_ns(), **identity(session=f"steady-{len(self.answers)}"))])
                started = time.monotonic()
                answer = post_export(self.serve, request, transport, timeout=30)
                self.answers.append((transport, answer, time.monotonic() - started))

    def stop(self) -> list[tuple[str, ExportAnswer, float]]:
        self.stopping.set()
        self.join()
        return self.answers


def test_idle_and_slow_connections_are_closed_while_a_steady_client_is_answered(serve_factory):
    today = datetime.now(timezone.utc).date().isoformat()
    serve = serve_factory("--max-connections", str(MAX_CONNECTIONS), "--header-timeout", str(HEADER_TIMEOUT),
                          "--idle-timeout", str(IDLE_TIMEOUT), "--aggregate-interval", "1")
    steady = SteadyClient(serve)
    steady.start()
    keep_alive = http.client.HTTPConnection("127.0.0.1", serve.api_port, timeout=10)
    keep_alive.request("GET", "/readyz")
    assert keep_alive.getresponse().read()
    answered = time.monotonic()
    slowloris = [SlowlorisClient(port, give_up_after=HEADER_TIMEOUT + 20) for port in (serve.http_port, serve.api_port)]
    for client in slowloris:
        client.start()
    idle, opened = {}, {}
    try:
        for port, count in ((serve.http_port, IDLE_PER_HTTP_PORT), (serve.api_port, IDLE_PER_HTTP_PORT),
                            (serve.grpc_port, IDLE_ON_GRPC_PORT)):
            idle[port] = open_connections(port, count)
            opened[port] = time.monotonic()

        for port in (serve.http_port, serve.api_port):
            assert len(closed_by_server(idle[port], within=1)) >= IDLE_PER_HTTP_PORT - MAX_CONNECTIONS, \
                "connections past the cap were not closed at once"
        assert serve.readiness()[0] == 200
        serve.api("POST", "/api/v1/aggregate", **{"from": today, "to": today})
        for port, connections in idle.items():
            closed = closed_by_server(connections, within=opened[port] + HEADER_TIMEOUT + SLACK_SECONDS
                                      - time.monotonic())
            assert len(closed) == len(connections), f"{len(connections) - len(closed)} idle connections to port " \
                                                    f"{port} still open after the header timeout"
        for client in slowloris:
            client.join()
            assert client.bytes_sent >= 1
            assert client.closed_after is not None and client.closed_after < HEADER_TIMEOUT + SLACK_SECONDS
        keep_alive.sock.setblocking(False)
        assert [closed - answered for closed in closed_by_server([keep_alive.sock], within=IDLE_TIMEOUT
                                                                 + SLACK_SECONDS).values()], \
            "an idle keep-alive connection was not closed after the idle timeout"
    finally:
        answers = steady.stop()
        for connections in idle.values():
            close_all(connections)
        keep_alive.close()

    assert len(answers) >= 20
    assert [(transport, answer.status) for transport, answer, _ in answers if not answer.ok] == []
    assert max(seconds for _, _, seconds in answers) < STEADY_ANSWER_BOUND_SECONDS
    assert wait_until(lambda: int(serve.scalar(
        "SELECT count() FROM events FINAL WHERE session_id LIKE 'steady-%'")) == len(answers))
    grpc_surplus = open_connections(serve.grpc_port, MAX_CONNECTIONS + 50)
    try:
        assert len(closed_by_server(grpc_surplus, within=1)) >= 50, "gRPC connections past the cap stayed open"
    finally:
        close_all(grpc_surplus)
    serve.api("POST", "/api/v1/aggregate", **{"from": today, "to": today})
    assert serve.alive()
    assert "Too many open files" not in serve.log_text()
    assert "Traceback" not in serve.log_text()


def test_serve_raises_the_open_file_limit_to_the_hard_limit_and_shares_it_between_the_ports(serve_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard open-file limit to raise to")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
    try:
        serve = serve_factory()  # inherits the low soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert f"open-file limit {hard}; at most {hard // 2 // 3} connections on each of the 3 ports" in serve.log_text()
