"""The Admin API shape: Anthropic's Claude Code Analytics report (GET /v1/organizations/usage_report/claude_code),
built from our rollups so scripts written for that API work against ours.

One record per actor, day and is_remote (a member's remote sessions, e.g. Claude Code on the web, and local ones are
separate records, as in Anthropic's); pages are cursors over (org, user key, is_remote), so every record is returned
exactly once. subscription_type is the member-day's team or enterprise tier, null for everyone else.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date

from aiohttp import web

from aggregator.api import REPORTS, bad_request, in_query_thread, optional
from aggregator.figures import MODEL_FIGURES
from aggregator.params import BadParameter, json_value, parse_day, parse_limit
from aggregator.reports import Reports
from plumbing.access import requested_org
from plumbing.json_answer import json_response
from plumbing.routes import Access, RouteTable

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

# Claude Code's edit tools and the tool_actions field each is reported under.
TOOL_FIELDS = {"Edit": "edit_tool", "MultiEdit": "multi_edit_tool", "Write": "write_tool",
               "NotebookEdit": "notebook_edit_tool"}


def usage_report(reports: Reports, day: date, limit: int, after: tuple[str, str, int] | None,
                 org: str | None) -> dict:
    """One page of records of a day, after the (org, user key, is_remote) a cursor named."""
    users = reports.actors(day, limit + 1, after, org)
    has_more = len(users) > limit
    users = users[:limit]
    return {
        "data": [actor_record(day, user) for user in users],
        "has_more": has_more,
        "next_page": encode_cursor(day, users[-1]) if has_more else None,
    }


def actor_record(day: date, user: dict) -> dict:
    email = user["user_email"]
    # Without an email the actor is an API key (API-key, Bedrock and Vertex users): we name it by its user key.
    actor = ({"type": "user_actor", "email_address": email} if email
             else {"type": "api_actor", "api_key_name": user["user_key"]})
    return {
        "date": f"{day.isoformat()}T00:00:00Z",
        "actor": actor,
        "organization_id": user["org_id"],
        "customer_type": "subscription" if email or user["user_account_uuid"] else "api",
        "terminal_type": user["terminal_type"],
        "subscription_type": user["subscription_type"] or None,
        "is_remote": bool(user["is_remote"]),
        "core_metrics": {
            "num_sessions": user["sessions"],
            "lines_of_code": {"added": user["lines_accepted"], "removed": user["lines_removed"]},
            "commits_by_claude_code": user["commits"],
            "pull_requests_by_claude_code": user["pull_requests"],
        },
        "tool_actions": {
            field: {"accepted": user["edit_tools"].get(tool, {}).get("accepted", 0),
                    "rejected": user["edit_tools"].get(tool, {}).get("rejected", 0)}
            for tool, field in TOOL_FIELDS.items()
        },
        "model_breakdown": [
            {
                "model": model["model"],
                "tokens": {"input": model["input_tokens"], "output": model["output_tokens"],
                           "cache_read": model["cache_read_tokens"], "cache_creation": model["cache_creation_tokens"]},
                # in cents, as Anthropic reports it
                "estimated_cost": {"currency": "USD", "amount": round(model["cost_usd"] * 100, 6)},
            }
            for model in user["models"]
            # a model of a cumulative series that only repeated its earlier total that day was not used that day
            if any(model[figure.name] for figure in MODEL_FIGURES)
        ],
    }


def encode_cursor(day: date, last_user: dict) -> str:
    text = json.dumps([day.isoformat(), last_user["org_id"], last_user["user_key"], last_user["is_remote"]],
                      separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(page: str, day: date) -> tuple[str, str, int]:
    # A cursor from before remote records had three parts: refused like any other, pages outlive no upgrade.
    try:
        text = base64.urlsafe_b64decode(page + "=" * (-len(page) % 4)).decode()
        cursor_day, org, key, is_remote = json_value("page", text)
        if not all(isinstance(part, str) for part in (cursor_day, org, key)) or type(is_remote) is not int \
                or is_remote not in (0, 1):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError, TypeError):  # BadParameter too
        raise BadParameter(f"page={page!r} is not a cursor this API returned as next_page") from None
    if cursor_day != day.isoformat():
        raise BadParameter(f"page is a cursor for {cursor_day}, not for starting_at={day}")
    return org, key, is_remote


def routes() -> RouteTable:
    """GET /v1/organizations/usage_report/claude_code?starting_at=YYYY-MM-DD[&limit=N][&page=CURSOR][&org=ID]"""
    table = RouteTable()

    @table.get("/v1/organizations/usage_report/claude_code", Access.ORG)
    async def usage_report_page(request: web.Request) -> web.Response:
        try:
            day = parse_day("starting_at", request.query.get("starting_at"))
            limit = parse_limit(request.query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
            page = optional(request, "page")
            after = decode_cursor(page, day) if page else None
        except BadParameter as error:
            return bad_request(error)
        report = await in_query_thread(request, usage_report, request.app[REPORTS], day, limit, after,
                                       requested_org(request))
        return json_response(report)

    return table
