"""What a GitHub REST answer means for the next request: its next page, and whether and how long to wait.

Pure, so the rules are tested without a server. GitHub's rules (docs.github.com, "Rate limits for the REST API"
and "Using pagination in the REST API"): a 403 or 429 with X-RateLimit-Remaining 0 is the primary limit, over
until X-RateLimit-Reset (epoch seconds); one with Retry-After is a secondary limit, over after that many seconds;
5xx answers are the server's trouble and worth a retry; the next page is the Link header's rel="next".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')
_NEXT = re.compile(r'rel\s*=\s*"?([^";]*)"?')


def next_page(link_header: str | None) -> str | None:
    """The URL of rel="next" in a Link header, if any."""
    for url, parameters in _LINK.findall(link_header or ""):
        for relation in _NEXT.findall(parameters):
            if "next" in relation.split():
                return url
    return None


@dataclass(frozen=True)
class Wait:
    kind: str  # primary rate limit, secondary rate limit, server error
    seconds: float


def rate_limit_wait(status: int, headers: Mapping[str, str], now: float) -> Wait | None:
    """How long GitHub asks to wait before the request is sent again; None when the answer is no rate limit."""
    if status not in (403, 429):
        return None
    retry_after = _number(headers.get("Retry-After"))
    if retry_after is not None:
        return Wait("secondary rate limit", max(retry_after, 0.0))
    if headers.get("X-RateLimit-Remaining") == "0":
        reset = _number(headers.get("X-RateLimit-Reset"))
        return Wait("primary rate limit", max((reset or now) - now, 0.0) + 1.0)  # the reset second itself
    if status == 429:
        return Wait("secondary rate limit", 60.0)  # GitHub: wait at least a minute when it says nothing
    return None


def retryable_status(status: int) -> bool:
    """The server's trouble (502 and the like), not the request's."""
    return status >= 500


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
