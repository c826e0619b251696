"""Inserting a batch so that no row the store refuses can hold back the others.

- split: a table's rows go in pieces the store always takes: at most PARTITIONS_PER_INSERT months (the raw tables'
  partition, toYYYYMM(timestamp)) per insert, as ClickHouse refuses an INSERT block over
  max_partitions_per_insert_block (100 by default) partitions;
- classify: a failed insert is retryable (the store down, full or overloaded: the same rows go in later) or a
  refusal of these rows, which no retry can change;
- bisect: a refused piece is halved until each refused row is alone (about 2 log2(n) inserts per bad row); the
  other rows are stored, each refused row becomes a dead letter in the dead_letters table (its table, org, user
  key, the store's reason and the row as JSON), and a dead letter that table refuses too is dropped, counted.

InsertPlan holds what is left to insert; the writer drives it and keeps its backoff for retryable failures.
"""

from __future__ import annotations

import collections
import json
import re
import struct
import time
from dataclasses import dataclass
from typing import Sequence

from clickhouse_connect.driver.exceptions import DataError

DEAD_LETTER_TABLE = "dead_letters"
DEAD_LETTER_COLUMNS = ("org_id", "source_table", "user_key", "received_at", "reason_kind", "reason", "row_json")

# Well below ClickHouse's default max_partitions_per_insert_block (100), so a server set lower still takes it.
PARTITIONS_PER_INSERT = 50
REASON_MAX_CHARS = 2000

# ClickHouse errors after which the same insert can succeed later: the store is the problem, not the rows.
RETRYABLE_STORE_ERRORS = frozenset({
    "NETWORK_ERROR", "SOCKET_TIMEOUT", "TIMEOUT_EXCEEDED", "ALL_CONNECTION_TRIES_FAILED",  # unreachable, slow
    "CANNOT_READ_FROM_SOCKET", "CANNOT_WRITE_TO_SOCKET", "UNEXPECTED_END_OF_FILE", "ABORTED", "QUERY_WAS_CANCELLED",
    "NOT_ENOUGH_SPACE", "CANNOT_WRITE_TO_FILE_DESCRIPTOR", "CANNOT_OPEN_FILE", "CANNOT_FSYNC",  # disk full
    "STD_EXCEPTION",  # chDB reports a full disk as std::filesystem_error
    "MEMORY_LIMIT_EXCEEDED", "CANNOT_ALLOCATE_MEMORY", "TOO_MANY_SIMULTANEOUS_QUERIES", "TOO_MANY_PARTS",  # load
    "TABLE_IS_READ_ONLY", "READONLY", "KEEPER_EXCEPTION", "NO_ZOOKEEPER",  # a replica or Keeper away
    "UNKNOWN_DATABASE", "UNKNOWN_TABLE", "NO_SUCH_COLUMN_IN_TABLE",  # migrations not applied yet
    "ACCESS_DENIED", "AUTHENTICATION_FAILED", "REQUIRED_PASSWORD",  # credentials an operator fixes
})
# The driver cannot encode a value for its column: the row is at fault, as in a refusal by the store.
ENCODING_ERRORS = (DataError, TypeError, ValueError, OverflowError, struct.error)
UNENCODABLE = "UNENCODABLE_VALUE"

_ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
_ERROR_CODE = re.compile(r"\bCode:\s*(\d+)")
_TOO_MANY_PARTITIONS = "partitions for single INSERT block"


@dataclass(frozen=True)
class Refusal:
    """The store (or the driver) refused these rows for good: kind is ClickHouse's error name."""

    kind: str
    reason: str


def classify(error: Exception) -> Refusal | None:
    """A Refusal when retrying the same rows cannot succeed; None when it can (the old rule for every error)."""
    message = " ".join(str(error).split())[:REASON_MAX_CHARS]
    if isinstance(error, ENCODING_ERRORS) and not getattr(error, "code", None):
        return Refusal(UNENCODABLE, f"{type(error).__name__} encoding the row: {message}")
    name = getattr(error, "name", None) or _last(_ERROR_NAME.findall(message))
    code = getattr(error, "code", None) or _last(_ERROR_CODE.findall(message))
    if not name and not code:
        return None  # not an answer of the store (connection lost, timeout, a fault here): try again
    if name in RETRYABLE_STORE_ERRORS and _TOO_MANY_PARTITIONS not in message:
        return None
    # Too many partitions is "split it": bisecting does, so nothing of a block merely too wide is dead-lettered.
    return Refusal(name or f"CODE_{code}", message)


def _last(found: list[str]) -> str | None:
    return found[-1] if found else None


@dataclass
class Piece:
    table: str
    rows: list


class InsertPlan:
    """The pieces of one batch still to insert, in order; the dead letters go last, in one piece."""

    def __init__(self, rows_by_table: dict[str, list], table_columns: dict[str, Sequence[str]], received_at_ms: int):
        self._table_columns = table_columns
        self._received_at_ms = received_at_ms
        self._pieces = collections.deque(
            Piece(table, piece) for table, rows in rows_by_table.items()
            for piece in _by_partition(rows, table_columns[table]))
        self._dead_letters: list[tuple] = []
        self.dropped: list[tuple[tuple, Refusal]] = []  # dead letters the dead_letters table refused too

    def next_piece(self) -> Piece | None:
        if not self._pieces and self._dead_letters:
            self._pieces.append(Piece(DEAD_LETTER_TABLE, self._dead_letters))
            self._dead_letters = []
        return self._pieces[0] if self._pieces else None

    def column_names(self, table: str) -> Sequence[str]:
        return DEAD_LETTER_COLUMNS if table == DEAD_LETTER_TABLE else self._table_columns[table]

    def columns(self, piece: Piece) -> list:
        """The piece column by column, a raw table's received_at stamped with the batch's time."""
        columns = list(zip(*piece.rows))
        names = self.column_names(piece.table)
        if piece.table != DEAD_LETTER_TABLE and "received_at" in names:  # github_fetches has fetched_at only
            columns[names.index("received_at")] = [self._received_at_ms] * len(piece.rows)
        return columns

    def stored(self) -> Piece:
        return self._pieces.popleft()

    def refused(self, refusal: Refusal) -> None:
        """The head piece was refused: halve it, or with one row left make it a dead letter (or drop it)."""
        piece = self._pieces.popleft()
        if len(piece.rows) > 1:
            middle = len(piece.rows) // 2
            self._pieces.extendleft([Piece(piece.table, piece.rows[middle:]), Piece(piece.table, piece.rows[:middle])])
        elif piece.table == DEAD_LETTER_TABLE:
            self.dropped.append((piece.rows[0], refusal))
        else:
            self._dead_letters.append(self._dead_letter(piece.table, piece.rows[0], refusal))

    def _dead_letter(self, table: str, row: Sequence, refusal: Refusal) -> tuple:
        columns = self._table_columns[table]
        fields = dict(zip(columns, row))
        fields.pop("received_at", None)  # stamped at insert: without it, a replay of the row makes the same dead letter
        # The row as decoded, so already redacted.
        row_json = json.dumps(fields, default=str, ensure_ascii=False, sort_keys=True)
        return (str(fields.get("org_id", "")), table, str(fields.get("user_key", "")), self._received_at_ms,
                refusal.kind, refusal.reason, row_json)


def by_kind(dead_letters: list[tuple]) -> dict[tuple[str, str], tuple[int, str]]:
    """(source table, reason kind) -> (dead letters, the first one's reason), for the counters and the log."""
    kinds: dict[tuple[str, str], tuple[int, str]] = {}
    for letter in dead_letters:
        count, reason = kinds.get((letter[1], letter[4]), (0, letter[5]))
        kinds[(letter[1], letter[4])] = (count + 1, reason)
    return kinds


def _by_partition(rows: list, columns: Sequence[str]) -> list[list]:
    """The telemetry tables are partitioned by month of their timestamp; the github_* tables have no partitions."""
    if "timestamp" not in columns:
        return [rows] if rows else []
    return split_by_partition(rows, columns.index("timestamp"))


def split_by_partition(rows: list, timestamp_index: int, most: int = PARTITIONS_PER_INSERT) -> list[list]:
    """The rows in pieces of at most `most` months each; one piece, in order, when they span no more."""
    if not rows:
        return []
    by_month: dict[tuple, list] = {}
    for row in rows:
        by_month.setdefault(_month(row[timestamp_index]), []).append(row)
    if len(by_month) <= most:
        return [rows]
    months = sorted(by_month)
    return [[row for month in months[start:start + most] for row in by_month[month]]
            for start in range(0, len(months), most)]


def _month(timestamp) -> tuple:
    """(year, month) in UTC of a nanosecond timestamp, as toYYYYMM sees it; one group for what is not one."""
    try:
        return tuple(time.gmtime(timestamp // 1_000_000_000)[:2])
    except (TypeError, ValueError, OverflowError, OSError):
        return (0, 0)
