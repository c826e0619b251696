"""The connection guard against a real aiohttp server on loopback: idle, slow and surplus connections are closed,
and a client that sends its requests is answered meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import resource
import threading
import time

from aiohttp import web

from plumbing.connection_limits import ConnectionGuard, ConnectionLimits, connections_per_port, raise_open_file_limit
from tests.support.idle_connections import SlowlorisClient, close_all, closed_by_server, open_connections

SLACK_SECONDS = 1.5


@contextlib.contextmanager
def guarded_server(limits: ConnectionLimits):
    """A real aiohttp server behind the guard, in its own thread: GET / answers at once, GET /sleep?seconds=N later."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def sleep(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query["seconds"]))
        return web.Response(text="slept")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/sleep", sleep)
    loop = asyncio.new_event_loop()
    guard = ConnectionGuard(limits, "test")
    runner = guard.runner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(guard.site(runner, "127.0.0.1", 0).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield guard, runner.addresses[0][1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


def get(port: int, path: str = "/", connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    """GET path on a new connection, closed after the answer, or on connection, kept open."""
    with contextlib.ExitStack() as own:
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            own.callback(connection.close)
        connection.request("GET", path)
        reply = connection.getresponse()
        return reply.status, reply.read()


def test_connections_that_never_send_their_headers_are_closed_after_the_header_timeout():
    with guarded_server(ConnectionLimits(1000, header_timeout_seconds=1, idle_timeout_seconds=30)) as (guard, port):
        started = time.monotonic()
        idle = open_connections(port, 500)
        opened = time.monotonic()
        slowloris = SlowlorisClient(port, give_up_after=10)
        slowloris.start()
        try:
            closed = closed_by_server(idle, within=opened - time.monotonic() + 1 + SLACK_SECONDS)
            assert get(port) == (200, b"hello")
            slowloris.join()
        finally:
            close_all(idle)
    assert len(closed) == len(idle)
    assert min(closed.values()) > started + 0.5, "closed before the header timeout"
    assert slowloris.bytes_sent >= 1 and slowloris.closed_after is not None
    assert slowloris.closed_after < 1 + SLACK_SECONDS
    assert guard.too_slow >= len(idle) + 1


def test_a_keep_alive_connection_is_closed_after_the_idle_timeout_not_the_header_timeout():
    limits = ConnectionLimits(100, header_timeout_seconds=1, idle_timeout_seconds=3)
    with guarded_server(limits) as (guard, port):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert get(port, connection=client) == (200, b"hello")
        time.sleep(2)
        assert get(port, connection=client) == (200, b"hello"), "closed before the idle timeout"
        answered = time.monotonic()
        client.sock.setblocking(False)
        closed = list(closed_by_server([client.sock], within=3 + SLACK_SECONDS).values())
        client.close()
    assert closed and closed[0] - answered > 2


def test_at_the_cap_the_connection_idle_longest_is_closed_at_once_and_new_clients_are_answered():
    with guarded_server(ConnectionLimits(100, header_timeout_seconds=20, idle_timeout_seconds=30)) as (guard, port):
        oldest = open_connections(port, 40)
        newer = open_connections(port, 60)
        surplus = open_connections(port, 40)
        try:
            assert closed_by_server(newer + surplus, within=1) == {}
            assert len(closed_by_server(oldest, within=2)) == len(oldest)
            for _ in range(20):
                assert get(port) == (200, b"hello")
            assert guard.open <= 100
        finally:
            close_all(oldest + newer + surplus)
    assert guard.evicted >= len(surplus) + 1
    assert guard.refused == 0


def test_past_the_cap_a_new_connection_is_closed_at_once_when_every_connection_is_in_a_request():
    with guarded_server(ConnectionLimits(3, header_timeout_seconds=20, idle_timeout_seconds=30)) as (guard, port):
        busy = [threading.Thread(target=get, args=(port, "/sleep?seconds=3")) for _ in range(3)]
        for request in busy:
            request.start()
        time.sleep(0.5)
        surplus = open_connections(port, 5)
        try:
            assert len(closed_by_server(surplus, within=1)) == len(surplus)
        finally:
            close_all(surplus)
            for request in busy:
                request.join()
        assert get(port) == (200, b"hello")
    assert guard.refused == len(surplus)


def test_the_open_file_limit_is_raised_to_the_hard_limit_and_shared_between_the_ports():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024, hard), hard))
        in_use = raise_open_file_limit()
        assert in_use == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if hard != resource.RLIM_INFINITY:
            assert in_use == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert connections_per_port(20_000, ports=3) == 3333
    assert connections_per_port(10, ports=3) == 1
