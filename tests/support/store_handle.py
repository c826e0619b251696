"""A database of its own on the test process's chDB engine."""

from __future__ import annotations


class StoreHandle:
    def __init__(self, client, database: str):
        self.client = client
        self.database = database

    def rows(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        return self.client.query(sql.replace("{db}", f"`{self.database}`"), parameters=parameters).result_rows
