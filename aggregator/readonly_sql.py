"""Read-only SQL for `POST /api/v1/query` and `cc-analytics query`: one read statement, checked by the engine's own
parser, run on a session that cannot write, its result bounded in size and time and streamed.

readonly=1 alone does not stop a file being written: `SELECT ... INTO OUTFILE` is written by chDB's own client side,
and the scalar file() reads any file. So a query is first parsed by the engine (formatQuery, the query bound as a
parameter: a second statement is refused, never run), its canonical text is taken apart with EXPLAIN AST, and only
a SELECT (WITH, UNION, subqueries) whose only output clause is the FORMAT this module adds, with no SETTINGS and no table
function that reaches files, the network, other servers or processes, is run: the canonical text, so what runs is
what was checked.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Iterator

from clickhouse_connect.driver.client import Client

from plumbing.store.client import StoreTarget, connect

QUERY_FORMATS = {
    "PrettyCompactMonoBlock": "text/plain; charset=utf-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=utf-8",
    "CSVWithNames": "text/csv; charset=utf-8",
    "JSONEachRow": "application/x-ndjson",
    "JSON": "application/json",
}
MAX_RESULT_BYTES = 256 * 1024 * 1024
MAX_RESULT_ROWS = 10_000_000
MAX_EXECUTION_SECONDS = 60
# The bounds first: once readonly=1 is set, the session changes no setting, a SETTINGS clause included.
SESSION_SETTINGS = {
    "max_result_bytes": MAX_RESULT_BYTES,
    "max_result_rows": MAX_RESULT_ROWS,
    "result_overflow_mode": "throw",  # a result past a bound is an error, never silently short
    "max_execution_time": MAX_EXECUTION_SECONDS,
    "output_format_json_quote_64bit_integers": 0,  # 64-bit integers as JSON numbers, the same from every engine
    "readonly": 1,
}
# Table functions that make rows from the query alone; every other one (file, url, s3, remote, executable, mysql,
# Python, ...) reaches files, the network, other servers or processes. The scalar file() is one of those names.
SELF_CONTAINED_TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series",
                                            "generateseries", "values", "null"})
# The top AST node of a SELECT, WITH ... SELECT, UNION or INTERSECT: its children are the selects and the FORMAT
# clause raw queries get.
SELECT_STATEMENT = "SelectWithUnionQuery"
_AST_LINE = re.compile(r"^( *)(\S+)(?: (\S+))?")
_NODE_KIND = re.compile(r"^[A-Za-z]+$")
_CHECK_FORMAT = "JSONEachRow"


class QueryRefused(ValueError):
    """The query is not run, or stopped: the message is the reason (the engine's own where it has one)."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status  # 413 for a result past a bound


def connect_readonly(target: StoreTarget) -> Client:
    """A store client of its own for SQL, in the cc-analytics database, whose session is read-only and bounded."""
    return connect(target, use_database=True, settings=SESSION_SETTINGS)


def stream_readonly_query(client: Client, sql: str, output_format: str) -> Iterator[bytes]:
    """The result of one checked read statement, in chunks as the engine gives them; raises QueryRefused."""
    if output_format not in QUERY_FORMATS:
        raise QueryRefused(f"unknown format {output_format!r}; use one of {', '.join(QUERY_FORMATS)}")
    if client.get_client_setting("readonly") != "1":
        raise RuntimeError("read-only SQL needs a client from connect_readonly")
    statement = read_statement(client, sql)
    try:
        with _engine_reason():
            stream = client.raw_stream(statement, fmt=output_format)
        with stream:
            while True:
                with _engine_reason():
                    chunk = stream.read(1 << 16)
                if not chunk:
                    return
                yield chunk
    except QueryRefused:
        _drain(client)
        raise


def _drain(client: Client) -> None:
    """chDB hands what a failed query had already written (a result cut at a bound) to the next query on the
    session: a throwaway query takes it, so the next caller's answer is its own."""
    for _ in range(3):
        if client.raw_query("SELECT 1", fmt="TabSeparated") == b"1\n":
            return


def run_readonly_query(client: Client, sql: str, output_format: str) -> bytes:
    """The whole result of one checked read statement; raises QueryRefused."""
    return b"".join(stream_readonly_query(client, sql, output_format))


def read_statement(client: Client, sql: str) -> str:
    """The query as the engine's formatter writes it, if it is one read statement that reaches nothing outside the
    store; else QueryRefused with the reason."""
    with _engine_reason():
        [canonical] = _rows(client, "SELECT formatQuery({sql:String}) AS statement", {"sql": sql})
        # The FORMAT clause raw queries get binds to the explained statement, so the dump is one node per line
        # (tab-separated escaping keeps a literal's newline on its line); anything else is refused below.
        tree = client.raw_query(f"EXPLAIN AST {canonical['statement']}", fmt=_CHECK_FORMAT).decode().splitlines()
        table_functions = {row["name"].lower() for row in _rows(client, "SELECT name FROM system.table_functions")}
    problem = _what_it_must_not_do(tree, table_functions - SELF_CONTAINED_TABLE_FUNCTIONS)
    if problem:
        raise QueryRefused(f"refused: {problem}; the SQL endpoint runs one SELECT (WITH, UNION, subqueries and the "
                           "numbers() kind of table function are fine) over the stored tables, its format chosen with ?format=")
    return canonical["statement"]


def _what_it_must_not_do(tree: list[str], refused_functions: set[str]) -> str | None:
    """Why an EXPLAIN AST dump is not a plain read, or None."""
    nodes = [_AST_LINE.match(line).groups() for line in tree if line]
    top = [(kind, name) for indent, kind, name in nodes if len(indent) == 1]
    if not nodes or not _NODE_KIND.match(nodes[0][1]):
        # The dump came in our FORMAT, not one node a line: the query has a FORMAT clause of its own.
        return "it is not one SELECT without INTO OUTFILE, FORMAT or SETTINGS clauses"
    if nodes[0][1] != SELECT_STATEMENT:
        return f"{nodes[0][1]} is not a SELECT"
    # The dump ends with the FORMAT clause raw queries get; any other output clause (INTO OUTFILE, COMPRESSION,
    # SETTINGS, a FORMAT of the query's own) is one more child of the statement.
    if len(top) != 2 or top[-1] != ("Identifier", _CHECK_FORMAT):
        return "INTO OUTFILE, FORMAT and SETTINGS clauses are not accepted"
    for _, kind, name in nodes:
        if kind == "Set":
            return "SETTINGS clauses are not accepted"
        if kind == "Function" and name and name.lower() in refused_functions:
            return f"{name}() reaches files, the network or other processes"
    return None


def _rows(client: Client, sql: str, parameters: dict | None = None) -> list[dict]:
    reply = client.raw_query(sql, parameters=parameters, fmt=_CHECK_FORMAT)
    return [json.loads(line) for line in reply.decode().splitlines() if line]


@contextlib.contextmanager
def _engine_reason() -> Iterator[None]:
    """The engine's error as QueryRefused with its own message (the useful answer): 413 for a result past a bound."""
    try:
        yield
    except QueryRefused:
        raise
    except Exception as error:  # clickhouse-connect and chdb raise many kinds; each carries the engine's reason
        reason = str(error).strip()
        raise QueryRefused(reason, 413 if "TOO_MANY_ROWS_OR_BYTES" in reason else 400) from None
