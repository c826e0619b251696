"""Why an export request can be refused, and what each refusal is on the wire: one table for gRPC and HTTP.

As the OpenTelemetry Collector classifies its errors once for both transports
(receiver/otlpreceiver/internal/errors/errors.go), each reason here has its gRPC status code, its HTTP status,
whether the client should send the same request again, and after how long. Retryable or not follows the OTLP
specification's lists (gRPC UNAVAILABLE; HTTP 429, 502, 503, 504), so the official exporters act on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class RefusalAnswer:
    grpc_code: grpc.StatusCode
    http_status: int
    retryable: bool
    retry_delay_seconds: int | None  # sent as gRPC RetryInfo and HTTP Retry-After; None when not retryable
    meaning: str  # what the refusal says about the request, for the log line

    @property
    def rpc_code(self) -> int:
        """The google.rpc.Code of the gRPC status, which is also the code of an HTTP google.rpc.Status body."""
        return self.grpc_code.value[0]


REFUSALS: dict[str, RefusalAnswer] = {
    # Not retryable: the same bytes are malformed again next time.
    "malformed": RefusalAnswer(grpc.StatusCode.INVALID_ARGUMENT, 400, False, None, "a malformed body"),
    # Not retryable: without RetryInfo RESOURCE_EXHAUSTED is permanent; the same body is too large again.
    "too_large": RefusalAnswer(grpc.StatusCode.RESOURCE_EXHAUSTED, 413, False, None, "a body over the size limit"),
    # Not retryable: the same request asks for as much work again; the client must send smaller batches.
    "too_much_work": RefusalAnswer(grpc.StatusCode.RESOURCE_EXHAUSTED, 413, False, None,
                                   "a request over the bound on records or attributes per request"),
    # Not retryable: the client must change its content type or encoding (HTTP only).
    "unsupported": RefusalAnswer(grpc.StatusCode.INVALID_ARGUMENT, 415, False, None,
                                 "an unsupported content type or encoding"),
    # Retryable: the write-ahead queue is full, or its disk refused the write; it takes requests again once the
    # writer drains it or the disk has room.
    "unavailable": RefusalAnswer(grpc.StatusCode.UNAVAILABLE, 503, True, 5,
                                 "the write-ahead queue cannot take it now"),
    # Retryable: the decoders hold their limit of requests, or a decoding worker died with the request; a moment
    # later they have room again.
    "busy": RefusalAnswer(grpc.StatusCode.UNAVAILABLE, 503, True, 1, "the decoders cannot take it now"),
    # Not retryable: the client must send a valid token.
    "unauthenticated": RefusalAnswer(grpc.StatusCode.UNAUTHENTICATED, 401, False, None, "no valid bearer token"),
    # Not retryable: an unexpected error would most likely recur; the collector log has its stack.
    "internal": RefusalAnswer(grpc.StatusCode.INTERNAL, 500, False, None, "an unexpected error"),
}


class Refusal(Exception):
    """An export request refused for one of the REFUSALS reasons; the message tells the client what to do."""

    def __init__(self, reason: str, message: str, records: int = 0):
        if reason not in REFUSALS:
            raise ValueError(f"{reason!r} is not a refusal reason; add it to REFUSALS with its answer")
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.records = records  # records the request carried, when the refusal came after decoding them

    @property
    def answer(self) -> RefusalAnswer:
        return REFUSALS[self.reason]
