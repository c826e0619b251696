"""The JSON answers of the HTTP endpoints: finite numbers only, the one place they are serialized."""

from __future__ import annotations

import functools
import json

from aiohttp import web

# JSON has no NaN or Infinity: a non-finite number reaching an answer is a bug to fail on loudly (a 500, its stack
# logged), never a body clients cannot parse.
strict_dumps = functools.partial(json.dumps, allow_nan=False)


def json_response(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=strict_dumps)
