"""The OTLP/HTTP front door: POST /v1/logs, /v1/metrics, /v1/traces with protobuf or JSON bodies, gzip or not.

Errors follow the OTLP/HTTP specification: a google.rpc.Status body in the request's encoding, 400 for a
malformed body, 413 for one too large, 415 for an unsupported type or encoding, 503 with Retry-After when the
store cannot take the records now (the OpenTelemetry exporters retry those).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from google.rpc import code_pb2, status_pb2

from plumbing.auth import TokenTable
from collector.decode.payload import MalformedPayload, PayloadTooLarge, gunzip, parse_json, parse_protobuf
from collector.ingest import Ingestor
from plumbing.log_once import RateLimitedLog
from collector.signals import SIGNALS, Signal
from collector.write_ahead_log import QueueFull

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RETRY_AFTER_SECONDS = "5"


def build_http_app(ingestor: Ingestor, max_request_bytes: int, tokens: TokenTable | None = None) -> web.Application:
    # The raw (possibly compressed) body may not exceed the limit either.
    app = web.Application(client_max_size=max_request_bytes)
    rejected_log = RateLimitedLog(log, logging.WARNING)
    for signal in SIGNALS:
        app.router.add_post(signal.http_path, _export_handler(signal, ingestor, max_request_bytes, rejected_log, tokens))
    return app


def _export_handler(signal: Signal, ingestor: Ingestor, max_request_bytes: int, rejected_log: RateLimitedLog,
                    tokens: TokenTable | None):
    async def export(request: web.Request) -> web.Response:
        content_type = request.content_type
        peer = request.remote or "unknown"

        def refuse(status: int, code: int, reason: str, message: str) -> web.Response:
            ingestor.health.request_refused(signal.name, "http", reason)
            rejected_log.log(f"http:{signal.name}:{status}", "rejected HTTP %s export from %s (%d): %s",
                             signal.name, peer, status, message)
            return _status_response(status, code, message, content_type)

        org_id = ""
        if tokens:
            caller = tokens.caller(request.headers.get("Authorization"))
            if caller is None:
                reply = refuse(401, code_pb2.UNAUTHENTICATED, "unauthenticated",
                               "a valid token is required: send the header Authorization: Bearer TOKEN")
                reply.headers["WWW-Authenticate"] = 'Bearer realm="cc-analytics"'
                return reply
            org_id = caller.org_id or ""
        if content_type not in (PROTOBUF, JSON):
            return refuse(415, code_pb2.INVALID_ARGUMENT, "unsupported",
                          f"unsupported Content-Type {content_type!r}: use {PROTOBUF} or {JSON}")
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "", "gzip"):
            return refuse(415, code_pb2.INVALID_ARGUMENT, "unsupported",
                          f"unsupported Content-Encoding {encoding!r}: use gzip or none")
        try:
            body = await request.read()
            if encoding == "gzip":
                body = gunzip(body, max_request_bytes)
            parse = parse_protobuf if content_type == PROTOBUF else parse_json
            message = parse(body, signal.request_type)
        except web.HTTPRequestEntityTooLarge:
            return refuse(413, code_pb2.RESOURCE_EXHAUSTED, "too_large", f"body exceeds the limit of {max_request_bytes} bytes")
        except PayloadTooLarge as error:
            return refuse(413, code_pb2.RESOURCE_EXHAUSTED, "too_large", str(error))
        except MalformedPayload as error:
            return refuse(400, code_pb2.INVALID_ARGUMENT, "malformed", str(error))
        try:
            response = await ingestor.export(signal, message, peer, "http",
                                             body if content_type == PROTOBUF else None, org_id)
        except QueueFull as error:
            reply = _status_response(503, code_pb2.UNAVAILABLE, f"{error}; retry later", content_type)
            reply.headers["Retry-After"] = RETRY_AFTER_SECONDS
            return reply
        except Exception:
            log.exception("unexpected error while handling an HTTP %s export from %s", signal.name, peer)
            ingestor.health.request_refused(signal.name, "http", "internal")
            return _status_response(500, code_pb2.INTERNAL, "internal error while storing the export; see the collector log",
                                    content_type)
        return _message_response(200, response, content_type)

    return export


def _message_response(status: int, message, content_type: str) -> web.Response:
    if content_type == PROTOBUF:
        return web.Response(status=status, body=message.SerializeToString(), content_type=PROTOBUF)
    return web.Response(status=status, text=json.dumps(MessageToDict(message)), content_type=JSON)


def _status_response(status: int, code: int, text: str, content_type: str) -> web.Response:
    return _message_response(status, status_pb2.Status(code=code, message=text),
                             PROTOBUF if content_type == PROTOBUF else JSON)
