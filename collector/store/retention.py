"""Keeping the raw tables' TTL equal to the configured retention, also after the tables exist.

Migrations create the tables with the TTL of their day; a later --raw-ttl-days must still take effect, so every
migrate compares each raw table's TTL with the setting and alters the ones that differ.
"""

from __future__ import annotations

import logging
import re

from clickhouse_connect.driver.client import Client

from plumbing.store.migrations import SchemaParams

log = logging.getLogger(__name__)

RAW_TABLES = ("events", "metric_points", "spans")
_TTL_DAYS = re.compile(r"\bTTL toDate\(timestamp\) \+ toIntervalDay\((\d+)\)")


def current_ttl_days(engine_full: str) -> int:
    """The retention in days a table's engine clause declares; 0 when it has no TTL."""
    match = _TTL_DAYS.search(engine_full)
    return int(match.group(1)) if match else 0


def apply_raw_retention(client: Client, params: SchemaParams) -> list[str]:
    """Alter the raw tables whose TTL differs from params.raw_ttl_days; returns the tables changed."""
    values = params.template_values()
    engines = dict(client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = {database:String} AND name IN {names:Array(String)}",
        parameters={"database": params.database, "names": list(RAW_TABLES)},
    ).result_rows)
    changed = []
    for table, engine_full in sorted(engines.items()):
        if current_ttl_days(engine_full) == params.raw_ttl_days:
            continue
        change = values["raw_ttl"].replace("TTL", "MODIFY TTL", 1) if params.raw_ttl_days else "REMOVE TTL"
        # Existing parts are not rewritten now; expired rows go at the next merge.
        client.command(f"ALTER TABLE {values['database']}.`{table}` {values['on_cluster']} {change}",
                       settings={"materialize_ttl_after_modify": 0})
        log.info("retention of %s set to %s", table, f"{params.raw_ttl_days} days" if params.raw_ttl_days else "forever")
        changed.append(table)
    return changed
