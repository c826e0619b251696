"""The OTLP/gRPC front door: Logs, Metrics and Trace services on one asyncio gRPC server.

Requests arrive as raw bytes and are parsed here, so a malformed message gets INVALID_ARGUMENT with a reason
instead of gRPC's generic deserialization error.
"""

from __future__ import annotations

import logging

import grpc

from plumbing.auth import TokenTable
from plumbing.connection_limits import ConnectionLimits
from collector.decode.payload import MalformedPayload, parse_protobuf
from collector.ingest import Ingestor
from plumbing.log_once import RateLimitedLog
from collector.signals import SIGNALS, Signal
from plumbing.tls import TlsFiles
from collector.write_ahead_log import QueueFull

log = logging.getLogger(__name__)

# Like Go's and nginx's HTTP/2 defaults (250, 128): one connection cannot open calls without bound.
MAX_CALLS_PER_CONNECTION = 128


def build_grpc_server(ingestor: Ingestor, max_request_bytes: int, tokens: TokenTable | None = None, *,
                      connections: ConnectionLimits) -> grpc.aio.Server:
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", max_request_bytes),
        ("grpc.so_reuseport", 0),
        # A connection past the cap is closed at once; one that never finishes its handshake (TLS and the HTTP/2
        # preface) is closed at the header timeout; one with no call in progress at the idle timeout.
        ("grpc.max_allowed_incoming_connections", connections.max_connections),
        ("grpc.server_handshake_timeout_ms", int(connections.header_timeout_seconds * 1000)),
        ("grpc.max_connection_idle_ms", int(connections.idle_timeout_seconds * 1000)),
        ("grpc.max_concurrent_streams", MAX_CALLS_PER_CONNECTION),
    ])
    rejected_log = RateLimitedLog(log, logging.WARNING)
    for signal in SIGNALS:
        handler = grpc.unary_unary_rpc_method_handler(
            _export_handler(signal, ingestor, rejected_log, tokens),
            request_deserializer=None,
            response_serializer=signal.response_type.SerializeToString,
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": handler}),))
    return server


def bind(server: grpc.aio.Server, host: str, port: int, tls: TlsFiles | None = None) -> int:
    """Bind the port, with TLS when given; returns the port actually bound (useful with port 0)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    credentials = tls.grpc_credentials() if tls else None
    try:
        bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError:  # grpcio reports a failed bind this way, or by returning 0
        bound = 0
    if not bound:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}: the address is in use or not available")
    return bound


def _export_handler(signal: Signal, ingestor: Ingestor, rejected_log: RateLimitedLog, tokens: TokenTable | None):
    async def export(body: bytes, context: grpc.aio.ServicerContext):
        peer = context.peer()
        org_id = ""
        if tokens:
            caller = tokens.caller(_metadata(context, "authorization"))
            if caller is None:
                ingestor.health.request_refused(signal.name, "grpc", "unauthenticated")
                rejected_log.log(f"grpc:{signal.name}:unauthenticated", "refused gRPC %s export from %s: no valid "
                                 "bearer token", signal.name, peer)
                await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                    "a valid token is required: send the metadata authorization: Bearer TOKEN")
            org_id = caller.org_id or ""
        try:
            request = parse_protobuf(body, signal.request_type)
            return await ingestor.export(signal, request, peer, "grpc", body, org_id)
        except MalformedPayload as error:
            ingestor.health.request_refused(signal.name, "grpc", "malformed")
            rejected_log.log(f"grpc:{signal.name}:malformed", "rejected gRPC %s export from %s: %s",
                             signal.name, peer, error)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except QueueFull as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{error}; retry later")
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("unexpected error while handling a gRPC %s export from %s", signal.name, peer)
            ingestor.health.request_refused(signal.name, "grpc", "internal")
            await context.abort(grpc.StatusCode.INTERNAL, "internal error while storing the export; see the collector log")

    return export


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value
    return None
