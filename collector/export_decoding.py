"""An export request's bytes -> what the write-ahead log and the writer take: the one job of a decoding worker.

Pure and picklable, so it runs alike in a worker process, in a thread, or inline in a test: decompress (gzip in
linear time under the size limit), parse (protobuf or the OTLP JSON mapping), refuse a request over the bound on
work, decode under the collector's limits and policy, and marshal the rows into the write-ahead log entry, so the
process that owns the log only appends it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from google.protobuf.message import Message

from collector.decode.payload import gunzip, parse_json, parse_protobuf
from collector.decode.request_work import check_request_work
from collector.queued_request import QueuedRows
from collector.request_decoder import ORG_COLUMN, RequestDecoder
from collector.signals import SIGNALS, Signal

SIGNAL_NAMED = {signal.name: signal for signal in SIGNALS}


@dataclass(frozen=True)
class ExportBody:
    """A request as a receiver read it: authenticated, bounded in size, not decompressed or parsed yet."""

    signal: str
    body: bytes
    gzipped: bool
    json: bool
    received_at_ns: int
    org_id: str  # the org of the client's token, "" for the records' own


@dataclass(frozen=True)
class DecodedExport:
    """What one request comes to: its table, the write-ahead log entry of its rows, and what was not kept."""

    table: str
    entry: bytes  # QueuedRows encoded; b"" when no row is kept
    row_count: int
    rejected: int
    message: str  # the partial_success message, "" when everything was kept as sent
    orgs: frozenset[str]
    rows: list[tuple] | None = None  # the rows themselves, when decoded in this process


@dataclass(frozen=True)
class ExportDecoder:
    decoder: RequestDecoder
    max_request_bytes: int

    def decode(self, export: ExportBody) -> DecodedExport:
        """Raises MalformedPayload, PayloadTooLarge or TooMuchWork for a request refused whole. The rows are left
        out of the answer: they travel once, marshalled in the entry."""
        signal = SIGNAL_NAMED[export.signal]
        body = gunzip(export.body, self.max_request_bytes) if export.gzipped else export.body
        request = (parse_json if export.json else parse_protobuf)(body, signal.request_type)
        decoded = decode_request(self.decoder, signal, request, export.received_at_ns, export.org_id)
        return replace(decoded, rows=None)


def decode_request(decoder: RequestDecoder, signal: Signal, request: Message, received_at_ns: int,
                   org_id: str) -> DecodedExport:
    """A parsed request decoded, rows included; TooMuchWork when it is over the bound on work."""
    check_request_work(request, decoder.limits)
    batch = decoder.decode(signal, request, received_at_ns, org_id)
    org_column = ORG_COLUMN[batch.table]
    return DecodedExport(
        table=batch.table,
        entry=QueuedRows(batch.table, batch.rows).encode() if batch.rows else b"",
        row_count=len(batch.rows),
        rejected=batch.rejected,
        message=batch.summary(decoder.limits),
        orgs=frozenset(row[org_column] for row in batch.rows),
        rows=batch.rows,
    )
