"""GET /api/v1/value and /api/v1/value/forecast: the value report and the month-end forecast, JSON or a download
(the formats come from the exporters through cc_analytics/read_api.py, as for the contributions). An org token
reads only its org, a member token only its own spend, work and forecast (top_spenders: itself)."""

from __future__ import annotations

from datetime import date
from typing import Callable

from aiohttp import web
from clickhouse_connect.driver.client import Client

from aggregator.api import ContributionFormat, attachment, bad_request, in_query_thread, optional
from aggregator.params import BadParameter, parse_choice, parse_limit, parse_month, parse_range
from aggregator.reports import Filters
from aggregator.value import VALUE_COLUMNS
from aggregator.value_report import DEFAULT_TOP, FORECAST_COLUMNS, MAX_TOP, Value, file_name
from plumbing.access import requested_member, requested_org
from plumbing.json_answer import json_response
from plumbing.routes import Access, RouteTable

def routes(client: Client, database: str, today: Callable[[], date],
           formats: dict[str, ContributionFormat] | None = None) -> RouteTable:
    """The value routes; today() is the current day in the aggregation time zone (what is spent so far)."""
    table = RouteTable()
    formats = formats or {}

    @table.get("/api/v1/value", Access.MEMBER)
    async def value(request: web.Request) -> web.Response:
        try:
            first, last = parse_range(request.query.get("from"), request.query.get("to"))
            top = parse_limit(request.query.get("limit"), DEFAULT_TOP, MAX_TOP)
            output_format = parse_choice("format", request.query.get("format"), ("json", *formats), "json")
        except BadParameter as error:
            return bad_request(error)
        filters = Filters(org=requested_org(request), team=optional(request, "team"),
                          member=requested_member(request))
        answer = await in_query_thread(request, Value(client, database).answer, first, last, filters, top)
        if output_format == "json":
            return json_response(answer)
        form = formats[output_format]
        return attachment(form.render(answer["data"], VALUE_COLUMNS), form.content_type,
                          file_name(first, last).replace(".csv", f".{form.extension}"))

    @table.get("/api/v1/value/forecast", Access.MEMBER)
    async def value_forecast(request: web.Request) -> web.Response:
        try:
            month = parse_month("month", request.query.get("month"))
            output_format = parse_choice("format", request.query.get("format"), ("json", *formats), "json")
        except BadParameter as error:
            return bad_request(error)
        filters = Filters(org=requested_org(request), team=optional(request, "team"),
                          member=requested_member(request))
        answer = await in_query_thread(request, Value(client, database).forecasts, month, today(), filters)
        if output_format == "json":
            return json_response(answer)
        form = formats[output_format]
        return attachment(form.render(answer["data"], FORECAST_COLUMNS), form.content_type,
                          f"cc-analytics-value-forecast-{month:%Y-%m}.{form.extension}")

    return table
