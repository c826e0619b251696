"""Requests a web page of another site makes a browser send are refused on the API port.

A page anywhere can make a visitor's browser POST to 127.0.0.1 (a form, or fetch with mode no-cors) without asking
the server first, as long as the body is of a "simple" type (text/plain, form data). So every state-changing
request (POST, PUT, PATCH, DELETE: SQL, aggregation, purge) must come from the API's own origin or from no browser
at all (no Origin header, Sec-Fetch-Site none or same-origin), and must not carry a simple content type: a body of
any other type makes the browser ask first (a CORS preflight), which this server never grants. curl, urllib and
the CLI send no Origin; a page served from the API port itself stays same-origin. Signature-checked routes
(GitHub's webhook) are exempt: a page cannot sign a request, and GitHub may send a form body.

A route declared to take a form (the sign-in page's POST /signin) may have a form body: a page of another site
posting it is refused by its Origin as above. A state-changing request a session cookie authenticates needs more
than the absence of a foreign origin, as a browser sends the cookie on its own: plumbing/access.py accepts it only
when the browser says it comes from this origin (`same_origin`: an Origin equal to the API's own, or Sec-Fetch-Site:
same-origin). SameSite=Strict on the cookie is the second layer.
"""

from __future__ import annotations

from aiohttp import web

from plumbing.routes import Access, route_access, takes_form

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The types a cross-site form or no-cors fetch may send without a preflight (the Fetch standard's CORS-safelisted).
SIMPLE_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


@web.middleware
async def refuse_cross_origin(request: web.Request, handler):
    if request.method not in STATE_CHANGING or route_access(request) is Access.SIGNED:
        return await handler(request)
    own_origin = f"{request.scheme}://{request.host}".lower()
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != own_origin:
        return _refused(403, f"{request.method} {request.path} from origin {origin!r} is refused: state-changing "
                             f"requests are accepted only from {own_origin} or from clients that are not browsers")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in _SAME_SITE_FETCHES:
        return _refused(403, f"{request.method} {request.path} from a {fetch_site} page is refused: state-changing "
                             "requests are accepted only from this origin or from clients that are not browsers")
    if takes_form(request):  # its own page's form; another site's was refused above by its Origin
        return await handler(request)
    if request.content_type in SIMPLE_CONTENT_TYPES and "Content-Type" in request.headers:
        return _refused(415, f"Content-Type {request.content_type} is refused on {request.method} {request.path} "
                             "(a web page of any site can send it): send application/sql for SQL, "
                             "application/json for JSON, or no body")
    if request.body_exists and "Content-Type" not in request.headers:
        return _refused(415, f"{request.method} {request.path} with a body needs a Content-Type: application/sql "
                             "for SQL, application/json for JSON")
    return await handler(request)


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the request comes from a page of this origin; a client that is not a browser,
    sending neither header, says nothing."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() == f"{request.scheme}://{request.host}".lower()
    return request.headers.get("Sec-Fetch-Site", "").lower() == "same-origin"


def _refused(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
