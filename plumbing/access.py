"""Who may call what on the API port, when serve has --auth-tokens: the level each route declares (plumbing/routes.py).

Open and signature-checked routes need no bearer token. An org's token reads only its own org, and only through
org-scoped routes; an admin token (org `*` in the tokens file) calls everything. A route that declares no level is
refused. Without --auth-tokens the API is open, as it is bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging

from aiohttp import web

from plumbing.auth import Caller, TokenTable
from plumbing.log_once import RateLimitedLog
from plumbing.routes import Access, paths_with, route_access

CALLER = web.RequestKey("caller", Caller)
_WITHOUT_TOKEN = frozenset({Access.OPEN, Access.SIGNED})

log = logging.getLogger(__name__)


def access_control(tokens: TokenTable):
    undeclared_log = RateLimitedLog(log, logging.ERROR)

    @web.middleware
    async def check_token(request: web.Request, handler):
        level = route_access(request)
        if level is None:
            route = request.match_info.route
            # keyed by the route, not the path a client chose, so varying paths cannot grow the log's keys
            undeclared_log.log(f"{route.method} {route.resource.canonical if route.resource else '?'}",
                               "refused %s %s: its route declares no access level", request.method, request.path)
            return web.json_response({"error": f"{request.method} {request.path} declares no access level, so "
                                               "it is refused; this is a fault of the server"}, status=500)
        if level in _WITHOUT_TOKEN:
            return await handler(request)
        caller = tokens.caller(request.headers.get("Authorization"))
        if caller is None:
            return web.json_response({"error": "a valid token is required: send Authorization: Bearer TOKEN"},
                                     status=401, headers={"WWW-Authenticate": 'Bearer realm="cc-analytics"'})
        if not caller.is_admin:
            if level is not Access.ORG:
                return _forbidden(f"this token reads org {caller.org_id} through "
                                  f"{', '.join(paths_with(request.app, Access.ORG))} only; {request.path} needs an "
                                  "admin token")
            asked = request.query.get("org")
            if asked and asked != caller.org_id:
                return _forbidden(f"this token reads org {caller.org_id} only, not {asked}")
        request[CALLER] = caller
        return await handler(request)

    return check_token


def requested_org(request: web.Request) -> str | None:
    """The org a report is limited to: the caller's own with an org token, else the org parameter, if any."""
    caller = request.get(CALLER)
    if caller is not None and not caller.is_admin:
        return caller.org_id
    return request.query.get("org") or None


def _forbidden(message: str) -> web.Response:
    return web.json_response({"error": message}, status=403)
