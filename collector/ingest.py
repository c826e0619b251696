"""What happens to an export request once it is decoded: queue, count, answer.

Shared by the gRPC and HTTP front doors, so both give the same answers to the same input. A request with records
to keep is acknowledged once its rows are in the write-ahead queue; the batch writer inserts its rows afterwards.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import Message

from collector.export_decoding import DecodedExport, decode_request
from collector.health import CollectorHealth
from collector.queued_request import QueuedRows, decode_entry
from collector.refusals import Refusal
from collector.request_decoder import RequestDecoder
from collector.signals import Signal
from collector.write_ahead_log import QueueFull, WriteAheadLog
from collector.writer import BatchWriter
from plumbing.log_once import RateLimitedLog
from plumbing.log_text import client_text

log = logging.getLogger(__name__)

# Unmarshalling a request's rows takes about a microsecond a row: a few thousand cost the event loop milliseconds.
ROWS_READ_ON_THE_EVENT_LOOP = 5_000


class Ingestor:
    def __init__(self, queue: WriteAheadLog, writer: BatchWriter, decoder: RequestDecoder, health: CollectorHealth):
        self._queue = queue
        self._writer = writer
        self._decoder = decoder
        self.health = health
        self._partial_log = RateLimitedLog(log, logging.WARNING)

    async def export(self, signal: Signal, request: Message, peer: str, transport: str, org_id: str = "") -> Message:
        """Decode a parsed request in this process and store it (for tests and tools; serve's receivers decode
        in the decoder pool and call store)."""
        decoded = decode_request(self._decoder, signal, request, time.time_ns(), org_id)
        return await self.store(signal, decoded, peer, transport)

    async def store(self, signal: Signal, decoded: DecodedExport, peer: str, transport: str) -> Message:
        """Queue the request's good records and answer with the count and reasons of the others.

        Raises an "unavailable" Refusal when the write-ahead queue cannot take the request, so the client retries.
        """
        if decoded.row_count:
            try:  # the decoded rows, redacted already: the queue holds no more than the tables will
                position = await self._queue.append(decoded.entry)
            except QueueFull as error:
                raise Refusal("unavailable", f"{error}; retry later", decoded.row_count + decoded.rejected) from None
            self._writer.enqueue(position, decoded.table, _rows_for_the_writer(decoded))
            self.health.stored(signal.name, transport, decoded.row_count, decoded.orgs)
        if decoded.rejected:
            self.health.invalid_records(signal.name, transport, decoded.rejected)
        if decoded.message:
            self._partial_log.log(f"{signal.name}:partial_success", "%s export from %s: %d stored; %s",
                                  signal.name, peer, decoded.row_count, client_text(decoded.message))
        return signal.response(decoded.rejected, decoded.message)

    async def store_rows(self, table: str, rows: list[tuple]) -> None:
        """Queue rows decoded by another receiver (GitHub's): they are durable once this returns, and the writer
        inserts them like any export's. Raises QueueFull when the write-ahead queue cannot take them."""
        position = await self._queue.append(QueuedRows(table, rows).encode())
        self._writer.enqueue(position, table, rows)


def _rows_for_the_writer(decoded: DecodedExport) -> list[tuple] | None:
    """The rows to keep in memory for the writer: unmarshalled here when few, else None (the writer reads the
    entry back in its own thread, so a large request costs the event loop nothing)."""
    if decoded.rows is not None or decoded.row_count > ROWS_READ_ON_THE_EVENT_LOOP:
        return decoded.rows
    return decode_entry(decoded.entry).rows
