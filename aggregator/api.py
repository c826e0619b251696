"""The read API on the API port: health, the rollup reports, re-aggregation, and read-only SQL over the store.

The embedded store has one owner, the serve process, so reading it while serve runs goes through here
(`cc-analytics query` and `cc-analytics report` use it). SQL queries run with readonly=1: no writes, no table
functions that reach files or the network. Other outputs (CSV, the Admin API shape, Prometheus) are added by
exporters through `user_formats` and their own route tables, so imports flow from exporters to the aggregator, never
back; cc_analytics/read_api.py assembles them.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Callable

from aiohttp import web
from clickhouse_connect.driver.client import Client

from aggregator.params import BadParameter, parse_choice, parse_day, parse_limit, parse_month, parse_range
from aggregator.refresh import Refresher
from aggregator.reports import Filters, Reports
from aggregator.snapshot import Snapshots, snapshot_to_json
from plumbing.access import requested_org
from plumbing.routes import Access, RouteTable

log = logging.getLogger(__name__)

QUERY_FORMATS = {
    "PrettyCompactMonoBlock": "text/plain; charset=utf-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=utf-8",
    "CSVWithNames": "text/csv; charset=utf-8",
    "JSONEachRow": "application/x-ndjson",
    "JSON": "application/json",
}
MAX_QUERY_BYTES = 1024 * 1024
MAX_SNAPSHOT_MEMBERS = 1_000_000


@dataclass(frozen=True)
class UserFormat:
    """A download format of the members report: render(users) -> bytes."""

    render: Callable[[list[dict]], bytes]
    content_type: str
    file_name: Callable[[date], str]


REPORTS = web.AppKey("reports", Reports)
QUERY_THREAD = web.AppKey("query_thread", ThreadPoolExecutor)
# SQL has a thread and a store client of its own: a slow query cannot hold the reports, the Admin API or /metrics.
SQL_THREAD = web.AppKey("sql_thread", ThreadPoolExecutor)


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


async def in_query_thread(request: web.Request, function, *args):
    """Run a blocking store call on the API's own thread: reads never wait behind inserts or aggregation."""
    return await asyncio.get_running_loop().run_in_executor(request.app[QUERY_THREAD], function, *args)


def bad_request(error: BadParameter) -> web.Response:
    return web.json_response({"error": str(error)}, status=400)


def optional(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    return value if value else None


def new_api_app(client: Client, database: str, middlewares=()) -> web.Application:
    """The read API's application before any route: its reports, its query thread, its request size limit. The
    client must be in the cc-analytics database, so SQL queries can name tables without it."""
    app = web.Application(client_max_size=MAX_QUERY_BYTES, middlewares=list(middlewares))
    app[REPORTS] = Reports(client, database)
    app[QUERY_THREAD] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-query")
    app[SQL_THREAD] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-sql")

    async def close_thread(_: web.Application) -> None:
        app[QUERY_THREAD].shutdown(wait=True)
        app[SQL_THREAD].shutdown(wait=True)

    app.on_cleanup.append(close_thread)
    return app


def routes(client: Client, database: str, refresher: Refresher | None = None,
           user_formats: dict[str, UserFormat] | None = None, sql_client: Client | None = None) -> RouteTable:
    """Health, read-only SQL (on sql_client, else client), the daily and members reports, re-aggregation and the
    snapshot."""
    table = RouteTable()
    user_formats = user_formats or {}

    @table.get("/healthz", Access.OPEN)
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @table.post("/api/v1/query", Access.ADMIN)
    async def query(request: web.Request) -> web.Response:
        output_format = request.query.get("format", "TabSeparatedWithNames")
        try:
            sql = (await request.read()).decode().strip()
        except UnicodeDecodeError:
            return web.json_response({"error": "the SQL query must be UTF-8 text"}, status=400)
        if not sql:
            return web.json_response({"error": "send the SQL query as the request body"}, status=400)
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                request.app[SQL_THREAD], run_readonly_query, sql_client or client, sql, output_format)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.Response(body=result, headers={"Content-Type": QUERY_FORMATS[output_format]})

    @table.get("/api/v1/daily", Access.ORG)
    async def daily(request: web.Request) -> web.Response:
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
        except BadParameter as error:
            return bad_request(error)
        filters = Filters(org=requested_org(request), team=optional(request, "team"))
        rows = await in_query_thread(request, request.app[REPORTS].daily, first, last, filters)
        return web.json_response({"from": first.isoformat(), "to": last.isoformat(), "data": rows})

    @table.get("/api/v1/users", Access.ORG)
    async def users(request: web.Request) -> web.Response:
        try:
            month = parse_month("month", request.query.get("month"))
            output_format = parse_choice("format", request.query.get("format"), ("json", *user_formats), "json")
        except BadParameter as error:
            return bad_request(error)
        filters = Filters(org=requested_org(request), team=optional(request, "team"), search=optional(request, "q"))
        rows = await in_query_thread(request, request.app[REPORTS].users, month, filters)
        if output_format == "json":
            return web.json_response({"month": f"{month:%Y-%m}", "data": rows})
        download = user_formats[output_format]
        return web.Response(body=download.render(rows), headers={
            "Content-Type": download.content_type,
            "Content-Disposition": f'attachment; filename="{download.file_name(month)}"'})

    @table.post("/api/v1/aggregate", Access.ADMIN)
    async def aggregate(request: web.Request) -> web.Response:
        if refresher is None:
            return web.json_response({"error": "this process does not aggregate"}, status=503)
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
        except BadParameter as error:
            return bad_request(error)
        rebuilt = await asyncio.to_thread(refresher.rebuild, first, last)
        return web.json_response({
            "from": first.isoformat(), "to": last.isoformat(), "days": len(rebuilt),
            "records": sum(day.records for day in rebuilt), "user_days": sum(day.users for day in rebuilt),
            "seconds": round(sum(day.seconds for day in rebuilt), 3)})

    @table.get("/api/v1/snapshot", Access.ADMIN)
    async def snapshot(request: web.Request) -> web.Response:
        """The figures as they stood at the end of a day, for `cc-analytics export openmetrics`."""
        if refresher is None:
            return web.json_response({"error": "this process does not aggregate"}, status=503)
        try:
            day = parse_day("day", request.query.get("day"))
            members = parse_limit(request.query.get("limit"), MAX_SNAPSHOT_MEMBERS, MAX_SNAPSHOT_MEMBERS)
        except BadParameter as error:
            return bad_request(error)
        figures = await in_query_thread(request, Snapshots(client, database).as_of, day, members)
        return web.json_response({"time_zone": refresher.rollup.time_zone, "snapshot": snapshot_to_json(figures)})

    return table
