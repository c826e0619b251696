"""Opening the configured store and bringing its schema up to date: the same steps for every command."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from clickhouse_connect.driver.client import Client

from cc_analytics.config import Settings
from plumbing.store import migrations
from collector.store.retention import apply_raw_retention
from plumbing.store.client import StoreTarget, connect

# Every package that owns tables, in the order their migrations apply.
MIGRATION_GROUPS = (("collector", "collector.migrations"), ("aggregator", "aggregator.migrations"))


def store_target(settings: Settings) -> StoreTarget:
    return StoreTarget(settings.data_dir, settings.clickhouse_url, settings.database, settings.cluster)


def migrate(client: Client, settings: Settings) -> list[str]:
    """Apply pending migrations of every group and the configured retention; returns what changed now."""
    params = migrations.SchemaParams(settings.database, settings.cluster, settings.raw_ttl_days)
    pending = [m for group, package in MIGRATION_GROUPS for m in migrations.discover(group, package)]
    applied = migrations.apply(client, params, pending)
    applied += [f"retention of {table}" for table in apply_raw_retention(client, params)]
    return applied


@contextmanager
def open_store(settings: Settings) -> Iterator[Client]:
    """A client on the configured store with its schema up to date (a store no serve has opened yet answers too,
    with no rows); closed afterwards. Queries name the database themselves."""
    client = connect(store_target(settings))
    try:
        migrate(client, settings)
        yield client
    finally:
        client.close()
