"""Who may read what on the API port, when serve has --auth-tokens.

Probes (/healthz, /readyz) stay open. An org's token reads only its own org, and only through the org-scoped
reports; an admin token (org `*` in the tokens file) reads everything, runs SQL, aggregations and /metrics.
Without --auth-tokens the API is open, as it is bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from aiohttp import web

from plumbing.auth import Caller, TokenTable

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
ORG_SCOPED_PATHS = frozenset({"/api/v1/daily", "/api/v1/users", "/v1/organizations/usage_report/claude_code"})
CALLER = web.RequestKey("caller", Caller)


def access_control(tokens: TokenTable):
    @web.middleware
    async def check_token(request: web.Request, handler):
        if request.path in OPEN_PATHS:
            return await handler(request)
        caller = tokens.caller(request.headers.get("Authorization"))
        if caller is None:
            return web.json_response({"error": "a valid token is required: send Authorization: Bearer TOKEN"},
                                     status=401, headers={"WWW-Authenticate": 'Bearer realm="cc-analytics"'})
        if not caller.is_admin:
            if request.path not in ORG_SCOPED_PATHS:
                return _forbidden(f"this token reads org {caller.org_id} through {', '.join(sorted(ORG_SCOPED_PATHS))}"
                                  f" only; {request.path} needs an admin token")
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
