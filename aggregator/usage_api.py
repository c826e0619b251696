"""The Usage routes of the read API: GET /api/v1/usage (per name or per member and name) and
GET /api/v1/usage/adoption (feature adoption per day, org and team), as JSON or in a download format (CSV),
with the parameters and errors of the other reports; an org token reads only its org. A member token reads its own
usage (per name: members is 1) and adoption (active_members 1 on its days, each feature's members 0 or 1)."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from clickhouse_connect.driver.client import Client

from aggregator.api import ContributionFormat, attachment, bad_request, in_query_thread, optional
from aggregator.params import BadParameter, parse_choice, parse_range
from aggregator.usage import KINDS
from aggregator.usage_report import ADOPTION_COLUMNS, GROUP_COLUMNS, GROUPS, Usage, UsageFilters, file_stem
from plumbing.access import requested_member, requested_org
from plumbing.json_answer import json_response
from plumbing.routes import Access, RouteTable


def parse_kind(text: str | None) -> str | None:
    return parse_choice("kind", text, KINDS, "") if text else None


def routes(client: Client, database: str, formats: dict[str, ContributionFormat] | None = None) -> RouteTable:
    """formats: the download formats (render(rows, columns)) beside JSON, e.g. csv."""
    table = RouteTable()
    formats = formats or {}

    def answer(rows: list[dict], columns: tuple[str, ...], output_format: str, download_name: str,
               answer_fields: dict) -> web.Response:
        if output_format == "json":
            return json_response({**answer_fields, "data": rows})
        download = formats[output_format]
        return attachment(download.render(rows, columns), download.content_type,
                          f"{download_name}.{download.extension}")

    def common(request: web.Request) -> tuple[date, date, UsageFilters, str]:
        first, last = parse_range(request.query.get("from"), request.query.get("to"))
        output_format = parse_choice("format", request.query.get("format"), ("json", *formats), "json")
        filters = UsageFilters(org=requested_org(request), team=optional(request, "team"),
                               kind=parse_kind(request.query.get("kind")), member=requested_member(request))
        return first, last, filters, output_format

    @table.get("/api/v1/usage", Access.MEMBER)
    async def usage(request: web.Request) -> web.Response:
        try:
            first, last, filters, output_format = common(request)
            group = parse_choice("group", request.query.get("group"), GROUPS, "name")
        except BadParameter as error:
            return bad_request(error)
        rows = await in_query_thread(request, Usage(client, database).rows, first, last, filters, group)
        return answer(rows, GROUP_COLUMNS[group], output_format,
                      file_stem(first, last, group),
                      {"from": first.isoformat(), "to": last.isoformat(), "group": group})

    @table.get("/api/v1/usage/adoption", Access.MEMBER)
    async def adoption(request: web.Request) -> web.Response:
        try:
            first, last, filters, output_format = common(request)
        except BadParameter as error:
            return bad_request(error)
        rows = await in_query_thread(request, Usage(client, database).adoption, first, last, filters)
        return answer(rows, ADOPTION_COLUMNS, output_format, file_stem(first, last, "adoption"),
                      {"from": first.isoformat(), "to": last.isoformat()})

    return table
