"""Clients that hold a server's connections without using them: idle ones, a slowloris, and the time each is closed."""

from __future__ import annotations

import selectors
import socket
import threading
import time

SLOW_HEADER = b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"


def open_connections(port: int, count: int) -> list[socket.socket]:
    """count TCP connections to 127.0.0.1:port that send nothing."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.setblocking(False)
        connections.append(connection)
    return connections


def closed_by_server(connections: list[socket.socket], within: float) -> dict[socket.socket, float]:
    """When (time.monotonic()) the server closed each connection (read EOF or reset), for those closed within
    seconds from now."""
    started = time.monotonic()
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for connection in connections:
            selector.register(connection, selectors.EVENT_READ)
        while True:  # looks until nothing is left to read, so connections closed already count with no time left
            ready = selector.select(timeout=0.2 if time.monotonic() - started < within else 0)
            for key, _ in ready:
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[key.fileobj] = time.monotonic()
                    selector.unregister(key.fileobj)
            if len(closed) == len(connections) or (not ready and time.monotonic() - started >= within):
                break
    return closed


def close_all(connections: list[socket.socket]) -> None:
    for connection in connections:
        connection.close()


class SlowlorisClient(threading.Thread):
    """Sends a request's headers one byte a second, never finishing them, until the server closes the connection."""

    def __init__(self, port: int, give_up_after: float):
        super().__init__(daemon=True)
        self.port = port
        self.give_up_after = give_up_after
        self.bytes_sent = 0
        self.closed_after: float | None = None

    def run(self) -> None:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
            while time.monotonic() - started < self.give_up_after:
                try:
                    connection.sendall(SLOW_HEADER[self.bytes_sent % len(SLOW_HEADER):][:1])
                    self.bytes_sent += 1
                    if connection.recv(65536) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
            else:
                return
            self.closed_after = time.monotonic() - started
