"""Reading the rollup tables: SQL naming `{database}`, parameters always bound, rows as dicts."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client


class RollupReader:
    def __init__(self, client: Client, database: str):
        self.client = client
        self.database = f"`{database}`"

    def _rows(self, sql: str, parameters: dict) -> list[dict]:
        result = self.client.query(sql.replace("{database}", self.database), parameters=parameters)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]
