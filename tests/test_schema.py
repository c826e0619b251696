"""The raw schema on the real engine: migrations apply once, the tables match the decoders' columns, the
keys are what the design says, and the DDL renders for a cluster."""

from __future__ import annotations

import time

import pytest

from cc_analytics.config import Settings
from cc_analytics.store import migrate
from collector.decode import DecodeContext, Limits, decode_logs
from collector.store.client import insert_columns
from collector.store.migrations import SchemaParams, discover, statements
from collector.tables import TABLE_COLUMNS
from tests.test_decoding import LogRecord, logs_request, text


def test_migrations_apply_once_and_are_recorded(store):
    assert migrate(store.client, Settings(database=store.database)) == []
    recorded = store.rows("SELECT group, version, name FROM {db}.schema_migrations FINAL ORDER BY version")
    assert recorded == [("collector", 1, "raw_events"), ("collector", 2, "raw_metric_points"),
                        ("collector", 3, "raw_spans")]


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_tables_have_exactly_the_columns_the_decoders_fill(store, table):
    insertable = store.rows(
        "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String} "
        "AND default_kind != 'MATERIALIZED' ORDER BY position", {"database": store.database, "table": table})
    assert tuple(name for (name,) in insertable) == TABLE_COLUMNS[table]


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_organization_leads_the_sort_key_and_partitions_are_monthly(store, table):
    ((sorting_key, partition_key),) = store.rows(
        "SELECT sorting_key, partition_key FROM system.tables WHERE database = {database:String} "
        "AND name = {table:String}", {"database": store.database, "table": table})
    assert sorting_key.startswith("org_id, toDate(timestamp)")
    assert partition_key == "toYYYYMM(timestamp)"


def test_ddl_renders_for_a_cluster_and_without_retention():
    migration = discover("collector", "collector.migrations")[0]
    clustered = statements(migration, SchemaParams("analytics", cluster="main", raw_ttl_days=0))
    assert len(clustered) == 1
    assert "CREATE TABLE IF NOT EXISTS `analytics`.events ON CLUSTER `main`" in clustered[0]
    assert "ReplicatedReplacingMergeTree(received_at)" in clustered[0]
    assert "TTL" not in clustered[0]
    single = statements(migration, SchemaParams("analytics", raw_ttl_days=90))[0]
    assert "ON CLUSTER" not in single and "Replicated" not in single
    assert "TTL toDate(timestamp) + toIntervalDay(90)" in single


@pytest.mark.parametrize("name", ["analytics; DROP TABLE x", "a-b", "`x`"])
def test_names_that_are_not_plain_identifiers_are_refused(name):
    with pytest.raises(ValueError, match="identifier"):
        SchemaParams(name).template_values()


def test_a_record_stored_twice_is_one_row_after_final(store):
    batch = decode_logs(logs_request([LogRecord(time_unix_nano=time.time_ns(), attributes=[text("session.id", "s")])]),
                        DecodeContext(Limits(), "org", time.time_ns()))
    columns = list(zip(*batch.rows))
    for _ in range(2):
        insert_columns(store.client, "events", TABLE_COLUMNS["events"], columns, store.database)
    assert store.rows("SELECT count() FROM {db}.events FINAL") == [(1,)]
