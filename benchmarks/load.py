"""The load generator: worker processes replaying Claude Code exports over many gRPC and HTTP/protobuf connections.

Each worker runs an asyncio loop with its share of the clients; a client is one connection (its own gRPC channel, or
its own aiohttp session holding one keep-alive connection) sending one export at a time, as each `claude` process
does. Clients send as fast as they are answered (closed loop), or at a fixed offered rate. The mix follows Claude
Code's export intervals: every session sends logs every 5 s and metrics every 60 s, so 1 metric export per 12 log
exports. UNAVAILABLE and 503 are refused, not failed: the same body is sent again after a short pause, as the
OpenTelemetry exporters do. Request bodies are built before the timed phase (claude_requests), so a request costs
the worker a bytes.replace and the send.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

import aiohttp
import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from benchmarks.claude_requests import METRIC_POINTS_PER_REQUEST, RequestFactory

LOG_EXPORTS_PER_METRIC_EXPORT = 12  # Claude Code: logs every 5 s, metrics every 60 s
REFUSED_BACKOFF_SECONDS = 0.05
REQUEST_TIMEOUT_SECONDS = 30
# Refused requests still waiting after the run are retried this long before they are given up (and reported).
RETRY_GRACE_SECONDS = 10
GRPC_METHODS = {"logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"}
HTTP_PATHS = {"logs": "/v1/logs", "metrics": "/v1/metrics"}
RESPONSES = {"logs": (ExportLogsServiceResponse, "rejected_log_records"),
             "metrics": (ExportMetricsServiceResponse, "rejected_data_points")}


@dataclass(frozen=True)
class WorkerPlan:
    worker: int
    grpc_target: str
    http_url: str
    grpc_clients: int
    http_clients: int
    seconds: float
    events_per_request: int
    events_per_second: float  # this worker's offered load; 0: closed loop
    now_ns: int
    phase: float = 0.0  # where in a send interval this worker's clients start, so workers interleave


@dataclass
class WorkerResult:
    latencies: list[float] = field(default_factory=list)  # seconds, one per acknowledged request
    transports: list[str] = field(default_factory=list)  # "grpc" or "http", the transport of each latency
    requests: dict[str, int] = field(default_factory=lambda: {"logs": 0, "metrics": 0})  # acknowledged
    records: dict[str, int] = field(default_factory=lambda: {"logs": 0, "metrics": 0})  # acknowledged, not rejected
    rejected_records: int = 0  # counted in partial_success
    refused: int = 0  # UNAVAILABLE / 503 answers (the request was sent again)
    given_up: int = 0  # still refused at the end: neither acknowledged nor lost
    failures: dict[str, int] = field(default_factory=dict)  # any other answer, by status
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


class RequestSource:
    """The worker's next export: 1 metric export per 12 log exports, each body a new session's."""

    def __init__(self, factory: RequestFactory, events_per_request: int):
        self._factory = factory
        self._made = {"logs": 0, "metrics": 0}
        self.records_per_request = {"logs": events_per_request, "metrics": METRIC_POINTS_PER_REQUEST}

    def next(self) -> tuple[str, bytes]:
        kind = "metrics" if self._made["metrics"] * LOG_EXPORTS_PER_METRIC_EXPORT < self._made["logs"] else "logs"
        number = self._made[kind]
        self._made[kind] += 1
        return kind, self._factory.body(kind, number)


def _rejected_in(kind: str, reply: bytes) -> int:
    """Records the collector refused inside a successful answer (an empty answer: none)."""
    if not reply:
        return 0
    response_type, field_name = RESPONSES[kind]
    return getattr(response_type.FromString(reply).partial_success, field_name)


class GrpcClient:
    """One gRPC channel (its own TCP connection: no subchannel shared with the worker's other channels)."""

    transport = "grpc"

    def __init__(self, target: str):
        self._channel = grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        # Raw bytes in and out: no serializing in the timed loop.
        self._export = {kind: self._channel.unary_unary(method) for kind, method in GRPC_METHODS.items()}

    async def send(self, kind: str, body: bytes) -> tuple[str, bytes]:
        try:
            return "ok", await self._export[kind](body, timeout=REQUEST_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            return ("refused" if error.code() == grpc.StatusCode.UNAVAILABLE else f"grpc {error.code().name}"), b""

    async def close(self) -> None:
        await self._channel.close()


class HttpClient:
    """One aiohttp session with one keep-alive connection, sending application/x-protobuf."""

    transport = "http"

    def __init__(self, url: str):
        self._url = url
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                              timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))

    async def send(self, kind: str, body: bytes) -> tuple[str, bytes]:
        try:
            async with self._session.post(self._url + HTTP_PATHS[kind], data=body,
                                          headers={"Content-Type": "application/x-protobuf"}) as reply:
                answer = await reply.read()
                if reply.status == 200:
                    return "ok", answer
                return ("refused" if reply.status == 503 else f"http {reply.status}"), b""
        except aiohttp.ClientConnectionError:  # the collector is down or restarting: exporters retry these
            return "refused", b""
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return f"http {type(error).__name__}", b""

    async def close(self) -> None:
        await self._session.close()


async def _send_until_answered(client, kind: str, body: bytes, records: int, stop_retrying_at: float,
                               result: WorkerResult) -> None:
    while True:
        started = time.perf_counter()
        outcome, reply = await client.send(kind, body)
        if outcome == "ok":
            result.latencies.append(time.perf_counter() - started)
            result.transports.append(client.transport)
            rejected = _rejected_in(kind, reply)
            result.requests[kind] += 1
            result.records[kind] += records - rejected
            result.rejected_records += rejected
            return
        if outcome != "refused":
            result.failures[outcome] = result.failures.get(outcome, 0) + 1
            return
        result.refused += 1
        if time.monotonic() > stop_retrying_at:
            result.given_up += 1
            return
        await asyncio.sleep(REFUSED_BACKOFF_SECONDS)


async def _client_loop(client, source: RequestSource, deadline: float, interval: float, phase: float,
                       result: WorkerResult) -> None:
    """Send until the deadline; with an interval, on a fixed schedule starting `phase` of an interval late (as
    each developer's export timer has its own phase), late sends at once, none skipped."""
    next_send = time.monotonic() + phase * interval
    while time.monotonic() < deadline:
        if interval:
            delay = next_send - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_send += interval
        kind, body = source.next()
        await _send_until_answered(client, kind, body, source.records_per_request[kind],
                                   deadline + RETRY_GRACE_SECONDS, result)


def _send_interval(plan: WorkerPlan) -> float:
    """Seconds between one client's sends that make the worker offer plan.events_per_second (0: closed loop)."""
    if not plan.events_per_second:
        return 0.0
    log_exports_per_second = plan.events_per_second / plan.events_per_request
    exports_per_second = log_exports_per_second * (1 + 1 / LOG_EXPORTS_PER_METRIC_EXPORT)
    return (plan.grpc_clients + plan.http_clients) / exports_per_second


async def _run(plan: WorkerPlan, source: RequestSource, start_at: float) -> WorkerResult:
    clients = ([GrpcClient(plan.grpc_target) for _ in range(plan.grpc_clients)]
               + [HttpClient(plan.http_url) for _ in range(plan.http_clients)])
    result = WorkerResult()
    try:
        await asyncio.sleep(max(start_at - time.monotonic(), 0))
        cpu_before, started = _cpu_seconds(), time.monotonic()
        deadline = started + plan.seconds
        interval = _send_interval(plan)
        await asyncio.gather(*(_client_loop(client, source, deadline, interval, (index + plan.phase) / len(clients),
                                            result)
                               for index, client in enumerate(clients)))
        result.cpu_seconds = _cpu_seconds() - cpu_before
        result.wall_seconds = time.monotonic() - started
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return result


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def run_worker(plan: WorkerPlan, pipe) -> None:
    """A worker process: build the bodies, say ready, wait for the common start time, send, return the result."""
    source = RequestSource(RequestFactory(plan.worker, plan.now_ns, plan.events_per_request), plan.events_per_request)
    pipe.send("ready")
    start_at = pipe.recv()  # time.monotonic() is the same clock in every process
    pipe.send(asyncio.run(_run(plan, source, start_at)))
    pipe.close()
