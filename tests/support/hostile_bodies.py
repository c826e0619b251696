"""Export bodies that are cheap to send and expensive to handle, as an attacker would send them: many tiny points
that compress to almost nothing, a gzip body of many empty members, and a body dribbled byte by byte."""

from __future__ import annotations

import gzip
import socket
import threading
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

TINY_POINTS = 800_000  # 16 MB of protobuf (just under the default --max-request-bytes), 39 KB gzipped
EMPTY_GZIP_MEMBERS = 160_000  # 3.2 MB of 20-byte members, each decompressing to nothing


def tiny_points_request(points: int = TINY_POINTS) -> bytes:
    """One gauge of `points` valid points that carry only a time and as_int=1 (20 bytes each on the wire)."""
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "tiny"
    data_points = metric.gauge.data_points
    now_ns = time.time_ns()
    for _ in range(points):
        data_points.add(as_int=1, time_unix_nano=now_ns)
    return request.SerializeToString()


def empty_gzip_members(members: int = EMPTY_GZIP_MEMBERS) -> bytes:
    return gzip.compress(b"", 9) * members


class DribblingClient:
    """An OTLP/HTTP client that announces a body and sends it one byte at a time, for as long as it runs."""

    def __init__(self, host: str, port: int, interval: float = 0.05):
        self._address = (host, port)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._dribble, daemon=True)

    def __enter__(self) -> "DribblingClient":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(5)

    def _dribble(self) -> None:
        with socket.create_connection(self._address, timeout=5) as connection:
            connection.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                               b"Content-Length: 1000000\r\n\r\n")
            while not self._stop.wait(self._interval):
                try:
                    connection.sendall(b"\x00")
                except OSError:  # the collector closed it: that is allowed
                    return
