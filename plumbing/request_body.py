"""A request's whole body, read without ever holding more than a bound of it.

aiohttp's client_max_size bounds request.read() only, and StreamReader.read(n) returns what has arrived so far
(one chunk), not n bytes: a body sent in several pieces would be cut short. Routes that read a body themselves
(the purge, GitHub's webhook) read it here.
"""

from __future__ import annotations

from aiohttp import web

_READ_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body (by its Content-Length, or as it arrived) is over the bound; nothing more of it was read."""


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The whole body; BodyTooLarge as soon as it is known to be over limit bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
