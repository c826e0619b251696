"""What a write-ahead queue entry holds: the rows an export was acknowledged with, decoded and redacted already.

So the queue keeps no more than the tables (no prompt text, no plain email under --hash-emails), and a replay after
a crash stores exactly the acknowledged rows without decoding anything again. Rows are written with marshal (the
values are str, int, float, bool, None, lists, tuples and dicts of those): an exact, fast round trip of rows this
process wrote itself, each entry checked by its crc before it is read.

An entry written by an earlier version holds the request instead (its signal, when it was received, the org it is
stored under when the collector decides it, and its protobuf bytes): it is decoded again, under today's policy.
"""

from __future__ import annotations

import marshal
import struct
from dataclasses import dataclass

from collector.signals import SIGNALS, Signal

# An earlier version's entry starts with its signal's number (0 to 2), this version's with ROWS_MARK.
ROWS_MARK = b"\xff"
_MARSHAL_VERSION = 4  # every Python since 3.4 reads it
_REQUEST_HEAD = struct.Struct("<BQH")
_SIGNAL_NUMBER = {signal.name: number for number, signal in enumerate(SIGNALS)}


class UnreadableEntry(ValueError):
    """A queue entry this version cannot read (it names an unknown signal or is cut short)."""


@dataclass(frozen=True)
class QueuedRows:
    table: str
    rows: list[tuple]

    def encode(self) -> bytes:
        return ROWS_MARK + marshal.dumps((self.table, self.rows), _MARSHAL_VERSION)


@dataclass(frozen=True)
class QueuedRequest:
    """An entry of an earlier version, read on replay."""

    signal: Signal
    received_at_ns: int
    org_id: str
    body: bytes

    def encode(self) -> bytes:
        org = self.org_id.encode()
        return _REQUEST_HEAD.pack(_SIGNAL_NUMBER[self.signal.name], self.received_at_ns, len(org)) + org + self.body


def decode_entry(payload: bytes) -> QueuedRows | QueuedRequest:
    if payload[:1] == ROWS_MARK:
        return _decode_rows(payload)
    if len(payload) < _REQUEST_HEAD.size:
        raise UnreadableEntry(f"an entry of {len(payload)} bytes is shorter than its header")
    number, received_at_ns, org_length = _REQUEST_HEAD.unpack_from(payload)
    if number >= len(SIGNALS):
        raise UnreadableEntry(f"signal number {number} is unknown")
    org_end = _REQUEST_HEAD.size + org_length
    return QueuedRequest(SIGNALS[number], received_at_ns, payload[_REQUEST_HEAD.size:org_end].decode(),
                         payload[org_end:])


def _decode_rows(payload: bytes) -> QueuedRows:
    try:
        table, rows = marshal.loads(payload[len(ROWS_MARK):])
    except (EOFError, ValueError, TypeError) as error:
        raise UnreadableEntry(f"the rows of an entry cannot be read: {error}") from None
    if not isinstance(table, str) or not isinstance(rows, list) or not all(isinstance(row, tuple) for row in rows):
        raise UnreadableEntry("an entry's rows are not a table name and a list of rows")
    return QueuedRows(table, rows)
