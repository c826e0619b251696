"""Logging a recurring problem once per interval, with a count of the repeats, so bad clients cannot flood logs."""

from __future__ import annotations

import logging
import time


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, level: int, interval_seconds: float = 60.0, max_keys: int = 1000):
        self._logger = logger
        self._level = level
        self._interval = interval_seconds
        self._max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}

    def log(self, key: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        now = time.monotonic()
        last_time, suppressed = self._last.get(key, (float("-inf"), 0))
        if now - last_time < self._interval:
            self._last[key] = (last_time, suppressed + 1)
            return
        if len(self._last) >= self._max_keys:
            self._last.clear()
        self._last[key] = (now, 0)
        if suppressed:
            message += " (and %d more like it since the last report)"
            args = (*args, suppressed)
        self._logger.log(self._level, message, *args, exc_info=exc_info)
