"""Turning an export request into the rows to store, under the collector's limits, default org, retention and
privacy; and reading back the rows the write-ahead queue holds, so a replay stores exactly what the client was told
was kept."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import Message

from collector.decode import DecodeContext, DecodedBatch, Limits
from collector.decode.payload import parse_protobuf
from collector.decode.privacy import PrivacyPolicy
from collector.queued_request import QueuedRows, decode_entry
from collector.signals import Signal
from collector.tables import WRITTEN_TABLE_COLUMNS
from collector.write_ahead_log import Position, WriteAheadLog

# Where each table's rows carry the organization.
ORG_COLUMN = {table: columns.index("org_id") for table, columns in WRITTEN_TABLE_COLUMNS.items()}


@dataclass(frozen=True)
class RequestDecoder:
    limits: Limits = Limits()
    default_org_id: str = "default"
    retention_days: int = 0
    privacy: PrivacyPolicy = field(default_factory=PrivacyPolicy)

    def decode(self, signal: Signal, request: Message, received_at_ns: int, org_id: str = "") -> DecodedBatch:
        """The request's rows and rejections; org_id, when set (the org of the client's token), replaces whatever
        organization the records name."""
        context = DecodeContext(self.limits, self.default_org_id, received_at_ns, self.retention_days, self.privacy)
        batch = signal.decode(request, context)
        if org_id and batch.rows:
            column = ORG_COLUMN[batch.table]
            batch.rows = [(*row[:column], org_id, *row[column + 1:]) for row in batch.rows]
        return batch

    def read_back(self, queue: WriteAheadLog, position: Position) -> tuple[str, list]:
        """The table and rows a queued request was acknowledged with (an earlier version's entry: decoded again)."""
        entry = decode_entry(queue.read(position))
        if isinstance(entry, QueuedRows):
            return entry.table, entry.rows
        request = parse_protobuf(entry.body, entry.signal.request_type)
        batch = self.decode(entry.signal, request, entry.received_at_ns, entry.org_id)
        return batch.table, batch.rows
