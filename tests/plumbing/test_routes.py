"""Routes declared with their access level: refused without one, at declaration or at the app's start, and the
access middleware reading the level of the matched route (a real aiohttp server on loopback)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from plumbing.access import access_control
from plumbing.auth import Caller, TokenTable
from plumbing.routes import Access, RouteTable, UndeclaredRoute, mount
from plumbing.sessions import Sessions

ADMIN_TOKEN = "admin-token-0123456789abcdef0123"


async def answer(_: web.Request) -> web.Response:
    return web.json_response({"answered": True})


async def statuses(app: web.Application, calls: list[tuple[str, str, str | None]]) -> list[int]:
    """The status of each (method, path, token) call, on one server of app."""
    async with TestServer(app) as server, ClientSession() as session:
        answered = []
        for method, path, token in calls:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.request(method, server.make_url(path), headers=headers) as reply:
                answered.append(reply.status)
        return answered


def test_a_level_must_be_an_access():
    with pytest.raises(TypeError, match="GET /x: the access level must be an Access"):
        RouteTable().add("GET", "/x", answer, "admin")


def test_a_route_added_without_a_level_stops_the_app_at_start():
    table = RouteTable()
    table.add("GET", "/declared", answer, Access.OPEN)
    app = web.Application()
    mount(app, [table])
    app.router.add_post("/forgotten", answer)

    async def start() -> None:
        runner = web.AppRunner(app)
        try:
            await runner.setup()
        finally:
            await runner.cleanup()

    with pytest.raises(UndeclaredRoute, match="routes without an access level: POST /forgotten"):
        asyncio.run(start())


def test_signed_routes_pass_the_token_check_and_undeclared_ones_are_refused():
    table = RouteTable()
    table.add("POST", "/webhook", answer, Access.SIGNED)
    table.add("GET", "/admin", answer, Access.ADMIN)
    app = web.Application(middlewares=[access_control(TokenTable({ADMIN_TOKEN: Caller(None)}), Sessions())])
    mount(app, [table])
    assert asyncio.run(statuses(app, [("POST", "/webhook", None), ("GET", "/admin", None), ("GET", "/missing", None),
                                      ("GET", "/admin", ADMIN_TOKEN), ("GET", "/missing", ADMIN_TOKEN)])) \
        == [200, 401, 401, 200, 404]

    # an app given the token check but no route tables: its routes have no level, so nothing is let through
    bare = web.Application(middlewares=[access_control(TokenTable({ADMIN_TOKEN: Caller(None)}), Sessions())])
    bare.router.add_get("/healthz", answer)
    assert asyncio.run(statuses(bare, [("GET", "/healthz", ADMIN_TOKEN)])) == [500]
