"""What happens to an export request once a transport has parsed it: decode, queue, answer.

Shared by the gRPC and HTTP front doors, so both give the same answers to the same input. A request with records
to keep is acknowledged once it is in the write-ahead queue; the batch writer inserts its rows afterwards.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import Message

from collector.decode import DecodeContext, DecodedBatch, Limits
from collector.decode.payload import parse_protobuf
from collector.decode.privacy import PrivacyPolicy
from collector.health import CollectorHealth
from plumbing.log_once import RateLimitedLog
from collector.refusals import Refusal
from collector.queued_request import QueuedRequest, decode_entry
from collector.signals import Signal
from collector.tables import TABLE_COLUMNS
from collector.write_ahead_log import Position, QueueFull, WriteAheadLog
from collector.writer import BatchWriter

log = logging.getLogger(__name__)

# Where each table's rows carry the organization, for the health metrics' last record per org.
_ORG_COLUMN = {table: columns.index("org_id") for table, columns in TABLE_COLUMNS.items()}


class Ingestor:
    def __init__(self, queue: WriteAheadLog, writer: BatchWriter, limits: Limits, default_org_id: str,
                 retention_days: int, health: CollectorHealth, privacy: PrivacyPolicy = PrivacyPolicy()):
        self._queue = queue
        self._writer = writer
        self.health = health
        self._limits = limits
        self._default_org_id = default_org_id
        self._retention_days = retention_days
        self._privacy = privacy  # part of the context, so a replay from the queue stores what the first decode did
        self._partial_log = RateLimitedLog(log, logging.WARNING)

    async def export(self, signal: Signal, request: Message, peer: str, transport: str,
                     body: bytes | None = None, org_id: str = "") -> Message:
        """Queue the request's good records and answer with the count and reasons of the others.

        body is the request's protobuf bytes when the transport has them; org_id, when set (the org of the
        client's token), replaces whatever organization the records name. Raises an "unavailable"
        Refusal when the write-ahead queue cannot take the request, so the client retries.
        """
        received_at_ns = time.time_ns()
        batch = signal.decode(request, self._context(received_at_ns))
        _store_under(org_id, batch)
        if batch.rows:
            entry = QueuedRequest(signal, received_at_ns, org_id,
                                  body if body is not None else request.SerializeToString())
            try:
                position = await self._queue.append(entry.encode())
            except QueueFull as error:
                raise Refusal("unavailable", f"{error}; retry later", len(batch.rows) + batch.rejected) from None
            self._writer.enqueue(position, batch.table, batch.rows)
            org_column = _ORG_COLUMN[batch.table]
            self.health.stored(signal.name, transport, len(batch.rows), {row[org_column] for row in batch.rows})
        if batch.rejected:
            self.health.invalid_records(signal.name, transport, batch.rejected)
        message = batch.summary(self._limits)
        if message:
            self._partial_log.log(f"{signal.name}:{message}", "%s export from %s: %d stored; %s",
                                  signal.name, peer, len(batch.rows), message)
        return signal.response(batch.rejected, message)

    def read_back(self, position: Position) -> tuple[str, list]:
        """The table and rows of a queued request, decoded again exactly as when it was acknowledged."""
        entry = decode_entry(self._queue.read(position))
        request = parse_protobuf(entry.body, entry.signal.request_type)
        batch = entry.signal.decode(request, self._context(entry.received_at_ns))
        _store_under(entry.org_id, batch)
        return batch.table, batch.rows

    def _context(self, received_at_ns: int) -> DecodeContext:
        return DecodeContext(self._limits, self._default_org_id, received_at_ns, self._retention_days, self._privacy)


def _store_under(org_id: str, batch: DecodedBatch) -> None:
    """Rows of an authenticated client belong to its token's org, whatever organization.id they carry."""
    if org_id and batch.rows:
        column = _ORG_COLUMN[batch.table]
        batch.rows = [(*row[:column], org_id, *row[column + 1:]) for row in batch.rows]
