"""Erasing one person (right to erasure): their raw rows and their per-member rollup rows, and nothing else.

A person is named by their email, matched without regard to case, or by a user key (account uuid or user.id,
for members without an email). When ingest hashes emails, the keyed hash of the email is matched as well, so
rows stored before and after hashing was turned on both go. Rows are deleted with ALTER TABLE ... DELETE and
mutations_sync=2, which rewrites the parts that held them (a lightweight DELETE would only hide them until a
merge) and returns once every replica has done so.

daily_org keeps its totals: they are sums over the organization and name nobody; a day rebuilt later is summed
from the remaining raw rows, without the person.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Callable

from aiohttp import web
from clickhouse_connect.driver.client import Client

from plumbing.routes import Access, RouteTable

RAW_TABLES = ("events", "metric_points", "spans")
# The rollups with a row per member (daily_org has one per organization).
MEMBER_ROLLUPS = ("daily_user", "daily_model", "daily_edit_tool")
PURGED_TABLES = RAW_TABLES + MEMBER_ROLLUPS
_TABLES_WITH_EMAIL = frozenset(RAW_TABLES + ("daily_user",))


class NoSuchPerson(ValueError):
    """The name given cannot name anyone (it is empty)."""


def person_keys(user: str, pseudonym: Callable[[str], str] | None) -> list[str]:
    """Every stored form of the person's identifier, lower-cased (pseudonyms are lower case already)."""
    user = user.strip()
    if not user:
        raise NoSuchPerson("name the person to purge by their email (or their user key); it must not be empty")
    keys = [user.lower()]
    if pseudonym is not None:
        keys.append(pseudonym(user))
    return keys


class Purger:
    def __init__(self, client: Client, database: str, cluster: str = "",
                 pseudonym: Callable[[str], str] | None = None, lock: threading.Lock | None = None):
        self.client = client
        self.database = f"`{database}`"
        self.on_cluster = f"ON CLUSTER `{cluster}`" if cluster else ""
        self.pseudonym = pseudonym  # the email's hashed form, when ingest hashes emails
        # Held while deleting, when given: a rollup run reading the raw rows meanwhile would write the rows back.
        self.lock = lock or contextlib.nullcontext()

    def purge(self, user: str) -> dict[str, int]:
        """Delete the person's rows; returns the rows deleted per table (as readers count them, with FINAL)."""
        parameters = {"keys": person_keys(user, self.pseudonym)}
        deleted = {}
        with self.lock:
            for table in PURGED_TABLES:  # raw rows first: a rollup run never rebuilds from what is gone
                where = _person_filter(table)
                deleted[table] = int(self.client.query(
                    f"SELECT count() FROM {self.database}.{table} FINAL WHERE {where}",
                    parameters=parameters).result_rows[0][0])
                if deleted[table]:
                    self.client.command(
                        f"ALTER TABLE {self.database}.{table} {self.on_cluster} DELETE WHERE {where}",
                        parameters=parameters, settings={"mutations_sync": 2})
        return deleted


def _person_filter(table: str) -> str:
    match = "lower(user_key) IN {keys:Array(String)}"
    if table in _TABLES_WITH_EMAIL:
        match += " OR lower(user_email) IN {keys:Array(String)}"
    return f"({match})"


def routes(purger: Purger) -> RouteTable:
    """POST /api/v1/purge with {"user": EMAIL} in the body (kept out of URLs and access logs): the rows deleted."""

    table = RouteTable()

    @table.post("/api/v1/purge", Access.ADMIN)
    async def purge(request: web.Request) -> web.Response:
        try:
            user = json.loads(await request.text() or "{}").get("user", "")
            if not isinstance(user, str):
                raise TypeError
            deleted = await asyncio.to_thread(purger.purge, user)
        except (ValueError, TypeError, AttributeError) as error:
            reason = str(error) if isinstance(error, NoSuchPerson) else 'send {"user": "EMAIL"} as the JSON body'
            return web.json_response({"error": reason}, status=400)
        return web.json_response({"user": user.strip(), "deleted": deleted})

    return table
