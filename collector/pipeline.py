"""The collector behind its receivers, built in one place for serve and the tests alike: the write-ahead log, the
batch writer that inserts behind it, the ingestor the receivers hand requests to, and their health.

Built in dependency order (log, writer, ingestor), so nothing refers to a part that does not exist yet: the writer
reads spilled and replayed entries back through the request decoder, not through the ingestor.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from collector.health import CollectorHealth
from collector.ingest import Ingestor
from collector.request_decoder import RequestDecoder
from collector.tables import WRITTEN_TABLE_COLUMNS
from collector.write_ahead_log import Position, WriteAheadLog
from collector.writer import BatchWriter, InsertColumns
from plumbing.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSettings:
    directory: str
    max_bytes: int
    sync: bool = True  # fdatasync before acknowledging


@dataclass(frozen=True)
class BatchSettings:
    max_rows: int
    max_delay_seconds: float
    max_memory_rows: int


class CollectorPipeline:
    def __init__(self, *, queue: WriteAheadLog, writer: BatchWriter, ingestor: Ingestor, health: CollectorHealth,
                 unconfirmed: list[Position]):
        self.queue = queue
        self.writer = writer
        self.ingestor = ingestor
        self.health = health
        self.unconfirmed = unconfirmed  # acknowledged before a stop or crash, not yet stored

    def start(self, supervisor: Supervisor | None = None) -> None:
        """Start syncing the log and inserting (the writer under the supervisor); what was acknowledged before a
        stop or crash goes first, in order."""
        self.queue.start()
        self.writer.replay(self.unconfirmed)
        if self.unconfirmed:
            log.info("replaying %d acknowledged requests from the write-ahead queue %s", len(self.unconfirmed),
                     self.queue.directory)
        self.health.watch_queue(lambda: self.writer.memory_rows, self.writer.max_memory_rows)
        self.writer.start(supervisor)

    async def close(self, grace_seconds: float = 10) -> None:
        """Insert what was accepted (what the store does not take within the grace stays queued), then close the log."""
        await self.writer.close(grace_seconds)
        await self.queue.close()


def build_pipeline(*, queue: QueueSettings, batches: BatchSettings, insert_columns: InsertColumns,
                   decoder: RequestDecoder, health: CollectorHealth) -> CollectorPipeline:
    """Open the write-ahead log (taking its directory's lock) and wire the writer and ingestor behind it."""
    write_ahead_log = WriteAheadLog(queue.directory, queue.max_bytes, sync=queue.sync)
    unconfirmed = write_ahead_log.open()
    writer = BatchWriter(
        insert_columns, WRITTEN_TABLE_COLUMNS,
        max_rows=batches.max_rows,
        max_delay_seconds=batches.max_delay_seconds,
        max_memory_rows=batches.max_memory_rows,
        read_back=functools.partial(decoder.read_back, write_ahead_log),
        confirm=write_ahead_log.confirm,
        observer=health,
    )
    ingestor = Ingestor(write_ahead_log, writer, decoder, health)
    return CollectorPipeline(queue=write_ahead_log, writer=writer, ingestor=ingestor, health=health,
                             unconfirmed=unconfirmed)
