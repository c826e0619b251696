"""The remote-session migrations (collector 0008, aggregator 0007) on the real engine: run again after a crash they
change nothing, rows written before them read as local, and is_remote ends each rollup's sorting key."""

from __future__ import annotations

from datetime import date

from aggregator.rollup import ROLLUP_KEYS
from plumbing.store import migrations
from tests.support.rollup_rows import add_user_day


def _statements(group: str, package: str, name: str, database: str) -> list[str]:
    [migration] = [m for m in migrations.discover(group, package) if m.name == name]
    return migrations.statements(migration, migrations.SchemaParams(database))


def _run(store, statements: list[str]) -> None:
    for statement in statements:
        store.client.command(statement)


def test_running_the_remote_session_migrations_again_changes_nothing(store):
    schema = "SELECT table, name, type, default_kind, is_in_sorting_key FROM system.columns " \
             "WHERE database = {database:String} ORDER BY table, position"
    before = store.rows(schema, {"database": store.database})
    _run(store, _statements("collector", "collector.migrations", "remote_sessions", store.database))
    _run(store, _statements("aggregator", "aggregator.migrations", "remote_sessions", store.database))
    assert store.rows(schema, {"database": store.database}) == before
    for table, key in ROLLUP_KEYS.items():
        if "is_remote" in key:
            (sorting_key,), = store.rows("SELECT sorting_key FROM system.tables WHERE database = {database:String} "
                                         "AND name = {table:String}", {"database": store.database, "table": table})
            assert sorting_key.split(", ")[-1] == "is_remote" and set(sorting_key.split(", ")) == {"day", *key}


def test_rows_of_before_the_migration_are_local_and_keep_their_key(store):
    # a daily_user of before aggregator 0007: the migration adds is_remote to a table that already holds a row
    database = f"`{store.database}`"
    store.client.command(f"ALTER TABLE {database}.daily_user DROP COLUMN subscription_type")
    store.client.command(f"ALTER TABLE {database}.daily_user MODIFY ORDER BY (org_id, day, user_key)")
    store.client.command(f"ALTER TABLE {database}.daily_user DROP COLUMN is_remote")
    add_user_day(store, date(2026, 11, 2), "ada@example.com", lines_accepted=4)
    _run(store, _statements("aggregator", "aggregator.migrations", "remote_sessions", store.database))
    assert store.rows(f"SELECT user_key, is_remote, subscription_type, lines_accepted FROM {database}.daily_user "
                      "FINAL") == [("ada@example.com", 0, "", 4)]
