"""The OTLP/gRPC receiver: Logs, Metrics and Trace services on one asyncio gRPC server, an adapter to the front door.

Requests arrive as raw bytes and are parsed by the decoders behind the front door, so a malformed message gets INVALID_ARGUMENT with
a reason instead of gRPC's generic deserialization error. A retryable refusal carries its retry delay as a
google.rpc.RetryInfo twice in the trailing metadata: packed in the google.rpc.Status of grpc-status-details-bin
(what the Go exporters and grpc-status clients read) and alone under google.rpc.retryinfo-bin (what the Python
exporter reads).
"""

from __future__ import annotations

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from collector.decoder_pool import DecoderPool
from collector.front_door import GRPC, FrontDoor
from collector.ingest import Ingestor
from collector.refusals import Refusal
from collector.signals import SIGNALS, Signal
from plumbing.auth import TokenTable
from plumbing.connection_limits import ConnectionLimits
from plumbing.tls import TlsFiles

STATUS_DETAILS_KEY = "grpc-status-details-bin"
RETRY_INFO_KEY = "google.rpc.retryinfo-bin"

# Like Go's and nginx's HTTP/2 defaults (250, 128): one connection cannot open calls without bound.
MAX_CALLS_PER_CONNECTION = 128


def build_grpc_server(ingestor: Ingestor, decoders: DecoderPool, max_request_bytes: int,
                      tokens: TokenTable | None = None, *, connections: ConnectionLimits) -> grpc.aio.Server:
    # A message past the limit is refused by gRPC itself with RESOURCE_EXHAUSTED, the table's "too_large" code.
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
    front_door = FrontDoor(ingestor, decoders, tokens)
    for signal in SIGNALS:
        handler = grpc.unary_unary_rpc_method_handler(
            _export_handler(signal, front_door),
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


def refusal_metadata(refusal: Refusal) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata of a refusal: the retry delay of a retryable one, in both forms; else nothing."""
    answer = refusal.answer
    if not answer.retryable:
        return ()
    retry_info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=answer.retry_delay_seconds))
    status = status_pb2.Status(code=answer.rpc_code, message=refusal.message)
    status.details.add().Pack(retry_info)
    return ((STATUS_DETAILS_KEY, status.SerializeToString()), (RETRY_INFO_KEY, retry_info.SerializeToString()))


def _export_handler(signal: Signal, front_door: FrontDoor):
    async def export(body: bytes, context: grpc.aio.ServicerContext):
        async def read_body() -> tuple[bytes, bool]:
            return body, False

        try:
            return await front_door.export(signal, GRPC, peer=context.peer(),
                                           authorization=_metadata(context, "authorization"), read_body=read_body)
        except Refusal as refusal:
            await context.abort(refusal.answer.grpc_code, refusal.message, refusal_metadata(refusal))

    return export


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value
    return None
