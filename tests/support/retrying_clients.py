"""Clients that send numbered Claude-Code-shaped exports over gRPC and HTTP/protobuf until each is acknowledged,
as the OpenTelemetry exporters retry, and the totals of what was acknowledged: the fault tests' ground truth."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc

from benchmarks.claude_requests import RequestFactory
from tests.support.exports import post_export

LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
EVENTS_PER_EXPORT = 10
LINES_ADDED_PER_METRIC_EXPORT = 8  # benchmarks.claude_requests.metric_points: lines_of_code added


class RetryingClients:
    """Sends numbered exports over gRPC and HTTP/protobuf, each until acknowledged, noting which were acknowledged."""

    def __init__(self, serve_address: dict, exports: int):
        self.address = serve_address
        self.factory = RequestFactory(worker=1, now_ns=time.time_ns(), events_per_request=EVENTS_PER_EXPORT)
        self.exports = exports
        self.acknowledged: set[tuple[str, int]] = set()
        self.refused = 0
        self._lock = threading.Lock()

    def send_all(self, workers: int = 8, deadline_seconds: float = 120, per_second: float = 0) -> None:
        """Send every export until acknowledged; with per_second, export n starts n/per_second s in (steady load)."""
        started = time.monotonic()
        deadline = started + deadline_seconds
        jobs = [("metrics" if number % 10 == 0 else "logs", number) for number in range(self.exports)]

        def send(job: tuple[str, int]) -> None:
            if per_second:
                time.sleep(max(0.0, started + job[1] / per_second - time.monotonic()))
            self._send_until_acknowledged(*job, deadline)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(send, jobs))

    def _send_until_acknowledged(self, kind: str, number: int, deadline: float) -> None:
        body = self.factory.body(kind, number)
        while time.monotonic() < deadline:
            try:
                if number % 2:
                    self._send_grpc(kind, body)
                else:
                    self._send_http(kind, body)
            except Exception:  # refused, or the collector is down: retry, as the exporters do
                with self._lock:
                    self.refused += 1
                time.sleep(0.2)
                continue
            with self._lock:
                self.acknowledged.add((kind, number))
            return

    def _send_grpc(self, kind: str, body: bytes) -> None:
        with grpc.insecure_channel(f"{self.address['host']}:{self.address['grpc']}") as channel:
            method = channel.unary_unary(LOGS_METHOD if kind == "logs" else METRICS_METHOD)
            reply = method(body, timeout=5)
        assert reply == b"", reply  # no partial_success: every record kept

    def _send_http(self, kind: str, body: bytes) -> None:
        request = urllib.request.Request(f"http://{self.address['host']}:{self.address['http']}/v1/{kind}", data=body,
                                         headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 200 and reply.read() == b""

    def expected(self) -> tuple[int, int, int]:
        """(events, metric points, lines added) of every acknowledged export."""
        logs = sum(1 for kind, _ in self.acknowledged if kind == "logs")
        metrics = len(self.acknowledged) - logs
        return logs * EVENTS_PER_EXPORT, metrics * 11, metrics * LINES_ADDED_PER_METRIC_EXPORT


def http_export(serve, body: bytes) -> tuple[int, dict]:
    """One OTLP/HTTP protobuf logs export, sent once: the status and headers of the answer."""
    answer = post_export(serve, body, signal="logs", timeout=10)
    return answer.status, answer.metadata


def address_of(serve) -> dict:
    return {"host": serve.host, "grpc": serve.grpc_port, "http": serve.http_port}


def stored(serve) -> tuple[int, int, int]:
    events = int(serve.scalar("SELECT count() FROM events FINAL"))
    points = int(serve.scalar("SELECT count() FROM metric_points FINAL"))
    lines = serve.scalar("SELECT sum(value) FROM metric_points FINAL "
                         "WHERE metric_name = 'claude_code.lines_of_code.count' AND type = 'added'")
    return events, points, int(lines)


def lines_accepted_today(serve) -> int:
    """Lines accepted as the rollups count them (yesterday too, in case the test ran across midnight)."""
    today = datetime.now(timezone.utc).date()
    days = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    serve.api("POST", "/api/v1/aggregate", **days)
    daily = json.loads(serve.api("GET", "/api/v1/daily", **days))
    return sum(row["lines_accepted"] for row in daily["data"])
