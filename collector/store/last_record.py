"""When each organization's latest record arrived, read from the raw tables: seeds the staleness gauge on start."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from collector.tables import TABLE_COLUMNS


def last_record_by_org(client: Client, database: str) -> dict[str, float]:
    """org id -> receive time (unix seconds) of its latest stored record, over every raw table."""
    per_table = " UNION ALL ".join(
        f"SELECT org_id, max(received_at) AS received_at FROM `{database}`.{table} GROUP BY org_id"
        for table in TABLE_COLUMNS)
    rows = client.query(f"SELECT org_id, toUnixTimestamp64Milli(max(received_at)) FROM ({per_table}) "
                        "GROUP BY org_id").result_rows
    return {org: milliseconds / 1000 for org, milliseconds in rows}
