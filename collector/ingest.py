"""What happens to an export request once a transport has parsed it: decode, store, answer.

Shared by the gRPC and HTTP front doors, so both give the same answers to the same input.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import Message

from collector.decode import DecodeContext, Limits
from collector.health import CollectorHealth
from collector.log_once import RateLimitedLog
from collector.signals import Signal
from collector.tables import TABLE_COLUMNS
from collector.writer import BatchWriter, StoreWriteFailed, WriterOverloaded

log = logging.getLogger(__name__)

# Where each table's rows carry the organization, for the health metrics' last record per org.
_ORG_COLUMN = {table: columns.index("org_id") for table, columns in TABLE_COLUMNS.items()}


class Ingestor:
    def __init__(self, writer: BatchWriter, limits: Limits, default_org_id: str, retention_days: int,
                 health: CollectorHealth):
        self._writer = writer
        self.health = health
        self._limits = limits
        self._default_org_id = default_org_id
        self._retention_days = retention_days
        self._partial_log = RateLimitedLog(log, logging.WARNING)

    async def export(self, signal: Signal, request: Message, peer: str, transport: str) -> Message:
        """Store the request's good records and answer with the count and reasons of the others.

        Raises StoreWriteFailed or WriterOverloaded when nothing could be stored, so the client retries.
        """
        context = DecodeContext(self._limits, self._default_org_id, time.time_ns(), self._retention_days)
        batch = signal.decode(request, context)
        if batch.rows:
            try:
                await self._writer.write(batch.table, batch.rows)
            except (StoreWriteFailed, WriterOverloaded):
                self.health.request_refused(signal.name, transport, "unavailable", len(batch.rows) + batch.rejected)
                raise
            org_column = _ORG_COLUMN[batch.table]
            self.health.stored(signal.name, transport, len(batch.rows), {row[org_column] for row in batch.rows})
        if batch.rejected:
            self.health.invalid_records(signal.name, transport, batch.rejected)
        message = batch.summary(self._limits)
        if message:
            self._partial_log.log(f"{signal.name}:{message}", "%s export from %s: %d stored; %s",
                                  signal.name, peer, len(batch.rows), message)
        return signal.response(batch.rejected, message)
