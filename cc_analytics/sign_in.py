"""The page's access routes: the sign-in and sign-out forms, and GET /api/v1/whoami.

POST /signin takes a token from the form body (never the URL), checks it as the bearer header is checked
(plumbing/auth.py, constant time), and starts a session (plumbing/sessions.py): the cookie holds the session's
random id, HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/, and Secure when
the request came over TLS or serve has --tls-cert. A wrong token answers the form again with 401; each client
address may fail only so often (plumbing/sign_in_attempts.py). No token is ever logged or echoed. Without
--auth-tokens everything is open and the forms say so.
"""

from __future__ import annotations

import html
import logging
import urllib.parse

from aiohttp import web

from plumbing.access import CALLER
from plumbing.auth import Caller, TokenTable
from plumbing.json_answer import json_response
from plumbing.log_once import RateLimitedLog
from plumbing.request_body import BodyTooLarge, read_bounded
from plumbing.routes import Access, RouteTable
from plumbing.sessions import SESSION_COOKIE, Sessions
from plumbing.sign_in_attempts import SignInAttempts

log = logging.getLogger(__name__)

# A token is a line of the tokens file; a form body longer than this is no sign-in.
MAX_FORM_BYTES = 4096
HTML = "text/html"

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · cc-analytics</title></head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""
_FORM = """<form method="post" action="/signin">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
<p>The token is a line of serve's --auth-tokens file: an org's, an admin's, or a member's own.</p>
"""


def routes(tokens: TokenTable | None, sessions: Sessions, attempts: SignInAttempts, *,
           secure_cookie: bool) -> RouteTable:
    """secure_cookie: serve runs with TLS, so the cookie is Secure whatever the request came over."""
    table = RouteTable()
    refusals = RateLimitedLog(log, logging.WARNING)

    @table.get("/signin", Access.OPEN)
    async def sign_in_form(request: web.Request) -> web.Response:
        if tokens is None:
            return _page("Sign in", _OPEN_NOTE)
        caller = sessions.caller(request.cookies.get(SESSION_COOKIE))
        if caller is not None:  # signed in already: say as whom, and offer to sign out
            return _page("Signed in", f"<p>{html.escape(_who(caller))}.</p>\n" + _SIGN_OUT)
        return _page("Sign in", _FORM)

    @table.post("/signin", Access.OPEN, takes_form=True)
    async def sign_in(request: web.Request) -> web.StreamResponse:
        if tokens is None:
            return _page("Sign in", _OPEN_NOTE, status=404)
        address = request.remote or "unknown"
        wait = attempts.retry_after(address)
        if wait:
            refusals.log("sign-in:too-many", "refused a sign-in from %s: too many wrong tokens", address)
            return _page("Sign in", _message(f"Too many wrong tokens from this address: try again in {wait} "
                                             "seconds.") + _FORM, status=429, headers={"Retry-After": str(wait)})
        try:
            token = _form_field(await read_bounded(request, MAX_FORM_BYTES), "token")
        except BodyTooLarge:
            return _page("Sign in", _message("That form is too large to be a sign-in.") + _FORM, status=413)
        caller = tokens.caller_of_token(token)
        if caller is None:
            attempts.failed(address)
            refusals.log("sign-in:wrong-token", "refused a sign-in from %s: the token is not in the tokens file",
                         address)
            return _page("Sign in", _message("That token is not valid: check it against serve's --auth-tokens "
                                             "file.") + _FORM, status=401)
        response = web.HTTPSeeOther("/")
        response.set_cookie(SESSION_COOKIE, sessions.start(caller), path="/", httponly=True, samesite="Strict",
                            secure=secure_cookie or request.secure, max_age=int(sessions.lifetime_seconds))
        log.info("a browser signed in with %s %s token", "an" if caller.kind in ("admin", "org") else "a",
                 caller.kind)
        return response

    @table.post("/signout", Access.OPEN, takes_form=True)
    async def sign_out(request: web.Request) -> web.StreamResponse:
        sessions.end(request.cookies.get(SESSION_COOKIE))
        response = web.HTTPSeeOther("/signin")
        response.del_cookie(SESSION_COOKIE, path="/", secure=secure_cookie or request.secure, httponly=True,
                            samesite="Strict")
        return response

    @table.get("/api/v1/whoami", Access.MEMBER)
    async def whoami(request: web.Request) -> web.Response:
        """What the page may show: the caller's kind, org and member; an admin's orgs are the tokens file's."""
        caller = request.get(CALLER)
        if caller is None:  # no --auth-tokens: everything is open
            return json_response({"kind": "open", "org": None, "member": None, "orgs": None})
        return json_response({"kind": caller.kind, "org": caller.org_id, "member": caller.member,
                              "orgs": tokens.orgs() if caller.is_admin and tokens else None})

    return table


_SIGN_OUT = """<form method="post" action="/signout">
<button type="submit">Sign out</button>
</form>
<p><a href="/">Open the page</a></p>
"""


def _who(caller: Caller) -> str:
    if caller.is_admin:
        return "Signed in with an admin token: every org"
    if caller.is_member:
        return f"Signed in as {caller.member}, of org {caller.org_id}: your own figures"
    return f"Signed in with the token of org {caller.org_id}"


_OPEN_NOTE = ("<p>This serve has no --auth-tokens: every figure is open on this address, there is nothing to sign "
              'in to.</p>\n<p><a href="/">Open the page</a></p>\n')


def _form_field(body: bytes, name: str) -> str:
    try:
        values = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=8).get(name)
    except ValueError:  # more fields than a sign-in form has
        return ""
    return values[0] if values else ""


def _message(text: str) -> str:
    return f'<p role="alert">{html.escape(text)}</p>\n'


def _page(title: str, body: str, *, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(text=_PAGE.format(title=html.escape(title), body=body), content_type=HTML, charset="utf-8",
                        status=status, headers={"Cache-Control": "no-store", **(headers or {})})
