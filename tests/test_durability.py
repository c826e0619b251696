"""An acknowledged export is never lost, and a retried one never counted twice: real serve processes killed with
SIGKILL before and during inserts, restarted on the same data directory, with clients that retry what was not
acknowledged, as the OpenTelemetry exporters do."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc

from benchmarks.claude_requests import RequestFactory

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

    def send_all(self, workers: int = 8, deadline_seconds: float = 120) -> None:
        deadline = time.monotonic() + deadline_seconds
        jobs = [("metrics" if number % 10 == 0 else "logs", number) for number in range(self.exports)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda job: self._send_until_acknowledged(*job, deadline), jobs))

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


def test_acknowledged_exports_survive_a_sigkill_before_their_insert(serve_factory, tmp_path):
    data_dir = tmp_path / "store"
    # a batch that never fills and a delay that never ends: nothing acknowledged is inserted before the kill
    first = serve_factory("--batch-max-delay-ms", "600000", "--aggregate-interval", "0", data_dir=data_dir)
    clients = RetryingClients(address_of(first), exports=40)
    clients.send_all(deadline_seconds=60)
    assert len(clients.acknowledged) == 40 and clients.refused == 0
    first.stop(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL

    second = serve_factory("--aggregate-interval", "0", data_dir=data_dir)
    assert "replaying 40 acknowledged requests from the write-ahead queue" in second.log_text()
    assert stored(second) == clients.expected()
    assert lines_accepted_today(second) == clients.expected()[2]


def test_a_sigkill_mid_load_loses_nothing_acknowledged_and_counts_nothing_twice(serve_factory, tmp_path):
    data_dir = tmp_path / "store"
    first = serve_factory("--batch-max-delay-ms", "50", "--aggregate-interval", "0", data_dir=data_dir)
    address = address_of(first)
    clients = RetryingClients(address, exports=600)
    sending = threading.Thread(target=clients.send_all, kwargs={"workers": 16})
    sending.start()
    while len(clients.acknowledged) < 150:
        time.sleep(0.05)
    first.stop(signal.SIGKILL)  # mid-load: some exports queued and inserted, some queued only, some in flight
    acknowledged_at_kill = len(clients.acknowledged)

    # the clients keep retrying against the same ports, as exporters retry against the same endpoint
    second = serve_factory("--aggregate-interval", "0", "--grpc-port", str(address["grpc"]),
                           "--http-port", str(address["http"]), data_dir=data_dir)
    sending.join(150)
    assert not sending.is_alive()
    assert 150 <= acknowledged_at_kill < 600 and clients.refused > 0
    assert len(clients.acknowledged) == 600
    assert stored(second) == clients.expected()
    assert lines_accepted_today(second) == clients.expected()[2]
