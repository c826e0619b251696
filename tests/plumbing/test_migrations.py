"""Schema migrations on the real engine: applied once, recorded, and matching the column tuples the decoders fill."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from cc_analytics.config import Settings
from aggregator.contributions import CONTRIBUTION_TABLES
from aggregator.rollup import CURSOR_TABLE, ROLLUP_TABLES
from cc_analytics.store import MIGRATION_GROUPS, migrate
from collector.decode import DecodeContext, Limits, decode_logs, decode_metrics, decode_traces
from tests.support.paths import REPO
from plumbing.store import migrations
from plumbing.store.client import insert_columns
from collector.github.tables import GITHUB_TABLE_COLUMNS
from collector.tables import TABLE_COLUMNS, WRITTEN_TABLE_COLUMNS

RAW_TABLES = tuple(TABLE_COLUMNS)


def collector_migrations() -> list[migrations.Migration]:
    return migrations.discover("collector", "collector.migrations")


def all_migrations() -> list[migrations.Migration]:
    return [m for group, package in MIGRATION_GROUPS for m in migrations.discover(group, package)]


def files_on_disk() -> list[tuple[str, int, str]]:
    """(group, version, name) of every NNNN_name.sql of every group, read from the directories themselves."""
    found = []
    for group, package in MIGRATION_GROUPS:
        for path in sorted((REPO / package.replace(".", "/")).glob("*.sql")):
            number, name = path.stem.split("_", 1)
            found.append((group, int(number), name))
    return found


@pytest.fixture
def fresh_database(chdb_client):
    """A database name nothing has created yet; dropped afterwards."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    yield database
    chdb_client.command(f"DROP DATABASE IF EXISTS `{database}`")


def table_info(store, table: str) -> dict:
    (row,) = store.rows("SELECT sorting_key, partition_key, engine, engine_full FROM system.tables "
                        "WHERE database = {database:String} AND name = {table:String}",
                        {"database": store.database, "table": table})
    return dict(zip(("sorting_key", "partition_key", "engine", "engine_full"), row))


# --- applying -----------------------------------------------------------------------------------------------------

def test_every_migration_file_is_discovered_in_order():
    assert [(m.group, m.version, m.name) for m in all_migrations()] == files_on_disk()
    assert len(files_on_disk()) >= 3


def test_migrations_apply_once_and_are_recorded(chdb_client, fresh_database):
    params = migrations.SchemaParams(fresh_database)

    first = migrations.apply(chdb_client, params, all_migrations())
    second = migrations.apply(chdb_client, params, all_migrations())

    assert first == [f"{group}/{version:04d}_{name}" for group, version, name in files_on_disk()]
    assert second == []
    recorded = chdb_client.query(f"SELECT group, version, name FROM `{fresh_database}`.schema_migrations FINAL "
                                 "ORDER BY group, version").result_rows
    assert sorted(tuple(row) for row in recorded) == sorted(files_on_disk())


def test_migrate_twice_is_a_no_op(store):
    # the fixture has migrated once already
    assert migrate(store.client, Settings(database=store.database)) == []
    assert store.rows("SELECT count() FROM {db}.schema_migrations FINAL") == [(len(files_on_disk()),)]
    tables = {name for (name,) in store.rows("SELECT name FROM system.tables WHERE database = {database:String}",
                                             {"database": store.database})}
    assert tables == {*RAW_TABLES, *GITHUB_TABLE_COLUMNS, *ROLLUP_TABLES, *CONTRIBUTION_TABLES, CURSOR_TABLE, "dead_letters",
                      "schema_migrations"}


def test_a_missing_migration_is_applied_when_the_others_are_recorded(chdb_client, fresh_database):
    params = migrations.SchemaParams(fresh_database)
    first, *rest = collector_migrations()

    assert migrations.apply(chdb_client, params, [first]) == [first.label]
    assert migrations.apply(chdb_client, params, [first, *rest]) == [m.label for m in rest]


# --- the tables match the decoders --------------------------------------------------------------------------------

@pytest.mark.parametrize("table", tuple(WRITTEN_TABLE_COLUMNS))
def test_insertable_columns_are_the_decoder_tuple(store, table):
    columns = store.rows("SELECT name FROM system.columns "
                         "WHERE database = {database:String} AND table = {table:String} "
                         "AND default_kind != 'MATERIALIZED' ORDER BY position",
                         {"database": store.database, "table": table})

    assert tuple(name for (name,) in columns) == WRITTEN_TABLE_COLUMNS[table]


@pytest.mark.parametrize("table", RAW_TABLES)
def test_sorting_and_partition_keys(store, table):
    info = table_info(store, table)

    assert info["sorting_key"].split(",")[0].strip() == "org_id"
    assert info["partition_key"] == "toYYYYMM(timestamp)"
    assert info["engine"] == "ReplacingMergeTree"


# --- rendering: TTL, cluster, names -------------------------------------------------------------------------------

def rendered(params: migrations.SchemaParams, group_migrations=all_migrations) -> list[str]:
    return [statement for migration in group_migrations() for statement in migrations.statements(migration, params)]


def raw_table_statements(params: migrations.SchemaParams) -> list[str]:
    return [s for s in rendered(params, collector_migrations)
            if s.startswith("CREATE TABLE") and any(f".{table} " in s for table in RAW_TABLES)]


def test_each_migration_renders_to_complete_statements():
    for migration in all_migrations():
        statements = migrations.statements(migration, migrations.SchemaParams("analytics"))
        assert statements
        for statement in statements:
            assert re.match(r"(CREATE TABLE IF NOT EXISTS|ALTER TABLE) `analytics`\.\w+ ", statement), statement
            assert "$" not in statement and "--" not in statement
            assert not statement.endswith(";")


def test_ttl_is_rendered_with_the_retention_days():
    assert len(raw_table_statements(migrations.SchemaParams("analytics"))) == len(RAW_TABLES)
    for statement in raw_table_statements(migrations.SchemaParams("analytics", raw_ttl_days=30)):
        assert statement.endswith("TTL toDate(timestamp) + toIntervalDay(30)")


def test_no_ttl_when_retention_is_zero():
    for statement in rendered(migrations.SchemaParams("analytics", raw_ttl_days=0)):
        assert "TTL" not in statement


def test_rollups_outlive_the_raw_retention():
    for statement in rendered(migrations.SchemaParams("analytics", raw_ttl_days=30)):
        if any(f".{table} " in statement for table in ROLLUP_TABLES):
            assert "TTL" not in statement


def test_tables_created_without_retention_have_no_ttl(chdb_client, fresh_database):
    migrations.apply(chdb_client, migrations.SchemaParams(fresh_database, raw_ttl_days=0), collector_migrations())

    engines = chdb_client.query("SELECT name, engine_full FROM system.tables WHERE database = {database:String}",
                                parameters={"database": fresh_database}).result_rows
    assert {name for name, _ in engines} >= set(RAW_TABLES)
    assert all(" TTL " not in engine_full for name, engine_full in engines)


@pytest.mark.parametrize("table", RAW_TABLES)
def test_tables_created_with_retention_have_the_ttl(store, table):
    # the store fixture migrates with the default retention of 400 days
    assert "TTL toDate(timestamp) + toIntervalDay(400)" in table_info(store, table)["engine_full"]


def test_cluster_renders_on_cluster_and_replicated_engines():
    for statement in rendered(migrations.SchemaParams("analytics", cluster="prod_cluster")):
        assert re.match(r"(CREATE TABLE IF NOT EXISTS|ALTER TABLE) `analytics`\.\w+ ON CLUSTER `prod_cluster`\s",
                        statement), statement
        if statement.startswith("CREATE"):
            assert re.search(r"ENGINE = ReplicatedReplacingMergeTree\((received_at|version|updated_at|fetched_at)\)", statement)


def test_without_cluster_there_is_no_on_cluster_and_no_replication():
    for statement in rendered(migrations.SchemaParams("analytics")):
        assert "ON CLUSTER" not in statement and "Replicated" not in statement
        if statement.startswith("CREATE"):
            assert re.search(r"ENGINE = ReplacingMergeTree\((received_at|version|updated_at|fetched_at)\)", statement)


BAD_NAMES = ["bad-name", "db; DROP DATABASE system", "db`x", "1db", "db name", "db.table"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_database_name_that_is_not_a_plain_identifier_is_refused(chdb_client, name):
    with pytest.raises(ValueError, match="identifier"):
        migrations.SchemaParams(name).template_values()
    with pytest.raises(ValueError, match="identifier"):
        migrations.apply(chdb_client, migrations.SchemaParams(name), collector_migrations())
    databases = {database for (database,) in chdb_client.query("SELECT name FROM system.databases").result_rows}
    assert name not in databases


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_cluster_name_that_is_not_a_plain_identifier_is_refused(name):
    with pytest.raises(ValueError, match="identifier"):
        rendered(migrations.SchemaParams("analytics", cluster=name))


def test_identifiers_with_underscores_and_digits_are_accepted():
    values = migrations.SchemaParams("cc_analytics_2", cluster="_prod_1").template_values()

    assert (values["database"], values["on_cluster"]) == ("`cc_analytics_2`", "ON CLUSTER `_prod_1`")


# --- a record delivered twice -------------------------------------------------------------------------------------

def string_attributes(attributes: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=key, value=AnyValue(string_value=value)) for key, value in attributes.items()]


def logs_request(now_ns: int) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for n in range(3):
        record = scope.log_records.add(time_unix_nano=now_ns - n, observed_time_unix_nano=now_ns)
        record.attributes.extend(string_attributes({"event.name": "user_prompt", "session.id": "s", "n": str(n)}))
        record.body.string_value = "claude_code.user_prompt"
    return request


def metrics_request(now_ns: int) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="claude_code.token.usage")
    metric.sum.aggregation_temporality = 1
    metric.sum.is_monotonic = True
    for kind in ("input", "output", "cacheRead"):
        point = metric.sum.data_points.add(time_unix_nano=now_ns, start_time_unix_nano=now_ns - 10**9, as_int=7)
        point.attributes.extend(string_attributes({"type": kind, "session.id": "s"}))
    return request


def traces_request(now_ns: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(3):
        scope.spans.add(name=f"span-{n}", trace_id=bytes(range(16)), span_id=bytes([n] * 8),
                        start_time_unix_nano=now_ns, end_time_unix_nano=now_ns + 1000)
    return request


DECODERS = {
    "events": (logs_request, decode_logs),
    "metric_points": (metrics_request, decode_metrics),
    "spans": (traces_request, decode_traces),
}


@pytest.mark.parametrize("table", RAW_TABLES)
def test_a_record_inserted_twice_is_one_row_with_final(store, table):
    build, decode = DECODERS[table]
    now_ns = time.time_ns()
    request = build(now_ns)
    # a client retry: the same records, decoded again when they arrive a second later
    deliveries = [decode(request, DecodeContext(Limits(), "org", now_ns + delay)) for delay in (0, 10**9)]
    for batch in deliveries:
        assert len(batch.rows) == 3 and batch.rejected == 0
        insert_columns(store.client, table, TABLE_COLUMNS[table], list(zip(*batch.rows)), store.database)

    assert store.rows(f"SELECT count() FROM {{db}}.{table} FINAL") == [(3,)]
    # the later delivery is the version kept
    assert store.rows(f"SELECT DISTINCT toUnixTimestamp64Milli(received_at) FROM {{db}}.{table} FINAL") == [
        ((now_ns + 10**9) // 1_000_000,)]
