"""What happens to an export request once a transport has parsed it: decode, queue, answer.

Shared by the gRPC and HTTP front doors, so both give the same answers to the same input. A request with records
to keep is acknowledged once its rows are in the write-ahead queue; the batch writer inserts its rows afterwards.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import Message

from collector.decode.request_work import check_request_work
from collector.health import CollectorHealth
from collector.queued_request import QueuedRows
from collector.refusals import Refusal
from collector.request_decoder import ORG_COLUMN, RequestDecoder
from collector.signals import Signal
from collector.write_ahead_log import QueueFull, WriteAheadLog
from collector.writer import BatchWriter
from plumbing.log_once import RateLimitedLog
from plumbing.log_text import client_text

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(self, queue: WriteAheadLog, writer: BatchWriter, decoder: RequestDecoder, health: CollectorHealth):
        self._queue = queue
        self._writer = writer
        self._decoder = decoder
        self.health = health
        self._partial_log = RateLimitedLog(log, logging.WARNING)

    async def export(self, signal: Signal, request: Message, peer: str, transport: str, org_id: str = "") -> Message:
        """Queue the request's good records and answer with the count and reasons of the others.

        org_id, when set (the org of the client's token), replaces whatever organization the records name. Raises
        an "unavailable" Refusal when the write-ahead queue cannot take the request, so the client retries.
        """
        received_at_ns = time.time_ns()
        check_request_work(request, self._decoder.limits)
        batch = self._decoder.decode(signal, request, received_at_ns, org_id)
        if batch.rows:
            try:  # the decoded rows, redacted already: the queue holds no more than the tables will
                position = await self._queue.append(QueuedRows(batch.table, batch.rows).encode())
            except QueueFull as error:
                raise Refusal("unavailable", f"{error}; retry later", len(batch.rows) + batch.rejected) from None
            self._writer.enqueue(position, batch.table, batch.rows)
            org_column = ORG_COLUMN[batch.table]
            self.health.stored(signal.name, transport, len(batch.rows), {row[org_column] for row in batch.rows})
        if batch.rejected:
            self.health.invalid_records(signal.name, transport, batch.rejected)
        message = batch.summary(self._decoder.limits)
        if message:
            self._partial_log.log(f"{signal.name}:partial_success", "%s export from %s: %d stored; %s",
                                  signal.name, peer, len(batch.rows), client_text(message))
        return signal.response(batch.rejected, message)

    async def store_rows(self, table: str, rows: list[tuple]) -> None:
        """Queue rows decoded by another receiver (GitHub's): they are durable once this returns, and the writer
        inserts them like any export's. Raises QueueFull when the write-ahead queue cannot take them."""
        position = await self._queue.append(QueuedRows(table, rows).encode())
        self._writer.enqueue(position, table, rows)
