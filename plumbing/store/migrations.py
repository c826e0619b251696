"""Numbered schema migrations: SQL files applied once each, in order, and recorded in a table.

A migration group is a package of files named NNNN_what_it_does.sql. Statements are separated by a line that
ends in ';'. Files are templates ($database, $on_cluster, $engine_prefix, $raw_ttl) so the same DDL serves the
embedded store, one server and a cluster. Every statement is idempotent (IF NOT EXISTS), so a migration cut
short by a crash is simply applied again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from string import Template

from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Migration:
    group: str
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.group}/{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class SchemaParams:
    database: str
    cluster: str = ""
    raw_ttl_days: int = 400

    def template_values(self) -> dict[str, str]:
        for name in (self.database, self.cluster):
            if name and not _IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a plain ClickHouse identifier (letters, digits, underscore)")
        return {
            "database": f"`{self.database}`",
            "on_cluster": f"ON CLUSTER `{self.cluster}`" if self.cluster else "",
            "engine_prefix": "Replicated" if self.cluster else "",
            "raw_ttl": f"TTL toDate(timestamp) + toIntervalDay({self.raw_ttl_days})" if self.raw_ttl_days else "",
        }


def discover(group: str, package: str) -> list[Migration]:
    """The migrations of one group, in version order; a gap or a duplicate number is a packaging bug."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(group, int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations of {group} must be numbered 1..n without gaps, found {versions}")
    return found


def statements(migration: Migration, params: SchemaParams) -> list[str]:
    text = Template(migration.sql).substitute(params.template_values())
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in re.split(r";\s*(?:\n|$)", body) if part.strip()]


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS $database.schema_migrations $on_cluster
(
    group LowCardinality(String),
    version UInt32,
    name String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = ${engine_prefix}ReplacingMergeTree(applied_at)
ORDER BY (group, version)
"""


def apply(client: Client, params: SchemaParams, migrations: list[Migration]) -> list[str]:
    """Apply the migrations not yet recorded, in order; returns the labels applied now."""
    values = params.template_values()
    client.command(Template("CREATE DATABASE IF NOT EXISTS $database $on_cluster").substitute(values))
    client.command(Template(_BOOKKEEPING).substitute(values))
    done = {
        (group, version)
        for group, version in client.query(
            f"SELECT group, version FROM {values['database']}.schema_migrations FINAL"
        ).result_rows
    }
    applied = []
    for migration in migrations:
        if (migration.group, migration.version) in done:
            continue
        for statement in statements(migration, params):
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.group, migration.version, migration.name]],
            column_names=["group", "version", "name"],
            database=params.database,
        )
        log.info("applied migration %s", migration.label)
        applied.append(migration.label)
    return applied
