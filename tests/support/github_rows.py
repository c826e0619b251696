"""Storing github_* rows straight into a test's chDB database, as the CLI's in-process backfill does."""

from __future__ import annotations

from collector.github.tables import GITHUB_TABLE_COLUMNS
from plumbing.store.client import insert_columns


def insert(store, table: str, rows: list[tuple]) -> None:
    insert_columns(store.client, table, GITHUB_TABLE_COLUMNS[table], list(zip(*rows)), store.database)


def in_process(store) -> dict:
    """The keyword arguments of a Fetcher or labeller that stores into store at once, on the calling thread."""
    async def store_rows(table: str, rows: list[tuple]) -> None:
        insert(store, table, rows)

    async def run_blocking(work):
        return work()

    async def settled() -> bool:
        return True

    return {"store_rows": store_rows, "run_blocking": run_blocking, "settle": settled}
