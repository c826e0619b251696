"""The OTLP/HTTP receiver: POST /v1/logs, /v1/metrics, /v1/traces with protobuf or JSON bodies, gzip or not; an
adapter to the front door.

Refusals follow the OTLP/HTTP specification: the REFUSALS table's status with a google.rpc.Status body in the
request's encoding (400 malformed, 413 too large, 415 unsupported type or encoding, 401 with WWW-Authenticate
without a valid token), and Retry-After on a retryable one (503 when the write-ahead queue is full; the
OpenTelemetry exporters retry those).
"""

from __future__ import annotations

import json

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from google.rpc import status_pb2

from collector.decoder_pool import DecoderPool
from collector.front_door import HTTP, FrontDoor
from collector.ingest import Ingestor
from collector.refusals import Refusal
from collector.signals import SIGNALS, Signal
from plumbing.auth import TokenTable

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def build_http_app(ingestor: Ingestor, decoders: DecoderPool, max_request_bytes: int,
                   tokens: TokenTable | None = None) -> web.Application:
    # The raw (possibly compressed) body may not exceed the limit either; the decoders bound it decompressed.
    app = web.Application(client_max_size=max_request_bytes)
    front_door = FrontDoor(ingestor, decoders, tokens)
    for signal in SIGNALS:
        app.router.add_post(signal.http_path, _export_handler(signal, front_door, max_request_bytes))
    return app


def _export_handler(signal: Signal, front_door: FrontDoor, max_request_bytes: int):
    async def export(request: web.Request) -> web.Response:
        content_type = request.content_type

        async def read_body() -> tuple[bytes, bool]:
            if content_type not in (PROTOBUF, JSON):
                raise Refusal("unsupported", f"unsupported Content-Type {content_type!r}: use {PROTOBUF} or {JSON}")
            encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("identity", "", "gzip"):
                raise Refusal("unsupported", f"unsupported Content-Encoding {encoding!r}: use gzip or none")
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise Refusal("too_large", f"body exceeds the limit of {max_request_bytes} bytes") from None
            return body, encoding == "gzip"

        try:
            response = await front_door.export(signal, HTTP, peer=request.remote or "unknown",
                                               authorization=request.headers.get("Authorization"),
                                               read_body=read_body, json_body=content_type == JSON)
        except Refusal as refusal:
            return _refusal_response(refusal, content_type)
        return _message_response(200, response, content_type)

    return export


def _refusal_response(refusal: Refusal, content_type: str) -> web.Response:
    answer = refusal.answer
    reply = _message_response(answer.http_status, status_pb2.Status(code=answer.rpc_code, message=refusal.message),
                              content_type)
    if answer.retryable:
        reply.headers["Retry-After"] = str(answer.retry_delay_seconds)
    if refusal.reason == "unauthenticated":
        reply.headers["WWW-Authenticate"] = 'Bearer realm="cc-analytics"'
    return reply


def _message_response(status: int, message, content_type: str) -> web.Response:
    if content_type == PROTOBUF:
        return web.Response(status=status, body=message.SerializeToString(), content_type=PROTOBUF)
    return web.Response(status=status, text=json.dumps(MessageToDict(message)), content_type=JSON)
