"""A request the HTTP parser refuses is logged once a minute per kind, without a stack.

aiohttp answers a request it cannot parse (a line over 8190 bytes, a bad header, a broken chunk) with 400, and
logs it as an ERROR with its stack: ten lines of log for a few bytes any client can send, again and again. This
filter on aiohttp's server logger turns each such record into one warning a minute per kind, the client's bytes cut
and escaped; every other record of that logger passes unchanged.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from plumbing.log_once import RateLimitedLog
from plumbing.log_text import client_text

AIOHTTP_SERVER_LOGGER = "aiohttp.server"

log = logging.getLogger(__name__)


class MalformedRequestLog(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._log = RateLimitedLog(log, logging.WARNING)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        kind = type(error).__name__
        self._log.log(kind, "refused a malformed HTTP request with 400 (%s): %s", kind,
                      client_text(str(error.message)))
        return False


def install() -> None:
    """Once per process: serve's HTTP ports (OTLP/HTTP and the API) share aiohttp's server logger."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    if not any(isinstance(existing, MalformedRequestLog) for existing in logger.filters):
        logger.addFilter(MalformedRequestLog())
