"""Sending one OTLP export to a running serve, over gRPC or HTTP (protobuf or JSON, gzip or not), and reading the
answer the same way whichever transport carried it: the one way tests post exports."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import grpc
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message

from collector.signals import SIGNALS, Signal

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SIGNAL_OF_REQUEST = {signal.request_type: signal for signal in SIGNALS}
SIGNAL_NAMED = {signal.name: signal for signal in SIGNALS}


@dataclass
class ExportAnswer:
    """status is the HTTP status, or the gRPC status code; body the response bytes (a google.rpc.Status or JSON
    on an HTTP refusal); details the gRPC status message; metadata HTTP headers or gRPC trailing metadata."""

    status: int | grpc.StatusCode
    body: bytes = b""
    details: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (200, grpc.StatusCode.OK)


def post_export(serve, request: Message | bytes, transport: str = "http", *, signal: str | None = None,
                content_type: str = PROTOBUF, gzipped: bool = False, token: str | None = None,
                headers: dict | None = None, timeout: float = 30) -> ExportAnswer:
    """Send request (a message, or raw body bytes with signal named) over transport "grpc" or "http"."""
    target = SIGNAL_NAMED[signal] if signal else SIGNAL_OF_REQUEST[type(request)]
    if transport == "grpc":
        body = request if isinstance(request, bytes) else request.SerializeToString()
        return _over_grpc(serve, target, body, token, timeout)
    if isinstance(request, bytes):
        body = request
    else:
        body = request.SerializeToString() if content_type == PROTOBUF else MessageToJson(request).encode()
    sent_headers = {"Content-Type": content_type, **(headers or {})}
    if gzipped:
        body, sent_headers["Content-Encoding"] = gzip.compress(body), "gzip"
    if token:
        sent_headers["Authorization"] = f"Bearer {token}"
    return _over_http(serve, target, body, sent_headers, timeout)


def assert_stored(serve, request: Message, transport: str = "http", **options) -> ExportAnswer:
    """post_export, failing the test unless the export was accepted."""
    answer = post_export(serve, request, transport, **options)
    assert answer.ok, (answer.status, answer.details or answer.body[:500])
    return answer


def _over_grpc(serve, signal: Signal, body: bytes, token: str | None, timeout: float) -> ExportAnswer:
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    with grpc.insecure_channel(serve.grpc_endpoint) as channel:
        export = channel.unary_unary(f"/{signal.grpc_service}/Export")
        try:
            reply, call = export.with_call(body, metadata=metadata, timeout=timeout)
        except grpc.RpcError as error:
            return ExportAnswer(error.code(), details=error.details() or "",
                                metadata=dict(error.trailing_metadata() or ()))
        return ExportAnswer(grpc.StatusCode.OK, reply, metadata=dict(call.trailing_metadata() or ()))


def _over_http(serve, signal: Signal, body: bytes, headers: dict, timeout: float) -> ExportAnswer:
    request = urllib.request.Request(serve.http_url + signal.http_path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return ExportAnswer(reply.status, reply.read(), metadata=dict(reply.headers))
    except urllib.error.HTTPError as error:
        answer = error.read()
        details = ""
        if error.headers.get("Content-Type", "").startswith(JSON):
            details = json.loads(answer or b"{}").get("message", "")
        return ExportAnswer(error.code, answer, details, dict(error.headers))
