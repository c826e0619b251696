"""Who may call what on the API port, when serve has --auth-tokens: the level each route declares (plumbing/routes.py).

A caller is named by an `Authorization: Bearer TOKEN` header or, for a browser signed in through the sign-in form,
by its session cookie (plumbing/sessions.py); both resolve to the same Caller. Open and signature-checked routes
need neither. An org's token reads only its own org, and only through org- and member-scoped routes; a member
token only through member-scoped routes, whose handlers narrow the answer to that member (requested_member); an
admin token (org `*` in the tokens file) calls everything. A state-changing request a cookie authenticates must
say it comes from this origin (plumbing/cross_origin.py same_origin): a page elsewhere can make a browser send the
cookie, not that header. A route that declares no level is refused. Without --auth-tokens the API is open, as it
is bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging

from aiohttp import web

from plumbing.auth import Caller, TokenTable
from plumbing.cross_origin import STATE_CHANGING, same_origin
from plumbing.log_once import RateLimitedLog
from plumbing.routes import Access, paths_with, route_access
from plumbing.sessions import SESSION_COOKIE, Sessions

CALLER = web.RequestKey("caller", Caller)
_WITHOUT_TOKEN = frozenset({Access.OPEN, Access.SIGNED})

log = logging.getLogger(__name__)


def access_control(tokens: TokenTable, sessions: Sessions):
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
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            caller = tokens.caller(authorization)
        else:
            caller = sessions.caller(request.cookies.get(SESSION_COOKIE))
            if caller is not None and request.method in STATE_CHANGING and not same_origin(request):
                return _forbidden(f"{request.method} {request.path} with a session cookie must come from this "
                                  "server's own page (an Origin or Sec-Fetch-Site: same-origin header); scripts "
                                  "send Authorization: Bearer TOKEN instead")
        if caller is None:
            return web.json_response({"error": "a valid token is required: send Authorization: Bearer TOKEN, or "
                                               "sign in at /signin"},
                                     status=401, headers={"WWW-Authenticate": 'Bearer realm="cc-analytics"'})
        refusal = _refusal(request, level, caller)
        if refusal is not None:
            return refusal
        request[CALLER] = caller
        return await handler(request)

    return check_token


def _refusal(request: web.Request, level: Access, caller: Caller) -> web.Response | None:
    """The 403 for a caller the route's level does not admit, or None."""
    if caller.is_admin:
        return None
    if caller.is_member and level is not Access.MEMBER:
        return _forbidden(f"a member token reads its member's own figures through "
                          f"{', '.join(paths_with(request.app, Access.MEMBER))} only; {request.path} needs an org "
                          "or admin token")
    if level not in (Access.ORG, Access.MEMBER):
        return _forbidden(f"this token reads org {caller.org_id} through "
                          f"{', '.join(paths_with(request.app, Access.ORG, Access.MEMBER))} only; {request.path} "
                          "needs an admin token")
    asked = request.query.get("org")
    if asked and asked != caller.org_id:
        return _forbidden(f"this token reads org {caller.org_id} only, not {asked}")
    return None


def requested_org(request: web.Request) -> str | None:
    """The org a report is limited to: the caller's own with an org or member token, else the org parameter."""
    caller = request.get(CALLER)
    if caller is not None and not caller.is_admin:
        return caller.org_id
    return request.query.get("org") or None


def requested_member(request: web.Request) -> str | None:
    """The user key a member-scoped report is limited to: a member token's own, else None (every member)."""
    caller = request.get(CALLER)
    return caller.member_key if caller is not None and caller.is_member else None


def _forbidden(message: str) -> web.Response:
    return web.json_response({"error": message}, status=403)
