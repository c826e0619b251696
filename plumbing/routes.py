"""HTTP routes declared once, next to their handlers, each with its access level.

A module fills a RouteTable beside its handlers (`@table.get("/api/v1/daily", Access.ORG)`); `mount` registers the
tables on an app and remembers each route's level, which the access middleware reads from the matched route. A
route added to the app any other way has no level, and the app refuses to start (as prometheus_client refuses a
duplicate series at registration, not on a dashboard).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Iterator

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access(enum.Enum):
    """Who may call a route when serve has --auth-tokens."""

    OPEN = "open"  # probes: no token
    ORG = "org-scoped"  # an org's token, limited to its own org; an admin token for every org
    # as ORG, and a member token too: the handler narrows the answer to that member (plumbing/access.py
    # requested_member). An ORG route refuses member tokens, so a new route never leaks by default.
    MEMBER = "member-scoped"
    ADMIN = "admin"  # an admin token only
    SIGNED = "signature-checked"  # no bearer token: the handler checks the request's signature itself


class UndeclaredRoute(RuntimeError):
    """Routes were added to the app without an access level; the message lists them."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    access: Access
    # Reads an HTML form's body (the sign-in page): plumbing/cross_origin.py lets its form type through, still
    # refusing another site's page by its Origin.
    takes_form: bool = False


class RouteTable:
    """The routes one module answers, each with its access level."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler, access: Access, takes_form: bool = False) -> None:
        if not isinstance(access, Access):
            raise TypeError(f"{method} {path}: the access level must be an Access, not {access!r}")
        self._routes.append(Route(method, path, handler, access, takes_form))

    def get(self, path: str, access: Access) -> Callable[[Handler], Handler]:
        return self._declare("GET", path, access)

    def post(self, path: str, access: Access, takes_form: bool = False) -> Callable[[Handler], Handler]:
        return self._declare("POST", path, access, takes_form)

    def _declare(self, method: str, path: str, access: Access, takes_form: bool = False
                 ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, path, handler, access, takes_form)
            return handler

        return register

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)


ROUTE_ACCESS = web.AppKey("route_access", dict)
FORM_ROUTES = web.AppKey("form_routes", set)


def mount(app: web.Application, tables: Iterable[RouteTable]) -> None:
    """Register the tables' routes on app; its start fails if any route of the app has no level."""
    levels: dict[AbstractRoute, Access] = app.setdefault(ROUTE_ACCESS, {})
    form_routes: set[AbstractRoute] = app.setdefault(FORM_ROUTES, set())
    if not levels:
        app.on_startup.append(_refuse_undeclared_routes)
    for route in (route for table in tables for route in table):
        # HEAD beside GET, as aiohttp's add_get does, with the same level.
        for method in ("HEAD", "GET") if route.method == "GET" else (route.method,):
            added = app.router.add_route(method, route.path, route.handler)
            levels[added] = route.access
            if route.takes_form:
                form_routes.add(added)


def route_access(request: web.Request) -> Access | None:
    """The level of the route the request matched; None if that route declares none."""
    if request.match_info.http_exception is not None:
        # No route matched: only an admin learns that the path or method does not exist.
        return Access.ADMIN
    return request.app.get(ROUTE_ACCESS, {}).get(request.match_info.route)


def takes_form(request: web.Request) -> bool:
    """Whether the matched route reads an HTML form's body."""
    return request.match_info.http_exception is None and request.match_info.route in request.app.get(FORM_ROUTES, ())


def paths_with(app: web.Application, *levels: Access) -> list[str]:
    """The paths of the app's routes of these levels, sorted."""
    return sorted({route.resource.canonical for route, level in app.get(ROUTE_ACCESS, {}).items()
                   if level in levels and route.resource is not None})


def undeclared(app: web.Application) -> list[str]:
    """`METHOD path` of every route of the app without a level."""
    levels = app.get(ROUTE_ACCESS, {})
    return [f"{route.method} {route.resource.canonical if route.resource else '?'}"
            for route in app.router.routes() if route not in levels]


async def _refuse_undeclared_routes(app: web.Application) -> None:
    missing = undeclared(app)
    if missing:
        raise UndeclaredRoute(f"routes without an access level: {', '.join(missing)}; declare them in a "
                              "RouteTable with an Access next to their handler")
