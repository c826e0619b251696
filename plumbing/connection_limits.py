"""Limits on the connections an aiohttp port holds, so idle and slow clients cannot take the process's file
descriptors, which the store needs for its parts and the write-ahead log for its segments.

Three limits, like a reverse proxy's: a cap on open connections per port (at the cap, a new connection closes the
one idle longest, or is itself closed at once when every connection is in a request); a deadline for a request's
headers to arrive complete (slowloris), counted from the accept or from the first byte after a response; and
aiohttp's own keep-alive timeout for a connection idle after a response. aiohttp has the last one only.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from plumbing.log_once import RateLimitedLog

log = logging.getLogger(__name__)

# Half the descriptors stay for the store, the write-ahead log and the process; the ports share the other half.
SHARE_FOR_CONNECTIONS = 0.5
# Where the hard limit is unlimited, the soft limit is raised this far.
UNLIMITED_HARD_LIMIT_TARGET = 1 << 20


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout_seconds: float
    idle_timeout_seconds: float


def raise_open_file_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the soft limit now in use."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_HARD_LIMIT_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, error)
    return soft


def connections_per_port(open_file_limit: int, ports: int) -> int:
    """The default cap of each port: SHARE_FOR_CONNECTIONS of the open-file limit, split between the ports."""
    return max(1, int(open_file_limit * SHARE_FOR_CONNECTIONS) // ports)


class ConnectionGuard:
    """The limits of one port: build the app's runner with runner(app, ...), then serve through site(runner, ...)."""

    def __init__(self, limits: ConnectionLimits, what: str):
        self.limits = limits
        self.what = what
        self.open = 0
        self.evicted = 0
        self.refused = 0
        self.too_slow = 0
        # Admitted connections not in a request, the one idle longest first: the ones the cap closes.
        self._idle: OrderedDict[_GuardedConnection, None] = OrderedDict()
        self._by_handler: dict[web.RequestHandler, _GuardedConnection] = {}
        self._log = RateLimitedLog(log, logging.WARNING)

    def runner(self, app: web.Application, **options) -> web.AppRunner:
        """web.AppRunner(app, **options) with the keep-alive timeout; app must not be frozen yet."""
        # Outermost, so no other middleware's wait counts against the headers' deadline.
        app.middlewares.insert(0, self._in_request)
        return web.AppRunner(app, keepalive_timeout=self.limits.idle_timeout_seconds, **options)

    def site(self, runner: web.AppRunner, host: str, port: int,
             ssl_context: ssl.SSLContext | None = None) -> web.BaseSite:
        return _GuardedSite(runner, host, port, guard=self, ssl_context=ssl_context)

    @web.middleware
    async def _in_request(self, request: web.Request, handler):
        connection = self._by_handler.get(request.protocol)
        if connection is None:
            return await handler(request)
        connection.headers_arrived()
        try:
            return await handler(request)
        finally:
            connection.request_done()

    def admit(self, connection: _GuardedConnection) -> bool:
        """True if connection may be served, closing the connection idle longest at the cap to make room."""
        if self.open >= self.limits.max_connections:
            if not self._idle:
                self.refused += 1
                self._log.log(f"{self.what}:refused", "closed a new %s connection at once: all %d connections "
                              "allowed (--max-connections) are in requests", self.what, self.limits.max_connections)
                return False
            oldest, _ = self._idle.popitem(last=False)
            self.evicted += 1
            self._log.log(f"{self.what}:evicted", "closed the %s connection idle longest (from %s) to admit a new "
                          "one: %d connections open (--max-connections)", self.what, oldest.peer,
                          self.limits.max_connections)
            self.release(oldest)
            oldest.close()
        self.open += 1
        return True

    def serving(self, connection: _GuardedConnection) -> None:
        self._by_handler[connection.handler] = connection
        self.became_idle(connection)

    def became_idle(self, connection: _GuardedConnection) -> None:
        """Waiting for a request, or receiving one's headers: closed first at the cap."""
        if connection.handler in self._by_handler and not connection.closing:
            self._idle[connection] = None
            self._idle.move_to_end(connection)

    def became_busy(self, connection: _GuardedConnection) -> None:
        self._idle.pop(connection, None)

    def release(self, connection: _GuardedConnection) -> None:
        if self._by_handler.pop(connection.handler, None) is not None:
            self.open -= 1
        self._idle.pop(connection, None)

    def headers_too_slow(self, connection: _GuardedConnection) -> None:
        self.too_slow += 1
        self._log.log(f"{self.what}:slow", "closed the %s connection from %s: its request headers did not arrive "
                      "within %g s (--header-timeout)", self.what, connection.peer,
                      self.limits.header_timeout_seconds)
        connection.close()


class _GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the guard: the transport talks to this, this to aiohttp."""

    def __init__(self, guard: ConnectionGuard, server: web.Server):
        self._guard = guard
        self._server = server
        self.handler: web.RequestHandler | None = None
        self.peer = "unknown"
        self._transport: asyncio.Transport | None = None
        self._in_request = False
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.peer = str((transport.get_extra_info("peername") or ("unknown",))[0])
        if not self._guard.admit(self):
            transport.close()
            return
        self.handler = self._server()
        self._guard.serving(self)
        self._start_deadline()
        self.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.handler is None:
            return
        if not self._in_request:
            if self._deadline is None:
                self._start_deadline()
            self._guard.became_idle(self)
        self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self.handler.eof_received() if self.handler else None

    def pause_writing(self) -> None:
        if self.handler:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler:
            self.handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.handler is None:
            return
        self._cancel_deadline()
        self._guard.release(self)
        self.handler.connection_lost(exc)

    def headers_arrived(self) -> None:
        self._in_request = True
        self._cancel_deadline()
        self._guard.became_busy(self)

    def request_done(self) -> None:
        # Idle now: aiohttp's keep-alive timeout runs, and the next request's first byte starts a new deadline.
        self._in_request = False
        self._guard.became_idle(self)

    def close(self) -> None:
        self._cancel_deadline()
        if self.handler is not None:
            self.handler.force_close()

    def _start_deadline(self) -> None:
        self._deadline = asyncio.get_running_loop().call_later(
            self._guard.limits.header_timeout_seconds, self._guard.headers_too_slow, self)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


class _GuardedSite(web.BaseSite):
    """web.TCPSite's listening socket, with each connection behind the guard."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, guard: ConnectionGuard,
                 ssl_context: ssl.SSLContext | None):
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _GuardedConnection(self._guard, server), self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog,
            # A TLS handshake holds a descriptor before the guard sees the connection: the same deadline.
            ssl_handshake_timeout=self._guard.limits.header_timeout_seconds if self._ssl_context else None)
