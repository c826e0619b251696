"""The read API on the API port: health, the rollup reports, re-aggregation, and read-only SQL over the store.

The embedded store has one owner, the serve process, so reading it while serve runs goes through here
(`cc-analytics query` and `cc-analytics report` use it). SQL is checked and bounded by aggregator/readonly_sql.py
and streamed; serve --sql-endpoint no turns it off. State-changing requests from other sites' pages are refused
(plumbing/cross_origin.py). A member token (plumbing/auth.py) reads every report narrowed to its own figures.
Other outputs (CSV, the Admin API shape, Prometheus) are added by
exporters through `user_formats` and their own route tables, so imports flow from exporters to the aggregator, never
back; cc_analytics/read_api.py assembles them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterator

from aiohttp import web
from clickhouse_connect.driver.client import Client

from aggregator import repositories
from aggregator.contributions.report import GROUP_COLUMNS, GROUPS, LEVELS, ContributionFilters, Contributions, file_name
from aggregator.params import (BadParameter, parse_choice, parse_day, parse_limit, parse_month, parse_range,
                               parse_repository)
from aggregator.readonly_sql import QUERY_FORMATS, QueryRefused, stream_readonly_query
from aggregator.refresh import Refresher
from aggregator.reports import Filters, Reports
from aggregator.snapshot import Snapshots, snapshot_to_json
from plumbing.access import requested_member, requested_org
from plumbing.cross_origin import refuse_cross_origin
from plumbing.json_answer import json_response
from plumbing.routes import Access, RouteTable

log = logging.getLogger(__name__)

MAX_QUERY_BYTES = 1024 * 1024
MAX_SNAPSHOT_MEMBERS = 1_000_000


@dataclass(frozen=True)
class UserFormat:
    """A download format of the members report: render(users) -> bytes."""

    render: Callable[[list[dict]], bytes]
    content_type: str
    file_name: Callable[[date], str]


@dataclass(frozen=True)
class ContributionFormat:
    """A download format of the contributions report: render(rows, columns) -> bytes."""

    render: Callable[[list[dict], tuple[str, ...]], bytes]
    content_type: str
    extension: str


REPORTS = web.AppKey("reports", Reports)
QUERY_THREAD = web.AppKey("query_thread", ThreadPoolExecutor)
# SQL has a thread and a store client of its own: a slow query cannot hold the reports, the Admin API or /metrics.
SQL_THREAD = web.AppKey("sql_thread", ThreadPoolExecutor)
# One query at a time, from its check to its last chunk: an open result stream holds the SQL client.
SQL_TURN = web.AppKey("sql_turn", asyncio.Lock)


async def stream_sql_result(request: web.Request, chunks: Iterator[bytes], content_type: str) -> web.StreamResponse:
    """The result as the engine gives it, pulled on the SQL thread. A refusal before the first chunk is a 400/413
    with the reason; one after it (a bound passed mid-result) ends the body with the reason and cuts the
    connection, so the client sees a broken response, never a short one."""
    def pull() -> bytes | None:
        return next(chunks, None)

    in_sql_thread = functools.partial(asyncio.get_running_loop().run_in_executor, request.app[SQL_THREAD], pull)
    try:
        try:
            chunk = await in_sql_thread()
        except QueryRefused as refusal:
            return json_response({"error": str(refusal)}, status=refusal.status)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        while chunk is not None:
            await response.write(chunk)
            try:
                chunk = await in_sql_thread()
            except QueryRefused as refusal:
                log.warning("SQL result cut off: %s", refusal)
                await response.write(f"\n{refusal}\n".encode())
                request.transport.close()
                return response
        await response.write_eof()
        return response
    finally:
        # the engine's stream holds the SQL client until closed, also when the client went away mid-result
        await asyncio.get_running_loop().run_in_executor(request.app[SQL_THREAD], chunks.close)


async def in_query_thread(request: web.Request, function, *args):
    """Run a blocking store call on the API's own thread: reads never wait behind inserts or aggregation."""
    return await asyncio.get_running_loop().run_in_executor(request.app[QUERY_THREAD], function, *args)


def bad_request(error: BadParameter) -> web.Response:
    return json_response({"error": str(error)}, status=400)


def attachment(body: bytes, content_type: str, file_name: str) -> web.Response:
    """A download: the browser saves it as file_name."""
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Content-Disposition": f'attachment; filename="{file_name}"'})


def optional(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    return value if value else None


def new_api_app(client: Client, database: str, middlewares=()) -> web.Application:
    """The read API's application before any route: its reports, its query thread, its request size limit. The
    client must be in the cc-analytics database, so SQL queries can name tables without it."""
    app = web.Application(client_max_size=MAX_QUERY_BYTES, middlewares=[refuse_cross_origin, *middlewares])
    app[REPORTS] = Reports(client, database)
    app[QUERY_THREAD] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-query")
    app[SQL_THREAD] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-sql")
    app[SQL_TURN] = asyncio.Lock()

    async def close_thread(_: web.Application) -> None:
        app[QUERY_THREAD].shutdown(wait=True)
        app[SQL_THREAD].shutdown(wait=True)

    app.on_cleanup.append(close_thread)
    return app


def routes(client: Client, database: str, refresher: Refresher | None = None,
           user_formats: dict[str, UserFormat] | None = None, sql_client: Client | None = None,
           contribution_formats: dict[str, ContributionFormat] | None = None) -> RouteTable:
    """Health, read-only SQL (on sql_client, from connect_readonly; None: SQL is off), the daily, members,
    contributions and repositories reports, re-aggregation and the snapshot."""
    table = RouteTable()
    user_formats = user_formats or {}
    contribution_formats = contribution_formats or {}

    @table.get("/healthz", Access.OPEN)
    async def healthz(_: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    @table.post("/api/v1/query", Access.ADMIN)
    async def query(request: web.Request) -> web.Response:
        if sql_client is None:
            return json_response({"error": "SQL is off on this serve (--sql-endpoint no); the reports, the CSV and "
                                               "/metrics still answer"}, status=403)
        output_format = request.query.get("format", "TabSeparatedWithNames")
        try:
            sql = (await request.read()).decode().strip()
        except UnicodeDecodeError:
            return web.json_response({"error": "the SQL query must be UTF-8 text"}, status=400)
        if not sql:
            return json_response({"error": "send the SQL query as the request body"}, status=400)
        async with request.app[SQL_TURN]:
            return await stream_sql_result(request, stream_readonly_query(sql_client, sql, output_format),
                                           QUERY_FORMATS.get(output_format, "text/plain"))

    @table.get("/api/v1/daily", Access.MEMBER)
    async def daily(request: web.Request) -> web.Response:
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
        except BadParameter as error:
            return bad_request(error)
        filters = Filters(org=requested_org(request), team=optional(request, "team"),
                          member=requested_member(request))
        rows = await in_query_thread(request, request.app[REPORTS].daily, first, last, filters)
        return json_response({"from": first.isoformat(), "to": last.isoformat(), "data": rows})

    @table.get("/api/v1/users", Access.MEMBER)
    async def users(request: web.Request) -> web.Response:
        try:
            month = parse_month("month", request.query.get("month"))
            output_format = parse_choice("format", request.query.get("format"), ("json", *user_formats), "json")
        except BadParameter as error:
            return bad_request(error)
        filters = Filters(org=requested_org(request), team=optional(request, "team"), search=optional(request, "q"),
                          member=requested_member(request))
        rows = await in_query_thread(request, request.app[REPORTS].users, month, filters)
        if output_format == "json":
            return json_response({"month": f"{month:%Y-%m}", "data": rows})
        download = user_formats[output_format]
        return attachment(download.render(rows), download.content_type, download.file_name(month))

    def contribution_filters(request: web.Request) -> ContributionFilters:
        return ContributionFilters(org=requested_org(request), team=optional(request, "team"),
                                   repository=parse_repository(request.query.get("repo")),
                                   member=requested_member(request))

    @table.get("/api/v1/contributions", Access.MEMBER)
    async def contributions(request: web.Request) -> web.Response:
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
            group = parse_choice("group", request.query.get("group"), GROUPS, "day")
            output_format = parse_choice("format", request.query.get("format"), ("json", *contribution_formats),
                                         "json")
            filters = contribution_filters(request)
        except BadParameter as error:
            return bad_request(error)
        answer = await in_query_thread(request, Contributions(client, database).answer, first, last, filters, group)
        if output_format == "json":
            return json_response(answer)
        download = contribution_formats[output_format]
        return attachment(download.render(answer["data"], GROUP_COLUMNS[group]), download.content_type,
                          file_name(first, last, group, download.extension))

    @table.get("/api/v1/contributions/pull_requests", Access.MEMBER)
    async def contribution_pull_requests(request: web.Request) -> web.Response:
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
            level = optional(request, "level")
            if level is not None:
                parse_choice("level", level, LEVELS, level)
            filters = contribution_filters(request)
        except BadParameter as error:
            return bad_request(error)
        rows = await in_query_thread(request, Contributions(client, database).pull_requests, first, last, filters,
                                     level)
        return json_response({"from": first.isoformat(), "to": last.isoformat(), "data": rows})

    @table.get("/api/v1/repositories", Access.MEMBER)
    async def repository_figures(request: web.Request) -> web.Response:
        """Per (org, repository) over the days; CSV in the contributions' formats (contribution_formats)."""
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
            output_format = parse_choice("format", request.query.get("format"), ("json", *contribution_formats),
                                         "json")
            filters = repositories.RepositoryFilters(org=requested_org(request), team=optional(request, "team"),
                                                     repository=parse_repository(request.query.get("repo")),
                                                     member=requested_member(request))
        except BadParameter as error:
            return bad_request(error)
        rows = await in_query_thread(request, repositories.Repositories(client, database).rows, first, last, filters)
        if output_format == "json":
            return json_response({"from": first.isoformat(), "to": last.isoformat(), "data": rows})
        download = contribution_formats[output_format]
        return attachment(download.render(rows, repositories.COLUMNS), download.content_type,
                          repositories.file_name(first, last))

    @table.post("/api/v1/aggregate", Access.ADMIN)
    async def aggregate(request: web.Request) -> web.Response:
        if refresher is None:
            return json_response({"error": "this process does not aggregate"}, status=503)
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
        except BadParameter as error:
            return bad_request(error)
        rebuilt = await asyncio.to_thread(refresher.rebuild, first, last)
        return json_response({
            "from": first.isoformat(), "to": last.isoformat(), "days": len(rebuilt),
            "records": sum(day.records for day in rebuilt), "user_days": sum(day.users for day in rebuilt),
            "seconds": round(sum(day.seconds for day in rebuilt), 3)})

    @table.get("/api/v1/snapshot", Access.ADMIN)
    async def snapshot(request: web.Request) -> web.Response:
        """The figures as they stood at the end of a day, for `cc-analytics export openmetrics`."""
        if refresher is None:
            return json_response({"error": "this process does not aggregate"}, status=503)
        try:
            day = parse_day("day", request.query.get("day"))
            members = parse_limit(request.query.get("limit"), MAX_SNAPSHOT_MEMBERS, MAX_SNAPSHOT_MEMBERS)
        except BadParameter as error:
            return bad_request(error)
        figures = await in_query_thread(request, Snapshots(client, database).as_of, day, members)
        return json_response({"time_zone": refresher.rollup.time_zone, "snapshot": snapshot_to_json(figures)})

    return table
