"""The write-ahead log's segment files: the entry layout, and how a segment left by the last run is read back.

Entry layout: length (uint32), crc32 of the payload (uint32), sequence number (uint64), then the payload.

Reading a segment on start tells three things apart. Whole entries (crc good) are replayed. An entry that fails
its crc but is followed by a whole entry is damage, not a crash (a flipped byte on disk): its bytes are moved to a
quarantine file beside the segments, so the entries after it still replay. Bytes after the last whole entry are a
torn tail (the process died mid-write, so that entry was never acknowledged) and are cut.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass

log = logging.getLogger("collector.write_ahead_log")

ENTRY_HEADER = struct.Struct("<IIQ")
_LENGTH = struct.Struct("<I")
_SEQUENCE = struct.Struct("<Q")
_SEQUENCE_AT = 8  # the sequence number's place in the header
QUARANTINE_MARK = ".quarantined-damaged-entry-at-byte-"


@dataclass(frozen=True)
class Position:
    """Where one entry lives: its sequence number, its segment (by first sequence number) and byte range."""

    sequence: int
    segment: int
    offset: int
    length: int

    @property
    def size(self) -> int:
        return ENTRY_HEADER.size + self.length


def encode_entry(sequence: int, payload: bytes) -> bytes:
    return ENTRY_HEADER.pack(len(payload), zlib.crc32(payload), sequence) + payload


def quarantine_path(segment_path: str, offset: int) -> str:
    """Where the damaged entry found at this byte of this segment is kept for an operator to look at."""
    return f"{segment_path}{QUARANTINE_MARK}{offset}"


@dataclass(frozen=True)
class _Layout:
    entries: list[Position]
    damaged: list[tuple[int, int]]  # (offset, size) of each damaged entry, a whole entry after it
    end: int  # where the last whole entry ends; anything after it is a torn tail


def recover_segment(path: str, first: int) -> tuple[list[Position], int]:
    """The whole entries of a segment, once its torn tail is cut and its damaged entries are moved aside; and how
    many entries were quarantined."""
    with open(path, "rb") as segment:
        data = segment.read()
    layout = _layout(data, first)
    if layout.end < len(data):
        log.warning("write-ahead queue segment %s: cut %d bytes of a torn entry at its end (written when the "
                    "process died, never acknowledged)", path, len(data) - layout.end)
        os.truncate(path, layout.end)
        data = data[:layout.end]
    if not layout.damaged:
        return layout.entries, 0
    for offset, size in layout.damaged:
        log.error("write-ahead queue segment %s: the entry at byte %d (%d bytes) fails its checksum (damaged on "
                  "disk); it is moved to %s and the entries after it are replayed", path, offset, size,
                  quarantine_path(path, offset))
    try:
        kept = _move_aside(path, data, layout.damaged)
    except OSError as error:
        log.error("write-ahead queue segment %s: cannot move its damaged entries aside (%s); they stay in the "
                  "segment and are skipped", path, error)
        return layout.entries, len(layout.damaged)
    return _layout(kept, first).entries, len(layout.damaged)


def _layout(data: bytes, first: int) -> _Layout:
    entries: list[Position] = []
    damaged: list[tuple[int, int]] = []
    offset = end = 0
    expected = first  # the sequence number the next entry should carry
    while offset < len(data):
        entry = _whole_entry(data, offset, first)
        if entry:
            entries.append(entry)
            offset = end = offset + entry.size
            expected = entry.sequence + 1
            continue
        resume = _next_whole_entry(data, offset, first, expected + 1)
        if resume is None:
            break
        damaged.append((offset, resume - offset))
        offset = resume
    return _Layout(entries, damaged, end)


def _whole_entry(data: bytes, offset: int, first: int) -> Position | None:
    if offset + ENTRY_HEADER.size > len(data):
        return None
    length, checksum, sequence = ENTRY_HEADER.unpack_from(data, offset)
    start = offset + ENTRY_HEADER.size
    if start + length > len(data) or zlib.crc32(data[start:start + length]) != checksum:
        return None
    return Position(sequence, first, start, length)


def _next_whole_entry(data: bytes, offset: int, first: int, following: int) -> int | None:
    """Where the whole entry after the bad one at offset starts: where its length says, or else (the length
    itself damaged) wherever the entry with the following sequence number is found; None if there is none."""
    if offset + ENTRY_HEADER.size <= len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        after = offset + ENTRY_HEADER.size + length
        if after < len(data) and _whole_entry(data, after, first):
            return after
    marker = _SEQUENCE.pack(following)
    found = data.find(marker, offset + 1 + _SEQUENCE_AT)
    while found >= 0:
        if _whole_entry(data, found - _SEQUENCE_AT, first):
            return found - _SEQUENCE_AT
        found = data.find(marker, found + 1)
    return None


def _move_aside(path: str, data: bytes, damaged: list[tuple[int, int]]) -> bytes:
    """Write each damaged entry to its quarantine file, then replace the segment by what is left; returns that."""
    kept, start = [], 0
    for offset, size in damaged:
        _write_durably(quarantine_path(path, offset), data[offset:offset + size])
        kept.append(data[start:offset])
        start = offset + size
    kept.append(data[start:])
    remaining = b"".join(kept)
    temporary = path + ".rewrite"
    _write_durably(temporary, remaining)
    os.replace(temporary, path)
    directory = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return remaining


def _write_durably(path: str, content: bytes) -> None:
    with open(path, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
