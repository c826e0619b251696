"""A changed --raw-ttl-days takes effect on existing tables, and an unchanged one changes nothing."""

import dataclasses

from cc_analytics.config import Settings
from cc_analytics.store import migrate
from collector.store.retention import RAW_TABLES, current_ttl_days


def ttl_days(store) -> dict[str, int]:
    rows = store.rows("SELECT name, engine_full FROM system.tables WHERE database = {database:String}",
                      {"database": store.database})
    return {name: current_ttl_days(engine) for name, engine in rows if name in RAW_TABLES}


def test_retention_follows_the_setting_after_creation(store):
    settings = Settings(database=store.database)
    assert ttl_days(store) == dict.fromkeys(RAW_TABLES, 400)
    assert migrate(store.client, settings) == []

    assert migrate(store.client, dataclasses.replace(settings, raw_ttl_days=30)) == [
        f"retention of {table}" for table in sorted(RAW_TABLES)]
    assert ttl_days(store) == dict.fromkeys(RAW_TABLES, 30)

    migrate(store.client, dataclasses.replace(settings, raw_ttl_days=0))
    assert ttl_days(store) == dict.fromkeys(RAW_TABLES, 0)
    assert migrate(store.client, dataclasses.replace(settings, raw_ttl_days=0)) == []
