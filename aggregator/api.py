"""The read API on the API port: health and read-only SQL over the store.

The embedded store has one owner, the serve process, so reading what was stored while it runs goes through here
(`cc-analytics query` uses it). Queries run with readonly=1: no writes, no table functions that reach files or
the network.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

QUERY_FORMATS = {
    "PrettyCompactMonoBlock": "text/plain; charset=utf-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=utf-8",
    "CSVWithNames": "text/csv; charset=utf-8",
    "JSONEachRow": "application/x-ndjson",
    "JSON": "application/json",
}
MAX_QUERY_BYTES = 1024 * 1024


def run_readonly_query(client: Client, sql: str, output_format: str) -> bytes:
    """One read-only query, its result in a ClickHouse output format; raises ValueError with the engine's reason."""
    if output_format not in QUERY_FORMATS:
        raise ValueError(f"unknown format {output_format!r}; use one of {', '.join(QUERY_FORMATS)}")
    try:
        # 64-bit integers as JSON numbers, the same from every client and engine (defaults differ).
        return client.raw_query(sql, fmt=output_format,
                                settings={"readonly": 1, "output_format_json_quote_64bit_integers": 0})
    except Exception as error:  # the engine's own message is the useful answer
        raise ValueError(str(error).strip()) from None


def build_api_app(client: Client) -> web.Application:
    """The client must be in the cc-analytics database, so queries can name tables without it."""
    app = web.Application(client_max_size=MAX_QUERY_BYTES)
    # The store client is not shared with the writer: reads never wait behind inserts on one handle.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-query")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def query(request: web.Request) -> web.Response:
        output_format = request.query.get("format", "TabSeparatedWithNames")
        sql = (await request.text()).strip()
        if not sql:
            return web.json_response({"error": "send the SQL query as the request body"}, status=400)
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                executor, run_readonly_query, client, sql, output_format)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.Response(body=result, headers={"Content-Type": QUERY_FORMATS[output_format]})

    async def close_executor(_: web.Application) -> None:
        executor.shutdown(wait=True)

    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/v1/query", query)
    app.on_cleanup.append(close_executor)
    return app
