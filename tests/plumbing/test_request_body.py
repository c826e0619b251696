"""A body read whole under its bound, on a real aiohttp server over loopback: sent in pieces, it is read whole
(StreamReader.read(n) would return the first piece only); over the bound, by its Content-Length or as it
arrives, it is refused."""

from __future__ import annotations

import asyncio

from aiohttp import web

from plumbing.request_body import BodyTooLarge, read_bounded

LIMIT = 1000


async def answer_with_length(request: web.Request) -> web.Response:
    try:
        return web.Response(text=str(len(await read_bounded(request, LIMIT))))
    except BodyTooLarge:
        return web.Response(status=413, text="too large")


async def post_in_pieces(port: int, pieces: list[bytes], content_length: int | None) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = f"Content-Length: {content_length}\r\n" if content_length is not None else "Transfer-Encoding: chunked\r\n"
    writer.write(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{length}Connection: close\r\n\r\n".encode())
    for piece in pieces:
        writer.write(piece if content_length is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
        await writer.drain()
        await asyncio.sleep(0.2)  # each piece arrives on its own
    if content_length is None:
        writer.write(b"0\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer.split(b"\r\n\r\n", 1)[1]


def serve_and(scenario):
    async def run():
        app = web.Application()
        app.router.add_post("/", answer_with_length)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            return await scenario(runner.addresses[0][1])
        finally:
            await runner.cleanup()
    return asyncio.run(run())


def test_a_body_sent_in_pieces_is_read_whole():
    assert serve_and(lambda port: post_in_pieces(port, [b'{"user": ', b'"ada@example.com"}'], 27)) == b"27"


def test_a_body_over_the_bound_is_refused_by_its_length_or_as_it_arrives():
    assert serve_and(lambda port: post_in_pieces(port, [b"x"], LIMIT + 1)) == b"too large"
    assert serve_and(lambda port: post_in_pieces(port, [b"x" * 600, b"x" * 600], None)) == b"too large"
    assert serve_and(lambda port: post_in_pieces(port, [b"x" * 600, b"x" * 400], None)) == b"1000"
