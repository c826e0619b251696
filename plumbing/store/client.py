"""The one way to reach ClickHouse: an embedded chDB store or a ClickHouse server, through clickhouse-connect.

Both speak the same SQL, so the rest of the code never asks which one it has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import clickhouse_connect
from clickhouse_connect.driver.client import Client


class StoreUnavailable(RuntimeError):
    """The store cannot be opened or reached; the message says why and what to do."""


@dataclass(frozen=True)
class StoreTarget:
    """Where the data lives: a chDB directory or a ClickHouse server URL, plus the database and cluster."""

    data_dir: str = ""
    clickhouse_url: str = ""
    database: str = "cc_analytics"
    cluster: str = ""

    @property
    def description(self) -> str:
        if self.clickhouse_url:
            return f"ClickHouse server {_without_password(self.clickhouse_url)}, database {self.database}"
        return f"embedded chDB store {os.path.abspath(self.data_dir)}, database {self.database}"


def connect(target: StoreTarget, use_database: bool = False, settings: dict[str, Any] | None = None) -> Client:
    """A new client on the target's server; in the target's database once migrations have created it. settings
    hold for the client's whole session (set in their order on chDB, sent with every request to a server)."""
    database = target.database if use_database else None
    try:
        if target.clickhouse_url:
            return clickhouse_connect.get_client(dsn=target.clickhouse_url, database=database, compress="lz4",
                                                 settings=settings)
        os.makedirs(target.data_dir, exist_ok=True)
        return clickhouse_connect.get_client(dsn="chdb://" + os.path.abspath(target.data_dir), database=database,
                                             settings=settings)
    except Exception as error:  # clickhouse-connect and chdb raise many kinds; all mean "cannot open"
        hint = ""
        if not target.clickhouse_url:
            hint = (" Is another cc-analytics process using this data directory? "
                    "An embedded store has one owner; stop it or use another --data-dir.")
        raise StoreUnavailable(f"cannot open the {target.description}: {error}.{hint}") from error


def insert_columns(client: Client, table: str, column_names: Sequence[str], columns: Sequence[Sequence[Any]],
                   database: str) -> None:
    """Insert one batch given column by column: the batch, not the row, is the unit of work."""
    client.insert(table, columns, column_names=list(column_names), database=database, column_oriented=True)


def _without_password(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
