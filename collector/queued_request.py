"""A request as the write-ahead queue holds it: its signal, when it was received, the org it is stored under
when the collector decides it (empty: the records say), and its protobuf bytes. Decoding it again gives the rows
the collector acknowledged, so a replay after a crash stores exactly what the client was told was kept."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from collector.signals import SIGNALS, Signal

_HEAD = struct.Struct("<BQH")
_SIGNAL_NUMBER = {signal.name: number for number, signal in enumerate(SIGNALS)}


class UnreadableEntry(ValueError):
    """A queue entry this version cannot read (it names an unknown signal or is cut short)."""


@dataclass(frozen=True)
class QueuedRequest:
    signal: Signal
    received_at_ns: int
    org_id: str
    body: bytes

    def encode(self) -> bytes:
        org = self.org_id.encode()
        return _HEAD.pack(_SIGNAL_NUMBER[self.signal.name], self.received_at_ns, len(org)) + org + self.body


def decode_entry(payload: bytes) -> QueuedRequest:
    if len(payload) < _HEAD.size:
        raise UnreadableEntry(f"an entry of {len(payload)} bytes is shorter than its header")
    number, received_at_ns, org_length = _HEAD.unpack_from(payload)
    if number >= len(SIGNALS):
        raise UnreadableEntry(f"signal number {number} is unknown")
    org_end = _HEAD.size + org_length
    return QueuedRequest(SIGNALS[number], received_at_ns, payload[_HEAD.size:org_end].decode(), payload[org_end:])
