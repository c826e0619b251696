"""What a running serve answers when it refuses an export, read off the wire of either transport, and whether
the OTLP specification makes that answer retryable: the ground truth the refusal tests compare with the table."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2

from tests.support.retrying_clients import LOGS_METHOD

# OTLP specification, "Failures": the gRPC codes a client retries (RESOURCE_EXHAUSTED only with RetryInfo),
# and for OTLP/HTTP the statuses it retries.
GRPC_RETRYABLE_CODES = {grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
                        grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS}
HTTP_RETRYABLE_STATUSES = {429, 502, 503, 504}
PROTOBUF = "application/x-protobuf"


def retryable_over_grpc(code: grpc.StatusCode, retry_delay: float | None) -> bool:
    return code in GRPC_RETRYABLE_CODES or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_delay is not None)


def retryable_over_http(status: int) -> bool:
    return status in HTTP_RETRYABLE_STATUSES


@dataclass
class Answer:
    """One refusal as a client sees it: the status and the retry delay the server asked for (None: none)."""

    code: grpc.StatusCode | int
    message: str
    retry_delay: float | None
    retryable: bool


def grpc_answer(serve, body: bytes, token: str | None = None, method: str = LOGS_METHOD) -> Answer:
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        try:
            channel.unary_unary(method)(body, timeout=10, metadata=metadata)
        except grpc.RpcError as error:
            delay = status_details_retry_delay(dict(error.trailing_metadata() or ()))
            return Answer(error.code(), error.details(), delay, retryable_over_grpc(error.code(), delay))
    return Answer(grpc.StatusCode.OK, "", None, False)


def status_details_retry_delay(trailing: dict) -> float | None:
    """The RetryInfo delay packed in the google.rpc.Status of grpc-status-details-bin, as grpc-status reads it."""
    if "grpc-status-details-bin" not in trailing:
        return None
    status = status_pb2.Status.FromString(trailing["grpc-status-details-bin"])
    for detail in status.details:
        retry_info = error_details_pb2.RetryInfo()
        if detail.Unpack(retry_info):
            return retry_info.retry_delay.seconds + retry_info.retry_delay.nanos / 1e9
    return None


def http_answer(serve, body: bytes, token: str | None = None, content_type: str = PROTOBUF) -> Answer:
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(f"{serve.http_url}/v1/logs", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return Answer(reply.status, "", None, False)
    except urllib.error.HTTPError as error:
        reply_body = error.read()
        if error.headers.get("Content-Type", "").startswith(PROTOBUF):
            message = status_pb2.Status.FromString(reply_body).message
        else:
            message = json.loads(reply_body)["message"]
        retry_after = error.headers.get("Retry-After")
        return Answer(error.code, message, float(retry_after) if retry_after else None,
                      retryable_over_http(error.code))


def refused_requests(serve, transport: str, reason: str, signal: str = "logs", admin_token: str | None = None) -> float:
    """cc_analytics_collector_requests_rejected_total of one transport, signal and reason, from /metrics."""
    headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
    request = urllib.request.Request(f"http://{serve.host}:{serve.api_port}/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as reply:
        text = reply.read().decode()
    labels = f'reason="{reason}",signal="{signal}",transport="{transport}"'  # the exposition sorts them
    match = re.search(r"^cc_analytics_collector_requests_rejected_total\{" + re.escape(labels) + r"\} (\S+)$",
                      text, re.MULTILINE)
    assert match, f"no requests_rejected series for {labels}"
    return float(match.group(1))


def fill_the_queue(serve, bodies, token: str | None = None) -> int:
    """Send exports over HTTP until the write-ahead queue refuses one; returns how many it took first."""
    for accepted, body in enumerate(bodies):
        if http_answer(serve, body, token).code == 503:
            return accepted
    raise AssertionError("the write-ahead queue never filled")
