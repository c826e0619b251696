"""The one front door of the OTLP receivers: who is calling, decoding (by the decoder pool, off the event loop),
ingest, and the accounting of every refusal.

The gRPC and HTTP receivers are adapters: each reads its transport's bytes and credentials, calls
FrontDoor.export, and turns a Refusal into its transport's answer with the REFUSALS table. So authentication,
the refused-request counters, the rate-limited log line (one per transport, signal and reason) and the catch-all
for unexpected errors exist once, and both transports refuse the same input for the same reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from google.protobuf.message import Message

from collector.decode.payload import MalformedPayload, PayloadTooLarge
from collector.decode.request_work import TooMuchWork
from collector.decoder_pool import DecoderPool, DecodersBusy
from collector.export_decoding import ExportBody
from collector.ingest import Ingestor
from collector.refusals import Refusal
from collector.signals import Signal
from plumbing.auth import TokenTable
from plumbing.log_once import RateLimitedLog
from plumbing.log_text import client_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transport:
    name: str  # the transport label of the health metrics
    title: str  # how log lines name it
    token_carrier: str  # where a client puts its bearer token, for the refusal's message


GRPC = Transport("grpc", "gRPC", "the metadata authorization")
HTTP = Transport("http", "HTTP", "the header Authorization")


class FrontDoor:
    def __init__(self, ingestor: Ingestor, decoders: DecoderPool, tokens: TokenTable | None = None):
        self._ingestor = ingestor
        self._decoders = decoders
        self._tokens = tokens
        self._refusal_log = RateLimitedLog(log, logging.WARNING)
        self._internal_log = RateLimitedLog(log, logging.ERROR)

    async def export(self, signal: Signal, transport: Transport, *, peer: str, authorization: str | None,
                     read_body: Callable[[], Awaitable[tuple[bytes, bool]]], json_body: bool = False) -> Message:
        """The export response for a request, or a Refusal, counted and logged, saying why not.

        read_body is called once the caller is known; it returns the body as sent and whether it is gzipped, or
        raises a Refusal for what only the transport can tell (an unsupported content type, a body past its limit).
        """
        try:
            org_id = self._org_of(transport, authorization)
            body, gzipped = await read_body()
            decoded = await self._decoders.decode(ExportBody(signal.name, body, gzipped, json_body, time.time_ns(),
                                                             org_id))
            return await self._ingestor.store(signal, decoded, peer, transport.name)
        except Refusal as error:
            refusal = error
        except PayloadTooLarge as error:
            refusal = Refusal("too_large", str(error))
        except MalformedPayload as error:
            refusal = Refusal("malformed", str(error))
        except TooMuchWork as error:
            refusal = Refusal("too_much_work", str(error))
        except DecodersBusy as error:
            refusal = Refusal("busy", f"{error}; retry later")
        except Exception as error:  # once per kind with its stack: a fault hit by every request must not flood the log
            self._internal_log.log(f"{transport.name}:{signal.name}:{type(error).__name__}",
                                   "unexpected error while handling a %s %s export from %s", transport.title,
                                   signal.name, peer, exc_info=error)
            refusal = Refusal("internal", "internal error while storing the export; see the collector log")
        self._ingestor.health.request_refused(signal.name, transport.name, refusal.reason, refusal.records)
        if refusal.reason != "internal":  # its stack is logged above
            self._refusal_log.log(f"{transport.name}:{signal.name}:{refusal.reason}",
                                  "rejected %s %s export from %s (%s): %s", transport.title, signal.name, peer,
                                  refusal.answer.meaning, client_text(refusal.message))
        raise refusal

    def _org_of(self, transport: Transport, authorization: str | None) -> str:
        """The org the caller's token gives its records; "" (the records' own) without tokens or for an admin."""
        if not self._tokens:
            return ""
        caller = self._tokens.caller(authorization)
        if caller is None:
            raise Refusal("unauthenticated",
                          f"a valid token is required: send {transport.token_carrier}: Bearer TOKEN")
        if caller.is_member:  # it could store records in any member's name
            raise Refusal("unauthenticated", "a member token only reads its member's own figures; exports need "
                                             "the org's token")
        return caller.org_id or ""
