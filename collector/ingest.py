"""What happens to an export request once a transport has parsed it: decode, store, answer.

Shared by the gRPC and HTTP front doors, so both give the same answers to the same input.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import Message

from collector.decode import DecodeContext, Limits
from collector.log_once import RateLimitedLog
from collector.signals import Signal
from collector.writer import BatchWriter

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(self, writer: BatchWriter, limits: Limits, default_org_id: str, retention_days: int):
        self._writer = writer
        self._limits = limits
        self._default_org_id = default_org_id
        self._retention_days = retention_days
        self._partial_log = RateLimitedLog(log, logging.WARNING)

    async def export(self, signal: Signal, request: Message, peer: str) -> Message:
        """Store the request's good records and answer with the count and reasons of the others.

        Raises StoreWriteFailed or WriterOverloaded when nothing could be stored, so the client retries.
        """
        context = DecodeContext(self._limits, self._default_org_id, time.time_ns(), self._retention_days)
        batch = signal.decode(request, context)
        if batch.rows:
            await self._writer.write(batch.table, batch.rows)
        message = batch.summary(self._limits)
        if message:
            self._partial_log.log(f"{signal.name}:{message}", "%s export from %s: %d stored; %s",
                                  signal.name, peer, len(batch.rows), message)
        return signal.response(batch.rejected, message)
