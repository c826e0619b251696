"""Erasing one person (right to erasure): their raw rows and their per-member rollup rows, and nothing else.

A person is named by their email, matched without regard to case, or by a user key (account uuid or user.id,
for members without an email). When ingest hashes emails, the keyed hash of the email is matched as well, so
rows stored before and after hashing was turned on both go. Rows are deleted with ALTER TABLE ... DELETE and
mutations_sync=2, which rewrites the parts that held them (a lightweight DELETE would only hide them until a
merge) and returns once every replica has done so.

No statement names the person: the store keeps each mutation's text (system.mutations, a mutation_N.txt file
beside the table's parts) and a server may log its queries, so rows are matched by a salted digest of the stored
value (see person_filter). After deleting, purge waits for the store to remove the old parts that still held the
rows (old_parts_lifetime; chDB: within about 30 s), so no copy stays on disk.

Their contribution rows go too (pull_request_attribution and daily_contributions of the member), and the
github_commits rows whose author email is theirs; PRs they authored stay, as GitHub's record, under no member.

daily_org keeps its totals: they are sums over the organization and name nobody; a day rebuilt later is summed
from the remaining raw rows, without the person.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from clickhouse_connect.driver.client import Client

from aggregator.api import bad_request
from aggregator.contributions import CONTRIBUTION_TABLES
from aggregator.params import BadParameter, json_value
from collector.dead_letter import DEAD_LETTER_TABLE
from plumbing.request_body import BodyTooLarge, read_bounded
from plumbing.routes import Access, RouteTable

RAW_TABLES = ("events", "metric_points", "spans")
# The rollups with a row per member (daily_org has one per organization).
MEMBER_ROLLUPS = ("daily_user", "daily_model", "daily_edit_tool", "daily_repository", "daily_usage")
# A dead letter is a raw row the store refused: the person's, kept with its user key, goes too.
PURGED_TABLES = RAW_TABLES + (DEAD_LETTER_TABLE,) + MEMBER_ROLLUPS + CONTRIBUTION_TABLES + ("github_commits",)
# The columns that name the person, where not user_key alone.
_PERSON_COLUMNS = {**{table: ("user_key", "user_email") for table in RAW_TABLES + ("daily_user",)},
                   **{table: ("member",) for table in CONTRIBUTION_TABLES}, "github_commits": ("author_email",)}
# How long a purge waits for the store to remove the old parts that held the deleted rows.
OLD_PARTS_WAIT_SECONDS = 120

log = logging.getLogger(__name__)


class NoSuchPerson(BadParameter):
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


@dataclass(frozen=True)
class PersonDigests:
    """The person's stored forms as SHA-256 digests under a salt drawn for this purge: what the SQL carries.

    An attacker who reads the store (or its query log) learns the salt and the digests, so can test a guessed
    email against them, one SHA-256 per guess: they learn whether someone they already suspect was purged,
    never a name they did not guess, and no precomputed table helps."""

    salt: str
    digests: list[str]

    @classmethod
    def of(cls, keys: list[str]) -> "PersonDigests":
        salt = secrets.token_hex(16)
        return cls(salt, [hashlib.sha256((salt + key).encode()).hexdigest() for key in keys])

    @property
    def parameters(self) -> dict:
        return {"salt": self.salt, "digests": self.digests}


def person_columns(table: str) -> tuple[str, ...]:
    """The columns of a purged table that can name the person."""
    return _PERSON_COLUMNS.get(table, ("user_key",))


def person_filter(table: str) -> str:
    """The rows of the person in table: lower() of the stored value, salted and hashed as PersonDigests does."""
    columns = person_columns(table)
    return "(" + " OR ".join(f"lower(hex(SHA256(concat({{salt:String}}, lower({column}))))) IN "
                             "{digests:Array(String)}" for column in columns) + ")"


class Purger:
    def __init__(self, client: Client, database: str, cluster: str = "",
                 pseudonym: Callable[[str], str] | None = None, lock: threading.Lock | None = None):
        self.client = client
        self.database_name = database
        self.database = f"`{database}`"
        self.on_cluster = f"ON CLUSTER `{cluster}`" if cluster else ""
        self.pseudonym = pseudonym  # the email's hashed form, when ingest hashes emails
        # Held while deleting, when given: a rollup run reading the raw rows meanwhile would write the rows back.
        self.lock = lock or contextlib.nullcontext()

    def purge(self, user: str) -> dict[str, int]:
        """Delete the person's rows; returns the rows deleted per table (as readers count them, with FINAL)."""
        parameters = PersonDigests.of(person_keys(user, self.pseudonym)).parameters
        deleted = {}
        with self.lock:
            for table in PURGED_TABLES:  # raw rows first: a rollup run never rebuilds from what is gone
                where = person_filter(table)
                deleted[table] = int(self.client.query(
                    f"SELECT count() FROM {self.database}.{table} FINAL WHERE {where}",
                    parameters=parameters).result_rows[0][0])
                if deleted[table]:
                    self.client.command(
                        f"ALTER TABLE {self.database}.{table} {self.on_cluster} DELETE WHERE {where}",
                        parameters=parameters, settings={"mutations_sync": 2})
        self.wait_for_old_parts([table for table, rows in deleted.items() if rows])
        return deleted

    def wait_for_old_parts(self, tables: list[str], timeout: float = OLD_PARTS_WAIT_SECONDS) -> int:
        """Wait until the store has removed the inactive parts of these tables (those the delete rewrote still
        hold the rows); returns how many are left when the wait ran out, and logs them."""
        deadline = time.monotonic() + timeout
        while True:
            left = self._old_parts(tables)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if left:
            log.warning("purge: %d old parts of %s still hold deleted rows after %d s; the store removes them "
                        "after its old_parts_lifetime", left, ", ".join(tables), timeout)
        return left

    def _old_parts(self, tables: list[str]) -> int:
        if not tables:
            return 0
        return int(self.client.query(
            "SELECT count() FROM system.parts WHERE database = {database:String} AND table IN {tables:Array(String)} "
            "AND NOT active", parameters={"database": self.database_name, "tables": tables}).result_rows[0][0])


# Larger than any {"user": EMAIL}; a bigger body is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
_BODY_HINT = 'send {"user": "EMAIL"} as the JSON body'


def routes(purger: Purger, *, store_queued: Callable[[], Awaitable[bool]] | None = None,
           forget_stored: Callable[[], None] | None = None) -> RouteTable:
    """POST /api/v1/purge with {"user": EMAIL} in the body (kept out of URLs and access logs): the rows deleted.

    With a write-ahead queue in front of the store: store_queued first has the writer store every record queued
    before the purge (so the person's go too; False if the store did not take them in time), and forget_stored
    afterwards deletes the queue's segments holding only stored records, so no copy stays there."""

    table = RouteTable()

    @table.post("/api/v1/purge", Access.ADMIN)
    async def purge(request: web.Request) -> web.Response:
        try:
            user = await _person_named(request)
            person_keys(user, None)
        except BadParameter as error:  # NoSuchPerson too
            return bad_request(error)
        if store_queued and not await store_queued():
            return web.json_response({"error": "the records queued before this purge are not all in the store "
                                               "yet (is it down, or the queue's disk full?); nothing was "
                                               "deleted: try again once /readyz is ready"}, status=503)
        deleted = await asyncio.to_thread(purger.purge, user)
        if forget_stored:
            forget_stored()
        log.info("purge: %d rows of one person deleted", sum(deleted.values()))  # never who: the log outlives it
        return web.json_response({"user": user.strip(), "deleted": deleted})

    return table


async def _person_named(request: web.Request) -> str:
    try:
        body = await read_bounded(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise BadParameter(f"the body is over {MAX_BODY_BYTES} bytes; {_BODY_HINT}") from None
    try:
        value = json_value("body", body.decode() or "{}")
    except UnicodeDecodeError:
        raise BadParameter(f"the body is not UTF-8; {_BODY_HINT}") from None
    user = value.get("user", "") if isinstance(value, dict) else None
    if not isinstance(user, str):
        raise BadParameter(_BODY_HINT)
    return user
