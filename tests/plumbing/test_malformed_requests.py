"""A request the HTTP parser refuses costs one warning a minute per kind, not an ERROR with its stack each time."""

from __future__ import annotations

import socket

from tests.support.polling import wait_until

LONG_LINE = b"/" + b"a" * 9_000


def refused(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(64)


def test_malformed_requests_on_both_http_ports_are_answered_400_and_logged_once_per_kind(serve):
    for port in (serve.http_port, serve.api_port):
        for _ in range(20):
            assert refused(port, b"GET " + LONG_LINE + b" HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.0 400")
            assert refused(port, b"GET / HTTP/1.1\r\nHost: x\r\nX: " + LONG_LINE + b"\r\n\r\n").startswith(
                b"HTTP/1.0 400")
    assert wait_until(lambda: "refused a malformed HTTP request" in serve.log_text(), timeout=10)

    log = serve.log_text()
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]
    assert log.count("refused a malformed HTTP request") == 1  # 80 requests of one kind (LineTooLong)
    assert max(map(len, log.splitlines())) < 1_000
    assert serve.readiness()[0] == 200
