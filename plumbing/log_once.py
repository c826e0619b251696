"""Logging a recurring problem once per interval per kind, with a count of the repeats, so bad clients cannot
flood logs.

The key is a kind: a short name the code chooses ("logs:partial_success", "http:metrics:malformed"), never
the client's text, which goes in the message's arguments (formatted only when a line is written). The kinds
remembered are bounded: past max_kinds the one reported longest ago is forgotten (least recently used), so a
new kind never resets the limit of the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

# A kind is a name from the code; a longer one is cut, so even a mistaken caller cannot grow the memory.
MAX_KIND_LENGTH = 80


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, level: int, interval_seconds: float = 60.0, max_kinds: int = 256):
        self._logger = logger
        self._level = level
        self._interval = interval_seconds
        self._max_kinds = max_kinds
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()  # kind -> (last written, suppressed since)
        self._lock = threading.Lock()

    def log(self, kind: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        kind = kind[:MAX_KIND_LENGTH]
        now = time.monotonic()
        with self._lock:
            last_time, suppressed = self._last.pop(kind, (float("-inf"), 0))
            if now - last_time < self._interval:
                self._last[kind] = (last_time, suppressed + 1)
                return
            self._last[kind] = (now, 0)
            while len(self._last) > self._max_kinds:
                self._last.popitem(last=False)
        if suppressed:
            message += " (and %d more like it since the last report)"
            args = (*args, suppressed)
        self._logger.log(self._level, message, *args, exc_info=exc_info)

    @property
    def kinds_remembered(self) -> int:
        return len(self._last)
